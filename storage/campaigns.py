"""Offers, campaigns, responses, saved segments and the audience query."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    Select,
    and_,
    delete,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from storage.db import insert_for, is_postgres
from storage.models import (
    Alumnus,
    Campaign,
    CampaignStatus,
    ConsentEvent,
    DigestItem,
    Offer,
    OfferResponse,
    OutboxMessage,
    OutboxStatus,
    SavedSegment,
    Team,
)

# Outbox states of a push that reached, or may reach, its person.
REACHING = (
    OutboxStatus.PENDING.value,
    OutboxStatus.SENDING.value,
    OutboxStatus.SENT.value,
    OutboxStatus.UNKNOWN.value,
)


@dataclass(frozen=True)
class Segment:
    """Who a campaign is for. Empty lists mean "anyone"; the purpose is never optional."""

    # The list filters a coordinator chooses (the console's composer, the CLI, saved segments).
    LISTS: ClassVar[tuple[str, ...]] = (
        "crebos",
        "levels",
        "locations",
        "regions",
        "situations",
        "sectors",
        "interests",
    )

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
    # Personal matching: only alumni who chose one of these offer frequencies.
    frequencies: list[str] = field(default_factory=list)


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

    async def update_offer(self, offer_id: int, **values: Any) -> bool:
        """Change columns of an offer that is not withdrawn; False if there is none such."""
        result = await self._session.execute(
            update(Offer)
            .where(col(Offer.id) == offer_id, col(Offer.withdrawn_at).is_(None))
            .values(**values)
        )
        return bool(getattr(result, "rowcount", 0))

    async def withdrawn(self, offer_ids: Iterable[int]) -> set[int]:
        """Return which of these offers are withdrawn."""
        wanted = set(offer_ids)
        if not wanted:
            return set()
        result = await self._session.execute(
            select(col(Offer.id)).where(
                col(Offer.id).in_(wanted), col(Offer.withdrawn_at).is_not(None)
            )
        )
        return {int(i) for i in result.scalars() if i is not None}

    async def recent_campaigns(self, limit: int = 200) -> list[Campaign]:
        """Return the newest campaigns (the console's list)."""
        result = await self._session.execute(
            select(Campaign).order_by(col(Campaign.id).desc()).limit(limit)
        )
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

    async def move_campaign(
        self,
        campaign_id: int,
        from_statuses: Sequence[str],
        to_status: str,
        *,
        launched_before: datetime | None = None,
        **values: Any,
    ) -> bool:
        """Change a campaign's status only if it is in ``from_statuses`` (compare-and-set).

        The single UPDATE is atomic, so of two processes racing for the same move exactly
        one sees True. ``launched_before`` also requires an older ``launched_at``.
        """
        conditions = [
            col(Campaign.id) == campaign_id,
            col(Campaign.status).in_(list(from_statuses)),
        ]
        if launched_before is not None:
            conditions.append(col(Campaign.launched_at) < launched_before)
        result = await self._session.execute(
            update(Campaign).where(*conditions).values(status=to_status, **values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def due_campaigns(self, now: datetime, stale_before: datetime) -> list[Campaign]:
        """Scheduled campaigns whose time has come, and launches abandoned by a dead process."""
        result = await self._session.execute(
            select(Campaign)
            .where(
                (
                    (col(Campaign.status) == CampaignStatus.SCHEDULED.value)
                    & (col(Campaign.send_at) <= now)
                )
                | (
                    (col(Campaign.status) == CampaignStatus.LAUNCHING.value)
                    & (col(Campaign.launched_at) < stale_before)
                )
            )
            .order_by(col(Campaign.id))
        )
        return list(result.scalars())

    async def campaign_states(self, ids: Iterable[int]) -> dict[int, tuple[str, int]]:
        """Return (status, offer id) of these campaigns."""
        wanted = set(ids)
        if not wanted:
            return {}
        result = await self._session.execute(
            select(col(Campaign.id), col(Campaign.status), col(Campaign.offer_id)).where(
                col(Campaign.id).in_(wanted)
            )
        )
        return {int(i or 0): (status, int(offer)) for i, status, offer in result.all()}

    async def with_open_pushes(self, ids: Iterable[int]) -> set[int]:
        """Return which of these campaigns still have pushes waiting or in flight."""
        wanted = set(ids)
        if not wanted:
            return set()
        result = await self._session.execute(
            select(col(OutboxMessage.campaign_id))
            .where(
                col(OutboxMessage.campaign_id).in_(wanted),
                col(OutboxMessage.status).in_(
                    [OutboxStatus.PENDING.value, OutboxStatus.SENDING.value]
                ),
            )
            .distinct()
        )
        return {int(i) for i in result.scalars() if i is not None}

    async def alumnus(self, alumnus_id: int) -> Alumnus | None:
        """Return one alumnus (for their digest)."""
        return await self._session.get(Alumnus, alumnus_id)

    async def frequencies(self, alumni: Iterable[int]) -> dict[int, str | None]:
        """Return each alumnus' chosen frequency for matching offers."""
        ids = set(alumni)
        if not ids:
            return {}
        result = await self._session.execute(
            select(col(Alumnus.id), col(Alumnus.offer_frequency)).where(col(Alumnus.id).in_(ids))
        )
        return {int(a or 0): f for a, f in result.all()}

    # ------------------------------------------------------------------ digests

    async def hold_for_digest(self, items: Sequence[dict[str, Any]]) -> int:
        """Add offers to alumni's digests; one per (alumnus, campaign). Return how many new."""
        if not items:
            return 0
        insert = insert_for(self._session)
        result = await self._session.execute(
            insert(DigestItem)
            .values(list(items))
            .on_conflict_do_nothing(index_elements=["alumnus_id", "campaign_id"])
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def in_digest(self, alumnus_id: int, campaign_id: int) -> bool:
        """Return whether this campaign's offer was held for this alumnus' digest."""
        result = await self._session.execute(
            select(col(DigestItem.id)).where(
                col(DigestItem.alumnus_id) == alumnus_id,
                col(DigestItem.campaign_id) == campaign_id,
            )
        )
        return result.first() is not None

    async def digest_due(self, now: datetime, limit: int = 500) -> list[int]:
        """Return alumni with at least one digest item due and not yet sent."""
        result = await self._session.execute(
            select(col(DigestItem.alumnus_id))
            .where(col(DigestItem.digest_key).is_(None), col(DigestItem.due_at) <= now)
            .group_by(col(DigestItem.alumnus_id))
            .order_by(col(DigestItem.alumnus_id))
            .limit(limit)
        )
        return [int(a) for a in result.scalars()]

    async def digest_items(
        self, alumnus_id: int, limit: int
    ) -> list[tuple[DigestItem, Offer, str]]:
        """Lock and return an alumnus' waiting items (all of them, due or not), oldest first.

        Returns (item, offer, campaign status). On PostgreSQL the rows are locked (SKIP
        LOCKED): two processes building the same digest never both get them.
        """
        query = (
            select(DigestItem, Offer, col(Campaign.status))
            .join(Offer, col(Offer.id) == col(DigestItem.offer_id))
            .join(Campaign, col(Campaign.id) == col(DigestItem.campaign_id))
            .where(col(DigestItem.alumnus_id) == alumnus_id, col(DigestItem.digest_key).is_(None))
            .order_by(col(DigestItem.id))
            .limit(limit)
        )
        if is_postgres(self._session):
            query = query.with_for_update(skip_locked=True, of=DigestItem)
        result = await self._session.execute(query)
        return [(item, offer, status) for item, offer, status in result.all()]

    async def digest_items_of(self, alumnus_id: int) -> list[DigestItem]:
        """Return every digest item of an alumnus, waiting or sent (for their export)."""
        result = await self._session.execute(
            select(DigestItem)
            .where(col(DigestItem.alumnus_id) == alumnus_id)
            .order_by(col(DigestItem.id))
        )
        return list(result.scalars())

    async def purge_digested(self, before: datetime) -> int:
        """Delete digest items already handled (sent in a digest, or dropped) due before then."""
        result = await self._session.execute(
            delete(DigestItem).where(
                col(DigestItem.digest_key).is_not(None), col(DigestItem.due_at) < before
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def mark_digested(self, ids: Sequence[int], key: str) -> None:
        """Record which digest carried these items."""
        if ids:
            await self._session.execute(
                update(DigestItem).where(col(DigestItem.id).in_(list(ids))).values(digest_key=key)
            )

    async def drop_waiting(self, campaign_id: int) -> int:
        """Remove a campaign's offers from digests not yet sent (the campaign was cancelled)."""
        result = await self._session.execute(
            delete(DigestItem).where(
                col(DigestItem.campaign_id) == campaign_id, col(DigestItem.digest_key).is_(None)
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def digest_counts(self, campaign_id: int) -> dict[str, int]:
        """Return a campaign's digest items: waiting and sent."""
        result = await self._session.execute(
            select(col(DigestItem.digest_key).is_(None), func.count())
            .where(col(DigestItem.campaign_id) == campaign_id)
            .group_by(col(DigestItem.digest_key).is_(None))
        )
        counts = {"waiting": 0, "digested": 0}
        for waiting, n in result.all():
            counts["waiting" if waiting else "digested"] += int(n)
        return counts

    async def respond(self, campaign_id: int, alumnus_id: int, kind: str, now: datetime) -> bool:
        """Record an interest or opt-out tap once; False if it was recorded before."""
        insert = insert_for(self._session)
        result = await self._session.execute(
            insert(OfferResponse)
            .values(campaign_id=campaign_id, alumnus_id=alumnus_id, kind=kind, at=now)
            .on_conflict_do_nothing()
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def responses_of(self, alumnus_id: int) -> list[OfferResponse]:
        """Return one alumnus' taps on pushes (interest, opt-out), oldest first."""
        result = await self._session.execute(
            select(OfferResponse)
            .where(col(OfferResponse.alumnus_id) == alumnus_id)
            .order_by(col(OfferResponse.id))
        )
        return list(result.scalars())

    async def responses(self, campaign_id: int) -> dict[str, int]:
        """Return taps per kind for a campaign."""
        result = await self._session.execute(
            select(col(OfferResponse.kind), func.count())
            .where(col(OfferResponse.campaign_id) == campaign_id)
            .group_by(col(OfferResponse.kind))
        )
        return {kind: int(n) for kind, n in result.all()}

    async def open_offers(self, kinds: Sequence[str], today: Any, limit: int) -> list[Offer]:
        """Return the newest offers of these kinds whose deadline has not passed."""
        result = await self._session.execute(
            select(Offer)
            .where(
                col(Offer.kind).in_(list(kinds)),
                or_(col(Offer.deadline).is_(None), col(Offer.deadline) >= today),
            )
            .order_by(col(Offer.id).desc())
            .limit(limit)
        )
        return list(result.scalars())

    async def campaign_of_kind(self, offer_id: int, kind: str) -> Campaign | None:
        """Return the offer's campaign of one kind (the one that carries its leads)."""
        result = await self._session.execute(
            select(Campaign)
            .where(col(Campaign.offer_id) == offer_id, col(Campaign.kind) == kind)
            .order_by(col(Campaign.id))
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def team_codes(self) -> set[str]:
        """Return the codes of every team (for validating an offer's contact team)."""
        return set((await self._session.execute(select(col(Team.code)))).scalars())

    # ------------------------------------------------------------------ audience

    def audience(self, segment: Segment) -> Select[int | None, int, str | None, str | None]:
        """Select (id, chat_id, locale, offer frequency) of the consenting alumni in a segment.

        Only onboarded, reachable alumni whose latest consent for the purpose is a grant.
        """
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
        if segment.frequencies:
            conditions.append(col(Alumnus.offer_frequency).in_(segment.frequencies))
        return (
            select(
                col(Alumnus.id),
                col(Alumnus.chat_id),
                col(Alumnus.locale),
                col(Alumnus.offer_frequency),
            )
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

    def already_reached(
        self, offer_id: int, campaign_id: int | None = None, *, maybe: bool = True
    ) -> Any:
        """True for alumni whom another campaign already brought this offer.

        That is a push of it that is queued, in flight, sent or maybe sent, or the offer in
        their digest (waiting or sent with it). A push that was cancelled, refused or never
        went out does not count: a later campaign may bring the offer after all. With
        ``maybe=False`` a push whose delivery is unknown does not count either.
        """
        other = [col(Campaign.offer_id) == offer_id]
        if campaign_id is not None:
            other.append(col(Campaign.id) != campaign_id)
        statuses = REACHING if maybe else tuple(s for s in REACHING if s != OutboxStatus.UNKNOWN)
        pushed = (
            select(literal_column("1"))
            .select_from(OutboxMessage)
            .join(Campaign, col(Campaign.id) == col(OutboxMessage.campaign_id))
            .where(
                col(OutboxMessage.alumnus_id) == col(Alumnus.id),
                col(OutboxMessage.status).in_(statuses),
                *other,
            )
            .correlate(Alumnus)
            .exists()
        )
        held: Select[Any] = (
            select(literal_column("1"))
            .select_from(DigestItem)
            .where(
                col(DigestItem.alumnus_id) == col(Alumnus.id),
                col(DigestItem.offer_id) == offer_id,
            )
        )
        if campaign_id is not None:
            held = held.where(col(DigestItem.campaign_id) != campaign_id)
        return or_(pushed, held.correlate(Alumnus).exists())

    def maybe_reached(self, offer_id: int, campaign_id: int | None = None) -> Any:
        """True for alumni whom only a push of unknown delivery brought this offer.

        They count as already reached (a launch leaves them out, no blind resend), and every
        count that includes them says how many they are: the campaign of that push can send
        it again to them ("send again to these N").
        """
        return and_(
            self.already_reached(offer_id, campaign_id),
            ~self.already_reached(offer_id, campaign_id, maybe=False),
        )

    async def count(self, segment: Segment) -> int:
        """Return how many alumni a segment reaches now."""
        query = select(func.count()).select_from(self.audience(segment).subquery())
        return int((await self._session.execute(query)).scalar_one())

    async def reach(self, segment: Segment, offer_id: int) -> tuple[int, int, int]:
        """Return (new, already, maybe) for sending an offer to a segment now, in one scan.

        ``new``: who would get it; ``already``: the rest, whom a campaign already brought
        it (a launch leaves them out); ``maybe``: of those, the ones whom only a push of
        unknown delivery brought it.
        """
        audience = (
            self.audience(segment)
            .add_columns(
                self.already_reached(offer_id).label("had"),
                self.maybe_reached(offer_id).label("maybe"),
            )
            .subquery()
        )
        query = select(
            func.count(),
            func.count().filter(audience.c.had),
            func.count().filter(audience.c.maybe),
        )
        everyone, already, maybe = (await self._session.execute(query)).one()
        return int(everyone) - int(already), int(already), int(maybe)

    async def page(
        self,
        segment: Segment,
        after_id: int,
        limit: int = 1000,
        *,
        offer_id: int | None = None,
        campaign_id: int | None = None,
    ) -> list[tuple[int, int, str | None, str | None, bool, bool]]:
        """Return the next ``limit`` recipients with an id above ``after_id`` (keyset paging).

        Each is (alumnus id, chat id, locale, offer frequency, reached, maybe): ``reached``
        tells whether a campaign other than ``campaign_id`` already brought them ``offer_id``
        (always False without an offer), ``maybe`` whether only a push of unknown delivery
        did.
        """
        query: Any = self.audience(segment).where(col(Alumnus.id) > after_id).limit(limit)
        if offer_id is not None:
            query = query.add_columns(
                self.already_reached(offer_id, campaign_id).label("reached"),
                self.maybe_reached(offer_id, campaign_id).label("maybe"),
            )
        result = await self._session.execute(query)
        return [
            (
                int(row[0] or 0),
                int(row[1]),
                row[2],
                row[3],
                bool(row[4]) if offer_id is not None else False,
                bool(row[5]) if offer_id is not None else False,
            )
            for row in result.all()
        ]


class SavedSegmentRepository:
    """Named filter sets; a name is unique, saving it again replaces its filters."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def all(self) -> list[SavedSegment]:
        """Return every saved segment, by name."""
        result = await self._session.execute(select(SavedSegment).order_by(SavedSegment.name))
        return list(result.scalars())

    async def get(self, segment_id: int) -> SavedSegment | None:
        """Return one saved segment."""
        return await self._session.get(SavedSegment, segment_id)

    async def save(
        self, name: str, filters: dict[str, Any], staff_id: int, now: datetime
    ) -> SavedSegment:
        """Store ``filters`` under ``name``, replacing an earlier set of that name."""
        found = (
            await self._session.execute(select(SavedSegment).where(col(SavedSegment.name) == name))
        ).scalar_one_or_none()
        if found is not None:
            await self._session.execute(
                update(SavedSegment)
                .where(col(SavedSegment.id) == found.id)
                .values(filters=filters, created_by=staff_id, updated_at=now)
            )
            await self._session.refresh(found)
            return found
        saved = SavedSegment(
            name=name, filters=filters, created_by=staff_id, created_at=now, updated_at=now
        )
        self._session.add(saved)
        await self._session.flush()
        return saved
