"""First use at a school, in real headless Chromium: saving an offer sends nothing, sending
asks for a confirmation with the number it reaches.
"""

from __future__ import annotations

import pytest
from playwright.async_api import expect
from sqlalchemy import update
from sqlmodel import col

from bot.staff.service import StaffService
from storage.models import Alumnus, Offer
from tests.browser import sign_in
from tests.chat import alumnus_asks
from tests.console_fixtures import PASSWORD
from tests.factories import add_alumnus, two_teams


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"web_cookie_secure": False})


async def admin(app) -> None:
    deps = app.bot_data.graph.deps
    staff = StaffService(deps.storage, deps.clock)
    await staff.add_team("llo", "Leven lang ontwikkelen", default=True)
    await staff.add_staff("ann@school.example", "Ann Admin", "admin", PASSWORD, ["llo"])


async def test_saving_sends_nothing_and_sending_is_confirmed(app, sim, page, console_url):
    await admin(app)
    people = []
    for name, frequency in (("Sanne", "immediately"), ("Daan", "weekly")):
        user = sim.create_user(first_name=name, language_code="nl")
        await add_alumnus(
            app, user.id, first_name=name, interests=["digitaal"], offer_frequency=frequency
        )
        people.append(user)
    await sign_in(page, console_url, "ann@school.example", PASSWORD)
    await page.goto(console_url + "/offers")
    await page.select_option("#kind", "llo")
    await page.fill("#title", "Werken met AI")
    await page.fill("#text", "Drie avonden over AI in je werk.")
    await page.select_option("#interests", ["digitaal"])
    await page.click("#offer-save")
    await expect(page.locator("#offer-created")).to_contain_text("nog niets verstuurd")
    await page.screenshot(path="/tmp/polish-offer-saved.png", full_page=True)
    assert all(sim.bot_messages(user.id) == [] for user in people)

    await page.locator("#offers .match-link").first.click()
    await expect(page.locator("#confirm-count")).to_have_text("1")
    await expect(page.locator("#confirm-digest-count")).to_have_text("1")
    await expect(page.locator("#confirm-send")).to_have_text("Ja, verstuur naar 2 oud-studenten")
    await page.screenshot(path="/tmp/polish-match-confirm.png", full_page=True)
    await page.click("#confirm-send")
    await expect(page.locator("#campaign-heading")).to_contain_text("Werken met AI")
    sanne, daan = people
    [push] = await sim.wait_for_bot_messages(sanne.id, 1)
    assert "Werken met AI" in push.text
    assert sim.bot_messages(daan.id) == []  # weekly: in the digest

    # The composer: "Controleer en verstuur" leads to the confirmation; back keeps the form.
    await page.goto(console_url + "/campaigns/new?offer=1")
    await page.check('input[name="levels"][value="4"]')
    await page.click("#campaign-send")
    await expect(page.locator("#confirm-nobody")).to_be_visible()
    await page.screenshot(path="/tmp/polish-campaign-confirm.png", full_page=True)
    await page.click("#confirm-back")
    await expect(page.locator('input[name="levels"][value="4"]')).to_be_checked()


async def test_regions_are_chosen_from_the_catalogue_and_a_preview_keeps_the_form(
    app, sim, page, console_url
):
    await admin(app)
    for name, region in (("Sanne", "35"), ("Daan", "NH"), ("Noor", "35")):
        user = sim.create_user(first_name=name, language_code="nl")
        await add_alumnus(app, user.id, first_name=name, region=region, level=4)
    deps = app.bot_data.graph.deps
    async with deps.storage.transaction() as tx:
        await tx.offers.add_offers(
            [Offer(kind="llo", title="Excel", body="Vier avonden.", created_at=deps.clock.now())]
        )
    await sign_in(page, console_url, "ann@school.example", PASSWORD)
    await page.goto(console_url + "/campaigns/new?offer=1")
    await expect(page.locator("#audience-count")).to_have_text("3")
    await page.select_option("#regions", ["35"])
    await expect(page.locator("#audience-count")).to_have_text("2")
    await expect(page.locator("#audience-suffix")).to_contain_text("oud-studenten krijgen")
    await page.select_option("#regions", ["NH"])
    await expect(page.locator("#audience-count")).to_have_text("1")
    await expect(page.locator("#audience-suffix")).to_contain_text("oud-student krijgt")
    # A value that is not in the catalogue (an old bookmark, a typed URL) is named live.
    await page.evaluate(
        "() => { const o = new Option('XX', 'XX', true, true);"
        " document.getElementById('regions').add(o);"
        " document.getElementById('regions')"
        ".dispatchEvent(new Event('change', {bubbles: true})); }"
    )
    await expect(page.locator("#regions-error")).to_be_visible()
    await expect(page.locator("#audience-count")).to_have_text("–")
    await page.screenshot(path="/tmp/polish-composer-region-error.png", full_page=True)
    await page.select_option("#regions", ["NH"])
    await expect(page.locator("#regions-error")).to_have_count(0)
    await expect(page.locator("#audience-count")).to_have_text("1")
    await page.check('input[name="levels"][value="4"]')
    await page.click("#preview-to-me")
    await expect(page.locator("#preview-unlinked")).to_be_visible()
    await expect(page.locator("#regions option[value='NH']")).to_have_js_property("selected", True)
    await expect(page.locator('input[name="levels"][value="4"]')).to_be_checked()
    await expect(page.locator("#regions-chosen")).to_have_text("Gekozen: Noord-Holland")
    await page.screenshot(path="/tmp/polish-composer-preview-unlinked.png", full_page=True)


async def test_words_a_coordinator_reads_at_a_glance(app, sim, page, console_url):
    await two_teams(app, sim)
    await alumnus_asks(app, sim, "Sanne", "Ik zoek een stage in de zorg", "Werk en")
    deps = app.bot_data.graph.deps
    async with deps.storage.transaction() as tx:
        await tx.session.execute(
            update(Alumnus)
            .where(col(Alumnus.first_name) == "Sanne")
            .values(region="35", locale="en")
        )
    await sign_in(page, console_url, "cor@school.example", PASSWORD)
    await page.click("#conversations a >> text=Sanne")
    await expect(page.locator("#canned-language")).to_contain_text("Gaat in het Engels")
    await expect(page.locator("dd >> text=postcodegebied 35 (Utrecht)")).to_be_visible()
    await page.screenshot(path="/tmp/polish-conversation.png", full_page=True)

    # An offer in English: a Dutch reader is told so in the push.
    await page.goto(console_url + "/offers")
    await page.select_option("#language", "en")
    await page.fill("#title", "Welding for beginners")
    await expect(page.locator("#preview-text")).to_contain_text("Dit aanbod is in het Engels.")
    await page.select_option("#preview_locale", "en")
    await expect(page.locator("#preview-text")).not_to_contain_text("is in")
    await page.screenshot(path="/tmp/polish-offer-language.png", full_page=True)

    response = await page.goto(console_url + "/campaigns/4242")
    assert response is not None and response.status == 404
    await expect(page.locator("h1")).to_have_text("Niet gevonden")
    await page.screenshot(path="/tmp/polish-not-found.png", full_page=True)


async def test_an_offer_is_edited_and_withdrawn(app, sim, page, console_url):
    await admin(app)
    deps = app.bot_data.graph.deps
    async with deps.storage.transaction() as tx:
        await tx.offers.add_offers(
            [Offer(kind="llo", title="Excel", body="Vier avonden.", created_at=deps.clock.now())]
        )
    await sign_in(page, console_url, "ann@school.example", PASSWORD)
    await page.goto(console_url + "/offers")
    await page.click("#offer-1 .edit-link")
    await expect(page.locator("#title")).to_have_value("Excel")
    await page.fill("#title", "Excel voor gevorderden")
    await expect(page.locator("#preview-text")).to_contain_text("Excel voor gevorderden")
    await page.screenshot(path="/tmp/polish-offer-edit.png", full_page=True)
    await page.click("#offer-save")
    await expect(page.locator("#offer-updated")).to_be_visible()
    await expect(page.locator("#offer-1 .offer-title")).to_have_text("Excel voor gevorderden")
    await page.click("#offer-1 .edit-link")
    await page.click("#offer-withdraw")  # not ticked: nothing happens but a message
    await expect(page.locator("#withdraw-error")).to_be_visible()
    await page.check("#withdraw-confirm")
    await page.click("#offer-withdraw")
    await expect(page.locator("#offer-withdrawn")).to_be_visible()
    await expect(page.locator("#offer-1-withdrawn")).to_have_text("Ingetrokken")
    await expect(page.locator("#offer-1 .compose-link")).to_have_count(0)
    await page.screenshot(path="/tmp/polish-offer-withdrawn.png", full_page=True)
