"""Aftercare check-ins: the planner, the tick's set-based claim and queueing, the answers.

Everything the tick does is a handful of statements whatever the number of people: rows are
claimed with one UPDATE over a ``FOR UPDATE SKIP LOCKED`` subquery (PostgreSQL; SQLite has
one writer), and their messages are queued with one ``INSERT .. SELECT`` into the outbox.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from storage.db import insert_for, is_postgres
from storage.models import (
    AftercareMoment,
    AftercarePlan,
    Alumnus,
    Checkin,
    CheckinAnswer,
    CheckinStatus,
    ConsentEvent,
    OutboxStatus,
    Purpose,
)
from storage.outbox import insert_from
from storage.types import UTCDateTime

OPEN = (CheckinStatus.ASKED.value, CheckinStatus.ANSWERING.value, CheckinStatus.REMINDED.value)
AFTERCARE = Purpose.AFTERCARE.value


def consenting(purpose: str, alumnus: Any = Alumnus) -> Any:
    """True where the alumnus' latest consent event for ``purpose`` is a grant (correlated)."""
    latest = aliased(ConsentEvent)
    newest_id = (
        select(func.max(col(latest.id)))
        .where(col(latest.alumnus_id) == alumnus.id, col(latest.purpose) == purpose)
        .correlate(alumnus)
        .scalar_subquery()
    )
    return (
        select(col(ConsentEvent.id))
        .where(col(ConsentEvent.id) == newest_id, col(ConsentEvent.granted).is_(True))
        .correlate(alumnus)
        .exists()
    )


def _ids(session: AsyncSession, column: Any, ids: Sequence[int]) -> Any:
    """``column IN ids`` with one bound parameter, however many ids (array / JSON)."""
    if is_postgres(session):
        return column == func.any(bindparam("ids_" + column.key, list(ids), type_=_INT_ARRAY))
    listed = func.json_each(bindparam("ids_" + column.key, _json_list(ids))).table_valued("value")
    return column.in_(select(listed.c.value))


def _json_list(ids: Sequence[int]) -> str:
    return "[" + ",".join(str(int(i)) for i in ids) + "]"


_INT_ARRAY = ARRAY(Integer)


class AftercareRepository:
    """Due check-ins, their history, and the planner's marker."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # ------------------------------------------------------------------ the planner

    async def marker(self) -> AftercarePlan | None:
        """Return what the planner did last (locked on PostgreSQL: one planner at a time)."""
        query = select(AftercarePlan).where(col(AftercarePlan.name) == "checkins")
        if is_postgres(self._session):
            query = query.with_for_update()
        return (await self._session.execute(query)).scalar_one_or_none()

    async def set_marker(self, schedule_hash: str, planned_until: datetime) -> None:
        """Record the schedule used and the time planned up to."""
        insert = insert_for(self._session)
        statement = insert(AftercarePlan).values(
            name="checkins", schedule_hash=schedule_hash, planned_until=planned_until
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=["name"],
                set_={"schedule_hash": schedule_hash, "planned_until": planned_until},
            )
        )

    async def cohorts(self, default_month: int) -> list[tuple[int, int]]:
        """Return every graduation (year, month) of an alumnus (the month defaulted).

        This is where the graduation date comes from: the profile today. When the school's
        registry holds the date, prefer it here (one place: the planner reads nothing else).
        """
        month = func.coalesce(col(Alumnus.graduation_month), default_month)
        result = await self._session.execute(
            select(col(Alumnus.graduation_year), month)
            .where(col(Alumnus.graduation_year).is_not(None))
            .distinct()
        )
        return [(int(y or 0), int(m)) for y, m in result.all()]

    async def set_moments(self, rows: Sequence[dict[str, Any]], codes: Sequence[str]) -> None:
        """Store the due time of each (year, month, moment); forget moments no longer in use."""
        await self._session.execute(
            delete(AftercareMoment).where(col(AftercareMoment.moment).not_in(list(codes)))
        )
        if not rows:
            return
        insert = insert_for(self._session)
        for start in range(0, len(rows), 500):
            statement = insert(AftercareMoment).values(list(rows[start : start + 500]))
            await self._session.execute(
                statement.on_conflict_do_update(
                    index_elements=["year", "month", "moment"],
                    set_={"due_at": statement.excluded.due_at},
                )
            )

    async def changed_since(self, since: datetime) -> list[int]:
        """Return the alumni whose profile or aftercare consent changed since then."""
        profiles = select(col(Alumnus.id)).where(col(Alumnus.updated_at) >= since)
        consents = select(col(ConsentEvent.alumnus_id)).where(
            col(ConsentEvent.purpose) == AFTERCARE, col(ConsentEvent.occurred_at) >= since
        )
        result = await self._session.execute(profiles.union(consents))
        return sorted({int(i) for i in result.scalars() if i is not None})

    def _among(self, column: Any, alumni: Sequence[int] | None) -> Any:
        return literal(True) if alumni is None else _ids(self._session, column, alumni)

    async def plan(
        self,
        now: datetime,
        grace_before: datetime,
        default_month: int,
        alumni: Sequence[int] | None,
    ) -> int:
        """Insert the check-ins of consenting alumni (these, or everyone with ``None``).

        A moment already past ``grace_before`` is recorded as skipped (never asked); the
        unique (alumnus, moment) key means planning again adds nothing twice. Scheduled rows
        of these alumni follow a changed graduation date or schedule.
        """
        month = func.coalesce(col(Alumnus.graduation_month), default_month)
        due = col(AftercareMoment.due_at)
        people = and_(
            col(Alumnus.onboarded_at).is_not(None),
            col(Alumnus.graduation_year).is_not(None),
            consenting(AFTERCARE),
            self._among(col(Alumnus.id), alumni),
        )
        past = due < bindparam("grace_before", grace_before, type_=UTCDateTime)
        status = case((past, CheckinStatus.SKIPPED.value), else_=CheckinStatus.SCHEDULED.value)
        outcome = case((past, "grace"), else_=None)
        source = (
            select(
                col(Alumnus.id),
                col(AftercareMoment.moment),
                due,
                status,
                outcome,
                literal(now, UTCDateTime),
                literal(now, UTCDateTime),
            )
            .select_from(Alumnus)
            .join(
                AftercareMoment,
                and_(
                    col(AftercareMoment.year) == col(Alumnus.graduation_year),
                    col(AftercareMoment.month) == month,
                ),
            )
            .where(people)
        )
        insert = insert_for(self._session)
        statement = (
            insert(Checkin)
            .from_select(
                [
                    "alumnus_id",
                    "moment",
                    "due_at",
                    "status",
                    "outcome",
                    "created_at",
                    "updated_at",
                ],
                source,
            )
            .on_conflict_do_nothing(index_elements=["alumnus_id", "moment"])
        )
        result = await self._session.execute(statement)
        added = int(result.rowcount or 0)  # type: ignore[attr-defined]
        await self._follow(now, grace_before, default_month, alumni)
        return added

    async def _follow(
        self,
        now: datetime,
        grace_before: datetime,
        default_month: int,
        alumni: Sequence[int] | None,
    ) -> None:
        """Move scheduled rows to the current due time; drop moments no longer scheduled."""
        month = func.coalesce(col(Alumnus.graduation_month), default_month)
        current_due = (
            select(col(AftercareMoment.due_at))
            .select_from(Alumnus)
            .join(
                AftercareMoment,
                and_(
                    col(AftercareMoment.year) == col(Alumnus.graduation_year),
                    col(AftercareMoment.month) == month,
                ),
            )
            .where(
                col(Alumnus.id) == col(Checkin.alumnus_id),
                col(AftercareMoment.moment) == col(Checkin.moment),
            )
            .correlate(Checkin)
            .scalar_subquery()
        )
        scheduled = [
            col(Checkin.status) == CheckinStatus.SCHEDULED.value,
            self._among(col(Checkin.alumnus_id), alumni),
        ]
        # A moment gone from the schedule (or a person without a date now): not asked.
        await self._session.execute(
            update(Checkin)
            .where(*scheduled, current_due.is_(None))
            .values(status=CheckinStatus.CANCELLED.value, outcome="schedule", updated_at=now)
        )
        # A moment that moved (a new schedule, a corrected date) is due at its new time; if
        # that is past the grace period, it is not asked. Rows that did not move are left to
        # the tick: after downtime it sends each person's latest due moment.
        moved_past = current_due < bindparam("moved_grace", grace_before, type_=UTCDateTime)
        await self._session.execute(
            update(Checkin)
            .where(*scheduled, current_due != col(Checkin.due_at))
            .values(
                due_at=current_due,
                status=case(
                    (moved_past, CheckinStatus.SKIPPED.value),
                    else_=CheckinStatus.SCHEDULED.value,
                ),
                outcome=case((moved_past, "grace"), else_=None),
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )

    # ------------------------------------------------------------------ the tick

    async def claim_due(self, now: datetime, limit: int) -> list[tuple[int, int]]:
        """Mark up to ``limit`` due check-ins asked; return (checkin id, alumnus id).

        Only each person's latest due check-in is claimed; several processes skip each
        other's rows (SKIP LOCKED), and the UPDATE is the claim.
        """
        newer = aliased(Checkin)
        latest = ~(
            select(col(newer.id))
            .where(
                col(newer.alumnus_id) == col(Checkin.alumnus_id),
                col(newer.status) == CheckinStatus.SCHEDULED.value,
                col(newer.due_at) <= now,
                col(newer.due_at) > col(Checkin.due_at),
            )
            .correlate(Checkin)
            .exists()
        )
        due = (
            select(col(Checkin.id))
            .where(
                col(Checkin.status) == CheckinStatus.SCHEDULED.value,
                col(Checkin.due_at) <= now,
                latest,
            )
            .order_by(col(Checkin.due_at), col(Checkin.id))
            .limit(limit)
        )
        if is_postgres(self._session):
            due = due.with_for_update(skip_locked=True, of=Checkin)
        result = await self._session.execute(
            update(Checkin)
            .where(col(Checkin.id).in_(due.scalar_subquery()))
            .values(status=CheckinStatus.ASKED.value, asked_at=now, updated_at=now)
            .returning(col(Checkin.id), col(Checkin.alumnus_id))
            .execution_options(synchronize_session=False)
        )
        return [(int(i or 0), int(a)) for i, a in result.all()]

    async def skip_older(self, alumni: Sequence[int], now: datetime) -> int:
        """After downtime: the other due check-ins of these people are skipped, not sent."""
        if not alumni:
            return 0
        result = await self._session.execute(
            update(Checkin)
            .where(
                col(Checkin.status) == CheckinStatus.SCHEDULED.value,
                col(Checkin.due_at) <= now,
                _ids(self._session, col(Checkin.alumnus_id), alumni),
            )
            .values(status=CheckinStatus.SKIPPED.value, outcome="catch_up", updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def drop_unsendable(self, ids: Sequence[int], now: datetime) -> int:
        """Of these claimed check-ins: no consent now -> cancelled; unreachable -> skipped."""
        if not ids:
            return 0
        person = aliased(Alumnus)
        dropped = 0
        no_consent = ~(
            select(col(person.id))
            .where(col(person.id) == col(Checkin.alumnus_id), consenting(AFTERCARE, person))
            .correlate(Checkin)
            .exists()
        )
        unreachable = (
            select(col(person.id))
            .where(
                col(person.id) == col(Checkin.alumnus_id),
                or_(
                    col(person.unreachable_since).is_not(None),
                    col(person.onboarded_at).is_(None),
                ),
            )
            .correlate(Checkin)
            .exists()
        )
        for condition, status, why in (
            (no_consent, CheckinStatus.CANCELLED, "no_consent"),
            (unreachable, CheckinStatus.SKIPPED, "unreachable"),
        ):
            result = await self._session.execute(
                update(Checkin)
                .where(_ids(self._session, col(Checkin.id), ids), col(Checkin.status).in_(OPEN))
                .where(condition)
                .values(status=status.value, outcome=why, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            dropped += int(result.rowcount or 0)  # type: ignore[attr-defined]
        return dropped

    async def queue(
        self, ids: Sequence[int], step: str, now: datetime, not_before: datetime
    ) -> int:
        """Queue one outbox row per check-in still open, in one ``INSERT .. SELECT``.

        The payload names the check-in; the words are rendered when it is sent, in the
        person's language and at the question they are at.
        """
        if not ids:
            return 0
        key = literal("checkin:") + cast(col(Checkin.id), String) + literal(f":{step}")
        if is_postgres(self._session):
            payload = func.json_build_object(
                "kind", "checkin", "checkin", col(Checkin.id), "step", step
            )
        else:
            payload = func.json_object("kind", "checkin", "checkin", col(Checkin.id), "step", step)
        source = (
            select(
                key,
                col(Alumnus.id),
                col(Alumnus.chat_id),
                literal(AFTERCARE),
                payload,
                literal(OutboxStatus.PENDING.value),
                literal(0),
                literal(not_before, UTCDateTime),
                literal(now, UTCDateTime),
                literal(now, UTCDateTime),
            )
            .select_from(Checkin)
            .join(Alumnus, col(Alumnus.id) == col(Checkin.alumnus_id))
            .where(_ids(self._session, col(Checkin.id), ids), col(Checkin.status).in_(OPEN))
        )
        return await insert_from(self._session, source)

    async def claim_reminders(
        self, asked_before: datetime, now: datetime, limit: int
    ) -> list[int]:
        """Mark unanswered check-ins asked before then reminded; return their ids."""
        due = (
            select(col(Checkin.id))
            .where(
                col(Checkin.status).in_(
                    [CheckinStatus.ASKED.value, CheckinStatus.ANSWERING.value]
                ),
                col(Checkin.reminded_at).is_(None),
                col(Checkin.asked_at) <= asked_before,
            )
            .order_by(col(Checkin.asked_at))
            .limit(limit)
        )
        if is_postgres(self._session):
            due = due.with_for_update(skip_locked=True, of=Checkin)
        result = await self._session.execute(
            update(Checkin)
            .where(col(Checkin.id).in_(due.scalar_subquery()))
            .values(status=CheckinStatus.REMINDED.value, reminded_at=now, updated_at=now)
            .returning(col(Checkin.id))
            .execution_options(synchronize_session=False)
        )
        return [int(i or 0) for i in result.scalars()]

    async def close_unanswered(self, reminded_before: datetime, now: datetime) -> int:
        """Reminded and still not (fully) answered long enough: recorded as no response."""
        result = await self._session.execute(
            update(Checkin)
            .where(
                col(Checkin.status).in_(
                    [CheckinStatus.REMINDED.value, CheckinStatus.ANSWERING.value]
                ),
                col(Checkin.reminded_at).is_not(None),
                col(Checkin.reminded_at) <= reminded_before,
            )
            .values(status=CheckinStatus.NO_RESPONSE.value, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def cancel_withdrawn(self, now: datetime) -> int:
        """Open check-ins of people who withdrew consent meanwhile: cancelled."""
        person = aliased(Alumnus)
        no_consent = ~(
            select(col(person.id))
            .where(col(person.id) == col(Checkin.alumnus_id), consenting(AFTERCARE, person))
            .correlate(Checkin)
            .exists()
        )
        result = await self._session.execute(
            update(Checkin)
            .where(col(Checkin.status).in_(OPEN), no_consent)
            .values(status=CheckinStatus.CANCELLED.value, outcome="withdrawn", updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ one check-in

    async def get(self, checkin_id: int, *, lock: bool = False) -> Checkin | None:
        """Return one check-in (locked for the answer on PostgreSQL)."""
        query = select(Checkin).where(col(Checkin.id) == checkin_id)
        if lock and is_postgres(self._session):
            query = query.with_for_update()
        return (await self._session.execute(query)).scalar_one_or_none()

    async def statuses(self, ids: Iterable[int]) -> dict[int, Checkin]:
        """Return check-ins by id."""
        wanted = list(set(ids))
        if not wanted:
            return {}
        result = await self._session.execute(select(Checkin).where(col(Checkin.id).in_(wanted)))
        return {c.id: c for c in result.scalars() if c.id is not None}

    async def asked_since(self, alumni: Iterable[int], since: datetime) -> dict[int, list[int]]:
        """Return, per person, the ids of check-ins asked since then (still counting)."""
        wanted = list(set(alumni))
        if not wanted:
            return {}
        result = await self._session.execute(
            select(col(Checkin.alumnus_id), col(Checkin.id)).where(
                col(Checkin.alumnus_id).in_(wanted),
                col(Checkin.asked_at) >= since,
                col(Checkin.status).not_in(
                    [CheckinStatus.SKIPPED.value, CheckinStatus.CANCELLED.value]
                ),
            )
        )
        found: dict[int, list[int]] = {}
        for alumnus_id, checkin_id in result.all():
            found.setdefault(int(alumnus_id), []).append(int(checkin_id or 0))
        return found

    async def set(self, checkin_id: int, **values: Any) -> None:
        """Update columns of one check-in."""
        await self._session.execute(
            update(Checkin).where(col(Checkin.id) == checkin_id).values(**values)
        )

    async def skip(self, ids: Sequence[int], outcome: str, now: datetime) -> None:
        """Record these check-ins as never asked, and why."""
        if ids:
            await self._session.execute(
                update(Checkin)
                .where(col(Checkin.id).in_(list(ids)))
                .values(status=CheckinStatus.SKIPPED.value, outcome=outcome, updated_at=now)
            )

    async def add_answer(self, answer: CheckinAnswer) -> None:
        """Append one answer (answers are never updated)."""
        self._session.add(answer)
        await self._session.flush()

    async def answers(self, checkin_id: int) -> list[CheckinAnswer]:
        """Return the answers of one check-in, oldest first."""
        result = await self._session.execute(
            select(CheckinAnswer)
            .where(col(CheckinAnswer.checkin_id) == checkin_id)
            .order_by(col(CheckinAnswer.id))
        )
        return list(result.scalars())

    async def history(self, alumnus_id: int) -> list[tuple[Checkin, list[CheckinAnswer]]]:
        """Return every check-in of a person with its answers (their export)."""
        checkins = await self._session.execute(
            select(Checkin)
            .where(col(Checkin.alumnus_id) == alumnus_id)
            .order_by(col(Checkin.due_at))
        )
        answers = await self._session.execute(
            select(CheckinAnswer)
            .where(col(CheckinAnswer.alumnus_id) == alumnus_id)
            .order_by(col(CheckinAnswer.id))
        )
        by_checkin: dict[int, list[CheckinAnswer]] = {}
        for answer in answers.scalars():
            by_checkin.setdefault(answer.checkin_id, []).append(answer)
        return [(c, by_checkin.get(c.id or 0, [])) for c in checkins.scalars()]

    async def counts(self) -> dict[str, int]:
        """Return check-ins per status (tests, the console)."""
        result = await self._session.execute(
            select(col(Checkin.status), func.count()).group_by(col(Checkin.status))
        )
        return {s: int(n) for s, n in result.all()}
