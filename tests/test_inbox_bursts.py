"""Bursts at the group limit: texts waiting for a topic are merged, nothing is lost."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.core.settings import Settings
from handlers.telegram.app import AlumniApplication, build_application, running
from storage.models import InboxConversation, InboxMessage, OutboxMessage
from tests.chat import Chat, ask
from tests.factories import add_alumnus, staff_team
from tests.harness import polling_app, processed_of, rows

MERGED = "berichten tegelijk, samengevoegd"


@asynccontextmanager
async def sender(settings: Settings, clock) -> AsyncIterator[AlumniApplication]:
    """A second process on the same database that sends the queue (group pacing off)."""
    fast = settings.model_copy(update={"group_messages_per_minute": 6000.0})
    application = build_application(fast, clock=clock)
    async with running(application, dispatch=False):
        yield application


async def deliver(application: AlumniApplication) -> None:
    while await application.bot_data.graph.dispatcher.run_once():
        pass


def topic_texts(sim, group, thread_id: int) -> list[str]:
    return [
        m.text or m.caption or f"[{m.kind}]" for m in sim.bot_messages(group, thread_id=thread_id)
    ]


async def relays_waiting(app) -> list[OutboxMessage]:
    return [r for r in await rows(app, OutboxMessage) if r.status == "pending"]


async def test_a_burst_is_merged_per_topic_in_order_and_nothing_is_lost(settings, sim, clock):
    assert settings.group_messages_per_minute == 20  # Telegram's limit: merge from 4 waiting
    # The bot's dispatcher is idle: nothing it queues is sent until deliver() runs, as when
    # the group's limit holds the queue back for minutes.
    async with (
        polling_app(settings, clock, dispatch=False) as app,
        sender(settings, clock) as send,
    ):
        group, _ = await staff_team(app, sim)
        chats = {}
        for name in ("Sanne", "Bob"):
            user = sim.create_user(first_name=name, language_code="nl")
            await add_alumnus(app, user.id, first_name=name, graduation_year=2025)
            chats[name] = Chat(sim, processed_of(app), user)
            await ask(chats[name], f"Eerste vraag van {name}")
        # Below the limit nothing is merged: card and question are separate messages.
        await deliver(send)
        threads = {c.alumnus_id: c.thread_id for c in await rows(app, InboxConversation)}
        sanne_thread, bob_thread = sorted(threads.values())
        assert topic_texts(sim, group, sanne_thread)[-1] == "Eerste vraag van Sanne"
        before = {t: len(topic_texts(sim, group, t)) for t in (sanne_thread, bob_thread)}

        sanne, bob = chats["Sanne"], chats["Bob"]
        for i in range(1, 13):
            await sanne.say(f"s#{i:02d}# bericht {i}")
            if i == 6:  # another alumnus in the same group: merged only within their topic
                await bob.say("b#01# van Bob")
                await bob.say("b#02# ook van Bob")
        await sim.user_sends_media(sanne.user, kind="photo", caption="s#13# een foto")
        await processed_of(app).wait(sim.last_update_id)
        for i in range(14, 19):
            await sanne.say(f"s#{i:02d}# bericht {i}")
        # 20 messages wait as 7 rows: 3 before the group was at its limit (4 waiting), then
        # Sanne's texts in two merged rows around the photo, and Bob's two texts in one.
        assert len(await relays_waiting(app)) == 7

        # Long texts: a merge stays within Telegram's 4096 characters.
        long_a, long_b = "s#19# " + "a" * 2000, "s#20# " + "b" * 3000
        await sanne.say(long_a)
        await sanne.say(long_b)
        assert len(await relays_waiting(app)) == 8  # the first merged, the second did not fit
        # Telegram counts characters of the parsed text (an emoji is one, "&amp;" one): 1,206
        # of them would take the 3,006-character row past 4,096, so they go on their own.
        long_c = "s#21# " + "😀" * 1200
        await sanne.say(long_c)
        assert len(await relays_waiting(app)) == 9

        await deliver(send)

        outbox = await rows(app, OutboxMessage)
        assert {r.status for r in outbox} == {"sent"}
        in_topic = topic_texts(sim, group, sanne_thread)[before[sanne_thread] :]
        assert [t.startswith("s#0") for t in in_topic[:3]] == [True, True, True]
        assert MERGED in in_topic[3] and in_topic[3].count("👤") == 9  # 4-12
        assert in_topic[4] == "s#13# een foto"
        assert MERGED in in_topic[5] and in_topic[5].count("👤") == 6  # 14-18 and 19
        assert in_topic[6] == long_b and in_topic[7] == long_c and len(in_topic) == 8
        assert all(len(t) <= 4096 for t in in_topic)  # the parsed text, as Telegram counts
        # Every text arrived exactly once, in the order written.
        joined = "\n".join(in_topic)
        markers = [f"s#{i:02d}#" for i in range(1, 22)]
        assert all(joined.count(m) == 1 for m in markers)
        assert [joined.index(m) for m in markers] == sorted(joined.index(m) for m in markers)
        bob_topic = topic_texts(sim, group, bob_thread)[before[bob_thread] :]
        assert len(bob_topic) == 1 and "b#01#" in bob_topic[0] and "b#02#" in bob_topic[0]
        assert "s#" not in bob_topic[0]

        # Nothing is lost: every message is in the conversation (and so in the web inbox),
        # and each merged relay names every message it carries.
        kept = [m for m in await rows(app, InboxMessage) if m.direction == "in"]
        assert len(kept) == 2 + 21 + 2
        carried = {part["key"] for r in outbox for part in r.payload.get("parts", [])} | {
            r.dedupe_key for r in outbox
        }
        assert all(f"inbox:{m.conversation_id}:in:{m.id}" in carried for m in kept)
