"""Aftercare's send-time rules, registered with the dispatcher like the campaigns' policy.

One question per moment and at most one reminder (the outbox keys make them unique; here a
question or reminder of a check-in closed meanwhile is dropped), and never two moments in
one week: a question whose person was asked another moment within ``min_days_between``
days is not sent, and that check-in is recorded as skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.aftercare.schedule import Schedule
from bot.delivery.dispatcher import Verdict
from storage.aftercare import OPEN
from storage.models import CheckinStatus, OutboxMessage, OutboxStatus
from storage.repositories import Tx


class AftercarePolicy:
    """Screens check-in questions and reminders when they are about to be sent."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule

    async def screen(
        self, tx: Tx, rows: Sequence[OutboxMessage], now: datetime
    ) -> dict[int | None, Verdict]:
        """Drop what a closed check-in no longer needs, and a second moment in a week."""
        mine = [r for r in rows if r.payload.get("kind") == "checkin"]
        if not mine:
            return {}
        checkins = await tx.aftercare.statuses(int(r.payload["checkin"]) for r in mine)
        recent = await tx.aftercare.asked_since(
            {r.alumnus_id for r in mine if r.alumnus_id is not None},
            now - self.schedule.min_between,
        )
        verdicts: dict[int | None, Verdict] = {}
        too_close: list[int] = []
        for r in mine:
            checkin = checkins.get(int(r.payload["checkin"]))
            if checkin is None or checkin.status not in OPEN:
                verdicts[r.id] = (OutboxStatus.CANCELLED, "check-in closed")
            elif r.payload.get("step") == "remind":
                if checkin.status != CheckinStatus.REMINDED.value:
                    verdicts[r.id] = (OutboxStatus.CANCELLED, "answered meanwhile")
            elif any(other != checkin.id for other in recent.get(r.alumnus_id or 0, [])):
                verdicts[r.id] = (OutboxStatus.CANCELLED, "another check-in this week")
                assert checkin.id is not None
                too_close.append(checkin.id)
        await tx.aftercare.skip(too_close, "week", now)
        return verdicts
