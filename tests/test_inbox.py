"""The coordinator inbox end to end: alumni chats, staff forum topics, the outbox between."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from storage.models import InboxConversation, InboxMessage
from tests.chat import Chat, ask, buttons, onboard_nl, staff_says, texts_in
from tests.factories import add_alumnus, staff_team
from tests.harness import processed_of, rows, settle, the_conversation


@pytest.fixture
def settings(settings):
    # Telegram's 20 messages a minute per group would make these tests take minutes;
    # the pacing itself is tested in test_dispatch.
    return settings.model_copy(update={"group_messages_per_minute": 6000.0})


async def test_a_question_and_its_answer_round_trip(app, sim, new_chat):
    group, coordinator = await staff_team(app, sim)
    chat = new_chat("Sanne")
    await onboard_nl(chat)
    await ask(chat, "Ik zoek een stage in de zorg. Kunnen jullie helpen?")
    await settle(app)

    conversation = await the_conversation(app)
    assert (conversation.topic, conversation.status, conversation.thread_state) == (
        "work",
        "open",
        "ready",
    )
    [topic] = sim.topics(group).values()
    assert topic.name == "Sanne - Mbo-Verpleegkundige - 2025"
    in_topic = texts_in(sim, group, topic.message_thread_id)
    assert any("Nieuw gesprek" in t and "werk en loopbaan" in t for t in in_topic)
    assert in_topic[-1] == "Ik zoek een stage in de zorg. Kunnen jullie helpen?"

    await staff_says(sim, app, coordinator, group, topic.message_thread_id, "Ja! Bel ons gerust.")
    # The answer arrives signed with the coordinator's first name and team.
    assert chat.last.text == "Coördinator (Nazorg):\nJa! Bel ons gerust."
    assert (await the_conversation(app)).status == "waiting"

    await chat.say("Top, dank je. Wanneer zijn jullie bereikbaar?")
    await settle(app)
    assert (
        texts_in(sim, group, topic.message_thread_id)[-1]
        == "Top, dank je. Wanneer zijn jullie bereikbaar?"
    )
    assert "Toegevoegd aan je vraag" in chat.last.text
    messages = await rows(app, InboxMessage)
    assert [m.direction for m in messages if m.direction != "system"] == ["in", "out", "in"]
    assert (await the_conversation(app)).status == "open"


async def test_photos_and_documents_travel_both_ways(app, sim, new_chat):
    group, coordinator = await staff_team(app, sim)
    chat = new_chat()
    await onboard_nl(chat)
    await ask(chat, "Hierbij mijn diploma", topic="Diploma")
    await sim.user_sends_media(chat.user, kind="photo", caption="foto van mijn diploma")
    await processed_of(app).wait(sim.last_update_id)
    await settle(app)
    [topic] = sim.topics(group).values()
    copied = sim.bot_messages(group, thread_id=topic.message_thread_id)[-1]
    assert copied.kind == "photo" and copied.caption == "foto van mijn diploma"

    await sim.user_sends_media(
        coordinator, kind="document", chat=group, message_thread_id=topic.message_thread_id
    )
    await processed_of(app).wait(sim.last_update_id)
    await settle(app)
    assert chat.last.kind == "document"
    kinds = [
        (m.direction, m.kind) for m in await rows(app, InboxMessage) if m.direction != "system"
    ]
    assert kinds == [("in", "text"), ("in", "photo"), ("out", "document")]


async def test_twenty_alumni_writing_at_once_get_twenty_topics(app, sim, new_chat):
    group, _ = await staff_team(app, sim)

    chats = []
    for i in range(20):
        user = sim.create_user(first_name=f"Alumnus{i}")
        await add_alumnus(app, user.id, first_name=f"Alumnus{i}", graduation_year=2024)
        chats.append(Chat(sim, processed_of(app), user))

    async def write(chat: Chat) -> None:
        await chat.say(f"Vraag van {chat.user.first_name}")
        await chat.tap("Nazorg en hulp")

    await asyncio.gather(*(write(c) for c in chats))
    await settle(app)
    topics = sim.topics(group)
    conversations = await rows(app, InboxConversation)
    assert len(topics) == 20 and len(conversations) == 20
    assert {c.thread_id for c in conversations} == set(topics)
    assert sorted(t.name for t in topics.values()) == sorted(
        f"Alumnus{i} - opleiding onbekend - 2024" for i in range(20)
    )


async def test_a_deleted_topic_is_recreated_with_a_summary(app, sim, new_chat):
    group, coordinator = await staff_team(app, sim)
    chat = new_chat()
    await onboard_nl(chat)
    await ask(chat, "Eerste vraag")
    await settle(app)
    [old] = sim.topics(group)
    await staff_says(sim, app, coordinator, group, old, "Eerste antwoord")
    sim.delete_topic(group, old)

    await chat.say("Nog een vraag")
    await settle(app)
    [new] = sim.topics(group)
    assert new != old
    in_topic = texts_in(sim, group, new)
    summary = next(t for t in in_topic if "Overzicht van dit gesprek" in t)
    assert "Eerste vraag" in summary and "Eerste antwoord" in summary
    assert in_topic[-1] == "Nog een vraag"
    assert (await the_conversation(app)).thread_id == new


async def test_a_blocked_alumnus_is_shown_in_the_topic(app, sim, new_chat):
    group, _ = await staff_team(app, sim)
    chat = new_chat()
    await onboard_nl(chat)
    await ask(chat, "Hallo")
    await settle(app)
    [thread] = sim.topics(group)
    sim.block(chat.user)
    await processed_of(app).wait(sim.last_update_id)  # the my_chat_member update
    await settle(app)
    assert any("geblokkeerd" in t for t in texts_in(sim, group, thread))


async def test_unauthorised_senders_in_the_staff_group_change_nothing(app, sim, new_chat):
    group, coordinator = await staff_team(app, sim)
    chat = new_chat()
    await onboard_nl(chat)
    await ask(chat, "Hallo")
    await settle(app)
    [thread] = sim.topics(group)
    before = len(chat.messages)

    stranger = sim.create_user(first_name="Onbekend")
    await sim.user_sends(stranger, "Ik ben geen medewerker", chat=group, message_thread_id=thread)
    await sim.anonymous_admin_sends(group, "Anoniem antwoord", message_thread_id=thread)
    await sim.channel_sends_in(group, "Een kanaal", "Kanaalpost", message_thread_id=thread)
    other_group = sim.create_group(title="Geen team", supergroup=True, is_forum=True)
    await sim.add_bot_to_group(other_group, by=coordinator)
    await sim.user_sends(coordinator, "Verkeerde groep", chat=other_group)
    deps = app.bot_data.graph.deps
    async with deps.storage.transaction() as tx:  # a disabled member, too
        member = await tx.staff.by_telegram(coordinator.id)
        await tx.staff.set_active(member.id, active=False)
    await sim.user_sends(coordinator, "Uitgeschakeld", chat=group, message_thread_id=thread)
    await processed_of(app).wait(sim.last_update_id)
    await settle(app)

    assert len(chat.messages) == before
    assert [m.direction for m in await rows(app, InboxMessage)].count("out") == 0
    assert any("Alleen gekoppelde medewerkers" in t for t in texts_in(sim, group, thread))


async def test_close_rating_and_a_new_conversation_after(app, sim, new_chat):
    group, coordinator = await staff_team(app, sim)
    chat = new_chat()
    await onboard_nl(chat)
    await ask(chat, "Vraag een")
    await settle(app)
    [thread] = sim.topics(group)
    await staff_says(sim, app, coordinator, group, thread, "/sluit")
    closing = chat.last
    assert "Je vraag is afgerond" in closing.text
    assert [t for t, _ in buttons(closing)] == ["⭐", "⭐⭐", "⭐⭐⭐", "⭐⭐⭐⭐", "⭐⭐⭐⭐⭐"]
    five_stars = buttons(closing)[4][1]
    await chat.tap("⭐⭐⭐⭐", message=closing)
    assert "Dank je voor je beoordeling" in chat.last.text
    assert buttons(closing) == []  # the rating buttons are gone
    await chat.press(five_stars, message=closing)  # a second, replayed rating
    assert "werkt niet meer" in sim.callback_answers[-1]["text"]
    assert (await the_conversation(app)).rating == 4

    prompt = await chat.say("Nieuwe vraag")  # never a silent reopen
    assert "Waar gaat je vraag over?" in prompt[-1].text
    await chat.tap("Iets anders")
    await settle(app)
    assert len(await rows(app, InboxConversation)) == 2
    assert len(sim.topics(group)) == 2


async def test_notes_stay_inside_and_canned_replies_go_out(app, sim, new_chat):
    group, coordinator = await staff_team(app, sim)
    chat = new_chat()
    await onboard_nl(chat)
    await ask(chat, "Hallo")
    await settle(app)
    [thread] = sim.topics(group)
    before = len(chat.messages)
    await staff_says(sim, app, coordinator, group, thread, "/notitie bellen na de vakantie")
    await staff_says(sim, app, coordinator, group, thread, "! heeft al een baan gevonden")
    assert len(chat.messages) == before
    notes = [m.text for m in await rows(app, InboxMessage) if m.direction == "note"]
    assert notes == ["bellen na de vakantie", "heeft al een baan gevonden"]

    await staff_says(sim, app, coordinator, group, thread, "/sjabloon bedankt")
    assert "We zoeken het voor je uit" in chat.last.text
    await staff_says(sim, app, coordinator, group, thread, "/sjabloon bestaatniet")
    assert "Kies uit: afronden, bedankt, doorverwezen, llo" in texts_in(sim, group, thread)[-1]
    await staff_says(sim, app, coordinator, group, thread, "/toewijzen")
    assert (await the_conversation(app)).assigned_staff_id is not None


async def test_vraag_asks_the_topic_then_the_question(app, sim, new_chat):
    await staff_team(app, sim)
    chat = new_chat()
    await onboard_nl(chat)
    prompt = await chat.say("/vraag")
    assert "Waar gaat je vraag over?" in prompt[-1].text
    ask_text = await chat.tap("Cursussen en LLO")
    assert "Typ je vraag" in ask_text[-1].text
    ack = await chat.say("Is er een cursus Excel?")
    assert "opgeslagen en doorgestuurd" in ack[-1].text
    await settle(app)
    assert (await the_conversation(app)).topic == "courses"


async def test_outside_business_hours_the_acknowledgement_says_when(app, sim, clock, new_chat):
    await staff_team(app, sim)
    chat = new_chat()
    await onboard_nl(chat)
    clock.advance(datetime(2026, 6, 20, 12, 0, tzinfo=UTC) - clock.now())  # a Saturday
    await chat.say("Weekendvraag")
    ack = await chat.tap("Iets anders")
    assert "buiten kantoortijd" in ack[-1].text and "maandag 09:00" in ack[-1].text
    clock.advance(timedelta(days=2))
