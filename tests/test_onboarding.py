"""Onboarding end to end: real PTB Application, simulator over HTTP, real database."""

from __future__ import annotations

from storage.models import Alumnus, ConsentEvent, ConversationState
from tests.chat import Chat, buttons, onboard_nl
from tests.harness import polling_app, processed_of, rows


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
    assert alumnus.offer_frequency == "weekly"
    assert alumnus.onboarded_at is not None
    assert await rows(app, ConversationState) == []

    events = await rows(app, ConsentEvent)
    assert [(e.purpose, e.granted, e.source, e.locale) for e in events] == [
        ("llo", True, "onboarding", "nl"),
        ("aftercare", True, "onboarding", "nl"),
    ]
    consent = app.bot_data.graph.consent
    assert all(e.text_version == consent.text_version(e.purpose, "nl") for e in events)
    assert all(len(e.text_version) == 12 and e.evidence.isdigit() for e in events)


async def test_full_onboarding_in_english(app, new_chat):
    chat = new_chat("Alex", "en")
    welcome = await chat.say("/start")
    assert "alumni bot of <b>Testcollege</b>" in welcome[0].html
    await chat.tap("English")
    assert "What may we send you?" in chat.last.text
    await chat.tap("Jobs and placements")
    await chat.tap("Continue")
    await chat.say("Alex")
    await chat.tap("North site")
    await chat.say("25998")  # an exact crebo code is taken at once
    assert "BOL" in chat.last.text
    await chat.tap("BOL")
    await chat.tap("I am still studying")
    assert "What are you doing now?" in chat.last.text
    await chat.tap("looking for work")
    assert "province" in chat.last.text  # no sector question when not working
    await chat.tap("Utrecht")
    await chat.tap("Skip")
    assert "Is this right?" in chat.last.text
    assert "Software developer (25998, level 4, BOL)" in chat.last.text
    done = await chat.tap("Save")
    assert "Your profile is saved" in done[-1].text

    [alumnus] = await rows(app, Alumnus)
    assert alumnus.locale == "en"
    assert alumnus.still_studying is True
    assert alumnus.graduation_year is None
    assert (alumnus.situation, alumnus.sector, alumnus.region) == ("looking", None, "UT")
    assert alumnus.interests == []
    [event] = await rows(app, ConsentEvent)
    assert (event.purpose, event.granted, event.locale) == ("jobs", True, "en")
    assert event.text_version == app.bot_data.graph.consent.text_version("jobs", "en")
    assert event.text_version != app.bot_data.graph.consent.text_version("jobs", "nl")


async def test_restart_in_the_middle_of_onboarding_continues_at_the_same_step(
    sim, settings, clock
):

    user = sim.create_user(first_name="Noor", language_code="nl")
    async with polling_app(settings, clock) as first:
        chat = Chat(sim, processed_of(first), user)
        await chat.say("/start")
        await chat.tap("Nederlands")
        await chat.tap("Verder")
        await chat.say("Noor")
        await chat.tap("Locatie Noord")
        assert "Welke opleiding" in chat.last.text
        [state] = await rows(first, ConversationState)
        assert (state.flow, state.step) == ("onboarding", "programme")

    async with polling_app(settings, clock) as second:
        chat.processed = processed_of(second)
        reply = await chat.say("kok")
        assert "Ik vond 2 opleidingen" in reply[-1].text
        await chat.tap("Zelfstandig werkend kok")
        assert "BOL" in chat.last.text
        [state] = await rows(second, ConversationState)
        assert state.step == "track"
        assert state.data["draft"]["first_name"] == "Noor"
        assert state.data["draft"]["crebo"] == "25181"


async def test_back_returns_to_the_previous_question_and_skip_leaves_it_empty(app, new_chat):
    chat = new_chat()
    await chat.say("/start")
    await chat.tap("Nederlands")
    await chat.tap("Verder")
    await chat.tap("Noem me")
    await chat.tap("Overslaan")  # location
    await chat.tap("Overslaan")  # programme: level is not asked, track is
    assert "BOL" in chat.last.text
    await chat.tap("Terug")
    assert "Welke opleiding" in chat.last.text
    await chat.tap("Terug")
    assert "welke locatie" in chat.last.text.lower()
    await chat.tap("Zuid")
    await chat.tap("Overslaan")
    await chat.tap("Overslaan")  # track
    await chat.tap("Overslaan")  # graduation: no month question
    assert "Wat doe je nu" in chat.last.text
    for _ in range(4):  # situation, region, interests... until the summary
        if "Klopt dit" in chat.last.text:
            break
        await chat.tap("Overslaan")
    await chat.tap("Opslaan")
    [alumnus] = await rows(app, Alumnus)
    assert alumnus.location == "zuid"
    assert alumnus.crebo is None and alumnus.track is None and alumnus.graduation_year is None


async def test_multi_level_programme_asks_the_level(app, new_chat):
    chat = new_chat()
    for step in ("/start",):
        await chat.say(step)
    await chat.tap("Nederlands")
    await chat.tap("Verder")
    await chat.tap("Noem me")
    await chat.tap("Centrum")
    await chat.say("kapper")
    await chat.tap("Kapper")
    assert "Op welk niveau" in chat.last.text
    assert [t for t, _ in buttons(chat.last)][:2] == ["Niveau 2", "Niveau 3"]
    await chat.say("3")
    assert "BOL" in chat.last.text
    [state] = await rows(app, ConversationState)
    assert state.data["draft"]["level"] == 3
