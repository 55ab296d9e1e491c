"""The web inbox over HTTP: lists, threads, answers and access, with the real bot."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update
from sqlmodel import col

from bot.core.render import Renderer
from bot.core.settings import CONTENT_DIR
from bot.staff.service import StaffService
from handlers.web import console_app
from storage.models import Alumnus, AuditEvent, InboxConversation, InboxMessage, OutboxMessage
from tests.chat import alumnus_asks, catalogue, texts_in
from tests.console_fixtures import PASSWORD, page, post, web_as
from tests.factories import two_teams
from tests.harness import conversation_of, rows, settle

words = Renderer(CONTENT_DIR)
XSS = "<script>alert(1)</script>"


@pytest.fixture
def settings(settings):
    # Plain http in tests; group pacing off (tested in test_dispatch).
    return settings.model_copy(
        update={
            "group_messages_per_minute": 6000.0,
            "web_cookie_secure": False,
            "web_session_hours": 24 * 14,  # the overdue test moves the clock a week
        }
    )


@pytest.fixture
async def world(app, sim):
    """Sanne (team nazorg, Cor's) and Piet (team llo, Lia's) each asked a question."""
    nazorg, llo = await two_teams(app, sim)
    sanne = await alumnus_asks(app, sim, "Sanne", "Ik zoek een stage in de zorg", "Werk en")
    piet = await alumnus_asks(app, sim, "Piet", "Geheime vraag over een cursus", "Cursussen")
    return {
        "nazorg": nazorg,
        "llo": llo,
        "sanne": sanne,
        "piet": piet,
        "sanne_id": (await conversation_of(app, "Sanne")).id,
        "piet_id": (await conversation_of(app, "Piet")).id,
    }


# ---------------------------------------------------------------------------- access


async def test_a_coordinator_sees_only_their_teams_conversations(app, world):
    async with web_as(app, "cor@school.example") as cor:
        status, html = await page(cor, "/inbox")
        assert status == 200
        assert f'href="/inbox/c/{world["sanne_id"]}"' in html and "Sanne" in html
        assert "Piet" not in html and f"/inbox/c/{world['piet_id']}" not in html
        assert "Werk en loopbaan" in html and "Nazorg" in html

        # Opening team llo's conversation by URL: refused, and nothing of it shown.
        status, html = await page(cor, f"/inbox/c/{world['piet_id']}")
        assert status == 403
        assert "Piet" not in html and "Geheime vraag" not in html
        async with cor.get(f"/inbox/c/{world['piet_id']}/messages?after=0") as response:
            assert response.status == 403
            assert "Geheime" not in await response.text()
        assert (await page(cor, "/inbox/c/999999"))[0] == 404

        # Nor may any action touch it.
        for action in ("reply", "note", "close"):
            status, _ = await post(cor, f"/inbox/c/{world['piet_id']}/{action}", text="Hoi")
            assert status == 403
    piet = await conversation_of(app, "Piet")
    assert piet.status == "open"
    assert [
        m.direction for m in await rows(app, InboxMessage) if m.conversation_id == piet.id
    ] == [
        "system",
        "in",
    ]

    async with web_as(app, "lia@school.example") as lia:
        _, html = await page(lia, "/inbox")
        assert "Piet" in html and "Sanne" not in html


async def test_an_admin_sees_every_team_and_filters_by_team_status_and_text(app, world):
    deps = app.bot_data.graph.deps
    await StaffService(deps.storage, deps.clock).add_staff(
        "ann@school.example", "Ann Admin", "admin", PASSWORD
    )
    async with web_as(app, "ann@school.example") as ann:
        _, html = await page(ann, "/inbox")
        assert "Sanne" in html and "Piet" in html
        _, html = await page(ann, "/inbox?team=llo")
        assert "Piet" in html and "Sanne" not in html
        _, html = await page(ann, "/inbox?q=stage")  # message text
        assert "Sanne" in html and "Piet" not in html
        _, html = await page(ann, "/inbox?q=piet")  # first name
        assert "Piet" in html and "Sanne" not in html
        _, html = await page(ann, "/inbox?status=closed")
        assert "Sanne" not in html and "Piet" not in html
        # Not "no conversations yet": there are, just not with this status.
        assert words.label("web.empty_filtered", "nl") in html
        assert words.label("web.empty_inbox", "nl") not in html
        _, html = await page(ann, f"/inbox/c/{world['piet_id']}")
        assert "Geheime vraag over een cursus" in html


async def test_reading_a_thread_is_audited_with_the_conversation_as_subject(app, world):
    async with web_as(app, "cor@school.example") as cor:
        assert (await page(cor, f"/inbox/c/{world['sanne_id']}"))[0] == 200
        assert (await page(cor, f"/inbox/c/{world['piet_id']}"))[0] == 403
    events = [(e.action, e.subject) for e in await rows(app, AuditEvent)]
    assert ("read:conversation", str(world["sanne_id"])) in events
    assert ("read:conversation", str(world["piet_id"])) not in events
    assert ("refused:conversation", str(world["piet_id"])) in events


# ---------------------------------------------------------------------------- the thread


async def test_the_thread_shows_messages_and_only_the_profile_staff_need(app, world):
    sanne = world["sanne"]
    async with web_as(app, "cor@school.example") as cor:
        status, html = await page(cor, f"/inbox/c/{world['sanne_id']}")
    assert status == 200
    assert "Ik zoek een stage in de zorg" in html
    programme = catalogue.programmes[0]
    assert programme.label("nl") in html and "BBL" in html and "2025" in html
    assert words.label("web.situation_working", "nl") in html
    assert catalogue.regions[0].labels["nl"] in html
    assert str(sanne.chat_id) not in html  # no chat id on staff screens
    # How to answer in a Telegram topic (/sjabloon, /sluit) is for the topic, not the page.
    assert "Nieuw gesprek" in html and "/sjabloon" not in html


async def test_the_topic_opens_with_how_to_answer_there(app, sim, world):
    group = world["nazorg"]
    [thread_id] = sim.topics(group)
    first = texts_in(sim, group, thread_id)[0]
    assert "Nieuw gesprek" in first and "/sjabloon" in first and "/sluit" in first


async def test_a_web_reply_reaches_the_alumnus_once_and_is_mirrored_into_the_topic(
    app, sim, world
):
    sanne, group, cid = world["sanne"], world["nazorg"], world["sanne_id"]
    answer = "Bel ons gerust: 9 < 10 & 'zo'"
    async with web_as(app, "cor@school.example") as cor:
        status, location = await post(cor, f"/inbox/c/{cid}/reply", text=answer)
        assert (status, location) == (303, f"/inbox/c/{cid}")
        await settle(app)
        await settle(app)  # a second pass sends nothing again
        _, html = await page(cor, f"/inbox/c/{cid}")
    assert [m.text for m in sanne.messages].count(f"Cor (Nazorg):\n{answer}") == 1
    assert "Bel ons gerust: 9 &lt; 10 &amp; &#39;zo&#39;" in html
    [thread_id] = sim.topics(group)
    mirrored = [t for t in texts_in(sim, group, thread_id) if answer in t]
    assert len(mirrored) == 1 and "Cor Coördinator" in mirrored[0]
    conversation = await conversation_of(app, "Sanne")
    assert conversation.status == "waiting"
    [out] = [m for m in await rows(app, InboxMessage) if m.direction == "out"]
    assert (out.text, out.via) == (answer, "web")
    # An answer typed in the topic shows up on the web page too: one conversation.
    assert [r.status for r in await rows(app, OutboxMessage)].count("failed") == 0


async def test_a_note_never_reaches_the_alumnus(app, sim, world):
    sanne, group, cid = world["sanne"], world["nazorg"], world["sanne_id"]
    before = len(sanne.messages)
    async with web_as(app, "cor@school.example") as cor:
        assert (await post(cor, f"/inbox/c/{cid}/note", text="Bellen na 15:00"))[0] == 303
        await settle(app)
        _, html = await page(cor, f"/inbox/c/{cid}")
    assert len(sanne.messages) == before
    assert "Bellen na 15:00" in html and 'class="msg msg-note"' in html
    assert "Interne notitie · Cor Coördinator" in html  # labelled where it is read
    [thread_id] = sim.topics(group)
    assert any("Bellen na 15:00" in t for t in texts_in(sim, group, thread_id))


async def test_close_asks_the_alumnus_for_a_rating(app, world):
    sanne, cid = world["sanne"], world["sanne_id"]
    async with web_as(app, "cor@school.example") as cor:
        assert (await post(cor, f"/inbox/c/{cid}/close"))[0] == 303
        await settle(app)
        assert (await post(cor, f"/inbox/c/{cid}/close"))[0] == 303  # twice: asked once
        await settle(app)
        _, html = await page(cor, f"/inbox/c/{cid}")
    closing = words.text("inbox.closed", "nl").splitlines()[0]
    assert [m.text.splitlines()[0] for m in sanne.messages].count(closing) == 1
    assert len(sanne.last.reply_markup["inline_keyboard"][0]) == 5
    assert (await conversation_of(app, "Sanne")).status == "closed"
    assert 'id="reply-text"' not in html and 'id="closed-notice"' in html


async def test_canned_reply_assign_and_move(app, world):
    sanne, cid = world["sanne"], world["sanne_id"]
    async with web_as(app, "cor@school.example") as cor:
        _, html = await page(cor, f"/inbox/c/{cid}")
        found = re.search(r'<option value="(\d+)" selected>Cor', html)
        assert found is not None
        cor_id = found.group(1)
        assert (await post(cor, f"/inbox/c/{cid}/canned", template="bedankt"))[0] == 303
        # An unknown template is refused with the reason on the page (it was silently ignored).
        assert (await post(cor, f"/inbox/c/{cid}/canned", template="nope"))[0] == 422
        assert (await post(cor, f"/inbox/c/{cid}/assign", staff_id=cor_id))[0] == 303
        await settle(app)
        _, html = await page(cor, f"/inbox/c/{cid}")
        assert '<strong id="assigned">Cor Coördinator</strong>' in html
        status, location = await post(cor, f"/inbox/c/{cid}/move", team="llo")
        assert (status, location) == (303, "/inbox")
        assert (await page(cor, f"/inbox/c/{cid}"))[0] == 403  # now team llo's
    canned = words.label("canned.bedankt", "nl").strip()
    assert [m.text for m in sanne.messages].count(f"Cor (Nazorg):\n{canned}") == 1
    moved = await conversation_of(app, "Sanne")
    assert moved.team_id == (await conversation_of(app, "Piet")).team_id
    async with web_as(app, "lia@school.example") as lia:
        _, html = await page(lia, "/inbox?status=all")
        assert "Sanne" in html


# ---------------------------------------------------------------------------- CSRF, escaping


async def test_a_post_without_or_with_a_wrong_csrf_token_changes_nothing(app, world):
    sanne, cid = world["sanne"], world["sanne_id"]
    before = len(sanne.messages)
    async with web_as(app, "cor@school.example") as cor:
        for data in ({"text": "zonder"}, {"text": "fout", "csrf_token": "x" * 43}):
            for action in ("reply", "close"):
                response = await cor.post(
                    f"/inbox/c/{cid}/{action}", data=data, allow_redirects=False
                )
                assert response.status == 403
                await response.read()
    await settle(app)
    assert len(sanne.messages) == before
    assert (await conversation_of(app, "Sanne")).status == "open"
    assert [m.direction for m in await rows(app, InboxMessage) if m.conversation_id == cid] == [
        "system",
        "in",
    ]


async def test_script_in_a_name_and_question_is_escaped_in_list_and_thread(app, sim, world):
    await alumnus_asks(app, sim, XSS, f"Vraag {XSS}", "Werk en")
    cid = (await conversation_of(app, XSS)).id
    async with web_as(app, "cor@school.example") as cor:
        _, listing = await page(cor, "/inbox")
        _, thread = await page(cor, f"/inbox/c/{cid}")
        async with cor.get(f"/inbox/c/{cid}/messages?after=0") as response:
            data = await response.json()
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert escaped in listing and escaped in thread
    for html in (listing, thread):
        assert "<script>alert" not in html
        assert re.findall(r"<script[^>]*>", html) == ['<script src="/inbox/static/inbox.js">']
    # JSON carries the plain text; the page script inserts it with textContent.
    assert any(m["text"] == f"Vraag {XSS}" for m in data["messages"])


# ---------------------------------------------------------------------------- polling


async def test_the_messages_endpoint_returns_only_newer_messages(app, world):
    sanne, cid = world["sanne"], world["sanne_id"]
    async with web_as(app, "cor@school.example") as cor:
        async with cor.get(f"/inbox/c/{cid}/messages?after=0") as response:
            assert response.status == 200
            assert response.headers["Cache-Control"] == "no-store"
            first = (await response.json())["messages"]
        assert [m["direction"] for m in first] == ["system", "in"]
        last = first[-1]["id"]
        async with cor.get(f"/inbox/c/{cid}/messages?after={last}") as response:
            assert (await response.json())["messages"] == []
        await sanne.say("Nog een vraag: wanneer?")
        await settle(app)
        await sanne.send_media("photo")
        await settle(app)
        async with cor.get(f"/inbox/c/{cid}/messages?after={last}") as response:
            newer = (await response.json())["messages"]
        assert [(m["direction"], m["text"], m["media"]) for m in newer] == [
            ("in", "Nog een vraag: wanneer?", None),
            ("in", "", "[foto]"),
        ]
        assert all(m["who"] == "Sanne" for m in newer)
        async with cor.get(f"/inbox/c/{cid}/messages?after=x") as response:
            assert response.status == 400


async def test_the_list_marker_changes_when_a_conversation_does(app, world):
    sanne = world["sanne"]
    async with web_as(app, "cor@school.example") as cor:
        async with cor.get("/inbox/updates?status=open") as response:
            before = (await response.json())["marker"]
        _, html = await page(cor, "/inbox")
        assert f'data-marker="{before}"' in html
        async with cor.get("/inbox/updates?status=open") as response:
            assert (await response.json())["marker"] == before
        app.bot_data.graph.deps.clock.advance(timedelta(minutes=1))
        await sanne.say("Hallo?")
        await settle(app)
        async with cor.get("/inbox/updates?status=open") as response:
            assert (await response.json())["marker"] != before


async def test_an_unanswered_open_conversation_gets_the_overdue_badge(app, world, clock):
    badge = words.label("web.overdue", "nl")
    async with web_as(app, "cor@school.example") as cor:
        _, html = await page(cor, "/inbox")
        assert badge not in html
        clock.advance(timedelta(days=7))  # well past 8 business hours, weekends included
        # The badge shows what the reminder job decided: one rule for the group and the web.
        assert await app.bot_data.graph.inbox.remind_unanswered() == 2  # X and Y
        _, html = await page(cor, "/inbox")
        assert html.count(f'<span class="badge overdue">{badge}</span>') == 1
        assert (await post(cor, f"/inbox/c/{world['sanne_id']}/reply", text="Sorry!"))[0] == 303
        _, html = await page(cor, "/inbox?status=all")
        assert badge not in html  # answered: waiting, not overdue


async def test_requests_are_refused_when_signed_out(app, world):
    data = app.bot_data
    console = console_app(data.graph)
    async with TestClient(TestServer(console)) as client:
        for path in (f"/inbox/c/{world['sanne_id']}", f"/inbox/c/{world['sanne_id']}/messages"):
            async with client.get(path, allow_redirects=False) as response:
                assert response.status == 303
                assert response.headers["Location"] == "/inbox/login"
    rows_ = await rows(app, AuditEvent)
    assert not [e for e in rows_ if e.action == "read:conversation"]
    async with data.graph.deps.storage.transaction() as tx:
        assert (await tx.session.execute(select(InboxConversation))).scalars().first()


async def test_the_bots_own_html_is_shown_as_plain_text(app, world):
    async with web_as(app, "cor@school.example") as cor:
        _, html = await page(cor, f"/inbox/c/{world['sanne_id']}")
    assert "&lt;b&gt;" not in html and "Nieuw gesprek" in html


# ---------------------------------------------------------------------------- words (first use)


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


async def test_words_that_need_a_person_soon_put_a_conversation_first_until_closed(
    app, sim, world
):
    deps = app.bot_data.graph.deps
    await StaffService(deps.storage, deps.clock).add_staff(
        "ann@school.example", "Ann Admin", "admin", PASSWORD
    )
    badge = words.label("web.urgent", "nl")
    async with web_as(app, "ann@school.example") as ann:
        _, html = await page(ann, "/inbox")
        assert badge not in html
        deps.clock.advance(timedelta(minutes=5))
        await world["sanne"].say("Ik ben mijn huis uit gezet en ben nu DAKLOOS")
        await settle(app)
        deps.clock.advance(timedelta(minutes=5))
        await world["piet"].say("Nog een vraag over de cursus")  # newer, yet below Sanne
        await settle(app)
        _, html = await page(ann, "/inbox")
        assert html.index("Sanne") < html.index("Piet")
        assert html.count(f'<span class="badge urgent">{badge}</span>') == 1
        _, thread = await page(ann, f"/inbox/c/{world['sanne_id']}")
        assert 'id="urgent"' in thread
        # The team reads why once, in its topic and in the thread; a second such message
        # does not repeat it.
        await world["sanne"].say("Ik ben echt dakloos")
        await settle(app)
        notes = [
            m.text
            for m in await rows(app, InboxMessage)
            if m.conversation_id == world["sanne_id"] and m.direction == "system"
        ]
        assert sum("MET VOORRANG" in (n or "") for n in notes) == 1
        topic = (await conversation_of(app, "Sanne")).thread_id
        assert sum("MET VOORRANG" in t for t in texts_in(sim, world["nazorg"], topic)) == 1
        assert (await post(ann, f"/inbox/c/{world['sanne_id']}/close"))[0] == 303
        _, html = await page(ann, "/inbox?status=all")
        assert badge not in html and 'class="urgent"' not in html  # closed: an ordinary row


async def test_an_answer_that_cannot_go_says_why_and_keeps_what_was_typed(app, sim, world):
    sanne, cid = world["sanne"], world["sanne_id"]
    before = len(sanne.messages)
    async with web_as(app, "cor@school.example") as cor:
        _, html = await page(cor, f"/inbox/c/{cid}")
        token = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert token
        too_long = "Lang verhaal. " * 300  # 4200 characters
        async with cor.post(
            f"/inbox/c/{cid}/reply",
            data={"csrf_token": token.group(1), "text": too_long},
            allow_redirects=False,
        ) as response:
            assert response.status == 422
            html = await response.text()
        assert 'id="act-problem"' in html and "te lang" in html
        assert too_long.strip() in html  # still in its box, not lost
        await settle(app)
        assert len(sanne.messages) == before
        # "&" is one character for Telegram: 3000 of them go (they were once refused).
        assert (await post(cor, f"/inbox/c/{cid}/reply", text="&" * 3000))[0] == 303
        await settle(app)
        assert sanne.last.text.endswith("&" * 3000)
        assert (await post(cor, f"/inbox/c/{cid}/close"))[0] == 303
        async with cor.post(
            f"/inbox/c/{cid}/canned",
            data={"csrf_token": token.group(1), "template": "bedankt"},
            allow_redirects=False,
        ) as response:
            assert response.status == 422 and "gesloten" in await response.text()
        async with cor.post(
            f"/inbox/c/{cid}/note",
            data={"csrf_token": token.group(1), "text": "   "},
            allow_redirects=False,
        ) as response:
            assert response.status == 422 and "leeg" in await response.text()
