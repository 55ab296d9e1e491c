"""Rows the tests start from: teams (with or without a staff forum), staff, alumni, offers."""

from __future__ import annotations

from datetime import timedelta

from bot.staff.service import StaffService
from storage.models import Alumnus, Offer, StaffMember, Team
from tests.console_fixtures import PASSWORD


async def add_team(app, code: str, chat_id: int | None = None) -> None:
    deps = app.bot_data.graph.deps
    async with deps.storage.transaction() as tx:
        tx.session.add(
            Team(code=code, name=code.upper(), chat_id=chat_id, created_at=deps.clock.now())
        )


async def add_alumnus(app, chat_id: int, purposes=("llo",), **profile) -> Alumnus:
    deps = app.bot_data.graph.deps
    consent = app.bot_data.graph.consent
    async with deps.storage.transaction() as tx:
        alumnus = await tx.alumni.create(chat_id, deps.clock.now())
        alumnus.locale = profile.pop("locale", "nl")
        alumnus.onboarded_at = deps.clock.now()
        for name, value in profile.items():
            setattr(alumnus, name, value)
        tx.alumni.save(alumnus, deps.clock.now())
        for purpose in purposes:
            await consent.set(tx, alumnus, purpose, True, "privacy", 1)
    return alumnus


async def new_offer(app, title: str = "Excel", **fields) -> int:
    deps = app.bot_data.graph.deps
    async with deps.storage.transaction() as tx:
        offer = Offer(
            **{
                "kind": "llo",
                "title": title,
                "body": "Vier avonden Excel.",
                "link": "https://example.org/excel",
                "created_at": deps.clock.now(),
                **fields,
            }
        )
        await tx.offers.add_offers([offer])
        assert offer.id is not None
        return offer.id


async def staff_team(app, sim, code: str = "nazorg", *, default: bool = True):
    """A team with a forum supergroup and one linked coordinator in it."""
    group = sim.create_group(title=f"Team {code}", supergroup=True, is_forum=True)
    coordinator = sim.create_user(first_name="Coördinator")
    await sim.add_bot_to_group(group, by=coordinator, as_admin=True)
    deps = app.bot_data.graph.deps
    now = deps.clock.now()
    async with deps.storage.transaction() as tx:
        team = await tx.teams.add(
            Team(
                code=code, name=code.title(), chat_id=group.id, is_default=default, created_at=now
            )
        )
        staff = await tx.staff.add(
            StaffMember(
                email=f"{code}@school.example",
                display_name=f"Coördinator {code}",
                role="coordinator",
                telegram_user_id=coordinator.id,
                created_at=now,
            )
        )
        await tx.teams.add_member(staff.id, team.id)
    return group, coordinator


async def two_teams(app, sim):
    """Team nazorg (default) with web coordinator Cor, team llo with web coordinator Lia."""
    nazorg, _ = await staff_team(app, sim, "nazorg")
    llo, _ = await staff_team(app, sim, "llo", default=False)
    deps = app.bot_data.graph.deps
    service = StaffService(deps.storage, deps.clock)
    await service.add_staff(
        "cor@school.example", "Cor Coördinator", "coordinator", PASSWORD, ["nazorg"]
    )
    await service.add_staff("lia@school.example", "Lia Llo", "coordinator", PASSWORD, ["llo"])
    return nazorg, llo


async def hold_in_digest(app, alumnus_id: int) -> None:
    """Put an offer in the alumnus' digest, as the push cap does."""
    deps = app.bot_data.graph.deps
    campaign = await app.bot_data.graph.campaigns.create(await new_offer(app))
    async with deps.storage.transaction() as tx:
        await tx.offers.hold_for_digest(
            [
                {
                    "alumnus_id": alumnus_id,
                    "campaign_id": campaign.id,
                    "offer_id": campaign.offer_id,
                    "purpose": "llo",
                    "reason": "cap",
                    "due_at": deps.clock.now() + timedelta(days=7),
                    "created_at": deps.clock.now(),
                }
            ]
        )
