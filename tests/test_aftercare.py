"""Aftercare check-ins end to end: two years of moments, every branch, reminders, help."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.aftercare.questions import QUESTIONS, next_question
from bot.aftercare.schedule import Schedule
from bot.core.settings import CONTENT_DIR
from bot.inbox.escalation import Escalation
from storage.models import (
    Alumnus,
    Checkin,
    CheckinAnswer,
    DigestItem,
    InboxConversation,
    InboxMessage,
    OutboxMessage,
)
from tests.aftercare import DIPLOMA, checkins, graduate, to
from tests.chat import buttons
from tests.factories import add_team, new_offer, staff_team
from tests.harness import rows


async def tick_and_send(app, sim, chat_id: int, expect: int):
    """Run the aftercare job, send the queue, return the chat's messages once ``expect``."""
    graph = app.bot_data.graph
    result = await graph.aftercare.tick()
    graph.dispatcher.wake()
    await sim.wait_for_bot_messages(chat_id, expect)
    await graph.dispatcher.idle()
    return result


def test_the_questions_skip_what_does_not_apply():
    def code(answers):
        question = next_question(answers)
        return question.code if question else None

    assert code({}) == "situation"
    assert code({"situation": "working"}) == "field"
    assert code({"situation": "studying"}) == "study_level"
    assert code({"situation": "looking"}) == "again"
    assert code({"situation": "other"}) == "other_what"
    working = {q.code: "x" for q in QUESTIONS if q.applies({"situation": "both"})}
    assert {"field", "study_level", "study_name"} <= set(working)
    assert next_question({**working, "situation": "both"}) is None


def test_the_schedule_is_data_and_due_in_school_time():
    schedule = Schedule.load(CONTENT_DIR / "aftercare.yaml")
    assert [(m.code, m.months) for m in schedule.moments] == [
        ("diploma", 0),
        ("m3", 3),
        ("m6", 6),
        ("m12", 12),
        ("m24", 24),
    ]
    winter = schedule.due_at(2026, 7, schedule.moments[2], "Europe/Amsterdam")
    assert winter == datetime(2027, 1, 15, 9, 0, tzinfo=UTC)  # 10:00 CET
    assert schedule.due_at(2026, 7, schedule.moments[0], "Europe/Amsterdam") == DIPLOMA


def test_escalation_words_match_whole_words_without_accents():
    words = Escalation.load(CONTENT_DIR / "escalation.yaml")
    assert words.matches("Ik denk aan SUICIDE soms")
    assert words.matches("ik ben  dakloos.")
    assert words.matches("I feel desperate")
    assert not words.matches("Ik werk bij een schuldenbureau als stagiair")
    assert not words.matches("Alles goed!")


async def test_two_years_of_check_ins_every_branch(app, sim, clock):
    await staff_team(app, sim, code="nazorg")
    alumnus, chat = await graduate(app, sim)
    graph = app.bot_data.graph

    result = await graph.aftercare.tick()
    assert (result.planned, result.asked) == (5, 0)
    planned = await checkins(app, alumnus.id)
    assert {m: c.status for m, c in planned.items()} == dict.fromkeys(
        ["diploma", "m3", "m6", "m12", "m24"], "scheduled"
    )
    assert (await graph.aftercare.tick()).planned == 0  # planning again adds nothing

    # At the diploma: working, in the field, at the level, permanent, 32+, a 4, yes, no.
    await to(clock, DIPLOMA + timedelta(minutes=1))
    await tick_and_send(app, sim, chat.chat_id, 1)
    question = chat.last
    assert "Gefeliciteerd met je diploma" in question.text and "Wat doe je nu?" in question.text
    for label in (
        "Ik werk",
        "in mijn vakgebied",
        "Op mijn niveau",
        "Vast contract",
        "32 of meer",
        "4",
        "Ja, allebei hetzelfde",
        "Nee, dank je",
    ):
        await chat.tap(label, message=question)
        question = next(m for m in chat.messages if m.message_id == question.message_id)
    assert "Dank je wel voor je antwoorden" in question.text and not buttons(question)
    assert (await checkins(app, alumnus.id))["diploma"].status == "answered"
    [profile] = [a for a in await rows(app, Alumnus) if a.id == alumnus.id]
    assert profile.situation == "working"

    # After 3 months: studying further; the programme is typed.
    await to(clock, datetime(2026, 10, 15, 8, 1, tzinfo=UTC))
    await tick_and_send(app, sim, chat.chat_id, 2)
    question = chat.last
    assert "3 maanden" in question.text
    await chat.tap("Ik studeer verder", message=question)
    await chat.tap("hbo", message=question)
    assert "Welke opleiding" in chat.last.text
    await chat.say("HBO-ICT in Utrecht")
    await chat.tap("Andere school")
    replies = await chat.tap("Nee, dank je")
    assert "Dank je wel" in replies[-1].text
    [profile] = [a for a in await rows(app, Alumnus) if a.id == alumnus.id]
    assert profile.situation == "studying"

    # After 6 months: no answer. One reminder after 7 days, then "no response".
    await to(clock, datetime(2027, 1, 15, 9, 1, tzinfo=UTC))
    await tick_and_send(app, sim, chat.chat_id, 3)
    clock.advance(timedelta(days=6))
    assert (await graph.aftercare.tick()).reminded == 0
    clock.advance(timedelta(days=1, minutes=1))
    result = await tick_and_send(app, sim, chat.chat_id, 4)
    assert result.reminded == 1
    assert "nog niets van je gehoord" in chat.last.text and buttons(chat.last)
    clock.advance(timedelta(days=3))
    assert (await graph.aftercare.tick()).reminded == 0  # at most one reminder
    clock.advance(timedelta(days=5))
    assert (await graph.aftercare.tick()).closed == 1
    assert (await checkins(app, alumnus.id))["m6"].status == "no_response"
    before = len(await rows(app, CheckinAnswer))
    await chat.tap("Ik werk")  # the reminder's buttons no longer take answers
    assert len(await rows(app, CheckinAnswer)) == before

    # After 12 months: looking for work -> matching leads, and the aftercare team is told.
    await add_team(app, "llo")
    await new_offer(app, "Magazijnmedewerker", kind="job")
    async with graph.deps.storage.transaction() as tx:
        person = await tx.alumni.by_chat(chat.chat_id)
        await graph.consent.set(tx, person, "jobs", True, "privacy", 2)
    await to(clock, datetime(2027, 7, 15, 8, 1, tzinfo=UTC))
    await tick_and_send(app, sim, chat.chat_id, 6)
    question = [m for m in chat.messages if "12 maanden" in (m.text or "")][-1]
    replies = await chat.tap("Ik zoek werk", message=question)
    assert any("Je zoekt werk" in (m.text or "") for m in replies)
    leads = [i for i in await rows(app, DigestItem) if i.reason == "lead"]
    assert len(leads) == 1
    [conversation] = await rows(app, InboxConversation)
    assert conversation.topic == "aftercare" and conversation.context["reason"] == "looking"
    await chat.tap("Allebei anders", message=question)
    await chat.tap("Ja, graag", message=question)
    question = next(m for m in chat.messages if m.message_id == question.message_id)
    assert "nazorgteam neemt contact" in question.text
    m12 = (await checkins(app, alumnus.id))["m12"]
    assert m12.help_conversation_id == conversation.id
    graph.dispatcher.wake()
    await graph.dispatcher.idle()

    # After 24 months: something else, typed with words that need a person soon.
    await to(clock, datetime(2028, 7, 17, 8, 1, tzinfo=UTC))
    await tick_and_send(app, sim, chat.chat_id, len(chat.messages) + 1)
    await chat.tap("Iets anders")
    replies = await chat.say("Ik ben dakloos en weet het niet meer")
    assert any("113" in (m.text or "") for m in replies)
    [*_, urgent] = await rows(app, CheckinAnswer)
    assert urgent.escalated and urgent.text.startswith("Ik ben dakloos")
    # The conversation of "looking for work" was still open: joined, and now urgent (it was
    # once marked urgent only when the escalation opened a new one).
    [conversation] = await rows(app, InboxConversation)
    assert conversation.urgent_since == clock.now()
    notes = [m.text for m in await rows(app, InboxMessage) if m.direction == "system"]
    assert sum("MET VOORRANG" in (n or "") for n in notes) == 1

    # Every answer is history: nothing overwritten, one row per answer.
    answers = await rows(app, CheckinAnswer)
    assert [a.question for a in answers if a.checkin_id == planned["diploma"].id] == [
        "situation",
        "field",
        "level",
        "contract",
        "hours",
        "satisfied",
        "again",
        "help",
    ]
    statuses = {m: c.status for m, c in (await checkins(app, alumnus.id)).items()}
    assert statuses == {
        "diploma": "answered",
        "m3": "answered",
        "m6": "no_response",
        "m12": "answered",
        "m24": "answering",
    }
    asks = [r for r in await rows(app, OutboxMessage) if r.dedupe_key.startswith("checkin:")]
    assert sorted(r.dedupe_key.rsplit(":", 1)[1] for r in asks) == ["ask"] * 5 + ["remind"]
    assert {r.status for r in asks} == {"sent"}


async def test_joining_late_is_asked_within_the_grace_period_only(app, sim, clock):
    recent, recent_chat = await graduate(app, sim, year=2026, month=6)  # due 2 hours ago
    late, _ = await graduate(app, sim, year=2025, month=1)  # 17 months ago
    result = await tick_and_send(app, sim, recent_chat.chat_id, 1)
    assert result.asked == 1
    assert {m: c.status for m, c in (await checkins(app, recent.id)).items()} == {
        "diploma": "asked",
        "m3": "scheduled",
        "m6": "scheduled",
        "m12": "scheduled",
        "m24": "scheduled",
    }
    past = await checkins(app, late.id)
    assert {m: (c.status, c.outcome) for m, c in past.items()} == {
        "diploma": ("skipped", "grace"),
        "m3": ("skipped", "grace"),
        "m6": ("skipped", "grace"),
        "m12": ("skipped", "grace"),
        "m24": ("scheduled", None),  # the series goes on from the next moment
    }


async def test_after_downtime_only_the_latest_due_check_in_is_sent(app, sim, clock):
    alumnus, chat = await graduate(app, sim)
    graph = app.bot_data.graph
    await graph.aftercare.tick()
    await to(clock, datetime(2027, 8, 1, 8, 0, tzinfo=UTC))  # down for a year
    result = await tick_and_send(app, sim, chat.chat_id, 1)
    found = await checkins(app, alumnus.id)
    assert (result.asked, result.skipped) == (1, 3)
    assert {m: (c.status, c.outcome) for m, c in found.items()} == {
        "diploma": ("skipped", "catch_up"),
        "m3": ("skipped", "catch_up"),
        "m6": ("skipped", "catch_up"),
        "m12": ("asked", None),
        "m24": ("scheduled", None),
    }
    assert len(chat.messages) == 1 and "12 maanden" in chat.last.text


async def test_quiet_hours_hold_a_check_in_due_at_night(app, sim, clock):
    _alumnus, _chat = await graduate(app, sim)
    await app.bot_data.graph.aftercare.tick()
    await to(clock, datetime(2026, 7, 15, 21, 0, tzinfo=UTC))  # 23:00 in Amsterdam
    assert (await app.bot_data.graph.aftercare.tick()).asked == 1
    [ask] = [r for r in await rows(app, OutboxMessage) if r.dedupe_key.endswith(":ask")]
    assert ask.not_before == datetime(2026, 7, 16, 6, 0, tzinfo=UTC)  # 08:00 the next day


async def test_a_restart_while_due_sends_each_check_in_once(app, sim, clock, settings):
    from bot.core.messenger import QueueOnlyMessenger
    from handlers.graph import build_graph, make_deps

    people = [await graduate(app, sim) for _ in range(3)]
    await app.bot_data.graph.aftercare.tick()
    await to(clock, DIPLOMA)
    # The first process queued the due check-ins and died before sending; a new one starts.
    assert (await app.bot_data.graph.aftercare.tick()).asked == 3
    deps = make_deps(settings, messenger=QueueOnlyMessenger("restart"), clock=clock)
    try:
        again = await build_graph(deps).aftercare.tick()
    finally:
        await deps.storage.dispose()
    assert again.asked == 0
    graph = app.bot_data.graph
    graph.dispatcher.wake()
    for _, chat in people:
        await sim.wait_for_bot_messages(chat.chat_id, 1)
    await graph.dispatcher.idle()
    assert [len(chat.messages) for _, chat in people] == [1, 1, 1]


async def test_withdrawing_consent_cancels_what_is_queued_and_stops_midway(app, sim, clock):
    alumnus, chat = await graduate(app, sim)
    other, other_chat = await graduate(app, sim)
    graph = app.bot_data.graph
    await graph.aftercare.tick()
    await to(clock, DIPLOMA)
    assert (await graph.aftercare.tick()).asked == 2
    await other_chat.say("/stop")  # before it went out: cancelled in the outbox
    graph.dispatcher.wake()
    await sim.wait_for_bot_messages(chat.chat_id, 1)
    await graph.dispatcher.idle()
    assert [m for m in other_chat.messages if "Wat doe je nu" in (m.text or "")] == []
    question = chat.last
    await chat.tap("Ik werk", message=question)
    await chat.say("/stop")  # half-way through the questions
    question = next(m for m in chat.messages if m.message_id == question.message_id)
    await chat.press(buttons(question)[0][1], question)  # refused: nothing stored
    await graph.aftercare.tick()
    found = [c for c in (await rows(app, Checkin)) if c.moment == "diploma"]
    assert {(c.alumnus_id, c.status, c.outcome) for c in found} == {
        (alumnus.id, "cancelled", "withdrawn"),
        (other.id, "cancelled", "withdrawn"),
    }
    async with graph.deps.storage.transaction() as tx:
        answers = (await tx.session.execute(select(CheckinAnswer))).scalars().all()
    assert [a.question for a in answers] == ["situation"]  # the tap after /stop: not stored


async def test_the_export_holds_the_check_ins_and_erasure_removes_them(app, sim, clock):
    _alumnus, chat = await graduate(app, sim)
    graph = app.bot_data.graph
    await graph.aftercare.tick()
    await to(clock, DIPLOMA)
    await tick_and_send(app, sim, chat.chat_id, 1)
    await chat.tap("Ik werk")
    replies = await chat.say("/mijngegevens")
    [document] = [m for m in replies if m.document]
    data = json.loads(sim.file_bytes(document.document["file_id"]))
    diploma = next(c for c in data["tables"]["checkin"] if c["moment"] == "diploma")
    [answer] = [a for a in data["tables"]["checkin_answer"] if a["checkin_id"] == diploma["id"]]
    assert answer["question"] == "situation"
    assert answer["value"] == "working"
    async with graph.deps.storage.transaction() as tx:
        person = await tx.alumni.by_chat(chat.chat_id)
        await graph.privacy.erase(tx, person)
    assert await rows(app, Checkin) == [] and await rows(app, CheckinAnswer) == []
