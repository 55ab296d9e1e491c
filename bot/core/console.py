"""What the console's services have in common (the inbox's Desk, the campaigns' Studio)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.core.settings import Settings


class ConsoleService:
    """The school's time zone for showing times, and the outbox dispatcher's wake-up."""

    def __init__(self, settings: Settings, wake: Callable[[], None] | None) -> None:
        self.zone = ZoneInfo(settings.timezone)
        self._wake = wake

    def wake(self) -> None:
        """Ask the outbox dispatcher to send what an action queued, now."""
        if self._wake is not None:
            self._wake()

    def when(self, moment: datetime | None) -> str:
        """Format a time in the school's time zone."""
        if moment is None:
            return ""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")
