"""Helpers shared by the console's offers and campaigns tests: forms, rows, audit, alumni."""

from __future__ import annotations

import asyncio
import html
import re

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlmodel import col

from bot.core.render import Renderer
from bot.core.settings import CONTENT_DIR
from handlers.web.pages import CONSOLE, Console
from storage.models import AuditEvent, ConsentEvent, Offer
from tests.console_fixtures import csrf_in

words = Renderer(CONTENT_DIR)
FIELD_ERROR = re.compile(r'<p class="field-error" id="([a-z_]+)-error">(.*?)</p>', re.S)
XSS = "<script>alert('x')</script>"


def polite(block: str, locale: str = "nl") -> str:
    """A reason as the page shows it: first letter upper case, escaped."""
    text = words.label(block, locale)
    return html.escape(text[:1].upper() + text[1:])


def console_of_client(client: TestClient) -> Console:
    server = client.server
    assert isinstance(server, TestServer)
    return server.app[CONSOLE]


def field_errors(page: str) -> dict[str, str]:
    return {name: text.strip() for name, text in FIELD_ERROR.findall(page)}


async def page_token(client, path="/offers") -> str:
    async with client.get(path) as page:
        assert page.status == 200
        return csrf_in(await page.text())


async def offer_rows(deps) -> list[Offer]:
    async with deps.storage.transaction() as tx:
        return await tx.offers.offers()


async def audit_rows(deps) -> list[tuple[str, str | None]]:
    async with deps.storage.transaction() as tx:
        result = await tx.session.execute(select(AuditEvent).order_by(col(AuditEvent.id)))
        return [(e.action, e.subject) for e in result.scalars()]


GOOD = {
    "kind": "llo",
    "title": "Excel voor beginners",
    "text": "In vier avonden leer je werken met Excel.",
    "provider": "ROC Voorbeeld",
    "link": "https://example.org/excel",
    "regions": "UT, NH",
    "starts_on": "2026-09-01",
    "deadline": "2026-08-15",
    "cost": "€ 95",
    "contact_team": "llo",
}


async def post_offer(client, token: str, **fields) -> tuple[int, str, str | None]:
    data = {"csrf_token": token, **GOOD, **fields}
    async with client.post("/offers", data=data, allow_redirects=False) as response:
        return response.status, await response.text(), response.headers.get("Location")


async def add_offer(deps, **fields) -> Offer:
    values = {
        "kind": "llo",
        "title": "Excel voor beginners",
        "body": "In vier avonden.",
        "created_at": deps.clock.now(),
        **fields,
    }
    offer = Offer(**values)
    async with deps.storage.transaction() as tx:
        await tx.offers.add_offers([offer])
    return offer


async def add_alumni(deps) -> None:
    """Five alumni: three consent to LLO offers, one only to job leads, one to nothing."""
    now = deps.clock.now()
    people = [
        ({"crebo": "25998", "level": 4, "region": "UT", "graduation_year": 2022}, ["llo"]),
        ({"crebo": "25491", "level": 3, "region": "NH", "graduation_year": 2024}, ["llo"]),
        ({"crebo": "25180", "level": 2, "region": "35", "graduation_year": 2025}, ["llo", "jobs"]),
        ({"crebo": "25998", "level": 4, "region": "UT", "graduation_year": 2023}, ["jobs"]),
        ({"crebo": "25998", "level": 4, "region": "UT", "graduation_year": 2023}, []),
    ]
    async with deps.storage.transaction() as tx:
        for number, (profile, purposes) in enumerate(people, start=1):
            alumnus = await tx.alumni.create(1000 + number, now)
            alumnus.onboarded_at = now
            alumnus.locale = "nl"
            for name, value in profile.items():
                setattr(alumnus, name, value)
            tx.alumni.save(alumnus, now)
            await tx.session.flush()
            for purpose in purposes:
                tx.session.add(
                    ConsentEvent(
                        alumnus_id=alumnus.id,
                        purpose=purpose,
                        granted=True,
                        text_version="test",
                        locale="nl",
                        source="privacy",
                        occurred_at=now,
                    )
                )


async def confirmed(client, data: dict[str, str]) -> dict[str, str]:
    """The composer's form as its confirmation page posts it ("Ja, verstuur")."""
    async with client.post("/campaigns", data=data) as page:
        assert page.status == 200
        [expected] = re.findall(r'name="expected" value="(\d+)"', await page.text())
    return {**data, "confirm": "yes", "expected": expected}


async def launched(deps, campaign_id: int) -> None:
    """Wait until "send now" has queued the audience (the console launches in the background)."""
    async with asyncio.timeout(10):
        while await campaign_status(deps, campaign_id) in ("draft", "launching"):
            await asyncio.sleep(0.02)


async def campaign_status(deps, campaign_id: int) -> str:
    async with deps.storage.transaction() as tx:
        campaign = await tx.offers.campaign(campaign_id)
    assert campaign is not None
    return campaign.status
