"""The graduate registry's SQL: records from the school's export, invitations, links."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import (
    Alumnus,
    ConsentEvent,
    Graduate,
    Invitation,
    MatchDismissal,
    Suppression,
)

_GRADUATES: Table = Graduate.__table__  # type: ignore[attr-defined]
_INVITATIONS: Table = Invitation.__table__  # type: ignore[attr-defined]
_CHUNK = 900  # bound parameters per statement: below SQLite's old limit of 999

# The stored fields an import compares and writes, in this order.
FIELDS = (
    "first_name",
    "last_name",
    "email",
    "crebo",
    "level",
    "track",
    "location",
    "graduation_date",
)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class RegistryRepository:
    """Graduates, their invitations and the coordinators' match decisions."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # ----------------------------------------------------------------- import

    async def snapshot(self) -> dict[str, tuple[int, tuple[Any, ...]]]:
        """Return every record as student number -> (id, stored fields), for an import's diff."""
        columns = [_GRADUATES.c.student_number, _GRADUATES.c.id] + [
            _GRADUATES.c[name] for name in FIELDS
        ]
        result = await self._session.execute(select(*columns))
        return {row[0]: (row[1], tuple(row[2:])) for row in result.all()}

    async def insert_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert new records (one statement per chunk)."""
        for chunk in _chunks(rows, 500):
            await self._session.execute(_GRADUATES.insert(), list(chunk))

    async def update_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Update changed records by id: each dict holds ``gid`` and every stored field."""
        if not rows:
            return
        statement = (
            update(_GRADUATES)
            .where(_GRADUATES.c.id == bindparam("gid"))
            .values({name: bindparam(name) for name in (*FIELDS, "updated_at", "seen_at")})
        )
        await self._session.execute(statement, list(rows))

    async def mark_seen(self, ids: Sequence[int], now: datetime) -> None:
        """Record that these records were in today's import (retention counts from here)."""
        for chunk in _chunks(ids):
            await self._session.execute(
                update(_GRADUATES).where(_GRADUATES.c.id.in_(chunk)).values(seen_at=now)
            )

    # ----------------------------------------------------------------- records

    async def get(self, graduate_id: int) -> Graduate | None:
        """Return one record."""
        return await self._session.get(Graduate, graduate_id)

    async def by_alumnus(self, alumnus_id: int) -> Graduate | None:
        """Return the record linked to an alumnus, if any."""
        result = await self._session.execute(
            select(Graduate).where(col(Graduate.alumnus_id) == alumnus_id)
        )
        return result.scalar_one_or_none()

    async def about(
        self, alumnus_id: int
    ) -> tuple[list[Graduate], list[Invitation], list[MatchDismissal]]:
        """Every registry row about a person: their record, its invitations, dismissals."""
        graduate = await self.by_alumnus(alumnus_id)
        graduates = [graduate] if graduate is not None else []
        invites = select(Invitation).where(col(Invitation.used_by) == alumnus_id)
        dismissals = select(MatchDismissal).where(col(MatchDismissal.alumnus_id) == alumnus_id)
        if graduate is not None:
            invites = select(Invitation).where(
                (col(Invitation.used_by) == alumnus_id)
                | (col(Invitation.graduate_id) == graduate.id)
            )
            dismissals = select(MatchDismissal).where(
                (col(MatchDismissal.alumnus_id) == alumnus_id)
                | (col(MatchDismissal.graduate_id) == graduate.id)
            )
        return (
            graduates,
            list((await self._session.execute(invites)).scalars()),
            list((await self._session.execute(dismissals)).scalars()),
        )

    async def all(self) -> list[Graduate]:
        """Return every record, by programme, date and name (export, class lists)."""
        result = await self._session.execute(
            select(Graduate).order_by(
                col(Graduate.crebo),
                col(Graduate.graduation_date),
                col(Graduate.last_name),
                col(Graduate.first_name),
            )
        )
        return list(result.scalars())

    async def of_class(self, crebo: str, level: int, ids: Sequence[int]) -> list[Graduate]:
        """Return the records of one programme and level among ``ids``, sorted by name."""
        found: list[Graduate] = []
        for chunk in _chunks(ids):
            result = await self._session.execute(
                select(Graduate).where(
                    col(Graduate.id).in_(chunk),
                    col(Graduate.crebo) == crebo,
                    col(Graduate.level) == level,
                )
            )
            found.extend(result.scalars())
        return sorted(found, key=lambda g: (g.last_name.casefold(), g.first_name.casefold()))

    async def link(self, graduate_id: int, alumnus_id: int, now: datetime) -> bool:
        """Link a record to an alumnus unless it is linked already; return whether it was."""
        result = await self._session.execute(
            update(_GRADUATES)
            .where(_GRADUATES.c.id == graduate_id, _GRADUATES.c.alumnus_id.is_(None))
            .values(alumnus_id=alumnus_id, linked_at=now, updated_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delete(self, graduate_id: int) -> None:
        """Delete a record with its invitations and match decisions (by cascade too)."""
        for table in (Invitation, MatchDismissal):
            await self._session.execute(delete(table).where(col(table.graduate_id) == graduate_id))
        await self._session.execute(delete(Graduate).where(col(Graduate.id) == graduate_id))

    async def purge_unlinked(self, before: datetime) -> int:
        """Delete records nobody linked whose last import was before ``before``."""
        stale = select(col(Graduate.id)).where(
            col(Graduate.alumnus_id).is_(None), col(Graduate.seen_at) < before
        )
        ids = [int(i) for i in (await self._session.execute(stale)).scalars() if i is not None]
        for chunk in _chunks(ids):
            for table in (Invitation, MatchDismissal):
                await self._session.execute(delete(table).where(col(table.graduate_id).in_(chunk)))
            await self._session.execute(delete(Graduate).where(col(Graduate.id).in_(chunk)))
        return len(ids)

    async def suppressed(self) -> set[str]:
        """Return every suppression hash (erased people are never imported again)."""
        result = await self._session.execute(select(col(Suppression.subject_hash)))
        return {str(h) for h in result.scalars()}

    async def count(self) -> int:
        """Return how many records there are."""
        result = await self._session.execute(select(func.count()).select_from(Graduate))
        return int(result.scalar_one())

    # ----------------------------------------------------------------- invitations

    async def replace_invitations(self, rows: Sequence[dict[str, Any]]) -> None:
        """Store new invitations; earlier unused ones of the same people stop working."""
        graduate_ids = sorted({int(row["graduate_id"]) for row in rows})
        for chunk in _chunks(graduate_ids):
            await self._session.execute(
                delete(Invitation).where(
                    col(Invitation.graduate_id).in_(chunk), col(Invitation.used_at).is_(None)
                )
            )
        for rows_chunk in _chunks(rows, 500):
            await self._session.execute(_INVITATIONS.insert(), list(rows_chunk))

    async def invitation(self, token_hash: str) -> tuple[Invitation, Graduate] | None:
        """Return the invitation with this token hash and its record."""
        result = await self._session.execute(
            select(Invitation, Graduate)
            .join(Graduate, col(Graduate.id) == col(Invitation.graduate_id))
            .where(col(Invitation.token_hash) == token_hash)
        )
        row = result.first()
        return (row[0], row[1]) if row is not None else None

    async def invitation_by_id(self, invitation_id: int) -> tuple[Invitation, Graduate] | None:
        """Return an invitation and its record by id."""
        result = await self._session.execute(
            select(Invitation, Graduate)
            .join(Graduate, col(Graduate.id) == col(Invitation.graduate_id))
            .where(col(Invitation.id) == invitation_id)
        )
        row = result.first()
        return (row[0], row[1]) if row is not None else None

    async def use_invitation(self, invitation_id: int, alumnus_id: int, now: datetime) -> bool:
        """Mark an invitation used, once: False if it was used (or is gone) already."""
        result = await self._session.execute(
            update(_INVITATIONS)
            .where(_INVITATIONS.c.id == invitation_id, _INVITATIONS.c.used_at.is_(None))
            .values(used_at=now, used_by=alumnus_id)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def invited_ids(self) -> set[int]:
        """Return the records that have (had) an invitation."""
        result = await self._session.execute(select(col(Invitation.graduate_id)).distinct())
        return {int(i) for i in result.scalars()}

    # ----------------------------------------------------------------- reports

    async def class_rows(self) -> list[tuple[int, str, int, Any, int | None]]:
        """Return (id, crebo, level, graduation date, alumnus id) of every record."""
        result = await self._session.execute(
            select(
                _GRADUATES.c.id,
                _GRADUATES.c.crebo,
                _GRADUATES.c.level,
                _GRADUATES.c.graduation_date,
                _GRADUATES.c.alumnus_id,
            )
        )
        return [(int(r[0]), str(r[1]), int(r[2]), r[3], r[4]) for r in result.all()]

    async def consents_of(self, alumnus_ids: Sequence[int]) -> dict[int, dict[str, bool]]:
        """Return each alumnus' current decision per purpose (the log's latest event)."""
        current: dict[int, dict[str, bool]] = {}
        for chunk in _chunks(alumnus_ids):
            result = await self._session.execute(
                select(
                    col(ConsentEvent.alumnus_id),
                    col(ConsentEvent.purpose),
                    col(ConsentEvent.granted),
                )
                .where(col(ConsentEvent.alumnus_id).in_(chunk))
                .order_by(col(ConsentEvent.id))
            )
            for alumnus_id, purpose, granted in result.all():
                current.setdefault(int(alumnus_id), {})[str(purpose)] = bool(granted)
        return current

    # ----------------------------------------------------------------- matches

    async def unlinked_alumni(self) -> list[Alumnus]:
        """Return onboarded alumni with a programme whom no record is linked to."""
        linked = select(col(Graduate.alumnus_id)).where(col(Graduate.alumnus_id).is_not(None))
        result = await self._session.execute(
            select(Alumnus).where(
                col(Alumnus.onboarded_at).is_not(None),
                col(Alumnus.crebo).is_not(None),
                col(Alumnus.first_name).is_not(None),
                col(Alumnus.id).not_in(linked),
            )
        )
        return list(result.scalars())

    async def unlinked_of_programmes(self, crebos: Sequence[str]) -> list[Graduate]:
        """Return the records nobody linked, of these programmes."""
        found: list[Graduate] = []
        for chunk in _chunks(sorted(set(crebos))):
            result = await self._session.execute(
                select(Graduate).where(
                    col(Graduate.alumnus_id).is_(None), col(Graduate.crebo).in_(chunk)
                )
            )
            found.extend(result.scalars())
        return found

    async def dismissed(self) -> set[tuple[int, int]]:
        """Return the (record, alumnus) pairs coordinators said are not the same person."""
        result = await self._session.execute(
            select(col(MatchDismissal.graduate_id), col(MatchDismissal.alumnus_id))
        )
        return {(int(g), int(a)) for g, a in result.all()}

    async def dismiss(self, graduate_id: int, alumnus_id: int, now: datetime) -> None:
        """Remember that this alumnus is not this record (idempotent)."""
        exists = await self._session.get(MatchDismissal, (graduate_id, alumnus_id))
        if exists is None:
            self._session.add(
                MatchDismissal(graduate_id=graduate_id, alumnus_id=alumnus_id, at=now)
            )

    async def alumnus(self, alumnus_id: int) -> Alumnus | None:
        """Return an alumnus (to check a match before linking)."""
        return await self._session.get(Alumnus, alumnus_id)
