"""When an alumnus' digest goes out: the one schedule for cap overflow and matching offers.

Pure functions of time and settings; the digest itself is built by ``CampaignService``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.settings import Settings
from storage.models import OfferFrequency

CAP_WINDOW = timedelta(days=7)


def _weekly_slot(local: datetime, weekday: int, hour: int) -> datetime:
    """The first ``weekday`` at ``hour`` at or after ``local``."""
    slot = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    slot += timedelta(days=(weekday - slot.weekday()) % 7)
    if slot < local:
        slot += timedelta(days=7)
    return slot


def _monthly_slot(local: datetime, weekday: int, hour: int) -> datetime:
    """The first ``weekday`` of a month at ``hour``, at or after ``local``."""
    first = local.replace(day=1, hour=hour, minute=0, second=0, microsecond=0)
    while True:
        slot = first + timedelta(days=(weekday - first.weekday()) % 7)
        if slot >= local:
            return slot
        first = (first + timedelta(days=32)).replace(day=1)


def next_digest(now: datetime, frequency: str | None, settings: Settings) -> datetime:
    """Return when an item held now reaches the alumnus: the next weekly or monthly digest.

    Alumni who chose a monthly digest get everything held monthly; everyone else weekly.
    Slots are on ``digest_weekday`` at ``digest_hour``, school time (never in quiet hours
    when that hour is outside them).
    """
    zone = ZoneInfo(settings.timezone)
    local = now.astimezone(zone)
    weekday, hour = settings.digest_weekday, settings.digest_hour
    if frequency == OfferFrequency.MONTHLY:
        slot = _monthly_slot(local, weekday, hour)
    else:
        slot = _weekly_slot(local, weekday, hour)
    # Rebuild in the zone: a slot across a DST change keeps its wall-clock hour.
    wall = datetime(slot.year, slot.month, slot.day, slot.hour, tzinfo=zone)
    return wall.astimezone(UTC)
