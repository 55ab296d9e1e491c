"""Repositories: the only code that writes SQL. One per aggregate, grouped in a unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from storage.aftercare import AftercareRepository
from storage.campaigns import OfferRepository, SavedSegmentRepository
from storage.db import insert_for, is_postgres, make_session_factory
from storage.inbox import InboxRepository
from storage.models import (
    Alumnus,
    ConsentEvent,
    ConversationState,
    DigestItem,
    InboundUpdate,
    InboxConversation,
    OfferResponse,
    OutboxMessage,
    Suppression,
)
from storage.monitor import MonitorRepository
from storage.outbox import OutboxRepository
from storage.registry import RegistryRepository
from storage.staff import (
    AuditRepository,
    LoginAttemptRepository,
    StaffRepository,
    TeamRepository,
    WebSessionRepository,
)
from storage.surveys import SurveyRepository

# Every update runs these, so they are built once: SQLAlchemy memoises a statement's cache
# key on the object, and a statement rebuilt per call is re-hashed per call. The writes are
# Core statements on the tables: an INSERT on an ORM entity takes the ORM's bulk path, which
# costs several times the statement itself.
_ALUMNUS_WITH_STATE = (
    select(Alumnus, ConversationState)
    .outerjoin(ConversationState, col(ConversationState.alumnus_id) == col(Alumnus.id))
    .where(col(Alumnus.chat_id) == bindparam("chat_id"))
)
_UPDATES: Table = InboundUpdate.__table__  # type: ignore[attr-defined]
_STATES: Table = ConversationState.__table__  # type: ignore[attr-defined]


def _claim(insert: Any) -> Any:
    statement = insert(_UPDATES).values(
        update_id=bindparam("update_id"),
        payload=None,
        received_at=bindparam("now"),
        claimed_at=bindparam("now"),
    )
    return statement.on_conflict_do_update(
        index_elements=["update_id"],
        set_={"claimed_at": statement.excluded.claimed_at, "payload": None},
        where=_UPDATES.c.claimed_at.is_(None),
    ).returning(_UPDATES.c.update_id)


def _put_state(insert: Any) -> Any:
    statement = insert(_STATES).values(
        alumnus_id=bindparam("alumnus_id"),
        flow=bindparam("flow"),
        step=bindparam("step"),
        data=bindparam("data"),
        updated_at=bindparam("now"),
    )
    changed = ("flow", "step", "data", "updated_at")
    return statement.on_conflict_do_update(
        index_elements=["alumnus_id"],
        set_={name: getattr(statement.excluded, name) for name in changed},
    )


_CLAIM_PG, _CLAIM_SQLITE = _claim(pg_insert), _claim(sqlite_insert)
_PUT_STATE_PG, _PUT_STATE_SQLITE = _put_state(pg_insert), _put_state(sqlite_insert)


class AlumniRepository:
    """Alumni and their profile."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def with_state(self, chat_id: int) -> tuple[Alumnus | None, ConversationState | None]:
        """Return the alumnus of ``chat_id`` and their open flow, in one round trip."""
        row = (await self._session.execute(_ALUMNUS_WITH_STATE, {"chat_id": chat_id})).first()
        return (row[0], row[1]) if row is not None else (None, None)

    async def by_id(self, alumnus_id: int) -> Alumnus | None:
        """Return one alumnus."""
        return await self._session.get(Alumnus, alumnus_id)

    async def by_chat(self, chat_id: int) -> Alumnus | None:
        """Return the alumnus talking in ``chat_id``, if any."""
        result = await self._session.execute(
            select(Alumnus).where(col(Alumnus.chat_id) == chat_id)
        )
        return result.scalar_one_or_none()

    async def create(self, chat_id: int, now: datetime) -> Alumnus:
        """Insert a new alumnus with an empty profile."""
        alumnus = Alumnus(chat_id=chat_id, created_at=now, updated_at=now, last_seen_at=now)
        self._session.add(alumnus)
        await self._session.flush()
        return alumnus

    def save(self, alumnus: Alumnus, now: datetime) -> None:
        """Mark the alumnus changed; written at commit."""
        alumnus.updated_at = now
        self._session.add(alumnus)

    async def touch(self, alumnus_id: int, now: datetime) -> None:
        """Record activity without loading the row."""
        await self._session.execute(
            update(Alumnus).where(col(Alumnus.id) == alumnus_id).values(last_seen_at=now)
        )

    async def set_unreachable(self, chat_id: int, since: datetime | None) -> None:
        """Record that a chat blocked the bot (``since``) or is reachable again (None)."""
        await self._session.execute(
            update(Alumnus).where(col(Alumnus.chat_id) == chat_id).values(unreachable_since=since)
        )

    async def delete(self, alumnus_id: int) -> None:
        """Delete the alumnus and, by cascade and explicitly, everything that hangs off it."""
        for table in (
            ConversationState,
            ConsentEvent,
            OutboxMessage,
            OfferResponse,
            DigestItem,
            InboxConversation,
        ):
            await self._session.execute(delete(table).where(col(table.alumnus_id) == alumnus_id))
        await self._session.execute(delete(Alumnus).where(col(Alumnus.id) == alumnus_id))

    async def count(self) -> int:
        """Return how many alumni exist."""
        result = await self._session.execute(select(func.count()).select_from(Alumnus))
        return int(result.scalar_one())


class ConversationStateRepository:
    """Where each alumnus is in a flow; lives in the database so restarts continue."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, alumnus_id: int) -> ConversationState | None:
        """Return the open flow of an alumnus, if any."""
        return await self._session.get(ConversationState, alumnus_id)

    async def set(
        self, alumnus_id: int, flow: str, step: str, data: dict[str, Any], now: datetime
    ) -> ConversationState:
        """Create or replace the flow state: one upsert, written at once.

        Every step of every flow writes here; the unit of work's change tracking cost more
        than the statement. A copy loaded earlier in this session is dropped so it can never
        be flushed over the new one.
        """
        loaded = self._session.sync_session.identity_map.get(
            self._session.sync_session.identity_key(ConversationState, alumnus_id)
        )
        if loaded is not None:
            self._session.expunge(loaded)
        statement = _PUT_STATE_PG if is_postgres(self._session) else _PUT_STATE_SQLITE
        data = dict(data)
        await self._session.execute(
            statement,
            {"alumnus_id": alumnus_id, "flow": flow, "step": step, "data": data, "now": now},
        )
        return ConversationState(
            alumnus_id=alumnus_id, flow=flow, step=step, data=data, updated_at=now
        )

    async def clear(self, alumnus_id: int) -> None:
        """End any open flow."""
        await self._session.execute(
            delete(ConversationState).where(col(ConversationState.alumnus_id) == alumnus_id)
        )


class ConsentRepository:
    """The append-only consent event log."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def record(self, event: ConsentEvent) -> None:
        """Append one event; events are never updated."""
        self._session.add(event)

    async def history(self, alumnus_id: int) -> Sequence[ConsentEvent]:
        """Return every event of an alumnus, oldest first."""
        result = await self._session.execute(
            select(ConsentEvent)
            .where(col(ConsentEvent.alumnus_id) == alumnus_id)
            .order_by(col(ConsentEvent.id))
        )
        return list(result.scalars())

    async def current(self, alumnus_id: int) -> dict[str, bool]:
        """Return the latest decision per purpose (absent means never given)."""
        await self._session.flush()
        return {event.purpose: event.granted for event in await self.history(alumnus_id)}


class InboundUpdateRepository:
    """Update ids seen: webhook receipt, claim for processing, purge."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def receive_many(
        self, updates: Sequence[tuple[int, dict[str, Any]]], now: datetime
    ) -> set[int]:
        """Store several updates in one statement; return the ids that were new."""
        if not updates:
            return set()
        insert = insert_for(self._session)
        statement = (
            insert(_UPDATES)
            .values([{"update_id": u, "payload": p, "received_at": now} for u, p in updates])
            .on_conflict_do_nothing(index_elements=["update_id"])
            .returning(_UPDATES.c.update_id)
        )
        result = await self._session.execute(statement)
        return {int(row[0]) for row in result.all()}

    async def claim(self, update_id: int, now: datetime) -> bool:
        """Mark an update as being processed and drop its payload; False if claimed before.

        One statement: insert the id (polling), or claim the row the webhook stored; a row
        claimed before matches nothing and returns no id.
        """
        statement = _CLAIM_PG if is_postgres(self._session) else _CLAIM_SQLITE
        result = await self._session.execute(statement, {"update_id": update_id, "now": now})
        return result.first() is not None

    async def unclaimed(self) -> list[dict[str, Any]]:
        """Return payloads received but never processed (a crash between receipt and work)."""
        result = await self._session.execute(
            select(col(InboundUpdate.payload))
            .where(
                col(InboundUpdate.claimed_at).is_(None), col(InboundUpdate.payload).is_not(None)
            )
            .order_by(col(InboundUpdate.update_id))
        )
        return [row for row in result.scalars() if row]

    async def purge(self, before: datetime) -> int:
        """Forget processed update ids older than ``before``."""
        result = await self._session.execute(
            delete(InboundUpdate).where(
                col(InboundUpdate.received_at) < before,
                col(InboundUpdate.claimed_at).is_not(None),
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class SuppressionRepository:
    """Keyed hashes of erased people."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, subject_hash: str, now: datetime) -> None:
        """Remember an erasure (idempotent)."""
        if await self.contains(subject_hash):
            return
        self._session.add(Suppression(subject_hash=subject_hash, erased_at=now))

    async def contains(self, subject_hash: str) -> bool:
        """Return whether this subject was erased before."""
        result = await self._session.execute(
            select(col(Suppression.id)).where(col(Suppression.subject_hash) == subject_hash)
        )
        return result.first() is not None


class ConflictError(Exception):
    """A write broke a unique constraint: the thing exists already."""


class Tx:
    """One transaction with every repository bound to it."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.alumni = AlumniRepository(session)
        self.states = ConversationStateRepository(session)
        self.consents = ConsentRepository(session)
        self.updates = InboundUpdateRepository(session)
        self.suppressions = SuppressionRepository(session)
        self.outbox = OutboxRepository(session)
        self.offers = OfferRepository(session)
        self.segments = SavedSegmentRepository(session)
        self.staff = StaffRepository(session)
        self.teams = TeamRepository(session)
        self.inbox = InboxRepository(session)
        self.audit = AuditRepository(session)
        self.web_sessions = WebSessionRepository(session)
        self.login_attempts = LoginAttemptRepository(session)
        self.registry = RegistryRepository(session)
        self.aftercare = AftercareRepository(session)
        self.surveys = SurveyRepository(session)
        self.monitor = MonitorRepository(session)


class Storage:
    """Owns the engine; hands out transactions."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = make_session_factory(engine)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """Open a session in a transaction; commit on success, roll back on error.

        Raises:
            ConflictError: a unique key was taken (by a concurrent writer, say).
        """
        try:
            async with self._sessions() as session, session.begin():
                yield Tx(session)
        except IntegrityError as error:
            raise ConflictError(str(error.orig)) from error

    async def ping(self) -> None:
        """Ask the database for an answer; raises if it cannot be reached."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
