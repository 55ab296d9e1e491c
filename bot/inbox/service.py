"""The coordinator inbox: every question and answer that needs a person, in one place.

Other flows (an offer's "Ik heb interesse", a check-in's "I'd like help") open or join a
conversation through :meth:`InboxService.open_or_join` and nothing else. Messages to the
team's forum topic and to the alumnus go through the outbox, so none is lost and each is
sent once; relays create the conversation's topic on first use (one per conversation,
whichever process gets there first) and recreate it, with a summary, if it was deleted.
"""

from __future__ import annotations

import contextlib
import html
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from markupsafe import Markup

from bot.core.callbacks import CALLBACKS, number, parts
from bot.core.deps import Deps
from bot.core.hours import BusinessHours
from bot.core.inbound import Inbound, StaffInbound
from bot.core.messenger import (
    Action,
    Button,
    ChatMovedError,
    MaybeDeliveredError,
    MissingRightsError,
    Outgoing,
    RejectedError,
    RetryLaterError,
    Send,
    TopicGoneError,
    TransientError,
    UncopyableError,
    UnreachableError,
    forums_of,
)
from bot.core.render import DEFAULT_LOCALE
from bot.delivery.dispatcher import Dispatcher, NewRow, enqueue, outgoing_of, row
from bot.inbox.escalation import Escalation
from storage.models import (
    Alumnus,
    InboxConversation,
    InboxMessage,
    InboxStatus,
    OutboxMessage,
    StaffMember,
    Team,
)
from storage.repositories import Tx

logger = logging.getLogger(__name__)

# A topic's code, from content/inbox.yaml; it travels in a button's callback data.
TOPIC_CODE = re.compile(r"[a-z]{1,16}")
# The outbox kind that deletes a forum topic with its messages (erasure): queued, so that it
# survives a crash and keeps to the group's pace like any message.
DELETE_TOPIC = "delete_topic"
# The outbox kind of a staff message copied to the alumnus (what cannot be copied becomes a
# polite text, and the team is told).
ANSWER_COPY = "answer_copy"
RATINGS = range(1, 6)
# The kind of a kept message that is a new version of an earlier one (an edit).
EDIT = "edit"


# The outbox rows of a conversation: ``inbox:<conversation>:...`` (relays, answers, notices).
_CONVERSATION_KEY = re.compile(r"inbox:(\d+):")


def _conversation_of(sent: OutboxMessage) -> int | None:
    """Return the conversation an outbox row belongs to, if it is one of the inbox's."""
    found = _CONVERSATION_KEY.match(sent.dedupe_key)
    return int(found.group(1)) if found else None


def _parse_rating(payload: str) -> tuple[int, int] | None:
    found = parts(payload, 2)
    if found is None:
        return None
    conversation, score = number(found[0]), number(found[1])
    if conversation is None or score is None or score not in RATINGS:
        return None
    return conversation, score


# ``r:<conversation>:<score>``: the alumnus rates a closed conversation.
RATING_BUTTON = CALLBACKS.declare("r", _parse_rating, longest="999999999999:5")
SUMMARY_MESSAGES = 10  # how much history a recreated topic repeats
# The thread state of a recreated topic whose summary has not been delivered yet.
SUMMARY_OWED = "summary"
DEFAULT_REMINDER_HOURS = 8.0
DEFAULT_BURST_SECONDS = 10.0
# A relay the bot lacks the rights for is tried again this often until an admin gives them
# (or sooner: the bot's check of its staff groups releases them).
RIGHTS_RETRY_SECONDS = 300.0


@dataclass(frozen=True)
class Incoming:
    """A message someone sent that joins a conversation (copied, so media stay intact)."""

    chat_id: int
    message_id: int
    kind: str = "text"
    text: str | None = None
    file_id: str | None = None


@dataclass(frozen=True)
class Rule:
    """A routing rule from content/inbox.yaml."""

    team: str
    topic: str | None = None
    crebos: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()
    sectors: tuple[str, ...] = ()

    def matches(self, topic: str, alumnus: Alumnus) -> bool:
        """Return whether this rule routes a conversation on ``topic`` of ``alumnus``."""
        return (
            (self.topic is None or self.topic == topic)
            and (not self.crebos or alumnus.crebo in self.crebos)
            and (not self.locations or alumnus.location in self.locations)
            and (not self.sectors or alumnus.sector in self.sectors)
        )


@dataclass(frozen=True)
class Reminders:
    """After how many business hours an unanswered conversation is brought up again."""

    default: float = DEFAULT_REMINDER_HOURS
    by_team: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_config(cls, data: dict[str, Any]) -> Reminders:
        """Read ``reminder_after_hours`` and ``reminder_after_hours_by_team``."""
        by_team = data.get("reminder_after_hours_by_team") or {}
        return cls(
            default=float(data.get("reminder_after_hours", DEFAULT_REMINDER_HOURS)),
            by_team={str(team): float(hours) for team, hours in by_team.items()},
        )

    def after(self, team_code: str) -> float:
        """Return the business hours after which a conversation of this team is reminded."""
        return self.by_team.get(team_code, self.default)

    @property
    def shortest(self) -> float:
        """Return the shortest setting of any team."""
        return min([self.default, *self.by_team.values()])


def load_config(path: Path) -> dict[str, Any]:
    """Read content/inbox.yaml, once; an empty file means every default."""
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def topics_of(data: dict[str, Any]) -> tuple[str, ...]:
    """Read the ``topics`` list; the last one takes whatever matches no other."""
    topics = tuple(str(topic) for topic in data.get("topics") or ())
    wrong = [topic for topic in topics if not TOPIC_CODE.fullmatch(topic)]
    if not topics or wrong or len(set(topics)) != len(topics):
        raise ValueError(
            f"content/inbox.yaml: topics must be distinct codes of a-z (at most 16): {topics}"
        )
    return topics


def fallback_team_of(data: dict[str, Any]) -> tuple[str, str]:
    """Read ``fallback_team``: the (code, name) of the team made when none is set up."""
    team = data.get("fallback_team") or {}
    code, name = str(team.get("code") or "").strip(), str(team.get("name") or "").strip()
    if not code or not name:
        raise ValueError("content/inbox.yaml: fallback_team needs a code and a name")
    return code, name


def routing_rules(data: dict[str, Any]) -> list[Rule]:
    """Build the routing rules from the ``routing`` section."""
    return [
        Rule(
            team=str(r["team"]),
            topic=r.get("topic"),
            crebos=tuple(str(c) for c in r.get("crebos", [])),
            locations=tuple(r.get("locations", [])),
            sectors=tuple(r.get("sectors", [])),
        )
        for r in data.get("routing", [])
    ]


class InboxService:
    """Opens, joins, answers, moves and closes conversations."""

    def __init__(self, deps: Deps, dispatcher: Dispatcher) -> None:
        self.deps = deps
        # What staff read (their group's topics, the console's system lines) is in their
        # language; what the alumnus reads, in the alumnus' own.
        self.staff_locale = deps.settings.staff_locale
        self.forums = forums_of(deps.messenger)
        data = load_config(deps.settings.content_dir / "inbox.yaml")
        self.topics = topics_of(data)
        self.fallback_team = fallback_team_of(data)
        self.rules = routing_rules(data)
        business_hours = data.get("business_hours") or {}
        self.hours = BusinessHours.from_config(business_hours, deps.settings.timezone)
        self.reminders = Reminders.from_config(business_hours)
        self.escalation = Escalation.load(deps.settings.content_dir / "escalation.yaml")
        # A team's group is "at its limit" when more relays wait for it than it may receive
        # in burst_merge_after_seconds (Telegram: 20 a minute); then texts are merged.
        seconds = float(data.get("burst_merge_after_seconds", DEFAULT_BURST_SECONDS))
        per_second = deps.settings.group_messages_per_minute / 60.0
        self.burst_backlog = max(2, math.ceil(per_second * seconds))
        dispatcher.register("relay", self._deliver_relay)
        dispatcher.register(DELETE_TOPIC, self._delete_topic)
        dispatcher.register(ANSWER_COPY, self._deliver_answer_copy)
        dispatcher.adopt_deferred(self._adopt_deferred)
        dispatcher.listen(self._heard)

    # ------------------------------------------------------------------ alumni side

    async def open_or_join(
        self,
        tx: Tx,
        alumnus: Alumnus,
        *,
        topic: str,
        context: dict[str, Any] | None = None,
        messages: Sequence[Incoming] = (),
        note: str | None = None,
        urgent: bool = False,
    ) -> tuple[InboxConversation, bool]:
        """Join the alumnus' open conversation or open a routed one; return it and "new".

        Args:
            tx: the caller's transaction (the conversation exists iff it commits).
            alumnus: who it is about.
            topic: one of ``topics`` (others count as the last); routes a new conversation.
            context: what started it (``{"source": "offer", "offer_id": 3}``), kept with it.
            messages: the alumnus' own messages to add (copied to the team's topic).
            note: a system line for the team (e.g. which offer the interest is about).
            urgent: it needs a person soon (the note says why): it leads the inbox, also
                when it joins a conversation that was already open.
        """
        assert alumnus.id is not None
        now = self.deps.clock.now()
        conversation = await tx.inbox.open_for(alumnus.id)
        new = conversation is None
        if conversation is None:
            topic = topic if topic in self.topics else self.topics[-1]
            team = await self._route(tx, topic, alumnus)
            assert team.id is not None
            conversation = await tx.inbox.add(
                InboxConversation(
                    alumnus_id=alumnus.id,
                    team_id=team.id,
                    topic=topic,
                    context=dict(context or {}),
                    created_at=now,
                    updated_at=now,
                    # Outside business hours the acknowledgement of a new question already
                    # says when the school opens (inbox.received_closed): that is today's
                    # out-of-office reply, so a follow-up tonight gets no second one.
                    away_notice_on=self._today(now) if messages and self._closed(now) else None,
                )
            )
            await self._system(
                tx,
                conversation,
                self._intro(conversation, alumnus),
                # How to answer in a topic is for the group; the console has its own buttons.
                topic_only=self.deps.renderer.text("inbox.topic_howto", self.staff_locale),
            )
        if note:
            await self._system(tx, conversation, note)
        if urgent:
            await self._mark_urgent(tx, conversation, explained=bool(note))
        for message in messages:
            await self.add_from_alumnus(tx, conversation, message)
        return conversation, new

    async def _mark_urgent(
        self, tx: Tx, conversation: InboxConversation, *, explained: bool
    ) -> None:
        """Let the conversation lead the inbox; without a note of its own, the team reads why."""
        assert conversation.id is not None
        now = self.deps.clock.now()
        if not await tx.inbox.mark_urgent(conversation.id, now):
            return  # urgent already: the team knows
        conversation.urgent_since = now
        if not explained:
            note = self.deps.renderer.text("inbox.note_urgent", self.staff_locale)
            await self._system(tx, conversation, note)
        logger.warning("inbox: conversation %s marked urgent", conversation.id)

    async def add_from_alumnus(
        self, tx: Tx, conversation: InboxConversation, message: Incoming
    ) -> InboxMessage:
        """Store a message of the alumnus and copy it to the team's topic.

        Outside business hours the alumnus gets the out-of-office reply, at most once a day
        per conversation. A message after a staff answer starts a new unanswered stretch,
        which may be reminded again; a follow-up within a stretch does not.
        """
        assert conversation.id is not None
        now = self.deps.clock.now()
        stored = await tx.inbox.add_message(
            InboxMessage(
                conversation_id=conversation.id,
                direction="in",
                kind=message.kind,
                text=message.text,
                file_id=message.file_id,
                source_chat_id=message.chat_id,
                source_message_id=message.message_id,
                created_at=now,
            )
        )
        values: dict[str, Any] = {
            "status": InboxStatus.OPEN.value,
            "last_alumnus_at": now,
            "updated_at": now,
        }
        if conversation.status != InboxStatus.OPEN.value:
            values["reminded_at"] = None  # answered before: a new stretch begins
        if self._closed(now) and conversation.away_notice_on != self._today(now):
            conversation.away_notice_on = values["away_notice_on"] = self._today(now)
            await self._away_notice(tx, conversation, now)
        await tx.inbox.set(conversation.id, **values)
        conversation.status = InboxStatus.OPEN.value
        copy = {
            "from_chat_id": message.chat_id,
            "message_id": message.message_id,
            "kind": message.kind,  # named in the team's notice if it cannot be copied
        }
        said = message.text if message.kind == "text" and message.text else None
        await self._relay(tx, conversation, f"in:{stored.id}", {"copy": copy}, said=said)
        if message.text and self.escalation.matches(message.text):
            await self._mark_urgent(tx, conversation, explained=False)
        return stored

    async def _away_notice(self, tx: Tx, conversation: InboxConversation, now: datetime) -> None:
        """Queue the out-of-office reply: the team is away, and back at the next opening."""
        alumnus = await self._alumnus(tx, conversation)
        text = self.deps.renderer.text(
            "inbox.away", alumnus.locale or DEFAULT_LOCALE, **self.opening(now)
        )
        key = f"inbox:{conversation.id}:away:{self._today(now).isoformat()}"
        message = Outgoing(text)
        await enqueue(
            tx, row(now, key=key, chat_id=alumnus.chat_id, message=message, alumnus_id=alumnus.id)
        )

    def _closed(self, moment: datetime) -> bool:
        return not self.hours.is_open(moment)

    def _today(self, moment: datetime) -> date:
        """The school's calendar day (the out-of-office reply is once a day)."""
        return moment.astimezone(self.hours.zone).date()

    def acknowledgement(self, locale: str, new: bool) -> str:
        """Tell the alumnus their message is stored, and when to expect an answer."""
        now = self.deps.clock.now()
        renderer = self.deps.renderer
        if not new:
            return renderer.text("inbox.added", locale)
        if self.hours.is_open(now):
            return renderer.text("inbox.received_open", locale)
        return renderer.text("inbox.received_closed", locale, **self.opening(now))

    def opening(self, now: datetime) -> dict[str, Any]:
        """When the team is back, for the words: in how many days, which weekday, what time.

        "Vanaf maandag 09:00" on a Monday morning reads as next week; today is "vanaf 09:00"
        and tomorrow "morgen".
        """
        opening = self.hours.next_opening(now)
        today = now.astimezone(opening.tzinfo).date()
        return {
            "days": (opening.date() - today).days,
            "weekday": opening.weekday(),
            "time": opening.strftime("%H:%M"),
        }

    async def rate(self, tx: Tx, alumnus: Alumnus, conversation_id: int, score: int) -> bool:
        """Record the alumnus' 1-5 rating of a closed conversation, once."""
        conversation = await tx.inbox.get(conversation_id)
        if (
            conversation is None
            or conversation.alumnus_id != alumnus.id
            or conversation.status != InboxStatus.CLOSED.value
            or conversation.rating is not None
            or not 1 <= score <= 5
        ):
            return False
        await tx.inbox.set(conversation_id, rating=score)
        await self._system(
            tx,
            conversation,
            self.deps.renderer.text("inbox.rated", self.staff_locale, score=score),
        )
        return True

    # ------------------------------------------------------------------ service levels

    async def remind_unanswered(self) -> int:
        """Remind each team, in the topic, of conversations unanswered too long; return count.

        Unanswered: open, with a message of the alumnus and no staff answer since. Too long:
        more than the team's ``reminder_after_hours`` business hours (holidays and closed days
        do not count) since the first unanswered message. One reminder per unanswered
        stretch: ``reminded_at`` is set under a compare-and-set in the same transaction that
        queues the reminder, so concurrent runs and processes send it once.
        """
        now = self.deps.clock.now()
        started_before = now - timedelta(hours=self.reminders.shortest)
        reminded = 0
        async with self.deps.storage.transaction() as tx:
            for conversation, team_code, since in await tx.inbox.unanswered(started_before):
                assert conversation.id is not None
                hours = self.reminders.after(team_code)
                if self.hours.add(since, hours) > now:
                    continue
                if not await tx.inbox.mark_reminded(conversation.id, now):
                    continue
                assigned = (
                    await tx.staff.by_id(conversation.assigned_staff_id)
                    if conversation.assigned_staff_id
                    else None
                )
                local = since.astimezone(self.hours.zone)
                text = self.deps.renderer.text(
                    "inbox.reminder",
                    self.staff_locale,
                    hours=int(hours) if hours == int(hours) else hours,
                    weekday=local.weekday(),
                    time=local.strftime("%H:%M"),
                    to=assigned.display_name if assigned else None,
                )
                await self._system(tx, conversation, text)
                reminded += 1
        if reminded:
            logger.info("reminded teams of %d unanswered conversations", reminded)
        return reminded

    # ------------------------------------------------------------------ staff side

    async def reply(
        self,
        tx: Tx,
        conversation: InboxConversation,
        staff: StaffMember,
        *,
        text: str | None = None,
        copy_of: Incoming | None = None,
        via: str = "telegram",
    ) -> InboxMessage:
        """Send a staff answer to the alumnus (through the outbox) and keep it.

        ``text`` is plain text (typed in the web inbox, or a canned reply): it is kept as
        written and escaped for Telegram's HTML, so "zorg & welzijn" or "<3" arrive intact.
        ``copy_of`` copies a staff message from the group instead (media included).
        """
        assert conversation.id is not None
        alumnus = await self._alumnus(tx, conversation)
        now = self.deps.clock.now()
        stored = await tx.inbox.add_message(
            InboxMessage(
                conversation_id=conversation.id,
                direction="out",
                kind=copy_of.kind if copy_of else "text",
                text=copy_of.text if copy_of else text,
                file_id=copy_of.file_id if copy_of else None,
                source_chat_id=copy_of.chat_id if copy_of else None,
                source_message_id=copy_of.message_id if copy_of else None,
                staff_id=staff.id,
                via=via,
                created_at=now,
            )
        )
        key = f"inbox:{conversation.id}:out:{stored.id}"
        signature = self.deps.renderer.text(
            "inbox.signed",
            alumnus.locale or DEFAULT_LOCALE,
            **await self._signer(tx, conversation, staff),
        )
        from_topic = copy_of is not None
        if copy_of is not None and copy_of.kind == "text" and copy_of.text is not None:
            # A typed answer in the team's topic: sent as text, signed, instead of a copy.
            text, copy_of = copy_of.text, None
        if copy_of is not None:
            # Media cannot be signed in place: the signature goes just before the copy
            # (one chat's rows are sent in order).
            await enqueue(
                tx, row(now, key=f"{key}:by", chat_id=alumnus.chat_id, message=Outgoing(signature))
            )
            payload = {
                "kind": ANSWER_COPY,
                "copy": {
                    "from_chat_id": copy_of.chat_id,
                    "message_id": copy_of.message_id,
                    "kind": copy_of.kind,
                },
                "conversation_id": conversation.id,
                "by": staff.display_name,  # named in the team's notice if it cannot be copied
            }
            await enqueue(tx, row(now, key=key, chat_id=alumnus.chat_id, payload=payload))
        else:
            body = html.escape(text or "", quote=False)
            signed = f"{signature}\n{body}"
            # An answer as long as a message may be gets its signature just before it.
            parts = [signed] if self.deps.messenger.fits(signed) else [signature, body]
            await self._send_parts(tx, alumnus.chat_id, key, parts)
        if not from_topic:
            # Web answers also appear in the topic, so both places show the same conversation.
            mirror = self._around(
                "inbox.web_reply" if via == "web" else "inbox.canned_sent",
                self.staff_locale,
                text or "",
                staff=staff.display_name,
            )
            await self._relay_parts(tx, conversation, f"mirror:{stored.id}", mirror)
        await tx.inbox.set(
            conversation.id, status=InboxStatus.WAITING.value, last_staff_at=now, updated_at=now
        )
        return stored

    def _around(self, block: str, locale: str, text: str, **ctx: Any) -> list[str]:
        """Render ``block`` around someone's plain ``text``, as one message if it fits.

        Otherwise two: the block without the text, then the text on its own. Someone's text
        fits one message by itself (Telegram's own, or checked by the console), so a
        signature or a heading never makes a message too long for Telegram to take.
        """
        whole = self.deps.renderer.text(block, locale, text=text, **ctx)
        if not text or self.deps.messenger.fits(whole):
            return [whole]
        heading = self.deps.renderer.text(block, locale, text="", **ctx)
        return [heading, html.escape(text, quote=False)]

    async def _send_parts(self, tx: Tx, chat_id: int, key: str, parts: Sequence[str]) -> None:
        """Queue a message to the alumnus, in one or two parts (see :meth:`_around`)."""
        now = self.deps.clock.now()
        *first, last = parts
        for part in first:  # before the message itself, as a signature before a copy
            await enqueue(tx, row(now, key=f"{key}:by", chat_id=chat_id, message=Outgoing(part)))
        await enqueue(tx, row(now, key=key, chat_id=chat_id, message=Outgoing(last)))

    async def _relay_parts(
        self, tx: Tx, conversation: InboxConversation, suffix: str, parts: Sequence[str]
    ) -> None:
        """Queue a text for the team's topic, in one or two parts (see :meth:`_around`)."""
        *first, last = parts
        for part in first:
            await self._relay(tx, conversation, f"{suffix}:by", {"text": part})
        await self._relay(tx, conversation, suffix, {"text": last})

    async def _signer(
        self, tx: Tx, conversation: InboxConversation, staff: StaffMember
    ) -> dict[str, str]:
        """Who the alumnus sees answering: the coordinator's first name and team."""
        team = await tx.teams.by_id(conversation.team_id)
        names = staff.display_name.split()
        return {"staff": names[0] if names else "", "team": team.name if team else ""}

    async def alumnus_edited(self, event: Inbound) -> None:
        """The alumnus edited a message the team got: show the team the new text, and keep it.

        Only a message relayed into a conversation counts. An answer during onboarding is
        no one's business, and a message still waiting for its topic is copied later as it
        reads by then.
        """
        now = self.deps.clock.now()
        async with self.deps.storage.transaction() as tx:
            if not await tx.updates.claim(event.update_id, now) or event.message_id is None:
                return
            alumnus = await tx.alumni.by_chat(event.chat_id)
            if alumnus is None or alumnus.id is None:
                return
            conversations = {c.id: c for c in await tx.inbox.of_alumnus(alumnus.id)}
            original = await tx.inbox.relayed(
                [c for c in conversations if c is not None], event.chat_id, event.message_id, "in"
            )
            if original is None:
                return
            conversation = conversations[original.conversation_id]
            stored = await tx.inbox.add_message(
                InboxMessage(
                    conversation_id=original.conversation_id,
                    direction="in",
                    kind=EDIT,
                    text=event.text,
                    source_chat_id=event.chat_id,
                    source_message_id=event.message_id,
                    created_at=now,
                )
            )
            edited = self._around("inbox.edited_in", self.staff_locale, event.text or "")
            await self._relay_parts(tx, conversation, f"edit:{stored.id}", edited)

    async def staff_edited(self, event: StaffInbound) -> None:
        """A coordinator edited an answer in the topic: send the alumnus the new text, signed.

        As for any staff action: the team's group, the conversation's topic, a linked staff
        member who may act. Only an answer that went to the alumnus counts (a note or a
        command stays inside).
        """
        now = self.deps.clock.now()
        async with self.deps.storage.transaction() as tx:
            if not await tx.updates.claim(event.update_id, now):
                return
            team = await tx.teams.by_chat(event.chat_id)
            if team is None or team.id is None or event.thread_id is None:
                return
            conversation = await tx.inbox.by_thread(team.id, event.thread_id)
            if conversation is None or conversation.id is None:
                return
            staff = await tx.staff.by_telegram(event.user_id) if event.user_id else None
            if event.sender_chat_id is not None or not await self.may_act(tx, staff, team.id):
                return
            assert staff is not None
            original = await tx.inbox.relayed(
                [conversation.id], event.chat_id, event.message_id, "out"
            )
            if original is None:
                return
            stored = await tx.inbox.add_message(
                InboxMessage(
                    conversation_id=conversation.id,
                    direction="out",
                    kind=EDIT,
                    text=event.text,
                    source_chat_id=event.chat_id,
                    source_message_id=event.message_id,
                    staff_id=staff.id,
                    via="telegram",
                    created_at=now,
                )
            )
            alumnus = await self._alumnus(tx, conversation)
            edited = self._around(
                "inbox.edited_out",
                alumnus.locale or DEFAULT_LOCALE,
                event.text or "",
                **await self._signer(tx, conversation, staff),
            )
            key = f"inbox:{conversation.id}:out:{stored.id}"
            await self._send_parts(tx, alumnus.chat_id, key, edited)

    async def note(
        self, tx: Tx, conversation: InboxConversation, staff: StaffMember, text: str, via: str
    ) -> InboxMessage:
        """Keep a private staff note; it is never sent to the alumnus."""
        assert conversation.id is not None
        stored = await tx.inbox.add_message(
            InboxMessage(
                conversation_id=conversation.id,
                direction="note",
                text=text,
                staff_id=staff.id,
                via=via,
                created_at=self.deps.clock.now(),
            )
        )
        if via == "web":
            mirror = self._around(
                "inbox.web_note", self.staff_locale, text, staff=staff.display_name
            )
            await self._relay_parts(tx, conversation, f"note:{stored.id}", mirror)
        return stored

    async def close(self, tx: Tx, conversation: InboxConversation, staff: StaffMember) -> None:
        """Close the conversation and ask the alumnus, once, to rate the help."""
        assert conversation.id is not None
        if conversation.status == InboxStatus.CLOSED.value:
            return
        now = self.deps.clock.now()
        await tx.inbox.set(
            conversation.id, status=InboxStatus.CLOSED.value, closed_at=now, updated_at=now
        )
        conversation.status = InboxStatus.CLOSED.value
        alumnus = await self._alumnus(tx, conversation)
        locale = alumnus.locale or DEFAULT_LOCALE
        renderer = self.deps.renderer
        stars = [
            Button(
                renderer.label("labels.rating", locale, score=n),
                RATING_BUTTON.build(conversation.id, n),
            )
            for n in range(1, 6)
        ]
        closing = Outgoing(renderer.text("inbox.closed", locale), [stars])
        key = f"inbox:{conversation.id}:closed"
        await enqueue(tx, row(now, key=key, chat_id=alumnus.chat_id, message=closing))
        await self._system(
            tx,
            conversation,
            renderer.text("inbox.closed_by", self.staff_locale, staff=staff.display_name),
        )

    async def assign(
        self, tx: Tx, conversation: InboxConversation, staff: StaffMember, to: StaffMember
    ) -> None:
        """Give the conversation to a staff member of its team."""
        assert conversation.id is not None
        await tx.inbox.set(
            conversation.id, assigned_staff_id=to.id, updated_at=self.deps.clock.now()
        )
        await self._system(
            tx,
            conversation,
            self.deps.renderer.text(
                "inbox.assigned", self.staff_locale, staff=staff.display_name, to=to.display_name
            ),
        )

    async def move(
        self, tx: Tx, conversation: InboxConversation, staff: StaffMember, team: Team
    ) -> None:
        """Move the conversation to another team; its history goes along into a new topic."""
        assert conversation.id is not None and team.id is not None
        if team.id == conversation.team_id:
            return
        old = await tx.teams.by_id(conversation.team_id)
        earlier = list(conversation.earlier_topics)
        if old is not None and old.chat_id is not None and conversation.thread_id is not None:
            earlier.append([old.chat_id, conversation.thread_id])  # erasure deletes it too
        await self._system(
            tx,
            conversation,
            self.deps.renderer.text(
                "inbox.moved", self.staff_locale, staff=staff.display_name, team=team.name
            ),
        )
        await tx.inbox.set(
            conversation.id,
            team_id=team.id,
            thread_id=None,
            thread_state="none",
            earlier_topics=earlier,
            assigned_staff_id=None,
            updated_at=self.deps.clock.now(),
        )
        conversation.team_id, conversation.thread_id, conversation.thread_state = (
            team.id,
            None,
            "none",
        )
        summary = await self._summary(tx, conversation, moved_from=old.name if old else None)
        await self._relay(
            tx,
            conversation,
            f"moved:{team.id}:{self.deps.clock.now().timestamp()}",
            {"text": summary},
        )

    async def staff_message(self, event: StaffInbound) -> None:
        """A message in a staff group: an answer, a note or a command, from staff only.

        The group must be a team's group, the sender an active, linked staff member of that
        team (or an admin); anonymous admins, posts on behalf of a chat and unknown groups
        change nothing. Only messages in a conversation's topic count.
        """
        actions: list[Action] = []
        async with self.deps.storage.transaction() as tx:
            if not await tx.updates.claim(event.update_id, self.deps.clock.now()):
                return  # handled before (a resent update)
            team = await tx.teams.by_chat(event.chat_id)
            if team is None or team.id is None or event.thread_id is None:
                return
            conversation = await tx.inbox.by_thread(team.id, event.thread_id)
            if conversation is None:
                return
            staff = await tx.staff.by_telegram(event.user_id) if event.user_id else None
            if event.sender_chat_id is not None or not await self.may_act(tx, staff, team.id):
                logger.info(
                    "message in staff group %s from a non-staff sender ignored", event.chat_id
                )
                if event.sender_chat_id is not None:
                    refusal = Outgoing(
                        self.deps.renderer.text("inbox.staff_refused", self.staff_locale)
                    )
                    actions.append(Send(refusal, thread_id=event.thread_id))
            else:
                assert staff is not None
                actions = await self._staff_action(tx, conversation, staff, event)
        if actions:
            try:
                await self.deps.messenger.perform(event.chat_id, actions)
            except UnreachableError:
                logger.warning("the bot cannot write in staff group %s", event.chat_id)

    async def _staff_action(
        self, tx: Tx, conversation: InboxConversation, staff: StaffMember, event: StaffInbound
    ) -> list[Action]:
        text = (event.text or "").strip()
        command, _, argument = text.partition(" ")
        command = command.split("@")[0].lower() if command.startswith("/") else ""
        say = self.deps.renderer.text

        def reply_in_topic(block: str, **ctx: Any) -> list[Action]:
            return [
                Send(Outgoing(say(block, self.staff_locale, **ctx)), thread_id=event.thread_id)
            ]

        if command == "/sluit":
            await self.close(tx, conversation, staff)
            return []
        if command == "/notitie" or text.startswith("!"):
            body = argument.strip() if command else text[1:].strip()
            await self.note(tx, conversation, staff, body, via="telegram")
            return reply_in_topic("inbox.note_kept")
        if command == "/toewijzen":
            await self.assign(tx, conversation, staff, staff)
            return []
        if conversation.status == InboxStatus.CLOSED.value:
            return reply_in_topic("inbox.closed_conversation")
        if command == "/sjabloon":
            alumnus = await self._alumnus(tx, conversation)
            locale = alumnus.locale or DEFAULT_LOCALE
            names = sorted(self.deps.renderer.blocks("canned", locale))
            name = argument.strip().lower()
            if name not in names:
                return reply_in_topic("inbox.unknown_template", names=names)
            canned = self.deps.renderer.label(f"canned.{name}", locale)
            await self.reply(tx, conversation, staff, text=canned, via="canned")
            return []
        if command:
            return []  # another bot command in the topic: not for the alumnus
        copy = Incoming(
            event.chat_id, event.message_id, event.media or "text", event.text, event.file_id
        )
        await self.reply(tx, conversation, staff, copy_of=copy)
        return []

    async def may_act(self, tx: Tx, staff: StaffMember | None, team_id: int) -> bool:
        """Staff may act on a team's conversations when active and in the team (or admin)."""
        if staff is None or not staff.active or staff.id is None:
            return False
        return staff.role == "admin" or await tx.teams.is_member(staff.id, team_id)

    # ------------------------------------------------------------------ relays

    async def _relay(
        self,
        tx: Tx,
        conversation: InboxConversation,
        suffix: str,
        content: dict[str, Any],
        *,
        said: str | None = None,
    ) -> None:
        """Queue something for the team's topic (text, or a copy of a message).

        Texts (the team's HTML, or ``said``: the plain text of an alumnus' text message that
        is otherwise copied) may be merged into the topic's relay that still waits, when the
        group is at its limit (see :meth:`_merge`). Media are always copied on their own.
        """
        assert conversation.id is not None
        team = await tx.teams.by_id(conversation.team_id)
        if team is None or team.chat_id is None:
            return  # no staff group: the web inbox shows it
        now = self.deps.clock.now()
        key = f"inbox:{conversation.id}:{suffix}"
        part: dict[str, Any] | None = None
        if "text" in content:
            content = {"text": content["text"], "buttons": []}
            part = {"key": key, "direction": "system", "html": content["text"]}
        elif said is not None:
            part = {"key": key, "direction": "in", "html": html.escape(said, quote=False)}
        if part is not None and await self._merge(tx, conversation.id, team.chat_id, part):
            return
        payload = {"kind": "relay", "conversation_id": conversation.id, **content}
        if part is not None:
            payload["parts"] = [part]  # what a later merge needs to know of this relay
        await enqueue(tx, row(now, key=key, chat_id=team.chat_id, payload=payload))

    async def _merge(
        self, tx: Tx, conversation_id: int, chat_id: int, part: dict[str, Any]
    ) -> bool:
        """Add a text to the topic's relay that still waits, if the group is at its limit.

        The group is at its limit when ``burst_backlog`` or more rows wait for it. Then the
        conversation's newest relay, if it is a text (or a copied alumnus text) that has not
        been sent, becomes one message holding every text in order, as long as the messenger
        says it fits in one message; anything else (media, a relay already being sent, a
        full message) gets its own row. The outbox row keeps the key of every part it
        carries; the messages themselves are kept in the conversation whatever happens here.
        """
        if await tx.inbox.queued_for_group(chat_id) < self.burst_backlog:
            return False
        waiting = await tx.inbox.waiting_relay(conversation_id, chat_id)
        if waiting is None or waiting.id is None or "parts" not in waiting.payload:
            return False
        parts = [*waiting.payload["parts"], part]
        text = self.deps.renderer.text(
            "inbox.burst",
            self.staff_locale,
            count=len(parts),
            history=[{"direction": p["direction"], "text": Markup(p["html"])} for p in parts],
        )
        if not self.deps.messenger.fits(text):
            return False
        payload = {
            "kind": "relay",
            "conversation_id": conversation_id,
            "text": text,
            "buttons": [],
            "parts": parts,
        }
        await tx.inbox.set_relay_payload(waiting.id, payload, self.deps.clock.now())
        return True

    async def _system(
        self,
        tx: Tx,
        conversation: InboxConversation,
        text: str,
        *,
        topic_only: str | None = None,
        relay: bool = True,
    ) -> None:
        """Store a line for the team and put it in their topic (``topic_only``: there only).

        ``relay`` off: the topic has it already (it was sent there in place of something).
        """
        assert conversation.id is not None
        stored = await tx.inbox.add_message(
            InboxMessage(
                conversation_id=conversation.id,
                direction="system",
                text=text,
                created_at=self.deps.clock.now(),
            )
        )
        if relay:
            relayed = f"{text.rstrip()}\n\n{topic_only}" if topic_only else text
            await self._relay(tx, conversation, f"system:{stored.id}", {"text": relayed})

    async def _deliver_relay(self, row: OutboxMessage) -> int:
        """Send a relay row into the conversation's topic, creating the topic when needed.

        The messenger's typed errors say what happened to the team's group: a topic that is
        gone is recreated once, with a summary; a group that moved (it became a supergroup)
        is followed; without the right to create topics the row waits, in order, until an
        admin gives it (the bot's check of its staff groups releases them sooner).
        """
        conversation_id = int(row.payload["conversation_id"])
        chat_id = await self._group_of(conversation_id, row.chat_id)
        try:
            try:
                return await self._relay_into(row, conversation_id, chat_id)
            except ChatMovedError as moved:
                await self._follow_move(conversation_id, chat_id, moved.new_chat_id)
                return await self._relay_into(row, conversation_id, moved.new_chat_id)
        except MissingRightsError as error:
            logger.warning(
                "cannot relay into staff group %s: the bot lacks %s; waiting for it",
                chat_id,
                error.right,
            )
            # Every waiting relay of the group retries at the same moment (a shared grid),
            # so they go out in the order they were queued once the right is there.
            now = self.deps.clock.now().timestamp()
            raise RetryLaterError(RIGHTS_RETRY_SECONDS - now % RIGHTS_RETRY_SECONDS) from error

    async def _adopt_deferred(self, tx: Tx, item: NewRow) -> NewRow | None:
        """Make a deferred reply in a conversation's topic a relay of that conversation.

        A reply to staff in a topic ("note kept") that Telegram would take only later is
        sent from the outbox. As a relay it goes where the conversation's topic is by then:
        recreated, with a summary, if it was deleted; into the new group if the group moved.
        """
        thread_id = item["message_thread_id"]
        if thread_id is None:
            return None
        team = await tx.teams.by_chat(item["chat_id"])
        if team is None or team.id is None:
            return None
        conversation = await tx.inbox.by_thread(team.id, thread_id)
        if conversation is None or conversation.id is None:
            return None
        payload = {**item["payload"], "kind": "relay", "conversation_id": conversation.id}
        key = f"inbox:{conversation.id}:{item['dedupe_key']}"  # erasure drops it with the rest
        return {**item, "dedupe_key": key, "payload": payload}

    async def _relay_into(self, row: OutboxMessage, conversation_id: int, chat_id: int) -> int:
        if self.forums is None:  # a messenger without topics: the group itself
            return await self._send_into(row, chat_id, None)
        try:
            thread_id = await self._topic(conversation_id, chat_id)
            return await self._send_into(row, chat_id, thread_id)
        except TopicGoneError:
            logger.info("topic of conversation %s is gone; recreating it", conversation_id)
            async with self.deps.storage.transaction() as tx:
                await tx.inbox.set(conversation_id, thread_id=None, thread_state="none")
            thread_id = await self._topic(conversation_id, chat_id, recreated=True)
            return await self._send_into(row, chat_id, thread_id)

    async def _group_of(self, conversation_id: int, queued_for: int) -> int:
        """Return the team's group now: it may have moved since the row was queued."""
        async with self.deps.storage.transaction() as tx:
            conversation = await tx.inbox.get(conversation_id)
            team = await tx.teams.by_id(conversation.team_id) if conversation else None
        if team is None or team.chat_id is None:
            return queued_for
        return team.chat_id

    async def _follow_move(self, conversation_id: int, old: int, new: int) -> None:
        """The team's group became a supergroup: keep its new id and tell the team."""
        now = self.deps.clock.now()
        async with self.deps.storage.transaction() as tx:
            team = await tx.teams.by_chat(old)
            if team is None or team.id is None or await tx.teams.by_chat(new) is not None:
                return  # followed already (another row or process got here first)
            await tx.teams.set_chat(team.id, new)
            await tx.inbox.forget_threads(team.id)  # topic ids do not move with the group
            tx.audit.record(None, "team.group_moved", f"{team.code}: {old} -> {new}", now)
            conversation = await tx.inbox.get(conversation_id)
            if conversation is not None:
                text = self.deps.renderer.text(
                    "inbox.group_moved", self.deps.settings.staff_locale, team=team.name
                )
                await self._system(tx, conversation, text)
        logger.warning("staff group of team %s moved from %s to %s; followed", team.code, old, new)

    async def _send_into(self, row: OutboxMessage, chat_id: int, thread_id: int | None) -> int:
        messenger = self.deps.messenger
        if "copy" in row.payload:
            source = row.payload["copy"]
            try:
                return await messenger.copy(
                    chat_id, source["from_chat_id"], source["message_id"], thread_id
                )
            except UncopyableError:
                return await self._uncopyable_in(row, chat_id, thread_id)
        return await messenger.deliver(chat_id, outgoing_of(row.payload), thread_id)

    async def _uncopyable_in(
        self, relay: OutboxMessage, chat_id: int, thread_id: int | None
    ) -> int:
        """What the alumnus sent cannot be copied: tell the team in its place, and the alumnus.

        The team's text takes the copy's place in the topic (and in the conversation, as a
        system line); the alumnus hears, in their language, that it did not get through.
        """
        conversation_id = int(relay.payload["conversation_id"])
        kind = str(relay.payload["copy"].get("kind") or "other")
        logger.info("conversation %s: a %s of the alumnus cannot be copied", conversation_id, kind)
        notice = self.deps.renderer.text("inbox.uncopyable_in", self.staff_locale, kind=kind)
        sent = await self.deps.messenger.deliver(chat_id, Outgoing(notice), thread_id)
        async with self.deps.storage.transaction() as tx:
            conversation = await tx.inbox.get(conversation_id)
            if conversation is None:  # erased meanwhile
                return sent
            await self._system(tx, conversation, notice, relay=False)
            alumnus = await self._alumnus(tx, conversation)
            told = self.deps.renderer.text(
                "inbox.uncopyable_not_passed_on", alumnus.locale or DEFAULT_LOCALE, kind=kind
            )
            await enqueue(
                tx,
                row(
                    self.deps.clock.now(),
                    key=f"{relay.dedupe_key}:uncopyable",
                    chat_id=alumnus.chat_id,
                    message=Outgoing(told),
                    alumnus_id=alumnus.id,
                ),
            )
        return sent

    async def _deliver_answer_copy(self, answer: OutboxMessage) -> int:
        """Copy a staff message to the alumnus; what cannot be copied becomes a polite text.

        Then the team is told in the topic (and the conversation keeps it as a system line)
        that the alumnus got the explanation instead, and what to send instead.
        """
        source = answer.payload["copy"]
        try:
            return await self.deps.messenger.copy(
                answer.chat_id, source["from_chat_id"], source["message_id"]
            )
        except UncopyableError:
            pass
        conversation_id = int(answer.payload["conversation_id"])
        kind = str(source.get("kind") or "other")
        logger.info("conversation %s: a %s of staff cannot be copied", conversation_id, kind)
        async with self.deps.storage.transaction() as tx:
            conversation = await tx.inbox.get(conversation_id)
            if conversation is None:
                raise RejectedError("conversation gone")
            alumnus = await self._alumnus(tx, conversation)
        text = self.deps.renderer.text(
            "inbox.uncopyable_out", alumnus.locale or DEFAULT_LOCALE, kind=kind
        )
        sent = await self.deps.messenger.deliver(answer.chat_id, Outgoing(text))
        notice = self.deps.renderer.text(
            "inbox.uncopyable_answer",
            self.staff_locale,
            kind=kind,
            staff=str(answer.payload.get("by") or ""),
        )
        async with self.deps.storage.transaction() as tx:
            conversation = await tx.inbox.get(conversation_id)
            if conversation is not None:
                await self._system(tx, conversation, notice)
        return sent

    async def _topic(self, conversation_id: int, chat_id: int, *, recreated: bool = False) -> int:
        """Return the conversation's topic, creating it once (any process may try).

        A recreated topic owes its summary (``thread_state`` "summary") until the summary is
        delivered, and nothing else goes into the topic before it: when Telegram asks to
        wait in between, the relay that found the topic gone is sent again later, and the
        summary first.
        """
        async with self.deps.storage.transaction() as tx:
            conversation = await tx.inbox.get(conversation_id)
            if conversation is None:
                raise TransientError("conversation gone")
            thread_id, state = conversation.thread_id, conversation.thread_state
            owed: str | None = None  # the summary this topic still owes
            name = ""
            if thread_id is not None and state in ("ready", SUMMARY_OWED):
                if state == "ready":
                    return thread_id
                owed = await self._summary(tx, conversation)
            else:
                if not await tx.inbox.claim_thread(conversation_id):
                    raise TransientError("topic is being created")
                alumnus = await self._alumnus(tx, conversation)
                name = self.deps.renderer.label(
                    "inbox.topic_name", self.staff_locale, **self._card(alumnus)
                )
                owed = await self._summary(tx, conversation) if recreated else None
                thread_id = None
        if thread_id is None:
            thread_id = await self._create_topic(conversation_id, chat_id, name, owed=bool(owed))
        if owed:
            await self._send_summary(conversation_id, chat_id, thread_id, owed)
        return thread_id

    async def _create_topic(
        self, conversation_id: int, chat_id: int, name: str, *, owed: bool
    ) -> int:
        """Create the topic the caller claimed; record it, owing a summary if ``owed``."""
        assert self.forums is not None
        try:
            thread_id = await self.forums.create_topic(chat_id, name)
        except Exception:
            async with self.deps.storage.transaction() as tx:
                await tx.inbox.set(conversation_id, thread_state="none")
            raise
        state = SUMMARY_OWED if owed else "ready"
        async with self.deps.storage.transaction() as tx:
            await tx.inbox.set(conversation_id, thread_id=thread_id, thread_state=state)
            erased = await tx.inbox.get(conversation_id) is None
        if erased:  # the person was erased while the topic was being created
            await self.forums.delete_topic(chat_id, thread_id)
            raise TransientError("conversation gone")
        return thread_id

    async def _send_summary(
        self, conversation_id: int, chat_id: int, thread_id: int, summary: str
    ) -> None:
        """Send a recreated topic's summary; until it is sent, the topic still owes it.

        Not sent (Telegram asks to wait, or did not answer before the request left): the
        error goes to the dispatcher, which sends the relay again later, summary first.
        Perhaps sent (no answer after the request left): never sent twice.
        """
        try:
            await self.deps.messenger.deliver(chat_id, Outgoing(summary), thread_id)
        except MaybeDeliveredError:
            logger.warning("summary of conversation %s may not have arrived", conversation_id)
        async with self.deps.storage.transaction() as tx:
            await tx.inbox.summary_sent(conversation_id, thread_id)

    async def forget(self, tx: Tx, alumnus: Alumnus) -> int:
        """Erasure: queue the deletion of the person's topics; drop their queued words.

        Every forum topic their conversations had (now, and before a move to another team)
        is deleted with all its messages by ``deleteForumTopic``, through the outbox so that
        it survives a crash. The outbox rows of their conversations (copies for the team,
        answers to them) are deleted. Returns how many topics are queued for deletion.
        """
        assert alumnus.id is not None
        now = self.deps.clock.now()
        conversations = await tx.inbox.of_alumnus(alumnus.id)
        queued = 0
        for conversation in conversations:
            topics = [(int(c), int(t)) for c, t in conversation.earlier_topics]
            team = await tx.teams.by_id(conversation.team_id)
            if team is not None and team.chat_id is not None and conversation.thread_id:
                topics.append((team.chat_id, conversation.thread_id))
            for chat_id, thread_id in topics:
                # No alumnus_id: the row must outlive the person's rows, deleted right after.
                queued += await enqueue(
                    tx,
                    row(
                        now,
                        key=f"erase:topic:{chat_id}:{thread_id}",
                        chat_id=chat_id,
                        thread_id=thread_id,
                        payload={"kind": DELETE_TOPIC},
                    ),
                )
        await tx.inbox.drop_outbox_of([c.id for c in conversations if c.id is not None])
        return queued

    async def _delete_topic(self, row: OutboxMessage) -> int:
        """Delete a forum topic (an erasure); a topic that is gone already counts as done."""
        assert row.message_thread_id is not None
        if self.forums is None:
            return 0  # a messenger without topics never made one
        with contextlib.suppress(TopicGoneError):  # gone already: staff deleted it, say
            await self.forums.delete_topic(row.chat_id, row.message_thread_id)
        return 0  # deleting sends no message

    async def export(self, tx: Tx, alumnus: Alumnus) -> dict[str, list[dict[str, Any]]]:
        """What the inbox holds about a person: their conversations and every message."""
        assert alumnus.id is not None
        conversations = await tx.inbox.of_alumnus(alumnus.id)
        messages = await tx.inbox.messages_of([c.id for c in conversations if c.id is not None])
        return {
            "inbox_conversation": [c.model_dump(mode="json") for c in conversations],
            "inbox_message": [m.model_dump(mode="json") for m in messages],
        }

    async def _heard(self, outcomes: Sequence[tuple[OutboxMessage, str]]) -> None:
        """Keep in the conversation what did not arrive, so nothing is lost in silence.

        An answer that cannot reach the alumnus because they blocked the bot: the team is
        told in the topic. A message of the conversation Telegram refused for good (dead):
        a system line says so; one meant for the alumnus is shown in the topic too, one
        meant for the topic only in the conversation (the topic may be what refuses).
        """
        for sent, status in outcomes:
            conversation_id = _conversation_of(sent)
            if conversation_id is None or status not in ("failed", "dead"):
                continue
            for_topic = sent.payload.get("kind") == "relay"
            if status == "failed":
                if for_topic or "conversation_id" not in sent.payload:
                    continue  # the router tells the team of a block when it learns of it
                block, show = "inbox.blocked", True
            elif for_topic:
                block, show = "inbox.undelivered_relay", False
            else:
                block, show = "inbox.undelivered_answer", True
            logger.warning("conversation %s: outbox row %s %s", conversation_id, sent.id, status)
            async with self.deps.storage.transaction() as tx:
                conversation = await tx.inbox.get(conversation_id)
                if conversation is not None:
                    text = self.deps.renderer.text(block, self.staff_locale)
                    await self._system(tx, conversation, text, relay=show)

    async def unreachable(self, tx: Tx, alumnus: Alumnus) -> None:
        """The alumnus blocked the bot: tell their open conversation's team."""
        assert alumnus.id is not None
        conversation = await tx.inbox.open_for(alumnus.id)
        if conversation is not None:
            await self._system(
                tx, conversation, self.deps.renderer.text("inbox.blocked", self.staff_locale)
            )

    # ------------------------------------------------------------------ helpers

    async def _route(self, tx: Tx, topic: str, alumnus: Alumnus) -> Team:
        for rule in self.rules:
            if rule.matches(topic, alumnus):
                team = await tx.teams.by_code(rule.team)
                if team is not None:
                    return team
        team = await tx.teams.default()
        if team is None:
            # No team set up yet: keep the question rather than lose it.
            code, name = self.fallback_team
            team = await tx.teams.by_code(code) or await tx.teams.add(
                Team(
                    code=code,
                    name=name,
                    is_default=True,
                    created_at=self.deps.clock.now(),
                )
            )
        return team

    async def _alumnus(self, tx: Tx, conversation: InboxConversation) -> Alumnus:
        alumnus = await tx.alumni.by_id(conversation.alumnus_id)
        assert alumnus is not None
        return alumnus

    def _card(self, alumnus: Alumnus) -> dict[str, Any]:
        """Only what staff need: name, programme, cohort, situation, region."""
        programme = self.deps.catalogue.programme(alumnus.crebo)
        return {
            "first_name": alumnus.first_name,
            "programme": programme.label(self.staff_locale) if programme else None,
            "cohort": alumnus.graduation_year,
            "studying": alumnus.still_studying,
            "situation": alumnus.situation,
            "region": self.deps.catalogue.region_label(alumnus.region, self.staff_locale),
        }

    def _intro(self, conversation: InboxConversation, alumnus: Alumnus) -> str:
        return self.deps.renderer.text(
            "inbox.intro",
            self.staff_locale,
            topic=conversation.topic,
            context=conversation.context,
            **self._card(alumnus),
        )

    async def _summary(
        self, tx: Tx, conversation: InboxConversation, moved_from: str | None = None
    ) -> str:
        assert conversation.id is not None
        alumnus = await self._alumnus(tx, conversation)
        history = list(await tx.inbox.messages(conversation.id))[-SUMMARY_MESSAGES:]
        return self.deps.renderer.text(
            "inbox.summary",
            self.staff_locale,
            history=history,
            moved_from=moved_from,
            **self._card(alumnus),
        )
