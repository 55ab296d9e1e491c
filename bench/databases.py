"""A fresh database per measurement: a SQLite file in a temp dir, or a scratch PostgreSQL db."""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Sequence

from sqlalchemy import text

from storage.db import make_engine

PG_ADMIN_URL = os.environ.get(
    "ALUMNIBOT_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
SQLITE, POSTGRES = "SQLite", "PostgreSQL"


async def _pg_admin(statement: str) -> None:
    engine = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=None)
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def fresh_database(backend: str) -> AsyncIterator[str]:
    """Yield the URL of an empty database; the bot migrates it at start. Dropped after."""
    if backend == SQLITE:
        with tempfile.TemporaryDirectory(prefix="alumnibot-bench-") as directory:
            yield f"sqlite+aiosqlite:///{directory}/alumnibot.db"
        return
    name = f"alumnibot_bench_{uuid.uuid4().hex[:10]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def onboarded(url: str, chat_ids: Sequence[int]) -> tuple[int, int]:
    """Return (onboarded alumni among chat_ids, onboarded alumni in total)."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            total = (
                await connection.execute(
                    text("SELECT count(*) FROM alumnus WHERE onboarded_at IS NOT NULL")
                )
            ).scalar_one()
            ours = (
                await connection.execute(
                    text(
                        "SELECT count(*) FROM alumnus WHERE onboarded_at IS NOT NULL "
                        "AND chat_id >= :low AND chat_id <= :high"
                    ),
                    {"low": min(chat_ids), "high": max(chat_ids)},
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    return int(ours), int(total)


async def server_versions() -> tuple[str, str]:
    """Return the SQLite library version and the PostgreSQL server version."""
    import sqlite3

    engine = make_engine(PG_ADMIN_URL)
    try:
        async with engine.connect() as connection:
            pg = (await connection.execute(text("SHOW server_version"))).scalar_one()
    finally:
        await engine.dispose()
    return sqlite3.sqlite_version, str(pg)
