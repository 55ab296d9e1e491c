"""The web inbox's data: which conversations a staff member may see, and what they show.

Reads run in their own transaction and check team membership first; actions go through
:class:`bot.inbox.service.InboxService` (which re-checks with ``may_act``) in one transaction each.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.console import ConsoleService
from bot.core.deps import Deps
from bot.core.render import DEFAULT_LOCALE
from bot.inbox.service import InboxService
from bot.staff.service import Principal
from storage.models import Alumnus, InboxConversation, InboxMessage, InboxStatus, Team
from storage.repositories import Tx

STATUSES = (InboxStatus.OPEN.value, InboxStatus.WAITING.value, InboxStatus.CLOSED.value)
MEDIA_KINDS = frozenset(
    {"photo", "document", "voice", "video", "audio", "sticker", "animation", "poll", "edit"}
)
Words = Callable[[str], str]
_TAG = re.compile(r"<[^>]*>")


class MissingError(Exception):
    """No such conversation."""


class RefusedError(Exception):
    """The conversation belongs to a team the staff member is not in."""


@dataclass(frozen=True)
class Row:
    """One conversation in the list."""

    id: int
    first_name: str | None
    programme: str | None
    topic: str
    status: str
    team: str
    last_activity: str
    overdue: bool
    urgent: bool = False  # escalation words reached it, and it is not closed (leads the list)


@dataclass(frozen=True)
class Line:
    """One message of a thread, ready to show (text is plain; the page escapes it)."""

    id: int
    direction: str
    who: str
    when: str
    text: str
    media: str | None

    def as_json(self) -> dict[str, Any]:
        """Return the message for the polling endpoint."""
        return {
            "id": self.id,
            "direction": self.direction,
            "who": self.who,
            "when": self.when,
            "text": self.text,
            "media": self.media,
        }


@dataclass(frozen=True)
class Card:
    """Only what staff need about the alumnus: no chat id, no contact details."""

    first_name: str | None
    programme: str | None
    level: int | None
    track: str | None
    cohort: int | None
    still_studying: bool
    situation: str | None
    region: str | None


@dataclass(frozen=True)
class Thread:
    """A conversation page: the conversation, its team, the card, messages and choices."""

    conversation: InboxConversation
    team: Team
    card: Card
    lines: list[Line]
    members: list[tuple[int, str]]
    teams: list[Team]
    canned: list[tuple[str, str]]
    assigned: str | None
    overdue: bool
    canned_locale: str = DEFAULT_LOCALE  # canned replies go out in the alumnus' language


class Desk(ConsoleService):
    """What the web inbox reads and does, for one signed-in staff member at a time."""

    def __init__(
        self, deps: Deps, service: InboxService | None, wake: Callable[[], None] | None
    ) -> None:
        self.storage = deps.storage
        self.renderer = deps.renderer
        self.catalogue = deps.catalogue
        self.service = service
        self.fits = deps.messenger.fits
        # The card is for staff: its labels are in the staff's language, not the alumnus'.
        self.staff_locale = deps.settings.staff_locale
        super().__init__(deps.settings, wake)

    # ------------------------------------------------------------------ helpers

    def _text(self, value: object) -> tuple[str | None, str | None]:
        """Return a form's text, trimmed, or why it cannot go (a ``web.act_*`` block).

        It must fit in one Telegram message once escaped: "&" takes five characters there.
        """
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            return None, "act_empty"
        if not self.fits(html.escape(text, quote=False)):
            return None, "act_too_long"
        return text, None

    @staticmethod
    def overdue(conversation: InboxConversation) -> bool:
        """Open, and its team was reminded (``InboxService.remind_unanswered``, one rule).

        The badge and the reminder in the team's group are the same event: unanswered for the
        team's ``reminder_after_hours`` business hours since the first unanswered message.
        """
        return (
            conversation.status == InboxStatus.OPEN.value and conversation.reminded_at is not None
        )

    def programme(self, alumnus: Alumnus) -> str | None:
        """Return the programme's name in the staff's language."""
        found = self.catalogue.programme(alumnus.crebo)
        return found.label(self.staff_locale) if found else None

    @staticmethod
    async def visible_teams(tx: Tx, principal: Principal) -> list[Team]:
        """Return the teams whose conversations this member may see (admins: all)."""
        if principal.is_admin:
            return list(await tx.teams.all())
        return list(await tx.teams.of_staff(principal.staff_id))

    async def _conversation(
        self, tx: Tx, principal: Principal, conversation_id: int
    ) -> InboxConversation:
        conversation = await tx.inbox.get(conversation_id)
        if conversation is None:
            raise MissingError()
        if conversation.team_id not in {t.id for t in await self.visible_teams(tx, principal)}:
            raise RefusedError()
        return conversation

    def _line(
        self, message: InboxMessage, alumnus: Alumnus, names: Mapping[int, str], words: Words
    ) -> Line:
        assert message.id is not None
        if message.direction == "in":
            who = alumnus.first_name or words("who_alumnus")
        elif message.direction == "system":
            who = words("who_system")
        else:
            who = names.get(message.staff_id or 0, words("who_staff"))
            if message.via == "web":
                who = f"{who} ({words('via_web')})"
            if message.direction == "note":
                who = f"{words('who_note')} · {who}"  # never sent: say so where it is read
        media = None
        if message.kind != "text":
            media = words("media_" + (message.kind if message.kind in MEDIA_KINDS else "other"))
        text = message.text or ""
        if message.direction == "system" or message.via == "canned":
            text = _plain(text)  # the bot's own Telegram HTML: shown as the plain text it reads
        return Line(
            id=message.id,
            direction=message.direction,
            who=who,
            when=self.when(message.created_at),
            text=text,
            media=media,
        )

    # ------------------------------------------------------------------ reads

    async def listing(
        self, principal: Principal, status: str | None, team_code: str | None, search: str | None
    ) -> tuple[list[Team], list[Row]]:
        """Return the member's teams and their conversations: urgent first, then newest."""
        async with self.storage.transaction() as tx:
            teams = await self.visible_teams(tx, principal)
            chosen = [t for t in teams if not team_code or t.code == team_code]
            ids = [t.id for t in chosen if t.id is not None]
            found = await tx.inbox.listing(ids, status, search) if ids else []
        names = {t.id: t.name for t in teams}
        rows = [
            Row(
                id=conversation.id or 0,
                first_name=alumnus.first_name,
                programme=self.programme(alumnus),
                topic=conversation.topic,
                status=conversation.status,
                team=names.get(conversation.team_id, ""),
                last_activity=self.when(conversation.updated_at),
                overdue=self.overdue(conversation),
                urgent=conversation.urgent_since is not None
                and conversation.status != InboxStatus.CLOSED.value,
            )
            for conversation, alumnus in found
        ]
        return teams, rows

    async def marker(
        self, principal: Principal, status: str | None, team_code: str | None, search: str | None
    ) -> str:
        """Return a short value that changes whenever the list would change."""
        _, rows = await self.listing(principal, status, team_code, search)
        return marker_of(rows)

    async def thread(self, principal: Principal, conversation_id: int, words: Words) -> Thread:
        """Return a conversation the member may see, with everything its page shows."""
        async with self.storage.transaction() as tx:
            conversation = await self._conversation(tx, principal, conversation_id)
            alumnus = await tx.alumni.by_id(conversation.alumnus_id)
            team = await tx.teams.by_id(conversation.team_id)
            assert alumnus is not None and team is not None
            messages = await tx.inbox.messages(conversation_id)
            staff = list(await tx.staff.all())
            codes = await tx.teams.codes_by_staff()
            teams = list(await tx.teams.all())
        names = {s.id: s.display_name for s in staff if s.id is not None}
        members = [
            (s.id, s.display_name)
            for s in staff
            if s.id is not None and s.active and team.code in codes.get(s.id, [])
        ]
        locale = alumnus.locale or DEFAULT_LOCALE
        canned = [
            (name, self.renderer.label(f"canned.{name}", locale).strip())
            for name in sorted(self.renderer.blocks("canned", locale))
        ]
        card = Card(
            first_name=alumnus.first_name,
            programme=self.programme(alumnus),
            level=alumnus.level,
            track=alumnus.track.upper() if alumnus.track else None,
            cohort=alumnus.graduation_year,
            still_studying=alumnus.still_studying,
            situation=alumnus.situation,
            region=self.catalogue.region_label(alumnus.region, self.staff_locale),
        )
        return Thread(
            conversation=conversation,
            team=team,
            card=card,
            lines=[self._line(m, alumnus, names, words) for m in messages],
            members=members,
            teams=[t for t in teams if t.id != team.id],
            canned=canned,
            assigned=names.get(conversation.assigned_staff_id or 0),
            overdue=self.overdue(conversation),
            canned_locale=locale,
        )

    async def lines_after(
        self, principal: Principal, conversation_id: int, after: int, words: Words
    ) -> list[Line]:
        """Return the messages newer than ``after`` of a conversation the member may see."""
        async with self.storage.transaction() as tx:
            conversation = await self._conversation(tx, principal, conversation_id)
            alumnus = await tx.alumni.by_id(conversation.alumnus_id)
            assert alumnus is not None
            messages = [m for m in await tx.inbox.messages(conversation_id) if (m.id or 0) > after]
            names = {s.id: s.display_name for s in await tx.staff.all() if s.id is not None}
        return [self._line(m, alumnus, names, words) for m in messages]

    # ------------------------------------------------------------------ actions

    async def act(
        self, principal: Principal, conversation_id: int, action: str, form: Mapping[str, Any]
    ) -> str | None:
        """Do one action on a conversation in one transaction.

        Returns None when it is done, else why not: a ``web.act_*`` block the page shows
        (nothing is lost: the page keeps what was typed).
        """
        service = self.service
        if service is None:
            raise RefusedError()
        async with self.storage.transaction() as tx:
            conversation = await tx.inbox.get(conversation_id)
            if conversation is None:
                raise MissingError()
            staff = await tx.staff.by_id(principal.staff_id)
            if staff is None or not await service.may_act(tx, staff, conversation.team_id):
                raise RefusedError()
            closed = conversation.status == InboxStatus.CLOSED.value
            if closed and action in ("reply", "canned"):
                return "act_closed"
            if action in ("reply", "note"):
                text, problem = self._text(form.get("text"))
                if text is None:
                    return problem
                if action == "reply":
                    await service.reply(tx, conversation, staff, text=text, via="web")
                else:
                    await service.note(tx, conversation, staff, text, via="web")
            elif action == "canned":
                alumnus = await tx.alumni.by_id(conversation.alumnus_id)
                assert alumnus is not None
                locale = alumnus.locale or DEFAULT_LOCALE
                name = form.get("template")
                if name not in self.renderer.blocks("canned", locale):
                    return "act_no_template"
                body = self.renderer.label(f"canned.{name}", locale).strip()
                await service.reply(tx, conversation, staff, text=body, via="canned")
            elif action == "assign":
                to = await tx.staff.by_id(_int(form.get("staff_id")))
                if to is None or to.id is None or not to.active:
                    return "act_no_member"
                if not await tx.teams.is_member(to.id, conversation.team_id):
                    return "act_no_member"
                await service.assign(tx, conversation, staff, to)
            elif action == "move":
                team = await tx.teams.by_code(str(form.get("team", "")))
                if team is None:
                    return "act_no_team"
                await service.move(tx, conversation, staff, team)
            elif action == "close":
                await service.close(tx, conversation, staff)
            else:
                return "act_unknown"
        self.wake()
        return None


def _plain(telegram_html: str) -> str:
    """Return the text of Telegram HTML written by the bot (the page escapes it again)."""
    return html.unescape(_TAG.sub("", telegram_html))


def _int(value: object) -> int:
    """Return a form's number, or 0."""
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 12 else 0


def marker_of(rows: list[Row]) -> str:
    """Return a short digest of what the list shows."""
    seen = "|".join(f"{r.id}:{r.status}:{r.last_activity}:{r.overdue}:{r.urgent}" for r in rows)
    return hashlib.sha256(seen.encode()).hexdigest()[:16]
