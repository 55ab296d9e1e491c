"""The web inbox in real headless Chromium: sign in, read, reply, see new messages, close."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser import sign_in
from tests.chat import alumnus_asks
from tests.console_fixtures import PASSWORD
from tests.factories import two_teams
from tests.harness import conversation_of, settle

SCREENSHOT = "/tmp/inbox-thread.png"


@pytest.fixture
def settings(settings):
    return settings.model_copy(
        update={"group_messages_per_minute": 6000.0, "web_cookie_secure": False}
    )


async def test_log_in_read_reply_see_new_messages_and_close(app, sim, page: Page, console_url):
    await two_teams(app, sim)
    sanne = await alumnus_asks(app, sim, "Sanne", "Ik zoek een stage in de zorg", "Werk en")
    conversation = await conversation_of(app, "Sanne")
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text))  # e.g. CSP violations
    page.on("pageerror", lambda error: errors.append(str(error)))

    await sign_in(page, console_url, "cor@school.example", PASSWORD)
    await expect(page).to_have_url(console_url + "/inbox")
    row = page.locator(f'#conversations tr[data-id="{conversation.id}"]')
    await expect(row).to_contain_text("Sanne")
    await expect(row).to_contain_text("Werk en loopbaan")

    await row.locator("a").click()
    await expect(page).to_have_url(f"{console_url}/inbox/c/{conversation.id}")
    await expect(page.locator("#thread")).to_contain_text("Ik zoek een stage in de zorg")
    await expect(page.locator("#profile")).to_contain_text("Sanne")

    await page.fill("#reply-text", "Welkom! Bel ons gerust <op> maandag & dinsdag.")
    await page.click("#reply-send")
    await expect(page).to_have_url(f"{console_url}/inbox/c/{conversation.id}")
    await expect(page.locator("#thread .msg-out .text")).to_have_text(
        "Welkom! Bel ons gerust <op> maandag & dinsdag."
    )
    await expect(page.locator("#conversation-status")).to_have_text("Wacht op oud-student")
    await settle(app)
    assert sanne.last.text == "Cor (Nazorg):\nWelkom! Bel ons gerust <op> maandag & dinsdag."

    # The alumnus answers: it appears without a reload (the page polls).
    await sanne.say("Dank je! <b>Tot maandag</b>")
    await settle(app)
    new = page.locator("#thread .msg-in .text").last
    await expect(new).to_have_text("Dank je! <b>Tot maandag</b>", timeout=10_000)
    await page.screenshot(path=SCREENSHOT, full_page=True)

    await page.click("#close")
    await expect(page.locator("#conversation-status")).to_have_text("Gesloten")
    await expect(page.locator("#closed-notice")).to_be_visible()
    await settle(app)
    assert "Hoe goed hebben we je geholpen?" in sanne.last.text
    assert errors == []
