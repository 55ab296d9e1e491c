"""Business hours: when the school answers, and what "N business hours later" means."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class BusinessHours:
    """Opening days and hours in the school's time zone, minus holidays."""

    zone: ZoneInfo
    days: frozenset[int]
    opens: time
    closes: time
    holidays: frozenset[date]

    @classmethod
    def from_config(cls, data: dict[str, object], timezone: str) -> BusinessHours:
        """Build from the ``business_hours`` mapping of content/inbox.yaml."""
        days = data.get("days") or DAYS[:5]
        holidays = data.get("holidays") or []
        assert isinstance(days, list | tuple) and isinstance(holidays, list)
        return cls(
            zone=ZoneInfo(timezone),
            days=frozenset(DAYS.index(str(d)[:3].lower()) for d in days),
            opens=time.fromisoformat(str(data.get("open", "09:00"))),
            closes=time.fromisoformat(str(data.get("close", "17:00"))),
            holidays=frozenset(
                d if isinstance(d, date) else date.fromisoformat(str(d)) for d in holidays
            ),
        )

    def _working_day(self, day: date) -> bool:
        return day.weekday() in self.days and day not in self.holidays

    def is_open(self, moment: datetime) -> bool:
        """Return whether the school is open at ``moment``."""
        local = moment.astimezone(self.zone)
        return self._working_day(local.date()) and self.opens <= local.time() < self.closes

    def next_opening(self, moment: datetime) -> datetime:
        """Return ``moment`` if open, else when the school next opens (aware, school zone)."""
        local = moment.astimezone(self.zone)
        if self.is_open(local):
            return local
        day = local.date()
        if self._working_day(day) and local.time() < self.opens:
            return datetime.combine(day, self.opens, self.zone)
        for _ in range(60):
            day += timedelta(days=1)
            if self._working_day(day):
                return datetime.combine(day, self.opens, self.zone)
        raise ValueError("no working day in the next 60 days: check business_hours")

    def add(self, moment: datetime, hours: float) -> datetime:
        """Return the moment ``hours`` business hours after ``moment``."""
        remaining = timedelta(hours=hours)
        current = self.next_opening(moment)
        while True:
            closing = datetime.combine(current.date(), self.closes, self.zone)
            if current + remaining <= closing:
                return current + remaining
            remaining -= closing - current
            current = self.next_opening(closing)


def outside_quiet_hours(moment: datetime, timezone: str, start: int, end: int) -> datetime:
    """Return ``moment``, or when the quiet hours (``start`` to ``end``, school time) end."""
    local = moment.astimezone(ZoneInfo(timezone))
    quiet = (local.hour >= start or local.hour < end) if start > end else start <= local.hour < end
    if not quiet:
        return moment
    opening = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if opening <= local:
        opening += timedelta(days=1)
    return opening.astimezone(moment.tzinfo)
