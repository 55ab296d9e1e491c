"""The outbox repository: enqueue, claim under a lease, record outcomes, reap."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.db import insert_for, is_postgres
from storage.models import Alumnus, ConsentEvent, OutboxMessage, OutboxStatus

FINAL = (
    OutboxStatus.SENT,
    OutboxStatus.FAILED,
    OutboxStatus.DEAD,
    OutboxStatus.UNKNOWN,
    OutboxStatus.CANCELLED,
)


class OutboxRepository:
    """Rows of the durable outbox; the dispatcher is the only one that claims them."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def enqueue(self, rows: Sequence[dict[str, Any]]) -> int:
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
        on SQLite one process sends and the write lock serialises claims.
        """
        due = (
            select(col(OutboxMessage.id))
            .where(
                col(OutboxMessage.status) == OutboxStatus.PENDING.value,
                col(OutboxMessage.not_before) <= now,
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

    async def record(self, outcomes: Sequence[dict[str, Any]]) -> None:
        """Write outcomes in one round trip: dicts with ``id`` and the columns to set."""
        if outcomes:
            await self._session.execute(update(OutboxMessage), list(outcomes))

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

    async def reap(self, now: datetime) -> int:
        """Expired ``sending`` leases become ``unknown``: the call may have reached Telegram."""
        result = await self._session.execute(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.status) == OutboxStatus.SENDING.value,
                col(OutboxMessage.lease_until) < now,
            )
            .values(status=OutboxStatus.UNKNOWN.value, last_error="lease expired", updated_at=now)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def counts(self, key_prefix: str | None = None) -> dict[str, int]:
        """Return rows per status, optionally for dedupe keys starting with ``key_prefix``."""
        query = select(col(OutboxMessage.status), func.count()).group_by(col(OutboxMessage.status))
        if key_prefix is not None:
            query = query.where(col(OutboxMessage.dedupe_key).startswith(key_prefix))
        return {status: int(n) for status, n in (await self._session.execute(query)).all()}

    async def get(self, dedupe_key: str) -> OutboxMessage | None:
        """Return one row by its key."""
        result = await self._session.execute(
            select(OutboxMessage).where(col(OutboxMessage.dedupe_key) == dedupe_key)
        )
        return result.scalar_one_or_none()
