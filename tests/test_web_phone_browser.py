"""Every console page on a phone (390 px wide, real Chromium): nothing wider than the screen.

Tables may be wider than a phone: they scroll inside their own box (``.table-scroll``), so
the page itself never scrolls sideways. The pages are read from the console's routes, so a
new page is checked without being listed here.
"""

from __future__ import annotations

import re

import pytest

from bot.staff.service import StaffService
from tests.browser import sign_in
from tests.chat import alumnus_asks
from tests.console_fixtures import PASSWORD
from tests.factories import add_alumnus, new_offer, two_teams

PHONE = {"width": 390, "height": 844}
# Pages that are not pages a person reads: data, images, files, redirects, the login form's
# own route (checked signed out below).
NOT_PAGES = re.compile(r"(\.csv|\.svg|\.xlsx|\.pdf|/updates|/messages|/progress|/static/|^/$)")
SAMPLE_ID = re.compile(r"\{id[^}]*\}")


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"web_cookie_secure": False})


async def test_every_console_page_fits_a_phone(app, sim, browser, console_url):
    await two_teams(app, sim)
    deps = app.bot_data.graph.deps
    await StaffService(deps.storage, deps.clock).add_staff(
        "ann@school.example", "Ann Admin", "admin", PASSWORD
    )
    await alumnus_asks(
        app, sim, "Maximiliaan", "Een lange vraag " + "over-een-heel-lang-woord" * 8, "Werk en"
    )
    user = sim.create_user(first_name="Sanne")
    await add_alumnus(app, user.id, first_name="Sanne", interests=["digitaal"])
    offer = await new_offer(
        app, "Een cursus met een behoorlijk lange titel die doorloopt", interests=["digitaal"]
    )
    await app.bot_data.graph.campaigns.create(offer)

    routes = sorted(
        {
            r.resource.canonical
            for r in app_routes(console_url, app)
            if r.method == "GET" and r.resource is not None
        }
    )
    paths = [SAMPLE_ID.sub("1", p) for p in routes if not NOT_PAGES.search(p)]
    assert {"/inbox", "/offers", "/campaigns", "/monitor", "/registry"} <= set(paths)
    context = await browser.new_context(locale="nl-NL", viewport=PHONE)
    page = await context.new_page()
    try:
        await page.goto(console_url + "/inbox/login")
        assert await _fits(page), "/inbox/login"
        await sign_in(page, console_url, "ann@school.example", PASSWORD)
        too_wide = []
        for path in paths:
            if "{" in path:
                continue  # a route with a part that is not an id (a class code): its own tests
            response = await page.goto(console_url + path)
            assert response is not None and response.status < 400, path
            await page.screenshot(path=f"/tmp/phone{path.replace('/', '-')}.png", full_page=True)
            if not await _fits(page):
                too_wide.append((path, await _widest(page)))
        assert too_wide == [], "\n".join(map(str, too_wide))
    finally:
        await context.close()


def app_routes(console_url, app):
    """The console's routes, from the app the test server runs."""
    from handlers.web import console_app

    return list(console_app(app.bot_data.graph).router.routes())


async def _fits(page) -> bool:
    return await page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")


WIDEST = """() => {
  const name = e => `${e.tagName}#${e.id}.${e.className}`;
  let worst = null, right = innerWidth;
  for (const e of document.querySelectorAll('body *')) {
    const box = e.parentElement && e.parentElement.closest('.table-scroll');
    if (box && box !== e) continue;
    const r = e.getBoundingClientRect();
    if (r.right > right) { right = r.right; worst = e; }
  }
  if (worst) return `${name(worst)} ${Math.round(right)}px`;
  const wide = [...document.querySelectorAll('body *')]
    .filter(e => e.scrollWidth > innerWidth).slice(-3);
  return 'scrolls: ' + wide.map(e => `${name(e)} ${e.scrollWidth}`).join(', ');
}"""


async def _widest(page) -> str:
    """The element that sticks out furthest (outside table boxes), for the failure message."""
    return await page.evaluate(WIDEST)
