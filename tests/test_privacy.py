"""Privacy rights end to end: /privacy, /stop, /mijngegevens, /verwijderen."""

from __future__ import annotations

import json
from datetime import timedelta

from storage.models import (
    Alumnus,
    ConsentEvent,
    ConversationState,
    DigestItem,
    Suppression,
)
from tests.chat import buttons, onboard_nl
from tests.factories import hold_in_digest
from tests.harness import everything_in_the_database, rows


async def test_privacy_screen_toggles_each_purpose_in_place(app, new_chat):
    chat = new_chat()
    await onboard_nl(chat)  # granted: llo, aftercare
    screen = (await chat.say("/privacy"))[0]
    assert "Je privacy-keuzes" in screen.text
    assert [t for t, _ in buttons(screen)][:3] == [
        "✅ Cursussen (LLO)",
        "⬜ Vacatures en stages",
        "✅ Nazorg",
    ]
    await chat.tap("Vacatures", message=screen)
    await chat.tap("Cursussen", message=screen)
    screen = chat.messages[-1]
    assert [t for t, _ in buttons(screen)][:3] == [
        "⬜ Cursussen (LLO)",
        "✅ Vacatures en stages",
        "✅ Nazorg",
    ]
    events = await rows(app, ConsentEvent)
    assert [(e.purpose, e.granted, e.source) for e in events][2:] == [
        ("jobs", True, "privacy"),
        ("llo", False, "privacy"),
    ]


async def test_stop_withdraws_every_consent_and_says_which(app, new_chat):
    chat = new_chat()
    await onboard_nl(chat)
    reply = await chat.say("/stop")
    assert "Cursussen (LLO), Nazorg" in reply[0].text
    [alumnus] = await rows(app, Alumnus)
    async with app.bot_data.graph.deps.storage.transaction() as tx:
        assert await tx.consents.current(alumnus.id) == {"llo": False, "aftercare": False}
    events = await rows(app, ConsentEvent)
    assert [(e.purpose, e.granted, e.source) for e in events][-2:] == [
        ("llo", False, "stop"),
        ("aftercare", False, "stop"),
    ]
    again = await chat.say("/stop")
    assert "Je had niets aangezet" in again[0].text
    assert len(await rows(app, ConsentEvent)) == 4


async def test_export_holds_everything_stored(app, sim, new_chat):
    chat = new_chat()
    await onboard_nl(chat)
    [alumnus] = await rows(app, Alumnus)
    await hold_in_digest(app, alumnus.id)
    await chat.say("/privacy")
    await chat.tap("Vragenlijsten")
    reply = await chat.say("/mijngegevens")
    summary, document = reply[0], reply[1]
    assert "Dit bewaren we van je" in summary.text
    assert "Cursussen (LLO), Nazorg, Vragenlijsten" in summary.text
    assert "privacy@testcollege.example" in summary.text
    assert document.document["file_name"] == "mijn-gegevens.json"
    exported = json.loads(sim.file_bytes(document.document["file_id"]))

    [alumnus] = await rows(app, Alumnus)
    tables = exported["tables"]
    assert tables["alumnus"] == [alumnus.model_dump(mode="json")]
    assert set(tables["alumnus"][0]) == set(Alumnus.model_fields)
    events = await rows(app, ConsentEvent)
    assert len(tables["consent_event"]) == len(events) == 3
    for given, row in zip(tables["consent_event"], events, strict=True):
        assert given == row.model_dump(mode="json")
    assert tables["conversation_state"] == []
    [item] = await rows(app, DigestItem)
    assert tables["digest_item"] == [item.model_dump(mode="json")]
    assert exported["controller"]["school"] == "Testcollege"


async def test_export_in_the_middle_of_onboarding_includes_the_open_answers(app, sim, new_chat):
    chat = new_chat()
    await chat.say("/start")
    await chat.tap("Nederlands")
    await chat.tap("Verder")
    await chat.say("Fatima")
    reply = await chat.say("/mydata")
    exported = json.loads(sim.file_bytes(reply[-1].document["file_id"]))
    [state] = exported["tables"]["conversation_state"]
    assert state["data"]["draft"]["first_name"] == "Fatima"


async def test_erasure_leaves_no_trace_but_a_hash(app, new_chat):
    chat = new_chat("Marloes")
    other = new_chat("Bram")
    await onboard_nl(chat)
    await other.say("/start")
    await chat.say("/privacy")
    await chat.tap("Alumninetwerk")
    [marloes] = [a for a in await rows(app, Alumnus) if a.chat_id == chat.chat_id]
    await hold_in_digest(app, marloes.id)
    question = (await chat.say("/verwijderen"))[0]
    assert "Weet je het zeker?" in question.text
    reply = await chat.tap("Ja, wis alles", message=question)
    assert "Al je gegevens zijn gewist" in chat.messages[-1].text
    [edited] = reply  # the question itself was edited into the confirmation
    assert edited.message_id == question.message_id and edited.edited

    dump = await everything_in_the_database(app)
    assert str(chat.chat_id) not in dump
    assert "Marloes" not in dump
    assert str(other.chat_id) in dump  # the other alumnus is untouched
    [suppression] = await rows(app, Suppression)
    assert suppression.subject_hash == app.bot_data.graph.privacy.subject_hash(chat.chat_id)
    assert await rows(app, ConsentEvent) == []
    assert [i for i in await rows(app, DigestItem) if i.alumnus_id == marloes.id] == []
    assert len(await rows(app, ConversationState)) == 1  # Bram's onboarding


async def test_erasure_can_be_cancelled(app, new_chat):
    chat = new_chat()
    await onboard_nl(chat)
    question = (await chat.say("/verwijderen"))[0]
    await chat.tap("Nee", message=question)
    assert "we wissen niets" in chat.messages[-1].text
    assert len(await rows(app, Alumnus)) == 1


async def test_an_old_erase_button_has_expired(app, clock, sim, new_chat):
    chat = new_chat()
    await onboard_nl(chat)
    question = (await chat.say("/verwijderen"))[0]
    clock.advance(timedelta(minutes=11))
    await chat.tap("Ja, wis alles", message=question)
    assert "verlopen" in sim.callback_answers[-1]["text"]
    assert len(await rows(app, Alumnus)) == 1
    assert buttons(chat.messages[-1]) == []


async def test_an_erase_button_cannot_be_replayed_for_someone_else(app, sim, new_chat):
    victim, attacker = new_chat("Victim"), new_chat("Attacker")
    await onboard_nl(victim)
    await attacker.say("/start")
    question = (await victim.say("/verwijderen"))[0]
    [(_, _), (_, _)] = buttons(question)
    token = buttons(question)[0][1]
    await attacker.press(token)  # the victim's signed token, pressed in another chat
    assert "verlopen" in sim.callback_answers[-1]["text"]
    assert len(await rows(app, Alumnus)) == 2
