"""Bad input gets a clear, polite answer, loses nothing and saves nothing half-way."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.models import Alumnus, ConsentEvent, ConversationState
from tests.chat import buttons, onboard_nl
from tests.harness import processed_of, rows, state_of


async def at_name_step(chat) -> None:
    await chat.say("/start")
    await chat.tap("Nederlands")
    await chat.tap("Verder")
    assert "Hoe wil je dat ik je noem" in chat.last.text


@pytest.mark.parametrize("kind", ["sticker", "photo", "voice", "document", "location"])
async def test_media_during_onboarding_is_answered_and_the_question_repeated(app, new_chat, kind):
    chat = new_chat()
    await at_name_step(chat)
    reply = await chat.send_media(kind)
    assert len(reply) == 1
    assert "Ik kan hier alleen tekst lezen" in reply[0].text
    assert "Hoe wil je dat ik je noem" in reply[0].text
    assert (await state_of(app)).step == "name"


@pytest.mark.parametrize("kind", ["sticker", "photo", "voice"])
async def test_media_after_onboarding_starts_a_question_and_is_kept(app, new_chat, kind):
    chat = new_chat()
    await onboard_nl(chat)
    reply = await chat.send_media(kind)
    assert "Waar gaat je vraag over?" in reply[0].text
    [state] = await rows(app, ConversationState)
    assert [p["kind"] for p in state.data["pending"]] == [kind]


async def test_unknown_command_is_answered(app, new_chat):
    chat = new_chat()
    reply = await chat.say("/bestaatniet")
    assert "Dat commando ken ik niet" in reply[0].text


async def test_unknown_command_in_english(app, new_chat):
    chat = new_chat(language_code="en")
    reply = await chat.say("/nonsense")
    assert "I don't know that command" in reply[0].text


async def test_very_long_text_is_refused_without_saving(app, new_chat):
    chat = new_chat()
    await at_name_step(chat)
    reply = await chat.say("A" * 4096)
    assert "Die naam is te lang" in reply[0].text
    state = await state_of(app)
    assert state.step == "name"
    assert "first_name" not in state.data["draft"]
    await chat.say("Kees")
    await chat.tap("Centrum")
    reply = await chat.say("x" * 4096)
    assert "Ik vond geen opleiding" in reply[0].text
    assert len(reply[0].text) < 4096


@pytest.mark.parametrize(
    "name",
    ["محمد 🌟", "Zoë", "李小龙", "<b>Jan</b> & co", "Anne-Marie O'Neill"],
)
async def test_names_in_any_script_are_kept_exactly_and_shown_escaped(app, new_chat, name):
    chat = new_chat()
    await at_name_step(chat)
    await chat.say(name)
    state = await state_of(app)
    assert state.data["draft"]["first_name"] == name
    # Skip the rest and save: the summary echoes the name back through Telegram's HTML parser.
    while "Klopt dit" not in chat.last.text:
        await chat.tap("Overslaan")
    assert name in chat.last.text
    await chat.tap("Opslaan")
    [alumnus] = await rows(app, Alumnus)
    assert alumnus.first_name == name


@pytest.mark.parametrize("text", ["🌟🌟🌟", "12345", "   ", "\u200f\u202e"])
async def test_text_that_is_not_a_name_is_refused(app, new_chat, text):
    chat = new_chat()
    await at_name_step(chat)
    reply = await chat.say(text)
    assert "Dat lijkt geen naam" in reply[0].text
    assert "first_name" not in (await state_of(app)).data["draft"]


async def test_invalid_year_and_month_are_explained(app, new_chat):
    chat = new_chat()
    await at_name_step(chat)
    await chat.say("Kees")
    await chat.tap("Overslaan")
    await chat.tap("Overslaan")
    await chat.tap("Overslaan")  # track
    assert "In welk jaar" in chat.last.text
    assert "4 cijfers" in (await chat.say("vorig jaar"))[0].text
    assert "tussen 1960 en 2030" in (await chat.say("1850"))[0].text
    await chat.say("2024")
    assert "Dat is geen maand" in (await chat.say("13"))[0].text
    await chat.say("sept")
    assert (await state_of(app)).data["draft"]["graduation_month"] == 9


async def test_postcode_area_and_province_by_name(app, new_chat):
    chat = new_chat()
    await at_name_step(chat)
    await chat.say("Kees")
    while "provincie" not in chat.last.text:
        await chat.tap("Overslaan")
    assert "eerste twee cijfers" in (await chat.say("3511 AB"))[0].text
    assert "Die provincie ken ik niet" in (await chat.say("Atlantis"))[0].text
    await chat.say("noord-holland")
    assert (await state_of(app)).data["draft"]["region"] == "NH"


async def test_a_button_of_an_earlier_question_is_refused_and_the_question_repeated(
    app, sim, new_chat
):
    chat = new_chat()
    await chat.say("/start")
    language_question = chat.last
    await chat.tap("Nederlands")
    await chat.tap("Verder")
    answers_before = len(sim.callback_answers)
    reply = await chat.press("f:language:en", message=language_question)
    assert "werkt niet meer" in sim.callback_answers[-1]["text"]
    assert len(sim.callback_answers) == answers_before + 1
    assert "Hoe wil je dat ik je noem" in reply[-1].text
    [alumnus] = await rows(app, Alumnus)
    assert alumnus.locale == "nl"


@pytest.mark.parametrize(
    "data",
    [
        "f:name:suggested-not",
        "f:name:_skipx",
        "zzz",
        "c:root",
        "p:admin",
        "l:de",
        "x:123.abc",
        "f",
    ],
)
async def test_forged_buttons_change_nothing_and_are_always_answered(app, sim, new_chat, data):
    chat = new_chat()
    await at_name_step(chat)
    before = await state_of(app)
    answers = len(sim.callback_answers)
    await chat.press(data)
    assert len(sim.callback_answers) == answers + 1
    after = await state_of(app)
    assert (after.step, after.data) == (before.step, before.data)
    [alumnus] = await rows(app, Alumnus)
    assert alumnus.locale == "nl" and alumnus.first_name is None


async def test_the_bot_ignores_groups(app, sim):
    member = sim.create_user(first_name="Groepslid")
    group = sim.create_group(title="Klas 3B", supergroup=True)
    await sim.add_bot_to_group(group, by=member)
    await sim.user_sends(member, "/start", chat=group)
    await sim.user_sends(member, "hallo allemaal", chat=group)
    await processed_of(app).wait(sim.last_update_id)
    assert sim.bot_messages(group.id) == []
    async with app.bot_data.graph.deps.storage.transaction() as tx:
        assert (await tx.session.execute(select(Alumnus))).first() is None


async def test_toggling_consent_twice_logs_grant_and_withdrawal(app, new_chat):
    chat = new_chat()
    await chat.say("/start")
    await chat.tap("Nederlands")
    await chat.tap("Vragenlijsten")
    await chat.tap("Vragenlijsten")
    toggles = [t for t, d in buttons(chat.last) if d and "surveys" in d]
    assert toggles == ["⬜ Vragenlijsten"]
    events = await rows(app, ConsentEvent)
    assert [(e.purpose, e.granted) for e in events] == [("surveys", True), ("surveys", False)]
