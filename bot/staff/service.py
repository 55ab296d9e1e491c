"""Staff accounts, teams, and console sign-in: passwords, sessions, lock-out and audit."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bot.core.clock import Clock
from bot.core.settings import Settings
from bot.staff.passwords import MIN_PASSWORD_LENGTH as MIN_PASSWORD_LENGTH
from bot.staff.passwords import password_problem
from storage.models import StaffMember, Team, WebSession
from storage.repositories import ConflictError, Storage, Tx

logger = logging.getLogger(__name__)

ROLES = ("admin", "coordinator")
ADMIN = "admin"
TEMPORARY_PASSWORD_HOURS = 24
_TEMPORARY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
IP_MAX_FAILURES = 20  # per address per lock-out window: many accounts, one attacker
LOGIN_FORM_TTL = timedelta(hours=1)


class StaffError(Exception):
    """A staff or team operation that cannot be done; the message says why."""


class DuplicateError(StaffError):
    """The e-mail address or team code exists already."""


class NotFoundError(StaffError):
    """No staff member or team with that e-mail address or code."""


class InvalidInputError(StaffError):
    """A role, e-mail address, code or password that is not acceptable."""


class WeakPasswordError(InvalidInputError):
    """A new password the policy refuses; ``reason`` names the rule (``web.password_*``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the password is refused: {reason}")
        self.reason = reason


def check_new_password(password: str, email: str, name: str) -> None:
    """Raise :class:`WeakPasswordError` unless the policy accepts ``password``."""
    reason = password_problem(password, email=email, name=name)
    if reason is not None:
        raise WeakPasswordError(reason)


def temporary_password() -> str:
    """Return a random one-time password an admin can read out: 4 groups of 4."""
    chars = [secrets.choice(_TEMPORARY_ALPHABET) for _ in range(16)]
    return "-".join("".join(chars[i : i + 4]) for i in range(0, 16, 4))


@dataclass(frozen=True)
class StaffView:
    """A staff member as lists show them: never the password hash."""

    id: int
    email: str
    display_name: str
    role: str
    active: bool
    teams: tuple[str, ...]  # codes, as the CLI takes them
    last_login_at: datetime | None
    team_names: tuple[str, ...] = ()  # the same teams by name, as people read them


@dataclass(frozen=True)
class TeamView:
    """A team as lists show it."""

    code: str
    name: str
    is_default: bool


@dataclass(frozen=True)
class Principal:
    """The signed-in staff member behind a console request."""

    staff_id: int
    email: str
    display_name: str
    role: str
    teams: tuple[TeamView, ...]
    csrf_token: str
    token_hash: str
    must_change_password: bool = False  # signed in with an admin's temporary password

    @property
    def is_admin(self) -> bool:
        """Return whether this member may manage staff."""
        return self.role == ADMIN


@dataclass(frozen=True)
class NewSession:
    """A session just created at login: ``token`` goes into the cookie and nowhere else."""

    token: str
    principal: Principal


def normalise_email(email: str) -> str:
    """Trim and lower-case an e-mail address (addresses are compared case-insensitively)."""
    return email.strip().lower()


def hash_token(token: str) -> str:
    """Return the SHA-256 hex digest under which a session token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def _team_view(team: Team) -> TeamView:
    return TeamView(code=team.code, name=team.name, is_default=team.is_default)


class StaffService:
    """Create, list and disable staff; add teams and memberships (CLI and admin pages)."""

    def __init__(
        self, storage: Storage, clock: Clock, hasher: PasswordHasher | None = None
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._hasher = hasher or PasswordHasher()

    async def add_staff(
        self,
        email: str,
        display_name: str,
        role: str,
        password: str,
        team_codes: Sequence[str] = (),
    ) -> StaffView:
        """Create a staff member with an Argon2id password hash, in the given teams.

        Raises:
            InvalidInputError: bad e-mail address, name, role or a password under 12 characters.
            DuplicateError: the e-mail address is taken.
            NotFoundError: one of the team codes does not exist.
        """
        email = normalise_email(email)
        display_name = display_name.strip()
        if email.count("@") != 1 or any(c.isspace() for c in email) or len(email) > 254:
            raise InvalidInputError(f"not an e-mail address: {email!r}")
        if not display_name or len(display_name) > 128:
            raise InvalidInputError("the name must be 1 to 128 characters")
        if role not in ROLES:
            raise InvalidInputError(f"role must be one of {', '.join(ROLES)}")
        check_new_password(password, email, display_name)
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        try:
            async with self._storage.transaction() as tx:
                repos = tx
                if await repos.staff.by_email(email) is not None:
                    raise DuplicateError(f"a staff member with e-mail {email} exists already")
                teams = []
                for code in team_codes:
                    team = await repos.teams.by_code(code.strip().lower())
                    if team is None:
                        raise NotFoundError(f"no team with code {code!r}")
                    teams.append(team)
                member = await repos.staff.add(
                    StaffMember(
                        email=email,
                        display_name=display_name,
                        password_hash=password_hash,
                        role=role,
                        created_at=self._clock.now(),
                    )
                )
                assert member.id is not None
                for team in teams:
                    assert team.id is not None
                    await repos.teams.add_member(member.id, team.id)
        except ConflictError:  # a concurrent add of the same address
            raise DuplicateError(f"a staff member with e-mail {email} exists already") from None
        logger.info("staff member %s added as %s", member.id, role)
        return StaffView(
            id=member.id,
            email=email,
            display_name=display_name,
            role=role,
            active=True,
            teams=tuple(sorted(t.code for t in teams)),
            last_login_at=None,
        )

    async def list_staff(self, reader_id: int | None = None) -> list[StaffView]:
        """Return every staff member; a console reader is recorded in the audit log."""
        async with self._storage.transaction() as tx:
            repos = tx
            members = await repos.staff.all()
            codes = await repos.teams.codes_by_staff()
            names = {t.code: t.name for t in await repos.teams.all()}
            if reader_id is not None:
                repos.audit.record(reader_id, "read:staff_list", None, self._clock.now())
        views = []
        for m in members:
            assert m.id is not None
            views.append(
                StaffView(
                    id=m.id,
                    email=m.email,
                    display_name=m.display_name,
                    role=m.role,
                    active=m.active,
                    teams=tuple(codes.get(m.id, [])),
                    last_login_at=m.last_login_at,
                    team_names=tuple(names.get(c, c) for c in codes.get(m.id, [])),
                )
            )
        return views

    async def disable(self, email: str) -> None:
        """Disable a staff member and end their console sessions at once.

        Raises:
            NotFoundError: no staff member has this e-mail address.
        """
        email = normalise_email(email)
        async with self._storage.transaction() as tx:
            repos = tx
            member = await repos.staff.by_email(email)
            if member is None or member.id is None:
                raise NotFoundError(f"no staff member with e-mail {email}")
            await repos.staff.set_active(member.id, active=False)
            ended = await repos.web_sessions.delete_for_staff(member.id)
        logger.info("staff member %s disabled; %d sessions ended", member.id, ended)

    async def set_password(self, email: str, password: str) -> None:
        """Give a member a new password (the CLI) and end all their console sessions.

        Raises:
            NotFoundError: no staff member has this e-mail address.
            WeakPasswordError: the policy refuses the password.
        """
        email = normalise_email(email)
        async with self._storage.transaction() as tx:
            member = await tx.staff.by_email(email)
        if member is None or member.id is None:
            raise NotFoundError(f"no staff member with e-mail {email}")
        check_new_password(password, member.email, member.display_name)
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        async with self._storage.transaction() as tx:
            repos = tx
            await repos.staff.set_password(member.id, password_hash)
            ended = await repos.web_sessions.delete_for_staff(member.id)
            repos.audit.record(None, "reset:password", str(member.id), self._clock.now())
        logger.info("staff member %s got a new password; %d sessions ended", member.id, ended)

    async def reset_password(self, admin_id: int, staff_id: int) -> tuple[str, datetime]:
        """Give a member a temporary password (an admin, in the console); end their sessions.

        The password works for ``TEMPORARY_PASSWORD_HOURS`` and only to choose a new one.
        Returns it (to show once; only its hash is stored) and when it stops working.

        Raises:
            NotFoundError: no staff member with this id.
        """
        password = temporary_password()
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        now = self._clock.now()
        until = now + timedelta(hours=TEMPORARY_PASSWORD_HOURS)
        async with self._storage.transaction() as tx:
            repos = tx
            member = await repos.staff.by_id(staff_id)
            if member is None:
                raise NotFoundError(f"no staff member {staff_id}")
            await repos.staff.set_password(staff_id, password_hash, until)
            ended = await repos.web_sessions.delete_for_staff(staff_id)
            repos.audit.record(admin_id, "reset:password", str(staff_id), now)
        logger.info("staff member %s reset the password of %s", admin_id, staff_id)
        logger.info("%d sessions of staff member %s ended", ended, staff_id)
        return password, until

    async def add_team(self, code: str, name: str, *, default: bool = False) -> TeamView:
        """Create a team; ``default`` makes it the one that gets unrouted conversations.

        Raises:
            InvalidInputError: an empty or too long code or name.
            DuplicateError: the code is taken.
        """
        code, name = code.strip().lower(), name.strip()
        if not code or len(code) > 32 or not all(c.isalnum() or c in "-_" for c in code):
            raise InvalidInputError("a team code is 1 to 32 letters, digits, - or _")
        if not name or len(name) > 128:
            raise InvalidInputError("the team name must be 1 to 128 characters")
        try:
            async with self._storage.transaction() as tx:
                repos = tx
                if await repos.teams.by_code(code) is not None:
                    raise DuplicateError(f"a team with code {code!r} exists already")
                # The first team is the default until another one is named.
                if default:
                    await repos.teams.clear_default()
                else:
                    default = not await repos.teams.all()
                await repos.teams.add(
                    Team(code=code, name=name, is_default=default, created_at=self._clock.now())
                )
        except ConflictError:
            raise DuplicateError(f"a team with code {code!r} exists already") from None
        return TeamView(code=code, name=name, is_default=default)

    async def list_teams(self) -> list[TeamView]:
        """Return every team, by code."""
        async with self._storage.transaction() as tx:
            return [_team_view(t) for t in await tx.teams.all()]

    async def join_team(self, email: str, code: str) -> None:
        """Add a staff member to a team (nothing happens if they are in it already).

        Raises:
            NotFoundError: unknown e-mail address or team code.
        """
        email = normalise_email(email)
        async with self._storage.transaction() as tx:
            repos = tx
            member = await repos.staff.by_email(email)
            team = await repos.teams.by_code(code.strip().lower())
            if member is None or member.id is None:
                raise NotFoundError(f"no staff member with e-mail {email}")
            if team is None or team.id is None:
                raise NotFoundError(f"no team with code {code!r}")
            await repos.teams.add_member(member.id, team.id)

    async def link_telegram(self, email: str, telegram_user_id: int) -> None:
        """Link a staff member's Telegram account (by numeric user id, never by username).

        Raises:
            NotFoundError: unknown e-mail address.
            DuplicateError: that Telegram account is linked to someone else.
        """
        email = normalise_email(email)
        async with self._storage.transaction() as tx:
            member = await tx.staff.by_email(email)
            if member is None or member.id is None:
                raise NotFoundError(f"no staff member with e-mail {email}")
            other = await tx.staff.by_telegram(telegram_user_id)
            if other is not None and other.id != member.id:
                raise DuplicateError("that Telegram account is linked to another staff member")
            await tx.staff.link_telegram(member.id, telegram_user_id)

    async def link_group(self, code: str, chat_id: int) -> None:
        """Make a forum supergroup the staff group of a team.

        Raises:
            NotFoundError: unknown team code.
            InvalidInputError: not a group chat id (they are negative).
            DuplicateError: the group belongs to another team.
        """
        if chat_id >= 0:
            raise InvalidInputError("a group chat id is negative, e.g. -1001234567890")
        async with self._storage.transaction() as tx:
            team = await tx.teams.by_code(code.strip().lower())
            if team is None or team.id is None:
                raise NotFoundError(f"no team with code {code!r}")
            other = await tx.teams.by_chat(chat_id)
            if other is not None and other.id != team.id:
                raise DuplicateError(f"that group belongs to team {other.code}")
            await tx.teams.set_chat(team.id, chat_id)


STAFF_LINK_TTL = timedelta(minutes=10)
STAFF_LINK_PREFIX = "staff-"


class StaffLinks:
    """Self-service linking of a staff member's Telegram account by a deep link.

    The console issues a token for the signed-in member (``t.me/<bot>?start=<token>``); the
    bot redeems it for the Telegram account that sends it. A token is signed with the secret
    key and bound to the member, the moment it was issued (valid ``STAFF_LINK_TTL``) and
    the account linked at that moment, so once it has linked another account it no longer
    works.
    Telegram allows 64 characters of ``[A-Za-z0-9_-]`` in a start parameter; ours use ~46.
    """

    def __init__(self, storage: Storage, clock: Clock, secret_key: str) -> None:
        self._storage = storage
        self._clock = clock
        self._key = secret_key.encode()

    def _sign(self, staff_id: int, issued: int, linked: int | None) -> str:
        message = f"staff-link:{staff_id}:{issued}:{linked or 0}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    async def linked(self, staff_id: int) -> bool:
        """Return whether the member has a Telegram account linked."""
        async with self._storage.transaction() as tx:
            member = await tx.staff.by_id(staff_id)
        return member is not None and member.telegram_user_id is not None

    async def issue(self, staff_id: int) -> tuple[str, datetime]:
        """Return a fresh link token for this member, and when it stops working.

        Raises:
            NotFoundError: no active staff member with this id.
        """
        async with self._storage.transaction() as tx:
            member = await tx.staff.by_id(staff_id)
        if member is None or not member.active:
            raise NotFoundError(f"no active staff member {staff_id}")
        now = self._clock.now()
        issued = int(now.timestamp())
        signature = self._sign(staff_id, issued, member.telegram_user_id)
        token = f"{STAFF_LINK_PREFIX}{staff_id}-{issued}-{signature}"
        return token, now + STAFF_LINK_TTL

    async def redeem(self, tx: Tx, token: str, telegram_user_id: int) -> tuple[str, str]:
        """Link the account that sent ``token``; return (outcome, the member's name).

        Outcomes: ``linked``; ``invalid`` (forged, mangled, used, or the member is disabled);
        ``expired``; ``taken`` (this Telegram account is linked to another staff member).
        """
        parts = token.removeprefix(STAFF_LINK_PREFIX).split("-", 2)
        if len(parts) != 3 or not (parts[0].isdigit() and parts[1].isdigit()):
            return "invalid", ""
        staff_id, issued, signature = int(parts[0]), int(parts[1]), parts[2]
        member = await tx.staff.by_id(staff_id) if staff_id < 2**31 else None
        if member is None or not member.active:
            return "invalid", ""
        expected = self._sign(staff_id, issued, member.telegram_user_id)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return "invalid", ""
        age = self._clock.now().timestamp() - issued
        if not 0 <= age <= STAFF_LINK_TTL.total_seconds():
            return "expired", ""
        other = await tx.staff.by_telegram(telegram_user_id)
        if other is not None and other.id != staff_id:
            return "taken", ""
        await tx.staff.link_telegram(staff_id, telegram_user_id)
        logger.info("staff member %s linked a Telegram account by deep link", staff_id)
        return "linked", member.display_name

    async def unlink(self, staff_id: int) -> None:
        """Forget a member's Telegram account (they can link another)."""
        async with self._storage.transaction() as tx:
            await tx.staff.link_telegram(staff_id, None)


class ConsoleAuth:
    """Console sign-in: one generic failure, lock-out, server-side sessions and the audit log."""

    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        settings: Settings,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._settings = settings
        self._hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    @property
    def _window(self) -> timedelta:
        return timedelta(minutes=self._settings.login_lockout_minutes)

    async def login(self, email: str, password: str, ip: str) -> NewSession | None:
        """Check a password and open a new session; None for every kind of failure.

        Unknown address, wrong password, disabled account and lock-out all look the same to
        the caller, so the page cannot tell an attacker which addresses exist. Attempts refused
        by the lock-out are not counted, so a lock-out ends one window after its last failure.
        """
        email = normalise_email(email)
        ip_key = f"ip:{ip}"
        now = self._clock.now()
        since = now - self._window
        async with self._storage.transaction() as tx:
            repos = tx
            # The purge is a write, so on SQLite this transaction holds the one writer lock
            # from here on; counting and recording below are then one step (see reserve).
            await repos.login_attempts.purge(since)
            # The attempt counts as a failure from now on, before the password is checked, so
            # concurrent guesses cannot all pass the count before any of them is recorded.
            reserved = await repos.login_attempts.reserve(
                [(email, self._settings.login_max_failures), (ip_key, IP_MAX_FAILURES)],
                since,
                now,
            )
            member = None if reserved is None else await repos.staff.by_email(email)
        if reserved is None:
            # Same work as a real check, so the answer's timing does not reveal the lock.
            await asyncio.to_thread(self._verify, None, password)
            logger.warning("console login refused: locked out (address or account)")
            return None

        usable = (
            member is not None
            and member.active
            and member.password_hash is not None
            and (member.password_temporary_until is None or member.password_temporary_until > now)
        )
        stored = member.password_hash if usable and member is not None else None
        valid = await asyncio.to_thread(self._verify, stored, password)
        now = self._clock.now()
        if not valid or member is None or member.id is None:
            if member is not None:  # the failure itself was recorded by reserve
                async with self._storage.transaction() as tx:
                    tx.audit.record(member.id, "login_failed", None, now)
            logger.info("console login failed")
            return None

        assert stored is not None
        rehashed = None
        if self._hasher.check_needs_rehash(stored):
            rehashed = await asyncio.to_thread(self._hasher.hash, password)
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        async with self._storage.transaction() as tx:
            repos = tx
            email_attempt, ip_attempt = reserved
            await repos.login_attempts.succeeded(email_attempt)  # clears the address's count
            await repos.login_attempts.withdraw(
                ip_attempt
            )  # a success is no guess from this address
            await repos.web_sessions.purge_expired(now)
            repos.web_sessions.add(
                WebSession(
                    token_hash=hash_token(token),
                    staff_id=member.id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + timedelta(hours=self._settings.web_session_hours),
                    last_seen_at=now,
                )
            )
            await repos.staff.record_login(member.id, now, rehashed)
            repos.audit.record(member.id, "login", None, now)
            teams = tuple(_team_view(t) for t in await repos.teams.of_staff(member.id))
        logger.info("staff member %s signed in to the console", member.id)
        return NewSession(
            token=token,
            principal=Principal(
                staff_id=member.id,
                email=member.email,
                display_name=member.display_name,
                role=member.role,
                teams=teams,
                csrf_token=csrf,
                token_hash=hash_token(token),
                must_change_password=member.password_temporary_until is not None,
            ),
        )

    def _verify(self, stored: str | None, password: str) -> bool:
        """Verify in a worker thread; hash a dummy when there is no account (equal timing)."""
        if stored is None:
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
            stored = self._dummy_hash
            password = ""
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    async def session(self, token: str) -> Principal | None:
        """Return who holds this cookie token, if the session is live and the member active."""
        if not token or len(token) > 128:
            return None
        token_hash = hash_token(token)
        now = self._clock.now()
        async with self._storage.transaction() as tx:
            repos = tx
            found = await repos.web_sessions.live(token_hash, now)
            if found is None:
                return None
            web_session, member = found
            assert member.id is not None
            teams = tuple(_team_view(t) for t in await repos.teams.of_staff(member.id))
            if now - web_session.last_seen_at > timedelta(minutes=1):
                await repos.web_sessions.touch(token_hash, now)
        return Principal(
            staff_id=member.id,
            email=member.email,
            display_name=member.display_name,
            role=member.role,
            teams=teams,
            csrf_token=web_session.csrf_token,
            token_hash=token_hash,
            must_change_password=member.password_temporary_until is not None,
        )

    async def change_password(self, principal: Principal, current: str, new: str) -> str | None:
        """Change the signed-in member's own password; return why not, or None when done.

        The current password is checked as a sign-in is, under the same lock-out (so this
        form is no way around it). Done, every other session of the member ends; this one
        stays. Reasons: ``current_wrong`` and those of :func:`password_problem`.
        """
        now = self._clock.now()
        since = now - self._window
        async with self._storage.transaction() as tx:
            repos = tx
            await repos.login_attempts.purge(since)
            reserved = await repos.login_attempts.reserve(
                [(principal.email, self._settings.login_max_failures)], since, now
            )
            member = await repos.staff.by_id(principal.staff_id)
        stored = member.password_hash if member is not None and reserved is not None else None
        if not await asyncio.to_thread(self._verify, stored, current) or member is None:
            async with self._storage.transaction() as tx:
                tx.audit.record(principal.staff_id, "refused:password", None, now)
            return "current_wrong"
        assert reserved is not None
        async with self._storage.transaction() as tx:
            await tx.login_attempts.withdraw(reserved[0])  # the right password: no guess
        reason = password_problem(new, email=member.email, name=member.display_name)
        if reason is None and hmac.compare_digest(current.encode(), new.encode()):
            reason = "unchanged"
        if reason is not None:
            return reason
        password_hash = await asyncio.to_thread(self._hasher.hash, new)
        async with self._storage.transaction() as tx:
            repos = tx
            await repos.staff.set_password(principal.staff_id, password_hash)
            ended = await repos.web_sessions.delete_for_staff(
                principal.staff_id, keep=principal.token_hash
            )
            repos.audit.record(principal.staff_id, "change:password", None, self._clock.now())
        logger.info(
            "staff member %s changed their password; %d other sessions ended",
            principal.staff_id,
            ended,
        )
        return None

    async def logout(self, principal: Principal) -> None:
        """Delete the server-side session, so the cookie is worthless even if replayed."""
        async with self._storage.transaction() as tx:
            repos = tx
            await repos.web_sessions.delete(principal.token_hash)
            repos.audit.record(principal.staff_id, "logout", None, self._clock.now())
        logger.info("staff member %s signed out of the console", principal.staff_id)

    async def audit(self, principal: Principal, action: str, subject: str | None = None) -> None:
        """Record that a staff member read or did something."""
        async with self._storage.transaction() as tx:
            tx.audit.record(principal.staff_id, action, subject, self._clock.now())


class LoginFormToken:
    """CSRF for the login form, before any session: an HMAC over a cookie's random value.

    The cookie holds a random nonce; the form holds ``issued.hmac(key, nonce|issued)``. A
    forged cross-site POST has neither the cookie (SameSite=Strict) nor a matching token.
    """

    def __init__(self, secret: str, ttl: timedelta = LOGIN_FORM_TTL) -> None:
        self._key = hashlib.sha256(b"alumnibot-login-csrf|" + secret.encode()).digest()
        self.ttl = ttl

    @staticmethod
    def new_nonce() -> str:
        """Return a fresh random value for the cookie."""
        return secrets.token_urlsafe(24)

    @staticmethod
    def well_formed(nonce: str | None) -> bool:
        """Return whether a cookie value could be one of our nonces."""
        return bool(nonce) and 16 <= len(nonce or "") <= 64

    def _sign(self, nonce: str, issued: int) -> str:
        digest = hmac.new(self._key, f"{nonce}|{issued}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def issue(self, nonce: str, now: datetime) -> str:
        """Return the form token for this nonce."""
        issued = int(now.timestamp())
        return f"{issued}.{self._sign(nonce, issued)}"

    def valid(self, nonce: str | None, token: str, now: datetime) -> bool:
        """Check a submitted token against the cookie's nonce and its age."""
        if not nonce or not self.well_formed(nonce):
            return False
        issued_text, _, signature = token.partition(".")
        if not issued_text.isdigit():
            return False
        issued = int(issued_text)
        age = now.timestamp() - issued
        if age < -60 or age > self.ttl.total_seconds():
            return False
        return hmac.compare_digest(signature, self._sign(nonce, issued))
