"""The async engine and the session factory."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the async engine; on SQLite turn on WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30})
        # SQLite has one writer. With one pooled connection, this process's transactions
        # queue on an asyncio wait instead of SQLite's busy handler, which sleeps up to
        # 100 ms between retries (seconds of tail latency under load). A second process
        # (the CLI) is still covered by the busy timeout.
        kwargs.setdefault("pool_size", 1)
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_timeout", 60)
        engine = create_async_engine(url, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    # Recycle instead of pinging: a pre-ping costs a round trip on every checkout.
    kwargs.setdefault("pool_recycle", 1800)
    return create_async_engine(url, **kwargs)


def is_postgres(session: AsyncSession) -> bool:
    """Return whether the session talks to PostgreSQL (else SQLite)."""
    return session.bind is not None and session.bind.dialect.name == "postgresql"


def insert_for(session: AsyncSession) -> Any:
    """Return the dialect's ``insert`` (both have ``on_conflict_do_nothing/update``)."""
    return pg_insert if is_postgres(session) else sqlite_insert


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return the session factory every repository works through."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
