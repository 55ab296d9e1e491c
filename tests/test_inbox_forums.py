"""Forum topics are a capability of a messenger, not part of every one."""

from __future__ import annotations

from bot.core.messenger import QueueOnlyMessenger, forums_of
from tests.chat import ask, onboard_nl
from tests.factories import staff_team
from tests.harness import settle


def test_telegram_has_forum_topics_and_a_queue_only_messenger_has_none(app) -> None:
    assert forums_of(app.bot_data.graph.deps.messenger) is not None
    assert forums_of(QueueOnlyMessenger("the test")) is None


async def test_without_topics_questions_are_relayed_into_the_group_itself(app, sim, new_chat):
    group, _coordinator = await staff_team(app, sim)
    app.bot_data.graph.inbox.forums = None  # as with a messenger that has no topics
    chat = new_chat()
    await onboard_nl(chat)
    await ask(chat, "Hebben jullie een vacature?")
    await settle(app)
    assert sim.topics(group) == {}
    texts = [m.text for m in sim.bot_messages(group)]
    assert "Hebben jullie een vacature?" in texts
