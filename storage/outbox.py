"""The outbox repository: enqueue, claim under a lease, record outcomes, reap."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.db import insert_for, is_postgres
from storage.models import (
    Alumnus,
    Campaign,
    CampaignStatus,
    ConsentEvent,
    OutboxMessage,
    OutboxStatus,
)

FINAL = (
    OutboxStatus.SENT,
    OutboxStatus.FAILED,
    OutboxStatus.DEAD,
    OutboxStatus.UNKNOWN,
    OutboxStatus.CANCELLED,
    OutboxStatus.DIGEST,
)
# Rows that count towards the weekly push cap: sent, maybe sent, or being sent.
CAPPED = (OutboxStatus.SENT.value, OutboxStatus.UNKNOWN.value, OutboxStatus.SENDING.value)


# The advisory lock space of the push cap (pg_advisory_xact_lock(space, alumnus id)).
PUSH_CAP_LOCKS = 7301


# The columns a set-based queue fills (``insert_from``); the rest take their defaults.
QUEUED_COLUMNS = (
    "dedupe_key",
    "alumnus_id",
    "chat_id",
    "purpose",
    "payload",
    "status",
    "attempts",
    "not_before",
    "created_at",
    "updated_at",
)


async def insert_from(session: AsyncSession, source: Any) -> int:
    """Queue the rows of ``source`` (a SELECT of :data:`QUEUED_COLUMNS`) in one statement.

    A ``dedupe_key`` queued before is skipped. Returns how many rows were new. Set-based, so
    a tick or a survey send over thousands of people is one round trip, not one per person.
    """
    insert = insert_for(session)
    statement = (
        insert(OutboxMessage)
        .from_select(list(QUEUED_COLUMNS), source)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    result = await session.execute(statement)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


class OutboxRepository:
    """Rows of the durable outbox; the dispatcher is the only one that claims them."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def enqueue(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert rows; a ``dedupe_key`` seen before is skipped. Return how many were new."""
        if not rows:
            return 0
        insert = insert_for(self._session)
        statement = (
            insert(OutboxMessage)
            .values(list(rows))
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
        )
        result = await self._session.execute(statement)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[OutboxMessage]:
        """Move up to ``limit`` due rows to ``sending`` under a lease and return them.

        On PostgreSQL concurrent dispatchers skip each other's rows (FOR UPDATE SKIP LOCKED);
        on SQLite one process sends and the write lock serialises claims. Rows of a paused
        campaign are held: not claimed until it is resumed.
        """
        paused = select(col(Campaign.id)).where(
            col(Campaign.status) == CampaignStatus.PAUSED.value
        )
        due = (
            select(col(OutboxMessage.id))
            .where(
                col(OutboxMessage.status) == OutboxStatus.PENDING.value,
                col(OutboxMessage.not_before) <= now,
                or_(
                    col(OutboxMessage.campaign_id).is_(None),
                    col(OutboxMessage.campaign_id).not_in(paused),
                ),
            )
            .order_by(col(OutboxMessage.not_before), col(OutboxMessage.id))
            .limit(limit)
        )
        if is_postgres(self._session):
            due = due.with_for_update(skip_locked=True)
        ids = list((await self._session.execute(due)).scalars())
        if not ids:
            return []
        await self._session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id).in_(ids))
            .values(
                status=OutboxStatus.SENDING.value,
                lease_until=lease_until,
                handed_at=None,
                attempts=OutboxMessage.attempts + 1,
                updated_at=now,
            )
        )
        claimed = await self._session.execute(
            select(OutboxMessage)
            .where(col(OutboxMessage.id).in_(ids))
            .order_by(col(OutboxMessage.not_before), col(OutboxMessage.id))
            .execution_options(populate_existing=True)
        )
        return list(claimed.scalars())

    async def consenting(self, pairs: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
        """Return which (alumnus, purpose) pairs have consent now (latest event granted)."""
        wanted = set(pairs)
        if not wanted:
            return set()
        alumni = {a for a, _ in wanted}
        latest = (
            select(
                col(ConsentEvent.alumnus_id),
                col(ConsentEvent.purpose),
                func.max(col(ConsentEvent.id)).label("last_id"),
            )
            .where(col(ConsentEvent.alumnus_id).in_(alumni))
            .group_by(col(ConsentEvent.alumnus_id), col(ConsentEvent.purpose))
            .subquery()
        )
        rows = await self._session.execute(
            select(col(ConsentEvent.alumnus_id), col(ConsentEvent.purpose))
            .join(latest, and_(col(ConsentEvent.id) == latest.c.last_id))
            .where(col(ConsentEvent.granted).is_(True))
        )
        return {(a, p) for a, p in rows.all()} & wanted

    async def unreachable(self, alumni: Iterable[int]) -> set[int]:
        """Return which of these alumni blocked the bot."""
        ids = set(alumni)
        if not ids:
            return set()
        rows = await self._session.execute(
            select(col(Alumnus.id)).where(
                col(Alumnus.id).in_(ids), col(Alumnus.unreachable_since).is_not(None)
            )
        )
        return {alumnus_id for alumnus_id in rows.scalars() if alumnus_id is not None}

    async def record(self, outcomes: Sequence[Mapping[str, Any]]) -> None:
        """Write outcomes, one round trip per shape: dicts with ``id`` and the columns to set.

        A row that is gone is skipped: an erasure may delete a person's row while its send
        is under way. (The ORM's bulk update by primary key would refuse the whole batch.)
        """
        shapes: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
        for outcome in outcomes:
            columns = tuple(sorted(k for k in outcome if k != "id"))
            shapes.setdefault(columns, []).append(outcome)
        table = OutboxMessage.__table__  # type: ignore[attr-defined]
        for columns, group in shapes.items():
            if not columns:
                continue
            statement = (
                update(table)
                .where(table.c.id == bindparam("row_id"))
                .values({name: bindparam(name) for name in columns})
            )
            await self._session.execute(
                statement, [{"row_id": o["id"], **{n: o[n] for n in columns}} for o in group]
            )

    async def mark_unreachable(self, alumni: Iterable[int], now: datetime) -> None:
        """Remember that these alumni blocked the bot."""
        ids = set(alumni)
        if ids:
            await self._session.execute(
                update(Alumnus)
                .where(col(Alumnus.id).in_(ids), col(Alumnus.unreachable_since).is_(None))
                .values(unreachable_since=now)
            )

    async def cancel_pending(self, alumnus_id: int, purpose: str | None, now: datetime) -> int:
        """Cancel queued rows of one alumnus (for one purpose, or all with ``None``)."""
        conditions = [
            col(OutboxMessage.alumnus_id) == alumnus_id,
            col(OutboxMessage.status) == OutboxStatus.PENDING.value,
        ]
        if purpose is not None:
            conditions.append(col(OutboxMessage.purpose) == purpose)
        else:
            conditions.append(col(OutboxMessage.purpose).is_not(None))
        result = await self._session.execute(
            update(OutboxMessage)
            .where(*conditions)
            .values(
                status=OutboxStatus.CANCELLED.value, last_error="consent withdrawn", updated_at=now
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def cancel_campaign(self, campaign_id: int, now: datetime) -> int:
        """Cancel every queued push of a campaign; rows in flight finish."""
        result = await self._session.execute(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.campaign_id) == campaign_id,
                col(OutboxMessage.status) == OutboxStatus.PENDING.value,
            )
            .values(
                status=OutboxStatus.CANCELLED.value,
                last_error="campaign cancelled",
                lease_until=None,
                updated_at=now,
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def recent_pushes(
        self, alumni: Iterable[int], since: datetime, exclude: Iterable[int] = ()
    ) -> dict[int, int]:
        """Count campaign pushes per alumnus since ``since`` (sent, maybe sent or sending).

        On PostgreSQL the people are locked first (transaction-scoped advisory locks, in id
        order), so two dispatchers claiming pushes for the same person count one after the
        other: the second sees the first's claim once it commits, and the cap holds across
        processes. Advisory locks never wait on the rows other work updates.
        """
        ids = set(alumni)
        if not ids:
            return {}
        if is_postgres(self._session):
            await self._session.execute(
                text(
                    "SELECT pg_advisory_xact_lock(:space, person) "
                    "FROM unnest(CAST(:ids AS integer[])) AS person ORDER BY person"
                ),
                {"space": PUSH_CAP_LOCKS, "ids": sorted(ids)},
            )
        query = (
            select(col(OutboxMessage.alumnus_id), func.count())
            .where(
                col(OutboxMessage.alumnus_id).in_(ids),
                col(OutboxMessage.campaign_id).is_not(None),
                col(OutboxMessage.status).in_(CAPPED),
                col(OutboxMessage.updated_at) >= since,
            )
            .group_by(col(OutboxMessage.alumnus_id))
        )
        skip = set(exclude)
        if skip:
            query = query.where(col(OutboxMessage.id).not_in(skip))
        return {int(a or 0): int(n) for a, n in (await self._session.execute(query)).all()}

    async def reserve_rate(self, name: str, tokens: int, rate: float) -> float:
        """Reserve ``tokens`` of a rate shared by every process (PostgreSQL); return the wait.

        One row per budget holds the database-clock time at which the next token is free.
        Each reservation moves it on by ``tokens / rate`` in one atomic UPDATE, so processes
        together never take more than ``rate`` a second; time left unused is not saved up.
        The database clock is the one clock all processes share. The return value is how
        many seconds from now the first reserved token may be used.
        """
        if is_postgres(self._session):
            now = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS double precision)"
            latest = "GREATEST"
        else:  # one process with several dispatchers (tests); SQLite's 'now' has ms precision
            now, latest = "((julianday('now') - 2440587.5) * 86400.0)", "MAX"
        reserve = text(
            # Only our own SQL fragments are formatted in; values are bound.
            f"UPDATE rate_budget SET next_free = {latest}(next_free, {now}) "
            "+ CAST(:span AS double precision) "
            "WHERE name = :name "
            f"RETURNING next_free - CAST(:span AS double precision) - {now}"
        )
        values = {"name": name, "span": tokens / rate}
        wait = (await self._session.execute(reserve, values)).scalar_one_or_none()
        if wait is None:  # the budget's first use: create its row, then reserve
            await self._session.execute(
                text(
                    "INSERT INTO rate_budget (name, next_free) VALUES (:name, 0) "
                    "ON CONFLICT (name) DO NOTHING"
                ),
                {"name": name},
            )
            wait = (await self._session.execute(reserve, values)).scalar_one()
        return float(wait)

    async def hand_over(
        self, rows: Sequence[tuple[int | None, datetime | None]], now: datetime
    ) -> set[int]:
        """Mark claimed rows as handed to the messenger; return the ids still under our claim.

        ``rows`` are (id, lease_until of our claim). A row whose lease expired and was given
        back (or claimed again by another process) has another lease or none: not ours.
        """
        by_lease: dict[datetime | None, list[int]] = {}
        for row_id, lease in rows:
            if row_id is not None:
                by_lease.setdefault(lease, []).append(row_id)
        mine: set[int] = set()
        for lease, ids in by_lease.items():
            result = await self._session.execute(
                update(OutboxMessage)
                .where(
                    col(OutboxMessage.id).in_(ids),
                    col(OutboxMessage.status) == OutboxStatus.SENDING.value,
                    col(OutboxMessage.lease_until) == lease,
                    col(OutboxMessage.handed_at).is_(None),
                )
                .values(handed_at=now)
                .returning(col(OutboxMessage.id))
            )
            mine.update(i for i in result.scalars() if i is not None)
        return mine

    async def reap(self, now: datetime) -> tuple[int, int]:
        """Settle expired ``sending`` leases; return (became unknown, given back).

        Handed over to the messenger: ``unknown``, the call may have reached Telegram. Never
        handed over: back to ``pending`` now, the claim's attempt undone; nothing went out.
        """
        expired = (
            col(OutboxMessage.status) == OutboxStatus.SENDING.value,
            col(OutboxMessage.lease_until) < now,
        )
        unknown = await self._session.execute(
            update(OutboxMessage)
            .where(*expired, col(OutboxMessage.handed_at).is_not(None))
            .values(
                status=OutboxStatus.UNKNOWN.value,
                last_error="lease expired after hand-over",
                lease_until=None,
                updated_at=now,
            )
        )
        returned = await self._session.execute(
            update(OutboxMessage)
            .where(*expired, col(OutboxMessage.handed_at).is_(None))
            .values(
                status=OutboxStatus.PENDING.value,
                not_before=now,
                attempts=OutboxMessage.attempts - 1,
                last_error="lease expired before hand-over",
                lease_until=None,
                updated_at=now,
            )
        )
        return (
            int(unknown.rowcount or 0),  # type: ignore[attr-defined]
            int(returned.rowcount or 0),  # type: ignore[attr-defined]
        )

    async def of_person(self, alumnus_id: int, chat_id: int) -> list[OutboxMessage]:
        """Return every row for one person: tied to them, or to their chat; oldest first."""
        result = await self._session.execute(
            select(OutboxMessage)
            .where(
                or_(
                    col(OutboxMessage.alumnus_id) == alumnus_id,
                    col(OutboxMessage.chat_id) == chat_id,
                )
            )
            .order_by(col(OutboxMessage.id))
        )
        return list(result.scalars())

    async def unknown_of_campaign(self, campaign_id: int) -> list[OutboxMessage]:
        """Return a campaign's pushes whose delivery is unknown, oldest first."""
        result = await self._session.execute(
            select(OutboxMessage)
            .where(
                col(OutboxMessage.campaign_id) == campaign_id,
                col(OutboxMessage.status) == OutboxStatus.UNKNOWN.value,
            )
            .order_by(col(OutboxMessage.id))
        )
        return list(result.scalars())

    async def resend(self, ids: Sequence[int], not_before: datetime, now: datetime) -> list[str]:
        """Queue ``unknown`` rows again as new rows; the old ones become ``resent``.

        Each new row is a copy under the key ``<old key>:again:<old id>``, so asking twice
        (two coordinators, a double click) queues one copy. Returns the new rows' keys;
        rows that are no longer ``unknown`` are left alone.
        """
        if not ids:
            return []
        taken = await self._session.execute(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id).in_(list(ids)),
                col(OutboxMessage.status) == OutboxStatus.UNKNOWN.value,
            )
            .values(status=OutboxStatus.RESENT.value, updated_at=now)
            .returning(col(OutboxMessage.id))
        )
        mine = [i for i in taken.scalars() if i is not None]
        if not mine:
            return []
        rows = (
            await self._session.execute(
                select(OutboxMessage).where(col(OutboxMessage.id).in_(mine))
            )
        ).scalars()
        copies = [
            {
                "dedupe_key": f"{old.dedupe_key[:100]}:again:{old.id}",
                "chat_id": old.chat_id,
                "message_thread_id": old.message_thread_id,
                "campaign_id": old.campaign_id,
                "alumnus_id": old.alumnus_id,
                "purpose": old.purpose,
                "payload": old.payload,
                "status": OutboxStatus.PENDING.value,
                "attempts": 0,
                "not_before": not_before,
                "created_at": now,
                "updated_at": now,
            }
            for old in rows
        ]
        await self.enqueue(copies)
        await self._session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id).in_(mine))
            .values(last_error="sent again by a coordinator")
        )
        return [str(c["dedupe_key"]) for c in copies]

    async def counts(
        self, key_prefix: str | None = None, *, campaign_id: int | None = None
    ) -> dict[str, int]:
        """Return rows per status: of one campaign, or with keys starting with ``key_prefix``."""
        query = select(col(OutboxMessage.status), func.count()).group_by(col(OutboxMessage.status))
        if key_prefix is not None:
            query = query.where(col(OutboxMessage.dedupe_key).startswith(key_prefix))
        if campaign_id is not None:
            query = query.where(col(OutboxMessage.campaign_id) == campaign_id)
        return {status: int(n) for status, n in (await self._session.execute(query)).all()}

    async def get(self, dedupe_key: str) -> OutboxMessage | None:
        """Return one row by its key."""
        result = await self._session.execute(
            select(OutboxMessage).where(col(OutboxMessage.dedupe_key) == dedupe_key)
        )
        return result.scalar_one_or_none()
