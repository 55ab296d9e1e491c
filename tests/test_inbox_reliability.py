"""Reliability of the inbox: with 10% of Bot API sends failing (5xx or 429), nothing is lost.

Both faults are known not to have delivered, so they are retried: every staff answer (typed in
the topic, or in the web inbox) reaches the alumnus exactly once, and every alumnus message is
kept in the conversation and reaches the team's topic exactly once. (A send that may have gone
out ends ``unknown`` instead; tests/test_dispatch.py covers that.)
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from bot.staff.service import StaffService
from sandbox.simulator import Fault
from storage.models import InboxConversation, InboxMessage, OutboxMessage
from tests.chat import Chat, ask
from tests.console_fixtures import PASSWORD, post, web_as
from tests.factories import add_alumnus, staff_team
from tests.harness import processed_of, rows, settle

ALUMNI = 4
ROUNDS = 10  # per alumnus: 40 alumnus messages, 40 staff answers (20 topic, 20 web)
SENDS = ("sendMessage", "copyMessage", "createForumTopic")


@pytest.fixture
def settings(settings):
    # Faults are what is tested here; the group's pacing is tested in test_dispatch.
    return settings.model_copy(
        update={"group_messages_per_minute": 6000.0, "web_cookie_secure": False}
    )


def every_text(sim, chat_id: int, thread_id: int | None = None) -> list[str]:
    return [m.text or m.caption or "" for m in sim.bot_messages(chat_id, thread_id=thread_id)]


def times_in(texts: list[str], marker: str) -> int:
    """How often ``marker`` arrived (merged relays hold several markers in one message)."""
    return sum(text.count(marker) for text in texts)


async def drain(app, clock) -> dict[str, int]:
    """Send until every outbox row is final; retries wait in frozen time, so move it."""
    counts: Counter[str] = Counter()
    for _ in range(60):
        await settle(app)
        counts = Counter(r.status for r in await rows(app, OutboxMessage))
        if not counts["pending"] and not counts["sending"]:
            break
        clock.advance(timedelta(seconds=400))  # past any retry_after or backoff
    return dict(counts)


async def test_with_10_percent_failed_sends_answers_arrive_once_and_no_question_is_lost(
    app, sim, clock
):
    group, coordinator = await staff_team(app, sim)
    deps = app.bot_data.graph.deps
    await StaffService(deps.storage, deps.clock).add_staff(
        "cor@school.example", "Cor Coördinator", "coordinator", PASSWORD, ["nazorg"]
    )
    chats = []
    for i in range(ALUMNI):
        user = sim.create_user(first_name=f"Alumnus{i}", language_code="nl")
        await add_alumnus(app, user.id, first_name=f"Alumnus{i}", graduation_year=2024)
        chat = Chat(sim, processed_of(app), user)
        await ask(chat, f"Eerste vraag van Alumnus{i}")
        chats.append(chat)
    await settle(app)
    conversations = {c.alumnus_id: c for c in await rows(app, InboxConversation)}
    assert len(sim.topics(group)) == ALUMNI
    by_chat = {}
    async with deps.storage.transaction() as tx:
        for chat in chats:
            alumnus = await tx.alumni.by_chat(chat.chat_id)
            by_chat[chat.chat_id] = conversations[alumnus.id]

    sim.faults.seed(3)
    for method in SENDS:
        sim.faults.add(Fault(method=method, kind="5xx", probability=0.05))
        sim.faults.add(Fault(method=method, kind="429", probability=0.05, retry_after=2))

    async with web_as(app, "cor@school.example") as cor:
        for round_ in range(ROUNDS):
            for i, chat in enumerate(chats):
                conversation = by_chat[chat.chat_id]
                await chat.say(f"vraag#{i}-{round_}#")
                if round_ % 2 == 0:
                    await sim.user_sends(
                        coordinator,
                        f"topic-antwoord#{i}-{round_}#",
                        chat=group,
                        message_thread_id=conversation.thread_id,
                    )
                    await processed_of(app).wait(sim.last_update_id)
                else:
                    status, _ = await post(
                        cor,
                        f"/inbox/c/{conversation.id}/reply",
                        text=f"web-antwoord#{i}-{round_}#",
                    )
                    assert status == 303
            await settle(app)  # the dispatcher works while the conversation goes on
        final = await drain(app, clock)

    injected = sim.stats.faults_injected
    # The faults were real: about 10% of some 150 sends (direct acknowledgements included).
    assert injected["5xx"] >= 1 and injected["429"] >= 1, injected
    assert injected["5xx"] + injected["429"] >= 10, injected
    # Only 5xx and 429 are injected: both are known not to have delivered, so every row is
    # retried until sent; none may end "unknown" (that would hide a lost message).
    assert set(final) == {"sent"}, final
    outbox = {r.dedupe_key: r for r in await rows(app, OutboxMessage)}
    for merged in list(outbox.values()):  # a relay merged in a burst carries several keys
        outbox.update({part["key"]: merged for part in merged.payload.get("parts", [])})
    assert any(r.attempts > 1 for r in outbox.values())  # some rows were sent again after a 5xx
    messages = await rows(app, InboxMessage)
    group_texts = every_text(sim, group.id)

    def arrived_once(key: str, texts: list[str], marker: str) -> None:
        stored = outbox[key]
        assert stored.status == "sent" and times_in(texts, marker) == 1, (marker, stored)

    for i, chat in enumerate(chats):
        conversation = by_chat[chat.chat_id]
        mine = [m for m in messages if m.conversation_id == conversation.id]
        in_topic = every_text(sim, group.id, conversation.thread_id)
        to_alumnus = every_text(sim, chat.chat_id)
        for round_ in range(ROUNDS):
            # The alumnus' message is kept, and reached their topic (only theirs) once.
            question = f"vraag#{i}-{round_}#"
            [kept] = [m for m in mine if m.direction == "in" and m.text == question]
            arrived_once(f"inbox:{conversation.id}:in:{kept.id}", in_topic, question)
            assert times_in(group_texts, question) == times_in(in_topic, question)
            # The staff answer reached the alumnus once.
            via, answer = ("telegram", "topic") if round_ % 2 == 0 else ("web", "web")
            text = f"{answer}-antwoord#{i}-{round_}#"
            [out] = [m for m in mine if m.direction == "out" and m.text == text]
            assert out.via == via
            arrived_once(f"inbox:{conversation.id}:out:{out.id}", to_alumnus, text)
            if via == "web":  # and its mirror reached the topic once
                arrived_once(f"inbox:{conversation.id}:mirror:{out.id}", in_topic, text)
    assert sum(1 for m in messages if m.direction == "in") == ALUMNI * (ROUNDS + 1)
    assert sum(1 for m in messages if m.direction == "out") == ALUMNI * ROUNDS
