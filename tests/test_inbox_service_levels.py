"""Service levels of the inbox: reminders after N business hours, the out-of-office reply."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.hours import BusinessHours
from bot.core.settings import CONTENT_DIR
from bot.inbox.service import Reminders
from storage.models import InboxConversation, InboxMessage, OutboxMessage
from tests.chat import Chat, ask, staff_says, texts_in
from tests.factories import add_alumnus, staff_team
from tests.harness import polling_app, processed_of, rows, settle

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
REMINDER = "Herinnering:"
AWAY = "Het is nu buiten kantoortijd. We lezen je bericht"


@pytest.fixture
def settings(settings):
    # Group pacing off (tested in test_dispatch and test_inbox_bursts).
    return settings.model_copy(update={"group_messages_per_minute": 6000.0})


def at(clock, year: int, month: int, day: int, hour: int, minute: int = 0) -> None:
    """Move the frozen clock forward to a moment in the school's time zone."""
    moment = datetime(year, month, day, hour, minute, tzinfo=AMSTERDAM).astimezone(UTC)
    assert moment >= clock.now(), "the clock only moves forward"
    clock.advance(moment - clock.now())


async def alumnus(app, sim, first_name: str = "Sanne", locale: str = "nl") -> Chat:
    user = sim.create_user(first_name=first_name, language_code=locale)
    await add_alumnus(app, user.id, first_name=first_name, graduation_year=2025, locale=locale)
    return Chat(sim, processed_of(app), user)


async def run_reminder_job(app) -> None:
    """Run the JobQueue's reminder job now (as its interval would), then send what it queued."""
    [job] = app.job_queue.get_jobs_by_name("inbox_reminders")
    await job.run(app)
    await settle(app)


def reminders_in(sim, group, thread) -> list[str]:
    return [t for t in texts_in(sim, group, thread) if REMINDER in t]


async def follow_up(app, chat: Chat, text: str) -> None:
    await chat.say(text)
    await settle(app)


# ---------------------------------------------------------------------------- business hours


def test_business_hours_skip_evenings_weekends_and_holidays():
    hours = BusinessHours.from_config(
        {"open": "09:00", "close": "17:00", "holidays": ["2026-12-25"]}, "Europe/Amsterdam"
    )
    friday = datetime(2026, 6, 19, 16, 55, tzinfo=AMSTERDAM)
    assert hours.add(friday, 8) == datetime(2026, 6, 22, 16, 55, tzinfo=AMSTERDAM)  # Monday
    christmas_eve = datetime(2026, 12, 24, 16, 0, tzinfo=AMSTERDAM)  # then a holiday, a weekend
    assert hours.add(christmas_eve, 8) == datetime(2026, 12, 28, 16, 0, tzinfo=AMSTERDAM)
    saturday = datetime(2026, 6, 20, 23, 0, tzinfo=AMSTERDAM)
    assert hours.add(saturday, 2) == datetime(2026, 6, 22, 11, 0, tzinfo=AMSTERDAM)


def test_reminder_settings_per_team_with_a_default():
    reminders = Reminders.from_config(
        {"reminder_after_hours": 8, "reminder_after_hours_by_team": {"examenbureau": 16}}
    )
    assert (reminders.after("nazorg"), reminders.after("examenbureau")) == (8.0, 16.0)
    assert reminders.shortest == 8.0
    assert Reminders.from_config({}).after("x") == 8.0


# ---------------------------------------------------------------------------- reminders


async def test_a_friday_question_is_reminded_on_monday_afternoon_once(app, sim, clock):
    group, coordinator = await staff_team(app, sim)
    chat = await alumnus(app, sim)
    at(clock, 2026, 6, 19, 16, 55)  # Friday, five minutes before closing
    await ask(chat, "Kan ik mijn diploma laten waarderen?")
    await settle(app)
    [thread] = sim.topics(group)

    at(clock, 2026, 6, 20, 12)  # Saturday: no business hours pass
    await run_reminder_job(app)
    at(clock, 2026, 6, 22, 16, 50)  # Monday, 7 h 55 min of business hours later: not yet
    await run_reminder_job(app)
    assert reminders_in(sim, group, thread) == []

    at(clock, 2026, 6, 22, 16, 56)  # 8 business hours have passed
    await run_reminder_job(app)
    [reminder] = reminders_in(sim, group, thread)
    assert "meer dan 8 werkuren" in reminder and "sinds vrijdag 16:55" in reminder
    conversation = (await rows(app, InboxConversation))[0]
    assert conversation.reminded_at == clock.now()
    assert any(
        m.direction == "system" and REMINDER in m.text for m in await rows(app, InboxMessage)
    )

    # Once per unanswered stretch: running again, or a follow-up in the same stretch, adds none.
    await run_reminder_job(app)
    await follow_up(app, chat, "Hallo? Ik hoor graag van jullie.")
    at(clock, 2026, 6, 24, 12)
    await run_reminder_job(app)
    assert len(reminders_in(sim, group, thread)) == 1

    # An answer ends the stretch; the next message starts a new one, reminded again later.
    await staff_says(sim, app, coordinator, group, thread, "Ja, dat kan. Ik stuur je een link.")
    at(clock, 2026, 6, 24, 12, 5)
    await follow_up(app, chat, "Welke link?")
    at(clock, 2026, 6, 25, 12, 4)  # 7 h 59 min of business hours
    await run_reminder_job(app)
    assert len(reminders_in(sim, group, thread)) == 1
    at(clock, 2026, 6, 25, 12, 6)
    await run_reminder_job(app)
    latest = reminders_in(sim, group, thread)
    assert len(latest) == 2 and "sinds woensdag 12:05" in latest[1]


async def test_an_answered_conversation_is_not_reminded(app, sim, clock):
    group, coordinator = await staff_team(app, sim)
    chat = await alumnus(app, sim)
    await ask(chat, "Vraag")
    await settle(app)
    [thread] = sim.topics(group)
    await staff_says(sim, app, coordinator, group, thread, "Antwoord")
    clock.advance(timedelta(days=7))
    await run_reminder_job(app)
    assert reminders_in(sim, group, thread) == []
    assert (await rows(app, InboxConversation))[0].reminded_at is None


async def test_a_team_can_have_its_own_reminder_hours(settings, sim, clock, tmp_path):
    content = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, content)
    config = content / "inbox.yaml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "reminder_after_hours_by_team: {}", "reminder_after_hours_by_team: {nazorg: 2}"
        ),
        encoding="utf-8",
    )

    async with polling_app(settings.model_copy(update={"content_dir": content}), clock) as app:
        group, _ = await staff_team(app, sim)
        chat = await alumnus(app, sim)
        at(clock, 2026, 6, 15, 13)  # Monday 13:00
        await ask(chat, "Snelle vraag")
        await settle(app)
        [thread] = sim.topics(group)
        at(clock, 2026, 6, 15, 14, 59)
        await run_reminder_job(app)
        assert reminders_in(sim, group, thread) == []
        at(clock, 2026, 6, 15, 15, 1)
        await run_reminder_job(app)
        [reminder] = reminders_in(sim, group, thread)
        assert "meer dan 2 werkuren" in reminder


# ---------------------------------------------------------------------------- out of office


def away_notices(chat: Chat) -> list[str]:
    return [m.text for m in chat.messages if m.text and AWAY in m.text]


async def test_out_of_office_reply_at_most_once_a_day_per_conversation(app, sim, clock):
    await staff_team(app, sim)
    chat = await alumnus(app, sim)
    at(clock, 2026, 6, 20, 14)  # Saturday
    await chat.say("Vraag in het weekend")
    ack = await chat.tap("Iets anders")
    # The acknowledgement of a new question already says when the school is back: that is
    # today's out-of-office reply, not a second message saying the same.
    assert "buiten kantoortijd" in ack[-1].text and "maandag 09:00" in ack[-1].text
    await follow_up(app, chat, "En nog iets")
    assert away_notices(chat) == []
    assert "Toegevoegd aan je vraag" in chat.last.text

    at(clock, 2026, 6, 21, 10)  # Sunday: a new day, one reply
    await follow_up(app, chat, "Zondag nog een vraag")
    await follow_up(app, chat, "En nog een")
    await sim.user_sends_media(chat.user, kind="photo", caption="een foto")
    await processed_of(app).wait(sim.last_update_id)
    await settle(app)
    assert away_notices(chat) == [
        f"{AWAY} morgen vanaf 09:00 uur en antwoorden dan hier in dit gesprek."
    ]

    at(clock, 2026, 6, 22, 10)  # Monday, open: none
    await follow_up(app, chat, "Goedemorgen")
    assert len(away_notices(chat)) == 1
    at(clock, 2026, 6, 22, 19)  # Monday evening: back tomorrow
    await follow_up(app, chat, "Nog even dit")
    assert away_notices(chat)[1:] == [
        f"{AWAY} morgen vanaf 09:00 uur en antwoorden dan hier in dit gesprek."
    ]
    conversation = (await rows(app, InboxConversation))[0]
    assert conversation.away_notice_on == date(2026, 6, 22)
    # Nothing was lost: every message of the alumnus is in the conversation.
    incoming = [m for m in await rows(app, InboxMessage) if m.direction == "in"]
    assert len(incoming) == 7
    notices = [r for r in await rows(app, OutboxMessage) if ":away:" in r.dedupe_key]
    assert sorted(r.status for r in notices) == ["sent", "sent"]


async def test_out_of_office_reply_in_the_alumnus_language(app, sim, clock):
    await staff_team(app, sim)
    chat = await alumnus(app, sim, "Alex", locale="en")
    await chat.say("Question")
    await chat.tap("Something else")
    at(clock, 2026, 12, 24, 18)  # Christmas Eve evening; Christmas and a weekend follow
    await follow_up(app, chat, "One more thing")
    assert [m.text for m in chat.messages if "We are closed right now" in m.text] == [
        "We are closed right now. We will read your message from Monday 09:00 and answer here"
        " in this chat."
    ]
