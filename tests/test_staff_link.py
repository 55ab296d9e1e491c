"""A staff member links their own Telegram account: a console link, opened in Telegram."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.staff.service import StaffService
from storage.models import Alumnus, AuditEvent, InboundUpdate
from tests.chat import Chat
from tests.console_fixtures import PASSWORD, csrf_in, web_as
from tests.harness import processed_of, rows

LINK = re.compile(r'<code id="account-command">/start (staff-[A-Za-z0-9_-]+)</code>')


@pytest.fixture
def settings(settings):
    # Console cookies that work over plain http.
    return settings.model_copy(update={"web_cookie_secure": False})


async def add_staff(app) -> StaffService:
    deps = app.bot_data.graph.deps
    staff = StaffService(deps.storage, deps.clock)
    await staff.add_team("llo", "Leven lang ontwikkelen", default=True)
    await staff.add_staff("ann@school.example", "Ann Admin", "admin", PASSWORD, ["llo"])
    await staff.add_staff("cor@school.example", "Cor Coach", "coordinator", PASSWORD, ["llo"])
    return staff


async def linked_to(app, user_id: int) -> str | None:
    async with app.bot_data.graph.deps.storage.transaction() as tx:
        member = await tx.staff.by_telegram(user_id)
    return member.email if member else None


async def make_link(client: TestClient) -> tuple[str, str]:
    async with client.get("/account/telegram") as page:
        token = csrf_in(await page.text())
    async with client.post("/account/telegram", data={"csrf_token": token}) as response:
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-store"
        html = await response.text()
    match = LINK.search(html)
    assert match, html
    return match.group(1), html


async def test_a_member_links_their_telegram_from_the_console_in_one_step(app, sim):
    await add_staff(app)
    ann = sim.create_user(first_name="Ann")
    async with web_as(app, "ann@school.example", bot_username=app.bot.username) as client:
        async with client.get("/account/telegram") as page:
            html = await page.text()
        assert "Je Telegram-account is nog niet gekoppeld." in html
        # In the navigation, marked as the page you are on.
        assert 'href="/account/telegram" aria-current="page">Mijn Telegram</a>' in html

        token, html = await make_link(client)
        assert len(token) <= 64  # Telegram's limit for a start parameter
        assert f'href="https://t.me/{app.bot.username}?start={token}"' in html
        assert 'id="account-expires">2026-06-15 12:10</strong>' in html  # 10 min, school time

        reply = await Chat(sim, processed_of(app), ann).say(f"/start {token}")
        assert [m.text for m in reply] == [
            app.bot_data.graph.deps.renderer.text("staff.link_linked", "nl", member="Ann Admin")
        ]
        assert await linked_to(app, ann.id) == "ann@school.example"
        assert await rows(app, Alumnus) == []  # staff, not an alumnus: no onboarding
        assert all(u.claimed_at is not None for u in await rows(app, InboundUpdate))
        async with client.get("/account/telegram") as page:
            html = await page.text()
        assert "Je Telegram-account is gekoppeld." in html
        assert 'id="account-unlink"' in html

        # The same link once more, from someone else's account: it worked once, never again.
        mallory = sim.create_user(first_name="Mallory", language_code="en")
        reply = await Chat(sim, processed_of(app), mallory).say(f"/start {token}")
        assert [m.text for m in reply] == [
            app.bot_data.graph.deps.renderer.text("staff.link_invalid", "en")
        ]
        assert await linked_to(app, mallory.id) is None
        assert await linked_to(app, ann.id) == "ann@school.example"

        csrf = csrf_in(html)
        async with client.post(
            "/account/telegram/unlink", data={"csrf_token": csrf}, allow_redirects=False
        ) as response:
            assert response.status == 303
            assert response.headers["Location"] == "/account/telegram?done=unlinked"
        async with client.get("/account/telegram?done=unlinked") as page:
            assert 'id="account-unlinked"' in await page.text()
        assert await linked_to(app, ann.id) is None
    async with app.bot_data.graph.deps.storage.transaction() as tx:
        actions = [e.action for e in (await tx.session.execute(select(AuditEvent))).scalars()]
    assert "issue:telegram-link" in actions and "unlink:telegram" in actions


async def test_expired_forged_and_taken_links_change_nothing(app, sim, clock):
    await add_staff(app)
    say = app.bot_data.graph.deps.renderer.text
    links = app.bot_data.graph.staff_links
    async with app.bot_data.graph.deps.storage.transaction() as tx:
        ann = await tx.staff.by_email("ann@school.example")
        cor = await tx.staff.by_email("cor@school.example")
    phone = sim.create_user(first_name="Ann")
    chat = Chat(sim, processed_of(app), phone)

    token, _ = await links.issue(ann.id)
    clock.advance(timedelta(minutes=10, seconds=1))
    assert [m.text for m in await chat.say(f"/start {token}")] == [say("staff.link_expired", "nl")]

    token, _ = await links.issue(ann.id)
    for forged in (
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # another signature
        token.replace(f"staff-{ann.id}-", f"staff-{cor.id}-"),  # someone else's id
        "staff-1-2-3",
        "staff-99999999999999999999-1-x",
    ):
        assert [m.text for m in await chat.say(f"/start {forged}")] == [
            say("staff.link_invalid", "nl")
        ]
    assert await linked_to(app, phone.id) is None

    # A Telegram account linked to Cor cannot be linked to Ann as well.
    async with app.bot_data.graph.deps.storage.transaction() as tx:
        await tx.staff.link_telegram(cor.id, phone.id)
    assert [m.text for m in await chat.say(f"/start {token}")] == [say("staff.link_taken", "nl")]
    assert await linked_to(app, phone.id) == "cor@school.example"
    # An ordinary /start still starts the alumni onboarding.
    someone = Chat(sim, processed_of(app), sim.create_user(first_name="Sanne"))
    assert "alumnibot van" in (await someone.say("/start"))[0].text
