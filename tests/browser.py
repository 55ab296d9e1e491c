"""Real headless Chromium for the console tests (Debian's package, installed by .ci/run).

Loaded as a pytest plugin by ``tests/conftest.py``: the ``browser`` and ``page`` fixtures,
:func:`served`, which serves a console app on a free port as ``alumnibot run`` does, the
``console_url`` fixture, the console of the running bot (a module may define its own), and
:func:`sign_in`, which signs in on the login page as a person would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright, expect

from handlers.telegram.app import AlumniApplication
from handlers.web import console_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@asynccontextmanager
async def served(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` with a real AppRunner on 127.0.0.1; yield its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Chromium; a missing browser fails the run, never skips it."""
    assert CHROMIUM.exists(), "Chromium is missing: apt-get install -y chromium"
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh Dutch browser context and page, tall enough for the console's forms."""
    context = await browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 1000})
    try:
        yield await context.new_page()
    finally:
        await context.close()


@pytest.fixture
async def console_url(app: AlumniApplication) -> AsyncIterator[str]:
    """The console on the bot's services and dispatcher, served as ``alumnibot run`` does."""
    data = app.bot_data
    async with served(console_app(data.graph)) as url:
        yield url


async def sign_in(page: Page, base: str, email: str, password: str) -> None:
    await page.goto(base + "/")
    await expect(page).to_have_url(base + "/inbox/login")
    await page.fill("#email", email)
    await page.fill("#password", password)
    await page.click("#login")
