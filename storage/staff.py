"""Repositories for staff, teams, console sessions, login attempts and the staff audit log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.db import is_postgres
from storage.models import AuditEvent, LoginAttempt, StaffMember, Team, TeamMembership, WebSession


class StaffRepository:
    """Staff members (console users and, later, staff-group members)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def by_email(self, email: str) -> StaffMember | None:
        """Return the staff member with this (normalised) e-mail address, if any."""
        result = await self._session.execute(
            select(StaffMember).where(col(StaffMember.email) == email)
        )
        return result.scalar_one_or_none()

    async def by_id(self, staff_id: int) -> StaffMember | None:
        """Return a staff member by id."""
        return await self._session.get(StaffMember, staff_id)

    async def by_telegram(self, user_id: int) -> StaffMember | None:
        """Return the staff member linked to this Telegram user id (never by username)."""
        result = await self._session.execute(
            select(StaffMember).where(col(StaffMember.telegram_user_id) == user_id)
        )
        return result.scalar_one_or_none()

    async def link_telegram(self, staff_id: int, user_id: int | None) -> None:
        """Link (or unlink) a staff member's Telegram account."""
        await self._session.execute(
            update(StaffMember)
            .where(col(StaffMember.id) == staff_id)
            .values(telegram_user_id=user_id)
        )

    async def add(self, member: StaffMember) -> StaffMember:
        """Insert a staff member and return it with its id."""
        self._session.add(member)
        await self._session.flush()
        return member

    async def all(self) -> Sequence[StaffMember]:
        """Return every staff member, by e-mail address."""
        result = await self._session.execute(select(StaffMember).order_by(col(StaffMember.email)))
        return list(result.scalars())

    async def set_active(self, staff_id: int, *, active: bool) -> None:
        """Enable or disable a staff member."""
        await self._session.execute(
            update(StaffMember).where(col(StaffMember.id) == staff_id).values(active=active)
        )

    async def set_password(
        self, staff_id: int, password_hash: str, temporary_until: datetime | None = None
    ) -> None:
        """Store a new password hash; ``temporary_until`` marks an admin's temporary one."""
        await self._session.execute(
            update(StaffMember)
            .where(col(StaffMember.id) == staff_id)
            .values(password_hash=password_hash, password_temporary_until=temporary_until)
        )

    async def record_login(
        self, staff_id: int, now: datetime, password_hash: str | None = None
    ) -> None:
        """Stamp the last login and, after a rehash, store the new password hash."""
        values: dict[str, object] = {"last_login_at": now}
        if password_hash is not None:
            values["password_hash"] = password_hash
        await self._session.execute(
            update(StaffMember).where(col(StaffMember.id) == staff_id).values(**values)
        )


class TeamRepository:
    """Teams of coordinators and who belongs to them."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def by_code(self, code: str) -> Team | None:
        """Return the team with this code, if any."""
        result = await self._session.execute(select(Team).where(col(Team.code) == code))
        return result.scalar_one_or_none()

    async def by_id(self, team_id: int) -> Team | None:
        """Return one team."""
        return await self._session.get(Team, team_id)

    async def by_chat(self, chat_id: int) -> Team | None:
        """Return the team whose staff group is this chat."""
        result = await self._session.execute(select(Team).where(col(Team.chat_id) == chat_id))
        return result.scalar_one_or_none()

    async def default(self) -> Team | None:
        """Return the default team (for conversations no rule routes)."""
        result = await self._session.execute(select(Team).where(col(Team.is_default).is_(True)))
        return result.scalars().first()

    async def set_chat(self, team_id: int, chat_id: int | None) -> None:
        """Link a team to its staff group."""
        await self._session.execute(
            update(Team).where(col(Team.id) == team_id).values(chat_id=chat_id)
        )

    async def is_member(self, staff_id: int, team_id: int) -> bool:
        """Return whether a staff member belongs to a team."""
        return await self._session.get(TeamMembership, (staff_id, team_id)) is not None

    async def add(self, team: Team) -> Team:
        """Insert a team and return it with its id."""
        self._session.add(team)
        await self._session.flush()
        return team

    async def all(self) -> Sequence[Team]:
        """Return every team, by code."""
        result = await self._session.execute(select(Team).order_by(col(Team.code)))
        return list(result.scalars())

    async def clear_default(self) -> None:
        """Make no team the default (before another one becomes it)."""
        await self._session.execute(
            update(Team).where(col(Team.is_default).is_(True)).values(is_default=False)
        )

    async def add_member(self, staff_id: int, team_id: int) -> None:
        """Put a staff member in a team (idempotent)."""
        if await self._session.get(TeamMembership, (staff_id, team_id)) is None:
            self._session.add(TeamMembership(staff_id=staff_id, team_id=team_id))
            await self._session.flush()

    async def of_staff(self, staff_id: int) -> Sequence[Team]:
        """Return the teams of one staff member, by code."""
        result = await self._session.execute(
            select(Team)
            .join(TeamMembership, col(TeamMembership.team_id) == col(Team.id))
            .where(col(TeamMembership.staff_id) == staff_id)
            .order_by(col(Team.code))
        )
        return list(result.scalars())

    async def codes_by_staff(self) -> dict[int, list[str]]:
        """Return the team codes of every staff member who has any."""
        result = await self._session.execute(
            select(col(TeamMembership.staff_id), col(Team.code))
            .join(Team, col(TeamMembership.team_id) == col(Team.id))
            .order_by(col(Team.code))
        )
        codes: dict[int, list[str]] = {}
        for staff_id, code in result.all():
            codes.setdefault(staff_id, []).append(code)
        return codes


class WebSessionRepository:
    """Server-side console sessions, found by the SHA-256 of the cookie's token."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, web_session: WebSession) -> None:
        """Store a new session."""
        self._session.add(web_session)

    async def live(self, token_hash: str, now: datetime) -> tuple[WebSession, StaffMember] | None:
        """Return an unexpired session and its staff member, if the member is active."""
        result = await self._session.execute(
            select(WebSession, StaffMember)
            .join(StaffMember, col(StaffMember.id) == col(WebSession.staff_id))
            .where(
                col(WebSession.token_hash) == token_hash,
                col(WebSession.expires_at) > now,
                col(StaffMember.active).is_(True),
            )
        )
        row = result.first()
        return None if row is None else (row[0], row[1])

    async def touch(self, token_hash: str, now: datetime) -> None:
        """Record that a session was used."""
        await self._session.execute(
            update(WebSession)
            .where(col(WebSession.token_hash) == token_hash)
            .values(last_seen_at=now)
        )

    async def delete(self, token_hash: str) -> None:
        """End one session."""
        await self._session.execute(
            delete(WebSession).where(col(WebSession.token_hash) == token_hash)
        )

    async def delete_for_staff(self, staff_id: int, keep: str | None = None) -> int:
        """End every session of a staff member but ``keep`` (a token hash); return how many."""
        statement = delete(WebSession).where(col(WebSession.staff_id) == staff_id)
        if keep is not None:
            statement = statement.where(col(WebSession.token_hash) != keep)
        result = await self._session.execute(statement)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def purge_expired(self, now: datetime) -> int:
        """Delete sessions past their expiry."""
        result = await self._session.execute(
            delete(WebSession).where(col(WebSession.expires_at) <= now)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class LoginAttemptRepository:
    """Login attempts per key (an e-mail address, or ``ip:`` plus an address)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def failures_since(self, key: str, since: datetime) -> int:
        """Count failures for ``key`` after ``since`` and after the key's last success.

        "After" the last success is by id, the order in which attempts were reserved, so
        attempts in the same instant are ordered too.
        """
        last_success = (
            select(func.max(col(LoginAttempt.id)))
            .where(col(LoginAttempt.key) == key, col(LoginAttempt.success).is_(True))
            .scalar_subquery()
        )
        result = await self._session.execute(
            select(func.count())
            .select_from(LoginAttempt)
            .where(
                col(LoginAttempt.key) == key,
                col(LoginAttempt.success).is_(False),
                col(LoginAttempt.at) > since,
                col(LoginAttempt.id) > func.coalesce(last_success, 0),
            )
        )
        return int(result.scalar_one())

    async def reserve(
        self, limits: Sequence[tuple[str, int]], since: datetime, now: datetime
    ) -> list[int] | None:
        """Count and record a failure for every key in one step, before the password is checked.

        Returns the ids of the attempts recorded (one per key, in order), or None when a key
        has ``limit`` failures since ``since`` already; then nothing is recorded. Concurrent
        callers for the same key are serialised: on PostgreSQL by a transaction-scoped
        advisory lock per key (taken in the given order: every caller names its e-mail key
        before its address key, so no two wait on each other); SQLite has one writer, and the
        caller's transaction has written before this (see ``ConsoleAuth.login``).
        """
        if is_postgres(self._session):
            for key, _ in limits:
                await self._session.execute(
                    text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
                )
        for key, limit in limits:
            if await self.failures_since(key, since) >= limit:
                return None
        attempts = [LoginAttempt(key=key, success=False, at=now) for key, _ in limits]
        self._session.add_all(attempts)
        await self._session.flush()
        return [attempt.id for attempt in attempts if attempt.id is not None]

    async def succeeded(self, attempt_id: int) -> None:
        """Turn a reserved attempt into a success (which clears its key's count)."""
        await self._session.execute(
            update(LoginAttempt).where(col(LoginAttempt.id) == attempt_id).values(success=True)
        )

    async def withdraw(self, attempt_id: int) -> None:
        """Forget a reserved attempt that did not fail (a sign-in that worked)."""
        await self._session.execute(delete(LoginAttempt).where(col(LoginAttempt.id) == attempt_id))

    async def purge(self, before: datetime) -> int:
        """Forget attempts older than ``before``."""
        result = await self._session.execute(
            delete(LoginAttempt).where(col(LoginAttempt.at) < before)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class AuditRepository:
    """The append-only record of what staff did and read."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def record(
        self, staff_id: int | None, action: str, subject: str | None, now: datetime
    ) -> None:
        """Append one audit event."""
        self._session.add(AuditEvent(staff_id=staff_id, action=action, subject=subject, at=now))

    async def of_staff(self, staff_id: int) -> Sequence[AuditEvent]:
        """Return the events of one staff member, oldest first."""
        result = await self._session.execute(
            select(AuditEvent)
            .where(col(AuditEvent.staff_id) == staff_id)
            .order_by(col(AuditEvent.id))
        )
        return list(result.scalars())
