"""The graduate registry: imports, invitations, links, matches, class figures, retention.

A record comes from the school's own export and gives no consent to anything: it only lets
a graduate who follows their personal invitation skip typing what the school knows, and
lets coordinators see per class how many were invited, linked and consented.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.deps import Deps
from bot.registry import documents
from bot.registry.importer import (
    STORED,
    Checked,
    GraduateRow,
    ImportFileError,
    check_rows,
    read_table,
)
from storage.models import Alumnus, Graduate, Invitation, Purpose
from storage.repositories import Tx

logger = logging.getLogger(__name__)

PERSONAL_PREFIX = "g-"  # /start g-<token>: one person's invitation
CLASS_PREFIX = "k-"  # /start k-<crebo>-<level>-<yyyymm>: a class, no personal data
TOKEN_BYTES = 32  # token_urlsafe(32): 43 characters, 256 bits
_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CLASS = re.compile(r"^k-(\d{5,8})-([1-4])-(\d{4})(\d{2})$")
MIN_GROUP = 5  # consent counts below this are shown as "< 5" (DESIGN.md "Reporting")


class RegistryError(Exception):
    """A registry action that cannot be done as asked (an unknown class, say)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ClassKey:
    """A class: one programme at one level, graduating in one month (the cohort)."""

    crebo: str
    level: int
    year: int
    month: int

    @property
    def code(self) -> str:
        """Return ``<crebo>-<level>-<yyyymm>``: in URLs, file names and class links."""
        return f"{self.crebo}-{self.level}-{self.year:04d}{self.month:02d}"

    @classmethod
    def parse(cls, code: str) -> ClassKey | None:
        """Read a class code back; None when it is not one."""
        found = _CLASS.match(f"k-{code}")
        if found is None:
            return None
        month = int(found.group(4))
        if not 1 <= month <= 12:
            return None
        return cls(found.group(1), int(found.group(2)), int(found.group(3)), month)

    @classmethod
    def of(cls, crebo: str, level: int, graduation: date) -> ClassKey:
        """Return the class of a record."""
        return cls(crebo, level, graduation.year, graduation.month)


@dataclass
class ImportReport:
    """What an import found and (unless a dry run or any error) did."""

    checked: Checked
    new: list[GraduateRow] = field(default_factory=list)
    updated: list[tuple[GraduateRow, list[str]]] = field(default_factory=list)
    unchanged: int = 0
    missing: list[str] = field(default_factory=list)  # student numbers no longer present
    suppressed: int = 0  # people who asked to be erased: never imported again
    applied: bool = False
    encoding: str | None = None
    delimiter: str | None = None

    @property
    def errors(self) -> list[Any]:
        """Every bad field of every row."""
        return self.checked.errors

    @property
    def ok(self) -> bool:
        """Return whether the file has no errors."""
        return not self.checked.errors


@dataclass(frozen=True)
class Issued:
    """A fresh invitation: the token exists only here, the database keeps its hash."""

    graduate: Graduate
    token: str
    link: str


@dataclass(frozen=True)
class InvitationPack:
    """A class's fresh invitations as printable cards (PDF) and as links (CSV)."""

    key: ClassKey
    count: int
    pdf: bytes
    csv: bytes


@dataclass(frozen=True)
class ClassStats:
    """One class's figures for the console."""

    key: ClassKey
    size: int
    invited: int
    linked: int
    consented: dict[str, int]


@dataclass(frozen=True)
class Match:
    """An alumnus who onboarded unlinked and looks like a record (name, programme, cohort).

    Offered to a coordinator; never linked without one.
    """

    graduate: Graduate
    alumnus: Alumnus


@dataclass(frozen=True)
class Claim:
    """What a personal token turned out to be."""

    status: str  # ok, used, expired, unknown, mine
    invitation: Invitation | None = None
    graduate: Graduate | None = None


def token_hash(token: str) -> str:
    """Return the stored form of a token (SHA-256; the token has 256 random bits)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """Return a new personal start payload: ``g-`` and 43 URL-safe characters."""
    token = PERSONAL_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    assert _PAYLOAD.match(token)
    return token


def deep_link(bot_username: str, payload: str) -> str:
    """Return the t.me link that opens the bot with ``/start <payload>``."""
    if not _PAYLOAD.match(payload):
        raise ValueError("a start payload is 1-64 characters of A-Za-z0-9_-")
    return f"https://t.me/{bot_username.lstrip('@')}?start={payload}"


async def graduation_of(tx: Tx, alumnus_id: int) -> date | None:
    """Return the (expected) graduation date of a linked alumnus, from the registry.

    For aftercare: check-in moments count from this date when the school's records have it.
    """
    graduate = await tx.registry.by_alumnus(alumnus_id)
    return graduate.graduation_date if graduate else None


class RegistryService:
    """Imports the school's records and invites, links and counts the people in them."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @property
    def zone(self) -> ZoneInfo:
        """The school's time zone (dates of graduation are school dates)."""
        return ZoneInfo(self.deps.settings.timezone)

    def today(self) -> date:
        """Return today's date at the school."""
        return self.deps.clock.now().astimezone(self.zone).date()

    def student_hash(self, student_number: str) -> str:
        """Keyed hash of a student number: what stays of a record after erasure."""
        key = self.deps.settings.secret_key.get_secret_value().encode()
        message = f"student:{student_number.casefold()}".encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    # ----------------------------------------------------------------- import

    async def import_file(
        self,
        name: str,
        data: bytes,
        *,
        mapping: dict[str, str] | None = None,
        dry_run: bool = True,
    ) -> ImportReport:
        """Check a file and compare it with the registry; write it only if asked and clean.

        Raises:
            ImportFileError: the file is no table we can read, or lacks a needed column.
        """
        table = read_table(name, data)
        checked = check_rows(table, self.deps.catalogue, self.today(), mapping)
        report = ImportReport(checked, encoding=table.encoding, delimiter=table.delimiter)
        now = self.deps.clock.now()
        async with self.deps.storage.transaction() as tx:
            existing = await tx.registry.snapshot()
            suppressed = await tx.registry.suppressed()
            present: set[str] = set()
            seen: list[int] = []
            inserts: list[dict[str, Any]] = []
            updates: list[dict[str, Any]] = []
            for row in checked.rows:
                if self.student_hash(row.student_number) in suppressed:
                    report.suppressed += 1
                    continue
                present.add(row.student_number)
                values = row.values()
                known = existing.get(row.student_number)
                if known is None:
                    report.new.append(row)
                    inserts.append(
                        {
                            "student_number": row.student_number,
                            **values,
                            "created_at": now,
                            "updated_at": now,
                            "seen_at": now,
                        }
                    )
                    continue
                graduate_id, stored = known
                changed = [n for n, old in zip(STORED, stored, strict=True) if old != values[n]]
                if changed:
                    report.updated.append((row, changed))
                    updates.append(
                        {"gid": graduate_id, **values, "updated_at": now, "seen_at": now}
                    )
                else:
                    report.unchanged += 1
                    seen.append(graduate_id)
            report.missing = sorted(set(existing) - present - self._erased(existing, suppressed))
            if dry_run or not report.ok:
                return report
            await tx.registry.insert_many(inserts)
            await tx.registry.update_many(updates)
            await tx.registry.mark_seen(seen, now)
            report.applied = True
        logger.info(
            "registry import: %d new, %d updated, %d unchanged, %d no longer present",
            len(report.new),
            len(report.updated),
            report.unchanged,
            len(report.missing),
        )
        return report

    def _erased(self, existing: dict[str, Any], suppressed: set[str]) -> set[str]:
        return {number for number in existing if self.student_hash(number) in suppressed}

    # ----------------------------------------------------------------- invitations

    async def classes(self) -> list[ClassStats]:
        """Return every class with its size, invited, linked and consent per purpose."""
        async with self.deps.storage.transaction() as tx:
            rows = await tx.registry.class_rows()
            invited = await tx.registry.invited_ids()
            linked = [r[4] for r in rows if r[4] is not None]
            consents = await tx.registry.consents_of(linked)
        figures: dict[ClassKey, dict[str, Any]] = defaultdict(
            lambda: {"size": 0, "invited": 0, "linked": 0, "consented": defaultdict(int)}
        )
        for graduate_id, crebo, level, graduation, alumnus_id in rows:
            entry = figures[ClassKey.of(crebo, level, graduation)]
            entry["size"] += 1
            entry["invited"] += graduate_id in invited
            if alumnus_id is not None:
                entry["linked"] += 1
                for purpose, granted in consents.get(alumnus_id, {}).items():
                    entry["consented"][purpose] += granted
        return [
            ClassStats(
                key,
                entry["size"],
                entry["invited"],
                entry["linked"],
                {p.value: entry["consented"].get(p.value, 0) for p in Purpose},
            )
            for key, entry in sorted(
                figures.items(), key=lambda item: (-item[0].year, -item[0].month, item[0].crebo)
            )
        ]

    async def class_members(self, key: ClassKey) -> list[Graduate]:
        """Return the records of one class, sorted by name."""
        async with self.deps.storage.transaction() as tx:
            rows = await tx.registry.class_rows()
            ids = [r[0] for r in rows if ClassKey.of(r[1], r[2], r[3]) == key]
            return await tx.registry.of_class(key.crebo, key.level, ids)

    async def invite(
        self, bot_username: str, key: ClassKey | None = None, *, students: bool = True
    ) -> list[Issued]:
        """Issue a new personal invitation to everyone in a class (or in the registry).

        Earlier invitations of the same people that were not used stop working: the newest
        sheet is the one that counts. ``students=False`` leaves out those who have not
        graduated yet.
        """
        now = self.deps.clock.now()
        expires = now + timedelta(days=self.deps.settings.invitation_days)
        today = self.today()
        async with self.deps.storage.transaction() as tx:
            if key is None:
                people = await tx.registry.all()
            else:
                rows = await tx.registry.class_rows()
                ids = [r[0] for r in rows if ClassKey.of(r[1], r[2], r[3]) == key]
                people = await tx.registry.of_class(key.crebo, key.level, ids)
            people = [
                g
                for g in people
                if g.alumnus_id is None and (students or g.graduation_date <= today)
            ]
            issued = [(g, new_token()) for g in people]
            await tx.registry.replace_invitations(
                [
                    {
                        "graduate_id": g.id,
                        "token_hash": token_hash(token),
                        "created_at": now,
                        "expires_at": expires,
                        "used_at": None,
                        "used_by": None,
                    }
                    for g, token in issued
                ]
            )
        return [Issued(g, token, deep_link(bot_username, token)) for g, token in issued]

    def class_payload(self, key: ClassKey) -> str:
        """Return the start payload of a class link (reusable, no personal data)."""
        return CLASS_PREFIX + key.code

    def class_of_payload(self, payload: str) -> ClassKey | None:
        """Read a class link's payload; None when it is not one or names no programme."""
        key = ClassKey.parse(payload.removeprefix(CLASS_PREFIX))
        if key is None or not payload.startswith(CLASS_PREFIX):
            return None
        programme = self.deps.catalogue.programme(key.crebo)
        if programme is None or key.level not in programme.levels:
            return None
        return key

    # ----------------------------------------------------------------- linking

    async def claim(self, tx: Tx, token: str, alumnus_id: int) -> Claim:
        """Look a personal token up without using it."""
        if not _PAYLOAD.match(token) or not token.startswith(PERSONAL_PREFIX):
            return Claim("unknown")
        found = await tx.registry.invitation(token_hash(token))
        if found is None:
            return Claim("unknown")
        invitation, graduate = found
        if graduate.alumnus_id == alumnus_id:
            return Claim("mine", invitation, graduate)
        if invitation.used_at is not None or graduate.alumnus_id is not None:
            return Claim("used", invitation, graduate)
        if invitation.expires_at <= self.deps.clock.now():
            return Claim("expired", invitation, graduate)
        return Claim("ok", invitation, graduate)

    async def redeem(self, tx: Tx, invitation_id: int, alumnus: Alumnus) -> Graduate | None:
        """Use an invitation and link its record to ``alumnus``.

        Returns None when that is no longer possible: used meanwhile, expired, linked to
        someone else, or this alumnus has a record already.
        """
        assert alumnus.id is not None
        found = await tx.registry.invitation_by_id(invitation_id)
        if found is None:
            return None
        invitation, graduate = found
        now = self.deps.clock.now()
        if invitation.used_at is not None or invitation.expires_at <= now:
            return None
        if await tx.registry.by_alumnus(alumnus.id) is not None:
            return None
        assert graduate.id is not None and invitation.id is not None
        if not await tx.registry.use_invitation(invitation.id, alumnus.id, now):
            return None
        if not await tx.registry.link(graduate.id, alumnus.id, now):
            return None
        return graduate

    def prefill(self, graduate: Graduate) -> dict[str, Any]:
        """Return the profile draft a record fills in (the person may still change it)."""
        studying = graduate.graduation_date > self.today()
        return {
            "first_name": graduate.first_name,
            "location": graduate.location,
            "crebo": graduate.crebo,
            "level": graduate.level,
            "track": graduate.track,
            "still_studying": studying,
            "graduation_year": None if studying else graduate.graduation_date.year,
            "graduation_month": None if studying else graduate.graduation_date.month,
        }

    def prefill_class(self, key: ClassKey) -> dict[str, Any]:
        """Return the draft a class link fills in: programme and cohort only."""
        studying = date(key.year, key.month, 1) > self.today()
        return {
            "crebo": key.crebo,
            "level": key.level,
            "still_studying": studying,
            "graduation_year": None if studying else key.year,
            "graduation_month": None if studying else key.month,
        }

    # ----------------------------------------------------------------- matches

    async def matches(self) -> list[Match]:
        """Return likely matches: same first name, programme and cohort; never dismissed."""
        async with self.deps.storage.transaction() as tx:
            alumni = await tx.registry.unlinked_alumni()
            if not alumni:
                return []
            graduates = await tx.registry.unlinked_of_programmes(
                [a.crebo for a in alumni if a.crebo]
            )
            dismissed = await tx.registry.dismissed()
        index: dict[tuple[str, str, int], list[Graduate]] = defaultdict(list)
        for g in graduates:
            index[(g.first_name.casefold(), g.crebo, g.graduation_date.year)].append(g)
        found: list[Match] = []
        for a in alumni:
            if a.graduation_year is None or a.first_name is None or a.crebo is None:
                continue
            for g in index.get((a.first_name.casefold(), a.crebo, a.graduation_year), []):
                month_agrees = a.graduation_month in (None, g.graduation_date.month)
                if month_agrees and (g.id, a.id) not in dismissed:
                    found.append(Match(g, a))
        return found

    async def decide_match(self, graduate_id: int, alumnus_id: int, *, same: bool) -> bool:
        """A coordinator's decision on a match: link the two, or never offer it again.

        Returns whether anything changed (a record linked meanwhile is left alone).
        """
        now = self.deps.clock.now()
        async with self.deps.storage.transaction() as tx:
            graduate = await tx.registry.get(graduate_id)
            alumnus = await tx.registry.alumnus(alumnus_id)
            if graduate is None or alumnus is None:
                return False
            if not same:
                await tx.registry.dismiss(graduate_id, alumnus_id, now)
                return True
            if await tx.registry.by_alumnus(alumnus_id) is not None:
                return False
            return await tx.registry.link(graduate_id, alumnus_id, now)

    # ----------------------------------------------------------------- privacy

    async def export_of(self, tx: Tx, alumnus: Alumnus) -> dict[str, list[dict[str, Any]]]:
        """The registry's rows about a person (/mijngegevens): record, invitations, matches."""
        assert alumnus.id is not None
        graduates, invitations, dismissals = await tx.registry.about(alumnus.id)
        return {
            "graduate": [g.model_dump(mode="json") for g in graduates],
            "invitation": [i.model_dump(mode="json", exclude={"token_hash"}) for i in invitations],
            "match_dismissal": [d.model_dump(mode="json") for d in dismissals],
        }

    async def forget(self, tx: Tx, alumnus: Alumnus) -> None:
        """Erasure: delete the linked record and keep a hash so no import brings it back."""
        assert alumnus.id is not None
        graduate = await tx.registry.by_alumnus(alumnus.id)
        if graduate is None or graduate.id is None:
            return
        await tx.suppressions.add(
            self.student_hash(graduate.student_number), self.deps.clock.now()
        )
        await tx.registry.delete(graduate.id)

    async def purge(self, now: datetime | None = None) -> int:
        """Delete records nobody linked that no import held for the retention period."""
        now = now or self.deps.clock.now()
        cutoff = now - timedelta(days=self.deps.settings.registry_retention_days)
        async with self.deps.storage.transaction() as tx:
            purged = await tx.registry.purge_unlinked(cutoff)
        if purged:
            logger.info("registry retention: purged %d unlinked records", purged)
        return purged

    async def all(self) -> list[Graduate]:
        """Return every record (the .xlsx export)."""
        async with self.deps.storage.transaction() as tx:
            return await tx.registry.all()

    # ----------------------------------------------------------------- documents

    def programme_label(self, crebo: str, locale: str) -> str:
        """Return a programme's name (its crebo code if the catalogue lost it)."""
        programme = self.deps.catalogue.programme(crebo)
        return programme.label(locale) if programme else crebo

    def _cohort(self, key: ClassKey, locale: str) -> str:
        return self.deps.renderer.label(
            "labels.graduation", locale, year=key.year, month=key.month
        )

    def _date(self, moment: datetime) -> str:
        return moment.astimezone(self.zone).strftime("%d-%m-%Y")

    async def export_xlsx(self, locale: str) -> bytes:
        """Return the registry as an .xlsx workbook (headers that import back)."""
        headers = self.deps.renderer.label("registry.xlsx_headers", locale).split(";")
        return documents.export_xlsx(await self.all(), headers)

    async def invitation_pack(
        self, bot_username: str, key: ClassKey, locale: str, *, students: bool = True
    ) -> InvitationPack:
        """Invite a class anew; return its cards (PDF) and its links (CSV)."""
        issued = await self.invite(bot_username, key, students=students)
        label = self.deps.renderer.label
        school = self.deps.settings.school_name
        until = self._date(
            self.deps.clock.now() + timedelta(days=self.deps.settings.invitation_days)
        )
        programme = self.programme_label(key.crebo, locale)
        cards = [
            documents.Card(
                name=f"{i.graduate.first_name} {i.graduate.last_name}",
                lines=[
                    label("registry.card_programme", locale, programme=programme, level=key.level),
                    label(
                        "registry.card_cohort",
                        locale,
                        month=label("labels.month", locale, n=i.graduate.graduation_date.month),
                        year=i.graduate.graduation_date.year,
                    ),
                    label("registry.card_scan", locale, school=school),
                    label("registry.card_personal", locale, until=until),
                ],
                link=i.link,
            )
            for i in issued
        ]
        cohort = self._cohort(key, locale)
        pdf = documents.invitation_sheets(
            label(
                "registry.sheet_title", locale, programme=programme, level=key.level, cohort=cohort
            ),
            cards,
            label("registry.sheet_footer", locale, until=until),
        )
        rows = [
            [
                i.graduate.student_number,
                i.graduate.first_name,
                i.graduate.last_name,
                i.graduate.email or "",
                programme,
                key.crebo,
                key.level,
                i.graduate.graduation_date.isoformat(),
                i.link,
                until,
            ]
            for i in issued
        ]
        headers = label("registry.csv_headers", locale).split(";")
        return InvitationPack(key, len(issued), pdf, documents.invitations_csv(rows, headers))

    def class_link(self, bot_username: str, key: ClassKey) -> str:
        """Return a class's reusable link (programme and cohort, nobody's data)."""
        return deep_link(bot_username, self.class_payload(key))

    def class_sheet(self, bot_username: str, key: ClassKey, locale: str) -> bytes:
        """Return a one-page PDF with a class's reusable link as a QR code."""
        label = self.deps.renderer.label
        school = self.deps.settings.school_name
        programme = self.programme_label(key.crebo, locale)
        return documents.class_sheet(
            label(
                "registry.class_sheet_title",
                locale,
                programme=programme,
                level=key.level,
                cohort=self._cohort(key, locale),
            ),
            [
                label("registry.class_sheet_scan", locale, school=school),
                label("registry.class_sheet_note", locale),
            ],
            self.class_link(bot_username, key),
        )


__all__ = [
    "CLASS_PREFIX",
    "PERSONAL_PREFIX",
    "ClassKey",
    "ImportFileError",
    "ImportReport",
    "RegistryService",
    "graduation_of",
]
