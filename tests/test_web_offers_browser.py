"""Offers and campaigns in real headless Chromium: sign in, create an offer while its preview
follows the typing, compose a campaign while the audience count follows the filters, send it,
and watch its progress reach 100% as the bot delivers to the simulator.
"""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from bot.staff.service import StaffService
from tests.browser import sign_in
from tests.console_fixtures import PASSWORD
from tests.factories import add_alumnus

SCREENSHOT = "/tmp/offers-campaign.png"
FORM_SCREENSHOT = "/tmp/offers-form.png"


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"web_cookie_secure": False})


async def test_create_an_offer_compose_send_and_follow_a_campaign(app, sim, page, console_url):
    deps = app.bot_data.graph.deps
    staff = StaffService(deps.storage, deps.clock)
    await staff.add_team("llo", "Leven lang ontwikkelen", default=True)
    await staff.add_staff("ann@school.example", "Ann Admin", "admin", PASSWORD, ["llo"])
    people = []
    for name, level in (("Sanne", 4), ("Daan", 3), ("Noor", 4)):
        user = sim.create_user(first_name=name, language_code="nl")
        await add_alumnus(app, user.id, first_name=name, crebo="25998", level=level)
        people.append(user)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text))  # e.g. CSP violations
    page.on("pageerror", lambda error: errors.append(str(error)))

    await sign_in(page, console_url, "ann@school.example", PASSWORD)
    await expect(page).to_have_url(console_url + "/inbox")
    await page.click("nav >> text=Aanbod")
    await expect(page).to_have_url(console_url + "/offers")
    await expect(page.locator("#no-offers")).to_be_visible()

    # The preview follows the typing (fetch + textContent: the title stays text).
    await page.select_option("#kind", "llo")
    await page.fill("#title", "Excel <b>voor</b> beginners")
    await expect(page.locator("#preview-text")).to_contain_text(
        "📚 Cursus: Excel <b>voor</b> beginners"
    )
    await expect(page.locator("#preview-text .tg-b").first).to_contain_text("Excel <b>voor")
    await page.fill("#text", "In vier avonden leer je werken met Excel.")
    await expect(page.locator("#preview-text")).to_contain_text("In vier avonden")
    await expect(page.locator("#preview-buttons .tg-button")).to_have_count(2)
    await page.fill("#link", "https://example.org/excel")
    await expect(page.locator("#preview-buttons .tg-button")).to_have_count(3)
    await expect(page.locator("#preview-buttons")).to_contain_text("Meer info")
    await page.fill("#cost", "€ 95")
    await expect(page.locator("#preview-text")).to_contain_text("Kosten: € 95")

    await page.screenshot(path=FORM_SCREENSHOT, full_page=True)

    # A wrong link is named at its field; nothing is saved, the typing is kept.
    await page.fill("#deadline", "2026-08-15")
    await page.fill("#link", "ftp://example.org/excel")
    await page.click("#offer-save")
    await expect(page.locator("#offer-errors")).to_be_visible()
    await expect(page.locator("#link-error")).to_contain_text("http://")
    await expect(page.locator("#title")).to_have_value("Excel <b>voor</b> beginners")
    await expect(page.locator("#deadline")).to_have_value("2026-08-15")
    await page.fill("#link", "https://example.org/excel")
    await page.click("#offer-save")
    await expect(page.locator("#offer-created")).to_be_visible()
    row = page.locator("#offers tbody tr").first
    await expect(row.locator(".offer-title")).to_have_text("Excel <b>voor</b> beginners")

    # Compose: the count follows the filters; the purpose is fixed by the kind.
    await row.locator(".compose-link").click()
    await expect(page.locator("#purpose-label")).to_have_text("Cursussen en leren (LLO)")
    await expect(page.locator("#audience-count")).to_have_text("3")
    await page.check('input[name="levels"][value="3"]')
    await expect(page.locator("#audience-count")).to_have_text("1")
    await page.uncheck('input[name="levels"][value="3"]')
    await page.check('input[name="levels"][value="4"]')
    await expect(page.locator("#audience-count")).to_have_text("2")
    # Save the filters as a segment, and get them back loaded.
    await page.fill("#segment_name", "ICT niveau 4")
    await page.click("#segment-save")
    await expect(page.locator("#segment")).to_contain_text("ICT niveau 4")
    await expect(page.locator('input[name="levels"][value="4"]')).to_be_checked()
    await expect(page.locator("#audience-count")).to_have_text("2")

    await page.click("#campaign-send")
    # Nothing leaves before the confirmation, which names how many it reaches.
    await expect(page.locator("#confirm-count")).to_have_text("2")
    await expect(page.locator("#confirm-send")).to_have_text("Ja, verstuur naar 2 oud-studenten")
    await page.click("#confirm-send")
    await expect(page).to_have_url(f"{console_url}/campaigns/1")
    await expect(page.locator("#stat-targeted")).to_have_text("2")
    # The bot delivers; the page polls and shows it without a reload.
    await expect(page.locator("#stat-sent")).to_have_text("2", timeout=15_000)
    await expect(page.locator("#progress-percent")).to_have_text("100")
    await expect(page.locator("#campaign-status")).to_have_text("Klaar")
    await expect(page.locator("#campaign-pause")).to_be_hidden()
    await page.screenshot(path=SCREENSHOT, full_page=True)

    # The same offer again: whom it reached is left out, and the composer says so live.
    await page.goto(console_url + "/campaigns/new?offer=1")
    await expect(page.locator("#audience-count")).to_have_text("1")
    await expect(page.locator("#audience-already")).to_be_visible()
    await expect(page.locator("#audience-already-count")).to_have_text("2")
    await page.check('input[name="levels"][value="3"]')
    await expect(page.locator("#audience-count")).to_have_text("1")
    await expect(page.locator("#audience-already")).to_be_hidden()

    sanne, daan, noor = people
    for user in (sanne, noor):
        [push] = [m for m in sim.bot_messages(user.id) if "Excel" in (m.text or "")]
        assert "Excel <b>voor</b> beginners" in push.text
    assert not [m for m in sim.bot_messages(daan.id) if "Excel" in (m.text or "")]
    # The form sent back with its errors answers 422, which Chromium logs; nothing else.
    assert [e for e in errors if "status of 422" not in e] == []
