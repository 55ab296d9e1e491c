"""The check-in schedule, read from content/aftercare.yaml (school-editable)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml


@dataclass(frozen=True)
class Moment:
    """A check-in moment: a number of months after the graduation date."""

    code: str
    months: int


@dataclass(frozen=True)
class Schedule:
    """content/aftercare.yaml."""

    moments: tuple[Moment, ...]
    day: int = 15
    hour: int = 10
    default_month: int = 7
    grace: timedelta = timedelta(days=30)
    reminder_after: timedelta = timedelta(days=7)
    no_response_after: timedelta = timedelta(days=7)
    min_between: timedelta = timedelta(days=7)
    topic: str = "aftercare"
    max_leads: int = 5
    batch_size: int = 20000

    @classmethod
    def load(cls, path: Path) -> Schedule:
        """Read the schedule; refuse codes used twice or moments out of order."""
        data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        moments = tuple(
            Moment(str(m["code"]), int(m["months"])) for m in data.get("moments") or []
        )
        codes = [m.code for m in moments]
        if len(set(codes)) != len(codes) or any(len(c) > 16 for c in codes):
            raise ValueError("aftercare.yaml: moment codes must be unique, at most 16 letters")
        if [m.months for m in moments] != sorted(m.months for m in moments):
            raise ValueError("aftercare.yaml: list the moments in order")

        def days(name: str, default: int) -> timedelta:
            return timedelta(days=float(data.get(name, default)))

        return cls(
            moments=moments,
            day=int(data.get("day", 15)),
            hour=int(data.get("hour", 10)),
            default_month=int(data.get("default_month", 7)),
            grace=days("grace_days", 30),
            reminder_after=days("reminder_after_days", 7),
            no_response_after=days("no_response_after_days", 7),
            min_between=days("min_days_between", 7),
            topic=str(data.get("topic", "aftercare")),
            max_leads=int(data.get("max_leads", 5)),
            batch_size=int(data.get("batch_size", 20000)),
        )

    @property
    def version(self) -> str:
        """A short hash of what decides due times: changed -> plan everything again."""
        shape = [[m.code, m.months] for m in self.moments], self.day, self.hour, self.default_month
        return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:16]

    def due_at(self, year: int, month: int, moment: Moment, timezone: str) -> datetime:
        """When ``moment`` is due for a graduation in ``year``/``month`` (aware, UTC)."""
        index = year * 12 + (month - 1) + moment.months
        due_year, due_month = divmod(index, 12)
        day = min(self.day, 28)
        local = datetime.combine(
            datetime(due_year, due_month + 1, day).date(),  # noqa: DTZ001 (a date only)
            time(self.hour),
            ZoneInfo(timezone),
        )
        return local.astimezone(ZoneInfo("UTC"))
