"""Onboarding end to end: real PTB Application, simulator over HTTP, real database."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import AlumniApplication
from storage.models import Alumnus, ConsentEvent, ConversationState
from tests.conftest import buttons


async def rows(app: AlumniApplication, model: type) -> list:
    async with app.bot_data.deps.storage.transaction() as tx:
        return list((await tx.session.execute(select(model))).scalars())


async def onboard_nl(chat) -> None:
    """Walk a Dutch alumnus through every step, typing some answers and tapping others."""
    welcome = await chat.say("/start")
    assert "alumnibot van <b>Testcollege</b>" in welcome[0].html
    assert "Geen adres, geen telefoonnummer" in welcome[0].text
    await chat.tap("Nederlands")
    consent = chat.last
    assert "Niets staat al aan" in consent.text
    toggles = [
        text for text, data in buttons(consent) if data and not data.split(":")[2].startswith("_")
    ]
    assert len(toggles) == 5
    assert all(text.startswith("⬜") for text in toggles)
    await chat.tap("Cursussen")
    await chat.tap("Nazorg")
    assert [t for t, _ in buttons(chat.last)][:3] == [
        "✅ Cursussen (LLO)",
        "⬜ Vacatures en stages",
        "✅ Nazorg",
    ]
    await chat.tap("Verder")
    assert "Hoe wil je dat ik je noem" in chat.last.text
    await chat.tap("Noem me Sanne")
    assert "locatie" in chat.last.text
    await chat.say("Zorgcampus")
    reply = await chat.say("verpleeg")
    assert "Ik vond 1 opleiding" in reply[-1].text
    await chat.tap("Mbo-Verpleegkundige")
    assert "BOL" in chat.last.text
    await chat.tap("BBL")
    await chat.say("2025")
    await chat.tap("juli")
    await chat.tap("Ik werk")
    await chat.tap("Zorg")
    await chat.say("35")
    await chat.tap("Leidinggeven")
    await chat.tap("AI en data")
    await chat.tap("Klaar")
    summary = chat.last.text
    assert "Klopt dit?" in summary
    assert "Mbo-Verpleegkundige (25655, niveau 4, BBL)" in summary
    assert "juli 2025" in summary
    done = await chat.tap("Opslaan")
    assert "Je profiel is opgeslagen" in done[-1].text


async def test_full_onboarding_in_dutch(app, new_chat):
    chat = new_chat("Sanne", "nl")
    await onboard_nl(chat)

    [alumnus] = await rows(app, Alumnus)
    assert alumnus.chat_id == chat.chat_id
    assert alumnus.locale == "nl"
    assert alumnus.first_name == "Sanne"
    assert alumnus.location == "zorgcampus"
    assert (alumnus.crebo, alumnus.level, alumnus.track) == ("25655", 4, "BBL")
    assert (alumnus.graduation_year, alumnus.graduation_month) == (2025, 7)
    assert alumnus.still_studying is False
    assert (alumnus.situation, alumnus.sector, alumnus.region) == ("working", "zorg", "35")
    assert alumnus.interests == ["leidinggeven", "ai"]
    assert alumnus.onboarded_at is not None
    assert await rows(app, ConversationState) == []

    events = await rows(app, ConsentEvent)
    assert [(e.purpose, e.granted, e.source, e.locale) for e in events] == [
        ("llo", True, "onboarding", "nl"),
        ("aftercare", True, "onboarding", "nl"),
    ]
    consent = app.bot_data.conversation.consent
    assert all(e.text_version == consent.text_version(e.purpose, "nl") for e in events)
    assert all(len(e.text_version) == 12 and e.evidence.isdigit() for e in events)
