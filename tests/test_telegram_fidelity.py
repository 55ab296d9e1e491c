"""Telegram as it really is: the simulator's stricter answers, and the bot handling them.

Each test fails against the kinder simulator or the bot before it learned the behaviour;
docs/telegram-fidelity.md lists what is modelled and where Telegram says so.
"""

from __future__ import annotations

import pytest

from storage.models import AuditEvent, OutboxMessage, Team
from tests.test_inbox import ask, settle, staff_says, staff_team, texts_in, the_conversation
from tests.test_onboarding import onboard_nl, rows


@pytest.fixture
def settings(settings):
    # As in test_inbox: the group pacing is tested in test_dispatch.
    return settings.model_copy(update={"group_messages_per_minute": 6000.0})


# ------------------------------------------------------------------ B1: a topic that is gone


@pytest.mark.parametrize(
    "answer", ["message thread not found", "TOPIC_DELETED", "TOPIC_ID_INVALID", "TOPIC_CLOSED"]
)
async def test_every_kind_of_gone_topic_is_recreated_once(app, sim, new_chat, answer):
    group, coordinator = await staff_team(app, sim)
    if answer == "TOPIC_CLOSED":
        # A member bot may create topics where members may, but not post in closed ones.
        sim.set_member_status(group, sim.bot_user, "member")
        group.members_can_manage_topics = True
    chat = new_chat()
    await onboard_nl(chat)
    await ask(chat, "Eerste vraag")
    await settle(app)
    [old] = sim.topics(group)
    await staff_says(sim, app, coordinator, group, old, "Eerste antwoord")
    if answer == "TOPIC_CLOSED":
        topic = sim.topic(group, old)
        assert topic is not None
        topic.is_closed = True
    else:
        sim.delete_topic(group, old, answer=answer)

    await chat.say("Nog een vraag")
    await settle(app)
    new = max(sim.topics(group))
    assert new != old
    in_topic = texts_in(sim, group, new)
    assert any("Overzicht van dit gesprek" in t for t in in_topic)
    assert in_topic[-1] == "Nog een vraag"
    assert (await the_conversation(app)).thread_id == new
    assert sim.stats.calls["createForumTopic"] == 2  # once at first, once to recreate
    assert all(r.status == "sent" for r in await rows(app, OutboxMessage))
