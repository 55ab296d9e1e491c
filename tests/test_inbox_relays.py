"""Relays between an alumnus and their team's topic that cannot go out as they are.

A reply Telegram takes only later (a long "retry after") is sent from the outbox, into the
topic it was meant for, and a topic deleted meanwhile is recreated as for any relay. A message
Telegram cannot copy (a quiz, a service message) reaches the other side as a text that says
so, and its sender is told; an edit of a relayed message is passed on too. Nothing goes dead
in silence, and the conversation's history shows what happened.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from sandbox.simulator import Fault
from storage.models import OutboxMessage
from tests.chat import ask, onboard_nl, staff_says, texts_in
from tests.factories import staff_team
from tests.harness import processed_of, rows, settle, the_conversation


@pytest.fixture
def settings(settings):
    # As in test_inbox: the group's pacing is tested in test_dispatch.
    return settings.model_copy(update={"group_messages_per_minute": 6000.0})


def in_general(sim, group) -> list[str]:
    """What the bot posted outside every topic (the group's General topic)."""
    return [m.text or m.caption or "" for m in sim.bot_messages(group) if not m.message_thread_id]


async def conversation_with_topic(app, sim, new_chat):
    group, coordinator = await staff_team(app, sim)
    chat = new_chat()
    await onboard_nl(chat)
    await ask(chat, "Eerste vraag")
    await settle(app)
    [thread] = sim.topics(group)
    return group, coordinator, chat, thread


def telegram_says_wait(sim, chat_id: int, count: int = 2) -> None:
    """Telegram asks a minute's wait of the next sends to a chat.

    Two by default: the direct reply's, and the outbox's first try of it (so the row
    really waits in the outbox).
    """
    sim.faults.add(
        Fault(method="sendMessage", kind="429", retry_after=60, count=count, chat_id=chat_id)
    )


async def later(app, clock, seconds: float = 61) -> None:
    """Let Telegram's "retry after" pass and send what waited for it."""
    await settle(app)
    clock.advance(timedelta(seconds=seconds))
    await settle(app)


# ------------------------------------------------------------------ deferred topic replies


async def _note(sim, app, coordinator, group, thread) -> str:
    await staff_says(sim, app, coordinator, group, thread, "/notitie bellen")
    return "Notitie bewaard"


async def _unknown_template(sim, app, coordinator, group, thread) -> str:
    await staff_says(sim, app, coordinator, group, thread, "/sjabloon bestaatniet")
    return "Dat standaardantwoord ken ik niet"


async def _closed(sim, app, coordinator, group, thread) -> str:
    await staff_says(sim, app, coordinator, group, thread, "Nog iets na het afronden")
    return "Dit gesprek is al afgerond"


async def _refused(sim, app, coordinator, group, thread) -> str:
    await sim.anonymous_admin_sends(group, "Anoniem antwoord", message_thread_id=thread)
    await processed_of(app).wait(sim.last_update_id)
    await settle(app)
    return "Alleen gekoppelde medewerkers"


TOPIC_REPLIES = {
    "note": _note,
    "unknown_template": _unknown_template,
    "closed": _closed,
    "refused": _refused,
}


@pytest.mark.parametrize("reply", sorted(TOPIC_REPLIES))
async def test_a_topic_reply_deferred_by_a_long_retry_after_stays_in_its_topic(
    app, sim, clock, new_chat, reply
):
    group, coordinator, _chat, thread = await conversation_with_topic(app, sim, new_chat)
    if reply == "closed":
        await staff_says(sim, app, coordinator, group, thread, "/sluit")
    general_before = in_general(sim, group)
    telegram_says_wait(sim, group.id)

    expected = await TOPIC_REPLIES[reply](sim, app, coordinator, group, thread)
    await later(app, clock)

    assert any(expected in t for t in texts_in(sim, group, thread)), texts_in(sim, group, thread)
    assert in_general(sim, group) == general_before
    assert {r.status for r in await rows(app, OutboxMessage)} == {"sent"}


async def test_a_deferred_topic_reply_whose_topic_is_gone_recreates_it_once(
    app, sim, clock, new_chat
):
    group, coordinator, _chat, old = await conversation_with_topic(app, sim, new_chat)
    telegram_says_wait(sim, group.id)
    await staff_says(sim, app, coordinator, group, old, "/notitie bellen")
    assert not any("Notitie bewaard" in t for t in texts_in(sim, group, old))
    sim.delete_topic(group, old)  # an admin deletes the topic before the reply goes out

    await later(app, clock)
    [new] = sim.topics(group)
    in_topic = texts_in(sim, group, new)
    assert any("Overzicht van dit gesprek" in t for t in in_topic)
    assert "Notitie bewaard" in in_topic[-1]
    assert (await the_conversation(app)).thread_id == new
    assert sim.stats.calls["createForumTopic"] == 2  # once at first, once to recreate
    assert in_general(sim, group) == []
    assert {r.status for r in await rows(app, OutboxMessage)} == {"sent"}


async def test_the_summary_of_a_recreated_topic_waits_out_a_retry_after(app, sim, clock, new_chat):
    group, _coordinator, chat, old = await conversation_with_topic(app, sim, new_chat)
    sim.delete_topic(group, old)
    # The summary is the first sendMessage into the recreated topic: Telegram says wait.
    telegram_says_wait(sim, group.id, count=1)

    await chat.say("Nog een vraag")
    await later(app, clock)
    [new] = sim.topics(group)
    in_topic = texts_in(sim, group, new)
    assert any("Overzicht van dit gesprek" in t for t in in_topic), in_topic
    summary = next(i for i, t in enumerate(in_topic) if "Overzicht van dit gesprek" in t)
    assert summary < in_topic.index("Nog een vraag")  # the summary comes first
    assert sim.stats.calls["createForumTopic"] == 2
    assert {r.status for r in await rows(app, OutboxMessage)} == {"sent"}


async def test_a_deferred_reply_to_the_alumnus_keeps_its_buttons(app, sim, clock, new_chat):
    group, coordinator, chat, thread = await conversation_with_topic(app, sim, new_chat)
    await staff_says(sim, app, coordinator, group, thread, "/sluit")
    before = len(chat.messages)
    telegram_says_wait(sim, chat.chat_id)
    await chat.say("Nieuwe vraag")  # the topic prompt, with its buttons, is deferred

    await later(app, clock)
    [prompt] = chat.messages[before:]
    assert "Waar gaat je vraag over?" in prompt.text
    assert prompt.reply_markup and prompt.reply_markup["inline_keyboard"]
