"""The out-of-office words say when the team is back as a person would: today, tomorrow, a day."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.core.clock import FrozenClock
from bot.core.messenger import QueueOnlyMessenger
from bot.core.settings import Settings
from handlers.graph import build_graph, make_deps

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.mark.parametrize(
    ("moment", "nl", "en"),
    [
        # Monday 07:00: back the same morning, not "vanaf maandag" (which reads as next week).
        (
            datetime(2026, 11, 30, 7, 0, tzinfo=AMSTERDAM),
            "We antwoorden vanaf 09:00 uur,",
            "from 09:00 today",
        ),
        # Monday evening: tomorrow.
        (
            datetime(2026, 11, 30, 20, 0, tzinfo=AMSTERDAM),
            "morgen vanaf 09:00 uur",
            "tomorrow from 09:00",
        ),
        # Friday evening: Monday.
        (
            datetime(2026, 12, 4, 20, 0, tzinfo=AMSTERDAM),
            "vanaf maandag 09:00 uur",
            "from Monday 09:00",
        ),
    ],
)
async def test_the_away_words_name_today_tomorrow_or_the_day(
    settings: Settings, moment: datetime, nl: str, en: str
) -> None:
    clock = FrozenClock(moment)
    deps = make_deps(settings, messenger=QueueOnlyMessenger("the test"), clock=clock)
    try:
        inbox = build_graph(deps).inbox
        assert nl in inbox.acknowledgement("nl", new=True)
        assert en in inbox.acknowledgement("en", new=True)
    finally:
        await deps.storage.dispose()
