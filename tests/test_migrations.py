"""The migrations build exactly the schema the models describe, and can be walked back."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import SQLModel


def _differences(connection: Connection) -> list:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, SQLModel.metadata)


async def test_models_and_migrations_agree(database_url):
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()


async def test_upgrade_from_empty_and_again_is_a_no_op(tmp_path):
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'walk.db'}")
    try:
        await upgrade(engine, "0001")
        await upgrade(engine)
        await upgrade(engine)  # idempotent
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()
