"""Offers, campaigns, responses and the audience query."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, exists, func, literal_column, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from storage.db import insert_for, is_postgres
from storage.models import Alumnus, Campaign, ConsentEvent, Offer, OfferResponse, Team


@dataclass(frozen=True)
class Segment:
    """Who a campaign is for. Empty lists mean "anyone"; the purpose is never optional."""

    purpose: str
    crebos: list[str] = field(default_factory=list)
    levels: list[int] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    situations: list[str] = field(default_factory=list)
    sectors: list[str] = field(default_factory=list)
    interests: list[str] = field(default_factory=list)
    cohort_from: int | None = None
    cohort_to: int | None = None
    active_since: datetime | None = None


class OfferRepository:
    """Offers, campaigns and the alumni they reach."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # ------------------------------------------------------------------ offers, campaigns

    async def add_offers(self, offers: list[Offer]) -> None:
        """Insert offers (the caller validated them all first)."""
        self._session.add_all(offers)
        await self._session.flush()

    async def offer(self, offer_id: int) -> Offer | None:
        """Return one offer."""
        return await self._session.get(Offer, offer_id)

    async def offers(self) -> list[Offer]:
        """Return every offer, newest first."""
        result = await self._session.execute(select(Offer).order_by(col(Offer.id).desc()))
        return list(result.scalars())

    async def add_campaign(self, campaign: Campaign) -> Campaign:
        """Insert a campaign and return it with its id."""
        self._session.add(campaign)
        await self._session.flush()
        return campaign

    async def campaign(self, campaign_id: int) -> Campaign | None:
        """Return one campaign."""
        return await self._session.get(Campaign, campaign_id)

    async def set_campaign(self, campaign_id: int, **values: Any) -> None:
        """Update columns of a campaign."""
        await self._session.execute(
            update(Campaign).where(col(Campaign.id) == campaign_id).values(**values)
        )

    async def respond(self, campaign_id: int, alumnus_id: int, kind: str, now: datetime) -> bool:
        """Record an interest or opt-out tap once; False if it was recorded before."""
        insert = insert_for(self._session)
        result = await self._session.execute(
            insert(OfferResponse)
            .values(campaign_id=campaign_id, alumnus_id=alumnus_id, kind=kind, at=now)
            .on_conflict_do_nothing()
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def responses(self, campaign_id: int) -> dict[str, int]:
        """Return taps per kind for a campaign."""
        result = await self._session.execute(
            select(col(OfferResponse.kind), func.count())
            .where(col(OfferResponse.campaign_id) == campaign_id)
            .group_by(col(OfferResponse.kind))
        )
        return {kind: int(n) for kind, n in result.all()}

    async def team_codes(self) -> set[str]:
        """Return the codes of every team (for validating an offer's contact team)."""
        return set((await self._session.execute(select(col(Team.code)))).scalars())

    # ------------------------------------------------------------------ audience

    def audience(self, segment: Segment) -> Select[int | None, int, str | None]:
        """Select (id, chat_id, locale) of onboarded, reachable, consenting alumni in a segment."""
        # The latest consent event of this purpose must be a grant. Both subqueries are
        # correlated to the outer alumnus explicitly: nested under EXISTS, automatic
        # correlation would not reach it and the query would count everyone.
        latest = aliased(ConsentEvent)
        newest_id = (
            select(func.max(col(latest.id)))
            .where(
                col(latest.alumnus_id) == col(Alumnus.id), col(latest.purpose) == segment.purpose
            )
            .correlate(Alumnus)
            .scalar_subquery()
        )
        consenting = (
            select(col(ConsentEvent.id))
            .where(col(ConsentEvent.id) == newest_id, col(ConsentEvent.granted).is_(True))
            .correlate(Alumnus)
            .exists()
        )
        conditions: list[Any] = [
            col(Alumnus.onboarded_at).is_not(None),
            col(Alumnus.unreachable_since).is_(None),
            consenting,
        ]
        for column, values in (
            (Alumnus.crebo, segment.crebos),
            (Alumnus.level, segment.levels),
            (Alumnus.location, segment.locations),
            (Alumnus.region, segment.regions),
            (Alumnus.situation, segment.situations),
            (Alumnus.sector, segment.sectors),
        ):
            if values:
                conditions.append(col(column).in_(values))
        if segment.cohort_from is not None:
            conditions.append(col(Alumnus.graduation_year) >= segment.cohort_from)
        if segment.cohort_to is not None:
            conditions.append(col(Alumnus.graduation_year) <= segment.cohort_to)
        if segment.active_since is not None:
            conditions.append(col(Alumnus.last_seen_at) >= segment.active_since)
        if segment.interests:
            conditions.append(self._any_interest(segment.interests))
        return (
            select(col(Alumnus.id), col(Alumnus.chat_id), col(Alumnus.locale))
            .where(and_(*conditions))
            .order_by(col(Alumnus.id))
        )

    def _any_interest(self, interests: list[str]) -> Any:
        """Alumni whose JSON list of interests holds any of these codes."""
        if is_postgres(self._session):
            return text("CAST(alumnus.interests AS jsonb) ?| :interests").bindparams(
                interests=list(interests)
            )
        each = func.json_each(col(Alumnus.interests)).table_valued("value")
        return exists(
            select(literal_column("1")).select_from(each).where(each.c.value.in_(interests))
        )

    async def count(self, segment: Segment) -> int:
        """Return how many alumni a segment reaches now."""
        query = select(func.count()).select_from(self.audience(segment).subquery())
        return int((await self._session.execute(query)).scalar_one())

    async def page(
        self, segment: Segment, after_id: int, limit: int = 1000
    ) -> list[tuple[int, int, str | None]]:
        """Return the next ``limit`` recipients with an id above ``after_id`` (keyset paging)."""
        query = self.audience(segment).where(col(Alumnus.id) > after_id).limit(limit)
        result = await self._session.execute(query)
        return [(int(row[0] or 0), int(row[1]), row[2]) for row in result.all()]
