"""Fixtures: a real database (SQLite or PostgreSQL), the Bot API simulator, the real app.

``ALUMNIBOT_TEST_DB=postgres`` runs the suite on PostgreSQL at 127.0.0.1:5432 (database
``test`` is used to create a scratch database). When PostgreSQL is asked for and cannot be
reached the run fails: a skipped PostgreSQL run must never look green.

Only fixtures and hooks live here; the helpers they use come from ``tests.harness`` and
``tests.chat``, where test modules import them too.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

# PTB 22 warns on int retry_after unless opted in to timedelta; warnings are errors here.
os.environ.setdefault("PTB_TIMEDELTA", "1")
from pydantic import SecretStr
from sqlalchemy import text

from bot.core.clock import FrozenClock
from bot.core.settings import Settings
from handlers.telegram.app import AlumniApplication
from sandbox.simulator import BotApiSimulator
from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import SQLModel
from tests.chat import Chat
from tests.harness import TEST_DB, TOKEN, polling_app, processed_of

# Real headless Chromium for the console tests: the browser and page fixtures.
pytest_plugins = ["tests.browser"]

PG_ADMIN_URL = os.environ.get(
    "ALUMNIBOT_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def pytest_report_header() -> str:
    return f"alumnibot test database: {TEST_DB}"


# ---------------------------------------------------------------------------- real network guard


@pytest.fixture(autouse=True)
def _no_external_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any connection that leaves this machine (Telegram is never reachable here)."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (
            host.startswith("127.") or host in ("localhost", "::1") or host.startswith("/")
        ):
            raise RuntimeError(f"test tried to reach {host}: tests must stay offline")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


# ---------------------------------------------------------------------------- databases


async def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def _pg_admin(statement: str) -> None:
    engine = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=None)
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Migrate once per session: a template SQLite file, or a scratch PostgreSQL database."""
    if TEST_DB == "sqlite":
        path = tmp_path_factory.mktemp("db") / "template.db"
        asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
        yield str(path)
        return
    if TEST_DB != "postgres":
        raise pytest.UsageError(f"ALUMNIBOT_TEST_DB must be sqlite or postgres, not {TEST_DB}")
    name = f"alumnibot_test_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # the run must fail, never skip
        pytest.exit(f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {error}", returncode=3)
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    asyncio.run(_migrate(url))
    yield url
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def database_url(database_template: str, tmp_path: Path) -> AsyncIterator[str]:
    """A clean, migrated database for one test."""
    if TEST_DB == "sqlite":
        path = tmp_path / "alumnibot.db"
        shutil.copy(database_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    engine = make_engine(database_template)
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await engine.dispose()
    yield database_template


# ---------------------------------------------------------------------------- simulator and app


@pytest.fixture
async def sim() -> AsyncIterator[BotApiSimulator]:
    # local_mode: the tests' webhooks are plain http on loopback, as telegram-bot-api --local
    # allows; the strict rules are tested in test_telegram_fidelity.
    simulator = BotApiSimulator(token=TOKEN, bot_username="alumnibot_test_bot", local_mode=True)
    await simulator.start(host="127.0.0.1", port=0)
    yield simulator
    await simulator.stop()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 6, 15, 10, 0, tzinfo=UTC))


@pytest.fixture
def settings(sim: BotApiSimulator, database_url: str) -> Settings:
    return Settings(
        _env_file=None,
        telegram_token=SecretStr(TOKEN),
        telegram_api_url=sim.api_base_url,
        telegram_file_url=sim.file_base_url,
        database_url=database_url,
        school_name="Testcollege",
        privacy_contact="privacy@testcollege.example",
        secret_key=SecretStr("test-secret-key"),
        concurrent_updates=16,
    )


@pytest.fixture
async def app(settings: Settings, clock: FrozenClock) -> AsyncIterator[AlumniApplication]:
    """The real Application, long-polling the simulator."""
    async with polling_app(settings, clock) as application:
        yield application


@pytest.fixture
def new_chat(sim: BotApiSimulator, app: AlumniApplication) -> Any:
    """Factory: a new alumnus chat."""

    def make(first_name: str = "Sanne", language_code: str | None = "nl") -> Chat:
        user = sim.create_user(first_name=first_name, language_code=language_code)
        return Chat(sim, processed_of(app), user)

    return make
