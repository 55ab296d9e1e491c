"""The web inbox says what it does in words a coordinator reads at a glance (issue: first
use at a school): region names, the language of a canned reply, a 404 page."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update
from sqlmodel import col

from handlers.web import console_app
from storage.models import Alumnus
from tests import test_web_inbox
from tests.console_fixtures import page, web_as

settings = test_web_inbox.settings  # the inbox tests' fixtures: the bot, two teams, questions
world = test_web_inbox.world


async def set_profile(app, first_name: str, **values: object) -> None:
    async with app.bot_data.graph.deps.storage.transaction() as tx:
        await tx.session.execute(
            update(Alumnus).where(col(Alumnus.first_name) == first_name).values(**values)
        )


async def test_the_card_names_a_postcode_area_and_canned_replies_say_their_language(app, world):
    await set_profile(app, "Sanne", region="35", locale="en")
    async with web_as(app, "cor@school.example") as cor:
        status, html = await page(cor, f"/inbox/c/{world['sanne_id']}")
    assert status == 200
    assert "<dd>postcodegebied 35 (Utrecht)</dd>" in html
    assert '<p class="hint" id="canned-language">Gaat in het Engels' in html
    await set_profile(app, "Sanne", locale="nl")
    async with web_as(app, "cor@school.example") as cor:
        _, html = await page(cor, f"/inbox/c/{world['sanne_id']}")
    assert '<p class="hint" id="canned-language">Gaat in het Nederlands' in html


async def test_unknown_pages_and_records_get_the_consoles_404_page(app, world):
    async with web_as(app, "cor@school.example") as cor:
        for path in ("/nergens", "/inbox/c/999999", "/campaigns/424242", "/offers/77/match"):
            status, html = await page(cor, path)
            assert status == 404, path
            assert "<h1>Niet gevonden</h1>" in html and 'href="/campaigns"' in html, path
            assert "404: Not Found" not in html
        async with cor.get(
            "/campaigns/424242/progress", headers={"Accept": "application/json"}
        ) as response:
            assert response.status == 404
            assert "Niet gevonden" not in await response.text()
            assert response.headers["X-Frame-Options"] == "DENY"
    async with TestClient(TestServer(console_app(app.bot_data.graph))) as anyone:
        async with anyone.get("/nergens", headers={"Accept-Language": "en"}) as response:
            assert response.status == 404
            assert "<h1>Not found</h1>" in await response.text()
