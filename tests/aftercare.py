"""Helpers of the aftercare tests: a graduate, their check-ins, moving the clock."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import col, select

from storage.models import Checkin
from tests.chat import Chat
from tests.factories import add_alumnus
from tests.harness import processed_of

# 15 July 2026, 10:00 in Amsterdam: the diploma moment of a July 2026 graduate.
DIPLOMA = datetime(2026, 7, 15, 8, 0, tzinfo=UTC)


async def graduate(app, sim, year=2026, month=7, purposes=("aftercare",), **profile):
    """A consenting graduate of ``year``/``month`` and their chat."""
    user = sim.create_user(first_name="Sanne")
    alumnus = await add_alumnus(
        app,
        user.id,
        purposes=purposes,
        first_name="Sanne",
        crebo=profile.pop("crebo", "25180"),
        level=profile.pop("level", 4),
        graduation_year=year,
        graduation_month=month,
        **profile,
    )
    return alumnus, Chat(sim, processed_of(app), user)


async def checkins(app, alumnus_id: int | None = None) -> dict[str, Checkin]:
    async with app.bot_data.graph.deps.storage.transaction() as tx:
        query = select(Checkin)
        if alumnus_id is not None:
            query = query.where(col(Checkin.alumnus_id) == alumnus_id)
        return {c.moment: c for c in (await tx.session.execute(query)).scalars()}


async def to(clock, moment: datetime) -> None:
    clock.advance(moment - clock.now())
