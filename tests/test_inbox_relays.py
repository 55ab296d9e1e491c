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

from bot.staff.service import StaffService
from sandbox.simulator import Fault
from sandbox.simulator.updates import shallow
from storage.models import InboxMessage, OutboxMessage
from tests.chat import Chat, ask, onboard_nl, staff_says, texts_in
from tests.console_fixtures import PASSWORD, post, web_as
from tests.factories import add_alumnus, staff_team
from tests.harness import polling_app, processed_of, rows, settle, the_conversation


@pytest.fixture
def settings(settings):
    # As in test_inbox: the group's pacing is tested in test_dispatch.
    return settings.model_copy(
        update={"group_messages_per_minute": 6000.0, "web_cookie_secure": False}
    )


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


def telegram_says_wait(sim, chat_id: int, count: int = 1) -> None:
    """Telegram asks a minute's wait of the next send to a chat.

    The direct reply's: it goes to the outbox, which does not try it before the minute is
    over (once it tried at once and needed a second "retry after" to wait).
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


# ------------------------------------------------------------------ what cannot be copied

TOPIC = {"nl": "Werk en loopbaan", "en": "Work and career"}
# What the alumnus reads when what they sent could not be passed on, per language.
NOT_PASSED_ON = {"nl": "kan ik niet doorsturen", "en": "can't pass"}


async def asking(app, sim, locale: str = "nl"):
    """A team with its forum, and an onboarded alumnus who has not asked anything yet."""
    group, coordinator = await staff_team(app, sim)
    user = sim.create_user(first_name="Sanne", language_code=locale)
    await add_alumnus(app, user.id, first_name="Sanne", locale=locale, graduation_year=2025)
    return group, coordinator, Chat(sim, processed_of(app), user)


async def pins_a_message(sim, app, chat) -> None:
    """The alumnus pins a message in the chat: the bot gets a service message."""
    [pinned, *_] = sim.chat_messages(chat.chat_id)
    service = sim.service_message(
        sim.chats[chat.chat_id], chat.user.to_dict(), {"pinned_message": shallow(pinned.raw)}
    )
    sim.emit_for_chat(sim.chats[chat.chat_id], "message", service.raw)
    await processed_of(app).wait(sim.last_update_id)


def nothing_dead(outbox: list[OutboxMessage]) -> None:
    assert {r.status for r in outbox} == {"sent"}, [(r.dedupe_key, r.last_error) for r in outbox]


@pytest.mark.parametrize(("what", "locale"), [("quiz", "nl"), ("quiz", "en"), ("service", "nl")])
async def test_what_the_alumnus_sends_that_cannot_be_copied_reaches_the_team_as_a_text(
    app, sim, what, locale
):
    group, _coordinator, chat = await asking(app, sim, locale)
    await chat.say("Eerste vraag")
    await chat.tap(TOPIC[locale])
    await settle(app)
    [thread] = sim.topics(group)
    before = len(chat.messages)

    if what == "quiz":
        await chat.send_media("quiz")
    else:
        await pins_a_message(sim, app, chat)
    await settle(app)

    notice = texts_in(sim, group, thread)[-1]
    assert "kan ik niet doorsturen" in notice and "tekst of foto" in notice, notice
    assert ("peiling" in notice) == (what == "quiz")
    told = [m.text or "" for m in chat.messages[before:]]
    assert any(NOT_PASSED_ON[locale] in t for t in told), told
    nothing_dead(await rows(app, OutboxMessage))
    history = await rows(app, InboxMessage)
    assert [m.kind for m in history if m.direction == "in"][-1] == (
        "poll" if what == "quiz" else "other"
    )
    assert "kan ik niet doorsturen" in history[-1].text and history[-1].direction == "system"


async def test_a_quiz_as_the_first_message_reaches_the_team_as_a_text(app, sim):
    group, _coordinator, chat = await asking(app, sim)
    prompt = await chat.send_media("quiz")
    assert "Waar gaat je vraag over?" in prompt[-1].text
    await chat.tap(TOPIC["nl"])
    await settle(app)
    [thread] = sim.topics(group)
    assert "kan ik niet doorsturen" in texts_in(sim, group, thread)[-1]
    assert NOT_PASSED_ON["nl"] in chat.last.text
    nothing_dead(await rows(app, OutboxMessage))


@pytest.mark.parametrize("locale", ["nl", "en"])
async def test_a_quiz_from_a_coordinator_reaches_the_alumnus_as_a_polite_text(app, sim, locale):
    group, coordinator, chat = await asking(app, sim, locale)
    await chat.say("Eerste vraag")
    await chat.tap(TOPIC[locale])
    await settle(app)
    [thread] = sim.topics(group)
    before = len(chat.messages)

    await sim.user_sends_media(coordinator, kind="quiz", chat=group, message_thread_id=thread)
    await processed_of(app).wait(sim.last_update_id)
    await settle(app)
    await settle(app)  # the team's notice is a relay queued by the failed copy

    signed, polite = chat.messages[before:]
    assert signed.text.startswith("Coördinator (Nazorg)")
    assert NOT_PASSED_ON[locale] in polite.text, polite.text
    notice = texts_in(sim, group, thread)[-1]
    assert "kan ik niet doorsturen naar de alumnus" in notice and "tekst of foto" in notice
    nothing_dead(await rows(app, OutboxMessage))
    history = await rows(app, InboxMessage)
    assert [(m.direction, m.kind) for m in history if m.direction == "out"] == [("out", "poll")]
    assert history[-1].direction == "system" and "kan ik niet doorsturen" in history[-1].text


# ------------------------------------------------------------------ refused for good


async def send_all(app) -> None:
    while await app.bot_data.graph.dispatcher.run_once():
        pass


@pytest.mark.parametrize("side", ["alumnus", "coordinator"])
async def test_a_relay_telegram_refuses_for_good_is_kept_in_the_conversation(
    settings, sim, clock, side
):
    # The dispatcher is idle until send_all(): the photo is deleted before its copy is made.
    async with polling_app(settings, clock, dispatch=False) as app:
        group, coordinator = await staff_team(app, sim)
        user = sim.create_user(first_name="Sanne", language_code="nl")
        await add_alumnus(app, user.id, first_name="Sanne", graduation_year=2025)
        chat = Chat(sim, processed_of(app), user)
        await ask(chat, "Eerste vraag")
        await send_all(app)
        [thread] = sim.topics(group)

        if side == "alumnus":
            photo = await sim.user_sends_media(chat.user, kind="photo")
        else:
            photo = await sim.user_sends_media(
                coordinator, kind="photo", chat=group, message_thread_id=thread
            )
        await processed_of(app).wait(sim.last_update_id)
        sim.remove_message(sim.get_message(photo["chat"]["id"], photo["message_id"]))
        await send_all(app)

        history = await rows(app, InboxMessage)
        assert history[-1].direction == "system" and "niet aangekomen" in history[-1].text
        in_topic = texts_in(sim, group, thread)
        if side == "coordinator":  # the team sees it where it answered
            assert "niet aangekomen" in in_topic[-1]
        else:  # the topic is what refused: the console keeps it
            assert not any("niet aangekomen" in t for t in in_topic)


# ------------------------------------------------------------------ only a sticker, GIF, voice


@pytest.mark.parametrize("kind", ["sticker", "animation", "voice"])
async def test_a_message_of_only_a_sticker_gif_or_voice_travels_both_ways(app, sim, kind):
    group, coordinator, chat = await asking(app, sim)
    await chat.send_media(kind)  # the first message: kept until the topic is chosen
    await chat.tap(TOPIC["nl"])
    await settle(app)
    [thread] = sim.topics(group)
    assert sim.bot_messages(group, thread_id=thread)[-1].kind == kind

    await sim.user_sends_media(coordinator, kind=kind, chat=group, message_thread_id=thread)
    await processed_of(app).wait(sim.last_update_id)
    await settle(app)
    signed, copied = chat.messages[-2:]
    assert signed.text.startswith("Coördinator (Nazorg)") and copied.kind == kind
    nothing_dead(await rows(app, OutboxMessage))
    history = await rows(app, InboxMessage)
    assert [(m.direction, m.kind) for m in history if m.direction != "system"] == [
        ("in", kind),
        ("out", kind),
    ]


# ------------------------------------------------------------------ edits


async def test_an_alumnus_edit_of_a_relayed_message_reaches_the_team(app, sim):
    group, _coordinator, chat = await asking(app, sim)
    question = await sim.user_sends(chat.user, "Ik zoek een stage in de zrog")
    await processed_of(app).wait(sim.last_update_id)
    await chat.tap(TOPIC["nl"])
    await settle(app)
    [thread] = sim.topics(group)
    before = len(chat.messages)

    await sim.user_edits(chat.user, question["message_id"], "Ik zoek een stage in de zorg")
    await processed_of(app).wait(sim.last_update_id)
    await settle(app)

    edited = texts_in(sim, group, thread)[-1]
    assert "aangepast" in edited and "Ik zoek een stage in de zorg" in edited, edited
    assert len(chat.messages) == before  # no answer to an edit
    history = await rows(app, InboxMessage)
    assert (history[-1].direction, history[-1].kind, history[-1].text) == (
        "in",
        "edit",
        "Ik zoek een stage in de zorg",
    )
    nothing_dead(await rows(app, OutboxMessage))


async def test_an_edit_before_the_topic_is_chosen_is_what_the_team_gets(app, sim):
    group, _coordinator, chat = await asking(app, sim)
    question = await sim.user_sends(chat.user, "Eerste versie")
    await processed_of(app).wait(sim.last_update_id)
    await sim.user_edits(chat.user, question["message_id"], "Tweede versie")
    await processed_of(app).wait(sim.last_update_id)
    await chat.tap(TOPIC["nl"])
    await settle(app)
    [thread] = sim.topics(group)
    assert texts_in(sim, group, thread)[1:] == ["Tweede versie"]  # after the card, once


@pytest.mark.parametrize("locale", ["nl", "en"])
async def test_a_coordinator_edit_of_an_answer_reaches_the_alumnus(app, sim, locale):
    group, coordinator, chat = await asking(app, sim, locale)
    await chat.say("Eerste vraag")
    await chat.tap(TOPIC[locale])
    await settle(app)
    [thread] = sim.topics(group)
    answer = await sim.user_sends(
        coordinator, "Bel ons op maandag", chat=group, message_thread_id=thread
    )
    note = await sim.user_sends(
        coordinator, "! niet vergeten", chat=group, message_thread_id=thread
    )
    await processed_of(app).wait(sim.last_update_id)
    await settle(app)
    before = len(chat.messages)

    await sim.user_edits(coordinator, answer["message_id"], "Bel ons op dinsdag", chat=group)
    await sim.user_edits(coordinator, note["message_id"], "! wel vergeten", chat=group)
    await processed_of(app).wait(sim.last_update_id)
    await settle(app)

    [edited] = chat.messages[before:]  # the note's edit stays inside
    assert edited.text.startswith("✏️ Coördinator (Nazorg)")
    assert ("aangepast" if locale == "nl" else "changed") in edited.text
    assert edited.text.endswith("Bel ons op dinsdag")
    outgoing = [m for m in await rows(app, InboxMessage) if m.direction == "out"]
    assert [(m.kind, m.text) for m in outgoing] == [
        ("text", "Bel ons op maandag"),
        ("edit", "Bel ons op dinsdag"),
    ]
    nothing_dead(await rows(app, OutboxMessage))


# ------------------------------------------------------------------ long texts


async def test_a_long_answer_and_a_long_edit_arrive_whole(app, sim):
    group, coordinator, chat = await asking(app, sim)
    await chat.say("Eerste vraag")
    await chat.tap(TOPIC["nl"])
    await settle(app)
    [thread] = sim.topics(group)
    before = len(chat.messages)
    long = "Lees dit goed. " * 272  # 4080 characters: fits alone, not with a signature

    answer = await sim.user_sends(coordinator, long, chat=group, message_thread_id=thread)
    await processed_of(app).wait(sim.last_update_id)
    await settle(app)
    await sim.user_edits(coordinator, answer["message_id"], long.upper(), chat=group)
    question = (await rows(app, InboxMessage))[1]
    await sim.user_edits(chat.user, question.source_message_id, long)
    await processed_of(app).wait(sim.last_update_id)
    await settle(app)

    texts = [m.text for m in chat.messages[before:]]
    assert texts[0] == "Coördinator (Nazorg):" and texts[1] == long.strip()
    assert long.upper().strip() in "".join(texts[2:])
    heading, edited = texts_in(sim, group, thread)[-2:]
    assert "aangepast" in heading and edited == long.strip()
    nothing_dead(await rows(app, OutboxMessage))


async def test_a_long_answer_from_the_web_inbox_arrives_whole_and_is_mirrored(app, sim):
    group, _coordinator, chat = await asking(app, sim)
    deps = app.bot_data.graph.deps
    await StaffService(deps.storage, deps.clock).add_staff(
        "cor@school.example", "Cor Coördinator", "coordinator", PASSWORD, ["nazorg"]
    )
    await chat.say("Eerste vraag")
    await chat.tap(TOPIC["nl"])
    await settle(app)
    [thread] = sim.topics(group)
    conversation = await the_conversation(app)
    before = len(chat.messages)
    long = "Lees dit goed. " * 272 + "Tot ziens."  # 4090: fits alone, not with a signature

    async with web_as(app, "cor@school.example") as cor:
        status, _ = await post(cor, f"/inbox/c/{conversation.id}/reply", text=long)
    assert status == 303
    await settle(app)

    assert [m.text for m in chat.messages[before:]] == ["Cor (Nazorg):", long.strip()]
    heading, mirrored = texts_in(sim, group, thread)[-2:]
    assert "via de webinbox" in heading and mirrored == long.strip()
    nothing_dead(await rows(app, OutboxMessage))
