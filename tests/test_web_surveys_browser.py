"""Sending a survey from the console, in real headless Chromium: the menu, the list, a
segment, the confirmation with its count, the result; on a desktop and on a phone.

The screenshots (``/tmp/surveys-*.png``) are there to be looked at.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from bot.staff.service import StaffService
from tests.browser import sign_in
from tests.console_fixtures import PASSWORD
from tests.factories import add_alumnus

SHOTS = "/tmp/surveys-{}.png"


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"web_cookie_secure": False})


async def the_school(app, sim) -> dict[str, int]:
    """An admin, and alumni of whom two fit "Kok, graduated 2022 or later" and said yes."""
    deps = app.bot_data.graph.deps
    staff = StaffService(deps.storage, deps.clock)
    await staff.add_team("kwaliteit", "Kwaliteit", default=True)
    await staff.add_staff("ann@school.example", "Ann Admin", "admin", PASSWORD, ["kwaliteit"])
    people = {}
    for name, crebo, level, year, purposes in (
        ("Sanne", "25180", 2, 2024, ("surveys",)),
        ("Noor", "25180", 2, 2023, ("surveys", "llo")),
        ("Daan", "25180", 2, 2019, ("surveys",)),  # graduated before 2022
        ("Eva", "25180", 2, 2024, ("llo",)),  # no consent to surveys
        ("Tim", "25181", 3, 2024, ("surveys",)),  # another programme
    ):
        user = sim.create_user(first_name=name, language_code="nl")
        await add_alumnus(
            app,
            user.id,
            purposes=purposes,
            first_name=name,
            crebo=crebo,
            level=level,
            graduation_year=year,
        )
        people[name] = user.id
    return people


async def fits_the_width(page: Page) -> None:
    """Nothing sticks out sideways: the page is no wider than the window."""
    widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{page.url} is {widths[0]}px wide in {widths[1]}px"


async def test_send_a_survey_to_a_segment_from_the_menu(app, sim, page, console_url):
    people = await the_school(app, sim)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text))  # e.g. CSP violations
    page.on("pageerror", lambda error: errors.append(str(error)))

    await sign_in(page, console_url, "ann@school.example", PASSWORD)
    await expect(page).to_have_url(console_url + "/inbox")
    await page.click("nav >> text=Vragenlijsten")
    await expect(page).to_have_url(console_url + "/surveys")
    await expect(page.locator('nav a[aria-current="page"]')).to_have_text("Vragenlijsten")
    survey = page.locator("#survey-tevredenheid")
    await expect(survey.locator(".survey-title")).to_have_text(
        "Hoe kijk je terug op je opleiding?"
    )
    await expect(survey.locator(".survey-questions")).to_have_text("5")
    await expect(survey.locator(".survey-invited")).to_have_text("0")
    await fits_the_width(page)
    await page.screenshot(path=SHOTS.format("desktop-1-list"), full_page=True)

    await survey.locator(".send-link").click()
    await expect(page).to_have_url(console_url + "/surveys/tevredenheid")
    await expect(page.locator('nav a[aria-current="page"]')).to_have_text("Vragenlijsten")
    await page.select_option("#crebos", ["25180"])
    await page.fill("#cohort_from", "2022")
    await fits_the_width(page)
    await page.screenshot(path=SHOTS.format("desktop-2-segment"), full_page=True)
    await page.click("#survey-check")

    # Nothing leaves before the confirmation, which names how many get an invitation.
    await expect(page.locator("#confirm-count")).to_have_text("2")
    await expect(page.locator("#confirm-send")).to_have_text("Ja, verstuur naar 2 oud-studenten")
    await expect(page.locator("#confirm-segment")).to_contain_text("Kok (25180)")
    await fits_the_width(page)
    await page.screenshot(path=SHOTS.format("desktop-3-confirm"), full_page=True)
    assert all(sim.bot_messages(chat) == [] for chat in people.values())
    await page.click("#confirm-send")

    await expect(page.locator("#survey-sent")).to_contain_text("Verstuurd naar 2 oud-studenten.")
    await page.reload()  # a reload shows the result again and sends nothing more
    await expect(page.locator("#survey-sent")).to_contain_text("Verstuurd naar 2 oud-studenten.")
    for name in ("Sanne", "Noor"):
        [invitation] = await sim.wait_for_bot_messages(people[name], 1)
        assert "Hoe kijk je terug op je opleiding?" in (invitation.text or "")
    for name in ("Daan", "Eva", "Tim"):
        assert sim.bot_messages(people[name]) == []
    await fits_the_width(page)
    await page.screenshot(path=SHOTS.format("desktop-4-sent"), full_page=True)
    assert errors == []


async def test_the_same_steps_fit_a_phone(app, sim, browser: Browser, console_url):
    people = await the_school(app, sim)
    context = await browser.new_context(
        locale="nl-NL", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    try:
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await sign_in(page, console_url, "ann@school.example", PASSWORD)
        await page.click("nav >> text=Vragenlijsten")
        await expect(page).to_have_url(console_url + "/surveys")
        await fits_the_width(page)
        await page.screenshot(path=SHOTS.format("mobile-1-list"), full_page=True)

        await page.locator("#survey-tevredenheid .send-link").click()
        # A wrong segment is named at its field, in words; nothing is sent.
        await page.fill("#cohort_from", "2025")
        await page.fill("#cohort_to", "2020")
        await page.click("#survey-check")
        await expect(page.locator("#survey-errors")).to_be_visible()
        await expect(page.locator("#cohort_to-error")).to_contain_text("vóór het beginjaar")
        await fits_the_width(page)
        await page.screenshot(path=SHOTS.format("mobile-2-error"), full_page=True)

        await page.fill("#cohort_from", "2022")
        await page.fill("#cohort_to", "")
        await page.select_option("#crebos", ["25180"])
        await page.click("#survey-check")
        await expect(page.locator("#confirm-count")).to_have_text("2")
        await fits_the_width(page)
        await page.screenshot(path=SHOTS.format("mobile-3-confirm"), full_page=True)
        await page.click("#confirm-send")
        await expect(page.locator("#survey-sent")).to_contain_text(
            "Verstuurd naar 2 oud-studenten."
        )
        await fits_the_width(page)
        await page.screenshot(path=SHOTS.format("mobile-4-sent"), full_page=True)
        for name in ("Sanne", "Noor"):
            await sim.wait_for_bot_messages(people[name], 1)

        # In English, on the same survey's page.
        await page.select_option("#locale", "en")
        await page.click("text=Wijzig taal")
        await expect(page).to_have_url(console_url + "/surveys/tevredenheid")
        await expect(page.locator("#survey-heading")).to_have_text(
            "Looking back on your programme"
        )
        await expect(page.locator('nav a[aria-current="page"]')).to_have_text("Surveys")
        # The same audience again: everyone in it has had the survey.
        await page.select_option("#crebos", ["25180"])
        await page.fill("#cohort_from", "2022")
        await page.click("#survey-check")
        await expect(page.locator("#confirm-nobody")).to_contain_text("Nobody in this audience")
        await fits_the_width(page)
        await page.screenshot(path=SHOTS.format("mobile-5-english-nobody-left"), full_page=True)
        assert errors == []
    finally:
        await context.close()
