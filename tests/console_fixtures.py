"""Shared helpers for the console tests: a console app on a real database, and form helpers.

:func:`page` and :func:`post` read a page and submit a form (with its CSRF token) over HTTP.

Also the ``deps`` fixture (defined as :func:`people_deps`): not a conftest fixture, so a test
module that wants it imports ``people_deps``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from bot.core.clock import FrozenClock
from bot.core.deps import Deps
from bot.core.messenger import QueueOnlyMessenger
from bot.core.settings import Settings
from bot.staff.service import StaffService
from handlers.graph import build_graph, make_deps
from handlers.telegram.app import AlumniApplication
from handlers.telegram.messenger import fits as telegram_fits
from handlers.web import console_app
from storage.db import make_engine
from storage.repositories import Storage

PASSWORD = "correct horse battery staple"
CSRF_PATTERN = re.compile(r'name="csrf_token" value="([^"]+)"')


# A console on its own: the bot's services on their own database, sending nothing.
ConsoleDeps = Deps


def console_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "secret_key": SecretStr("test-secret-key"),
        "web_cookie_secure": False,
        "login_max_failures": 3,
        "login_lockout_minutes": 15,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@asynccontextmanager
async def console_deps(settings: Settings, clock: FrozenClock) -> AsyncIterator[ConsoleDeps]:
    storage = Storage(make_engine(settings.database_url))
    try:
        yield make_deps(
            settings,
            messenger=QueueOnlyMessenger("the test console", fits=telegram_fits),
            clock=clock,
            storage=storage,
        )
    finally:
        await storage.dispose()


async def add_people(deps: ConsoleDeps) -> StaffService:
    """An admin (Ann) in team llo, a coordinator (Cor) in team nazorg."""
    service = StaffService(deps.storage, deps.clock)
    await service.add_team("llo", "Leven lang ontwikkelen")
    await service.add_team("nazorg", "Nazorg", default=True)
    await service.add_staff("ann@school.example", "Ann Admin", "admin", PASSWORD, ["llo"])
    await service.add_staff(
        "cor@school.example", "Cor Coördinator", "coordinator", PASSWORD, ["nazorg"]
    )
    return service


@pytest.fixture(name="deps")
async def people_deps(database_url: str, clock: FrozenClock) -> AsyncIterator[ConsoleDeps]:
    """The ``deps`` fixture: a console's deps on a fresh database with :func:`add_people`."""
    async with console_deps(console_settings(database_url), clock) as deps:
        await add_people(deps)
        yield deps


@asynccontextmanager
async def console_client(deps: ConsoleDeps) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(console_app(build_graph(deps)))) as client:
        yield client


def csrf_in(html: str) -> str:
    match = CSRF_PATTERN.search(html)
    assert match, "no csrf_token field on the page"
    return match.group(1)


async def log_in(client: TestClient, email: str, password: str) -> ClientResponse:
    """Open the login form and submit it, as a browser would; do not follow the redirect."""
    async with client.get("/inbox/login") as form:
        token = csrf_in(await form.text())
    response = await client.post(
        "/inbox/login",
        data={"csrf_token": token, "email": email, "password": password},
        allow_redirects=False,
    )
    await response.read()
    return response


@asynccontextmanager
async def signed_in(
    deps: ConsoleDeps, email: str = "ann@school.example"
) -> AsyncIterator[TestClient]:
    """A console client on ``deps``, signed in as ``email`` and sent on to the inbox."""
    async with console_client(deps) as client:
        response = await log_in(client, email, PASSWORD)
        assert response.status == 303 and response.headers["Location"] == "/inbox"
        yield client


@asynccontextmanager
async def web_as(
    app: AlumniApplication, email: str, *, bot_username: str | None = None
) -> AsyncIterator[TestClient]:
    """A console on the bot's own inbox and dispatcher, signed in as ``email``.

    ``app`` is the running bot (conftest's ``app``); ``bot_username`` is passed on to the
    console, as ``alumnibot run`` does, for the pages that link to the bot in Telegram.
    """
    console = console_app(app.bot_data.graph, bot_username=bot_username)
    async with TestClient(TestServer(console)) as client:
        response = await log_in(client, email, PASSWORD)
        assert response.status == 303
        yield client


async def page(client: TestClient, path: str) -> tuple[int, str]:
    async with client.get(path) as response:
        return response.status, await response.text()


async def post(client: TestClient, path: str, **fields: str) -> tuple[int, str | None]:
    _, html = await page(client, "/inbox")
    response = await client.post(
        path, data={"csrf_token": csrf_in(html), **fields}, allow_redirects=False
    )
    await response.read()
    return response.status, response.headers.get("Location")


def session_cookie(client: TestClient) -> str | None:
    for cookie in client.session.cookie_jar:
        if cookie.key.endswith("alumnibot_session"):
            return cookie.value
    return None
