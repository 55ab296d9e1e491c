"""The console in real headless Chromium (Debian's /usr/bin/chromium): sign in, see, sign out."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page, expect

from bot.core.render import Renderer
from bot.core.settings import CONTENT_DIR
from handlers.graph import build_graph
from handlers.web import console_app
from tests.browser import served, sign_in
from tests.console_fixtures import (
    PASSWORD,
    add_people,
    console_deps,
    console_settings,
)

words = Renderer(CONTENT_DIR)


@pytest.fixture
async def console_url(database_url, clock) -> AsyncIterator[str]:
    """The console served by a real AppRunner, as ``alumnibot run`` serves it."""
    async with console_deps(console_settings(database_url), clock) as deps:
        await add_people(deps)
        async with served(console_app(build_graph(deps))) as url:
            yield url


async def test_sign_in_see_the_inbox_and_sign_out(page: Page, console_url: str):
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text))  # e.g. CSP violations
    await sign_in(page, console_url, "ann@school.example", PASSWORD)

    await expect(page).to_have_url(console_url + "/inbox")
    await expect(page.locator("#staff-name")).to_have_text("Ann Admin")
    await expect(page.locator("#empty-inbox")).to_have_text("Nog geen gesprekken")
    await expect(page.locator("#role")).to_have_text("Beheerder")
    await expect(page.locator("#teams")).to_contain_text("Leven lang ontwikkelen")
    # The stylesheet loads under the Content-Security-Policy.
    background = await page.eval_on_selector(
        "header", "element => getComputedStyle(element).backgroundColor"
    )
    assert background == "rgb(11, 92, 173)"
    cookies = await page.context.cookies()
    [session] = [c for c in cookies if c["name"] == "alumnibot_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"

    await page.click("#logout")
    await expect(page).to_have_url(console_url + "/inbox/login")
    await expect(page.locator("#login")).to_be_visible()
    assert not [c for c in await page.context.cookies() if c["name"] == "alumnibot_session"]
    await page.goto(console_url + "/inbox")  # signed out for real
    await expect(page).to_have_url(console_url + "/inbox/login")
    assert errors == []


async def test_wrong_password_shows_the_generic_error(page: Page, console_url: str):
    await sign_in(page, console_url, "ann@school.example", "this is not the password")
    await expect(page.locator("#login-error")).to_have_text(words.label("web.login_failed", "nl"))
    await expect(page).to_have_url(console_url + "/inbox/login")
    await expect(page.locator("#email")).to_have_value("ann@school.example")
    await page.fill("#password", PASSWORD)  # the form still works after a failure
    await page.click("#login")
    await expect(page.locator("#staff-name")).to_have_text("Ann Admin")


async def test_change_the_password_in_the_browser(page: Page, console_url: str):
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text))
    await sign_in(page, console_url, "ann@school.example", PASSWORD)
    await expect(page.locator("#staff-name")).to_have_text("Ann Admin")
    await page.click("a[href='/account/password']")
    await expect(page).to_have_url(console_url + "/account/password")

    await page.fill("#current", PASSWORD)
    await page.fill("#new", "qwertyuiopas")
    await page.fill("#again", "qwertyuiopas")
    await page.click("#password-change")
    await expect(page.locator("#password-error")).to_have_text(
        words.label("web.password_sequence", "nl")
    )

    await page.fill("#current", PASSWORD)
    await page.fill("#new", "seven purple lanterns drift")
    await page.fill("#again", "seven purple lanterns drift")
    await page.click("#password-change")
    await expect(page.locator("#password-done")).to_have_text(
        words.label("web.password_changed", "nl")
    )
    await page.click("#logout")
    await sign_in(page, console_url, "ann@school.example", "seven purple lanterns drift")
    await expect(page.locator("#staff-name")).to_have_text("Ann Admin")
    assert [e for e in errors if "status of 422" not in e] == []  # the refusal is a 422
