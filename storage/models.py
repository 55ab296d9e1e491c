"""SQLModel tables. Every timestamp is aware UTC; every change goes through a migration."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


class Purpose(StrEnum):
    """Purposes an alumnus consents to, each separately (AVG/GDPR)."""

    LLO = "llo"
    JOBS = "jobs"
    AFTERCARE = "aftercare"
    SURVEYS = "surveys"
    NETWORK = "network"


class Situation(StrEnum):
    """What an alumnus is doing now."""

    WORKING = "working"
    STUDYING = "studying"
    LOOKING = "looking"
    OTHER = "other"


def _ts(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(
        default=None if nullable else ...,
        sa_type=UTCDateTime,
        nullable=nullable,
        index=index,
    )


class Alumnus(SQLModel, table=True):
    """One person who talks to the bot, with the small profile they chose to share."""

    __tablename__ = "alumnus"

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_type=BigInteger, unique=True, index=True)
    locale: str | None = Field(default=None, max_length=5)
    first_name: str | None = Field(default=None, max_length=64)
    location: str | None = Field(default=None, max_length=32)
    crebo: str | None = Field(default=None, max_length=8, index=True)
    level: int | None = None
    track: str | None = Field(default=None, max_length=3)
    graduation_year: int | None = None
    graduation_month: int | None = None
    still_studying: bool = False
    situation: str | None = Field(default=None, max_length=16)
    sector: str | None = Field(default=None, max_length=32)
    region: str | None = Field(default=None, max_length=16)
    interests: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    offer_frequency: str | None = Field(
        default=None,
        max_length=16,
        description="New matching offers: immediately, weekly, monthly or never (None: never).",
    )
    onboarded_at: datetime | None = _ts(nullable=True)
    unreachable_since: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    last_seen_at: datetime = _ts(index=True)


class ConversationState(SQLModel, table=True):
    """Where an alumnus is in a multi-step flow, with the answers given so far."""

    __tablename__ = "conversation_state"

    alumnus_id: int = Field(
        sa_column=Column(Integer, ForeignKey("alumnus.id", ondelete="CASCADE"), primary_key=True)
    )
    flow: str = Field(max_length=32)
    step: str = Field(max_length=32)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = _ts()


class ConsentEvent(SQLModel, table=True):
    """Append-only consent log: one row per grant or withdrawal, never updated."""

    __tablename__ = "consent_event"
    __table_args__ = (Index("ix_consent_event_alumnus_purpose", "alumnus_id", "purpose", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    alumnus_id: int = Field(
        sa_column=Column(Integer, ForeignKey("alumnus.id", ondelete="CASCADE"), nullable=False)
    )
    purpose: str = Field(max_length=16)
    granted: bool
    text_version: str = Field(max_length=16, description="Hash of the consent text shown.")
    locale: str = Field(max_length=5)
    source: str = Field(max_length=16, description="onboarding, privacy, stop or push.")
    evidence: str | None = Field(default=None, max_length=64, description="Telegram update id.")
    occurred_at: datetime = _ts()


class InboundUpdate(SQLModel, table=True):
    """Each Telegram update id seen, so a resent update is processed once.

    The payload is held only between receipt (webhook) and processing, then cleared.
    """

    __tablename__ = "inbound_update"

    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    received_at: datetime = _ts(index=True)
    claimed_at: datetime | None = _ts(nullable=True)


class Suppression(SQLModel, table=True):
    """What remains after erasure: a keyed hash, so the person is never re-imported."""

    __tablename__ = "suppression"
    __table_args__ = (UniqueConstraint("subject_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    subject_hash: str = Field(max_length=64)
    erased_at: datetime = _ts()


class OutboxStatus(StrEnum):
    """Where an outbox row is in its life (see DESIGN.md, "Delivery")."""

    PENDING = "pending"  # waiting for its time (not_before)
    SENDING = "sending"  # claimed under a lease; the call to Telegram may be under way
    SENT = "sent"  # Telegram answered 200; telegram_message_id is set
    FAILED = "failed"  # 403: the person blocked the bot or is gone
    DEAD = "dead"  # 400 or too many attempts: will never succeed as it is
    UNKNOWN = "unknown"  # the request may have reached Telegram: a person decides
    RESENT = "resent"  # was unknown; a coordinator had it sent again (a new row)
    CANCELLED = "cancelled"  # consent withdrawn, campaign cancelled, or person erased
    DIGEST = "digest"  # over the weekly push cap: the offer waits in the person's digest


class OutboxMessage(SQLModel, table=True):
    """A message that must not be lost: one row per (purpose or campaign, recipient)."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("dedupe_key"),
        Index("ix_outbox_due", "status", "not_before"),
        Index("ix_outbox_campaign_status", "campaign_id", "status"),
        Index("ix_outbox_alumnus_updated", "alumnus_id", "updated_at"),
        # A staff group's backlog (burst merging) without scanning a campaign's rows.
        Index("ix_outbox_chat_status", "chat_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=128, description="Unique per purpose and recipient.")
    alumnus_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("alumnus.id", ondelete="CASCADE"), nullable=True),
    )
    chat_id: int = Field(sa_type=BigInteger)
    message_thread_id: int | None = Field(default=None, sa_type=BigInteger)
    campaign_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("campaign.id", ondelete="SET NULL"), nullable=True),
    )
    purpose: str | None = Field(
        default=None, max_length=16, description="Consent purpose re-checked at send time."
    )
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=OutboxStatus.PENDING.value, max_length=16)
    attempts: int = 0
    not_before: datetime = _ts()
    lease_until: datetime | None = _ts(nullable=True)
    # Set, in a transaction of its own, just before the row goes to the messenger's HTTP
    # client; cleared by each claim. A lease that expires without it was never sent.
    handed_at: datetime | None = _ts(nullable=True)
    telegram_message_id: int | None = Field(default=None, sa_type=BigInteger)
    last_error: str | None = Field(default=None, max_length=256)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    sent_at: datetime | None = _ts(nullable=True)


class Team(SQLModel, table=True):
    """A team of coordinators (LLO, work and career, aftercare...), with its staff group."""

    __tablename__ = "team"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=128)
    chat_id: int | None = Field(default=None, sa_type=BigInteger, unique=True)
    is_default: bool = False
    created_at: datetime = _ts()


class StaffMember(SQLModel, table=True):
    """A school staff member who uses the web console and/or the team's Telegram group."""

    __tablename__ = "staff_member"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    display_name: str = Field(max_length=128)
    password_hash: str | None = Field(default=None, max_length=256)
    role: str = Field(default="coordinator", max_length=16, description="admin or coordinator.")
    telegram_user_id: int | None = Field(default=None, sa_type=BigInteger, unique=True)
    active: bool = True
    created_at: datetime = _ts()
    last_login_at: datetime | None = _ts(nullable=True)
    # Set when an admin gave a temporary password: it works until then, and only to choose
    # a new one (the console allows nothing else). None: an ordinary password.
    password_temporary_until: datetime | None = _ts(nullable=True)


class TeamMembership(SQLModel, table=True):
    """Which staff member works in which team."""

    __tablename__ = "team_membership"

    staff_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("staff_member.id", ondelete="CASCADE"), primary_key=True
        )
    )
    team_id: int = Field(
        sa_column=Column(Integer, ForeignKey("team.id", ondelete="CASCADE"), primary_key=True)
    )


class WebSession(SQLModel, table=True):
    """A server-side console session; the cookie holds a random token, we keep its hash."""

    __tablename__ = "web_session"

    token_hash: str = Field(max_length=64, primary_key=True)
    staff_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("staff_member.id", ondelete="CASCADE"), nullable=False
        )
    )
    csrf_token: str = Field(max_length=64)
    created_at: datetime = _ts()
    expires_at: datetime = _ts(index=True)
    last_seen_at: datetime = _ts()


class LoginAttempt(SQLModel, table=True):
    """Login attempts, for rate limiting and lock-out (kept briefly)."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_key_at", "key", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=300, description="Lower-cased e-mail, or 'ip:' + address.")
    success: bool
    at: datetime = _ts()


class AuditEvent(SQLModel, table=True):
    """Who among staff did or read what (staff reads are audited, DESIGN.md)."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("staff_member.id", ondelete="SET NULL"), nullable=True
        ),
    )
    action: str = Field(max_length=64)
    subject: str | None = Field(default=None, max_length=128)
    at: datetime = _ts(index=True)


class OfferKind(StrEnum):
    """What an offer is; the kind fixes the consent purpose it needs."""

    LLO = "llo"
    JOB = "job"
    BPV = "bpv"
    EVENT = "event"
    NEWS = "news"


class Offer(SQLModel, table=True):
    """An LLO course, job lead, bpv place, event or news item, with who it is for."""

    __tablename__ = "offer"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=8)
    title: str = Field(max_length=120)
    body: str = Field(max_length=1500)
    provider: str | None = Field(default=None, max_length=120)
    link: str | None = Field(default=None, max_length=500)
    regions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    sectors: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    crebos: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    levels: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    interests: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    starts_on: date | None = None
    deadline: date | None = None
    cost: str | None = Field(default=None, max_length=64)
    contact_team: str | None = Field(default=None, max_length=32)
    language: str = Field(
        default="nl",
        max_length=2,
        sa_column_kwargs={"server_default": "nl"},
        description="The language the offer is written in (nl or en).",
    )
    created_at: datetime = _ts()
    updated_at: datetime | None = _ts(nullable=True)
    # Withdrawn: never sent again; its queued pushes and digest items are dropped at send time.
    withdrawn_at: datetime | None = _ts(nullable=True)


class Campaign(SQLModel, table=True):
    """One offer sent to one segment, now or at a set time."""

    __tablename__ = "campaign"

    id: int | None = Field(default=None, primary_key=True)
    offer_id: int = Field(
        sa_column=Column(Integer, ForeignKey("offer.id", ondelete="CASCADE"), nullable=False)
    )
    segment: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    kind: str = Field(default="manual", max_length=8, description="manual or match.")
    status: str = Field(default="draft", max_length=16, description="See CampaignStatus.")
    send_at: datetime | None = _ts(nullable=True)
    launched_at: datetime | None = _ts(nullable=True)
    launch_done_at: datetime | None = _ts(nullable=True)
    targeted: int = 0
    already_reached: int = Field(
        default=0, description="Left out: another campaign already brought them this offer."
    )
    maybe_reached: int = Field(
        default=0,
        description="Of already_reached: only a push whose delivery is unknown reached them.",
    )
    created_at: datetime = _ts()


class CampaignStatus(StrEnum):
    """Where a campaign stands (docs/delivery.md, "Campaigns")."""

    DRAFT = "draft"  # created, not sent
    SCHEDULED = "scheduled"  # waits for send_at; the scheduler job launches it once
    LAUNCHING = "launching"  # one process is queueing its pushes
    SENDING = "sending"  # pushes are in the outbox (finished when none is pending)
    PAUSED = "paused"  # pending pushes are held until resumed
    CANCELLED = "cancelled"  # pending pushes were cancelled; final


class OfferFrequency(StrEnum):
    """How often an alumnus with interests hears about new matching offers."""

    IMMEDIATELY = "immediately"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    NEVER = "never"


class DigestItem(SQLModel, table=True):
    """An offer waiting for an alumnus' digest: over the push cap, or a weekly/monthly match."""

    __tablename__ = "digest_item"
    __table_args__ = (
        UniqueConstraint("alumnus_id", "campaign_id"),
        Index("ix_digest_item_due", "digest_key", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    alumnus_id: int = Field(
        sa_column=Column(Integer, ForeignKey("alumnus.id", ondelete="CASCADE"), nullable=False)
    )
    campaign_id: int = Field(
        sa_column=Column(Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False)
    )
    offer_id: int = Field(
        sa_column=Column(Integer, ForeignKey("offer.id", ondelete="CASCADE"), nullable=False)
    )
    purpose: str = Field(max_length=16)
    reason: str = Field(max_length=8, description="cap, weekly or monthly.")
    due_at: datetime = _ts()
    digest_key: str | None = Field(
        default=None, max_length=128, description="Outbox key of the digest that carried it."
    )
    created_at: datetime = _ts()


class RateBudget(SQLModel, table=True):
    """The global send rate shared by every dispatcher process (PostgreSQL only).

    ``next_free`` is the database clock (epoch seconds) at which the next token is free.
    """

    __tablename__ = "rate_budget"

    name: str = Field(max_length=32, primary_key=True)
    next_free: float = 0.0


class OfferResponse(SQLModel, table=True):
    """An alumnus' tap on a push: interest or opt-out (once each per campaign)."""

    __tablename__ = "offer_response"
    __table_args__ = (UniqueConstraint("campaign_id", "alumnus_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(
        sa_column=Column(Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False)
    )
    alumnus_id: int = Field(
        sa_column=Column(Integer, ForeignKey("alumnus.id", ondelete="CASCADE"), nullable=False)
    )
    kind: str = Field(max_length=16, description="interest or optout.")
    at: datetime = _ts()


class InboxStatus(StrEnum):
    """Where a conversation in the coordinator inbox stands."""

    OPEN = "open"  # waiting for the school
    WAITING = "waiting"  # the school answered; waiting for the alumnus
    CLOSED = "closed"


class InboxConversation(SQLModel, table=True):
    """One question or request of an alumnus, owned by one team, in one forum topic."""

    __tablename__ = "inbox_conversation"
    __table_args__ = (
        Index("ix_inbox_conversation_alumnus_status", "alumnus_id", "status"),
        Index("ix_inbox_conversation_team_status", "team_id", "status"),
        UniqueConstraint("team_id", "thread_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    alumnus_id: int = Field(
        sa_column=Column(Integer, ForeignKey("alumnus.id", ondelete="CASCADE"), nullable=False)
    )
    team_id: int = Field(sa_column=Column(Integer, ForeignKey("team.id"), nullable=False))
    topic: str = Field(max_length=16, description="courses, work, aftercare, diploma, other.")
    status: str = Field(default=InboxStatus.OPEN.value, max_length=16)
    context: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    thread_id: int | None = Field(default=None, sa_type=BigInteger)
    thread_state: str = Field(
        default="none", max_length=12, description="none, creating, summary (owed), ready."
    )
    # Topics this conversation had before (moved to another team, [chat id, thread id]
    # pairs): erasure deletes them too.
    earlier_topics: list[list[int]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    assigned_staff_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("staff_member.id", ondelete="SET NULL"), nullable=True
        ),
    )
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    last_alumnus_at: datetime | None = _ts(nullable=True)
    last_staff_at: datetime | None = _ts(nullable=True)
    reminded_at: datetime | None = _ts(nullable=True)
    away_notice_on: date | None = None
    closed_at: datetime | None = _ts(nullable=True)
    rating: int | None = None
    # When words that need a person soon (content/escalation.yaml) first reached this
    # conversation; an urgent conversation that is not closed leads the inbox.
    urgent_since: datetime | None = _ts(nullable=True)


class InboxMessage(SQLModel, table=True):
    """One message in a conversation: from the alumnus, to them, or a private staff note."""

    __tablename__ = "inbox_message"
    __table_args__ = (Index("ix_inbox_message_conversation", "conversation_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("inbox_conversation.id", ondelete="CASCADE"), nullable=False
        )
    )
    direction: str = Field(max_length=8, description="in, out, note or system.")
    kind: str = Field(default="text", max_length=12, description="text, photo, document, voice.")
    text: str | None = Field(default=None, sa_type=Text)
    file_id: str | None = Field(default=None, max_length=256)
    source_chat_id: int | None = Field(default=None, sa_type=BigInteger)
    source_message_id: int | None = Field(default=None, sa_type=BigInteger)
    staff_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("staff_member.id", ondelete="SET NULL"), nullable=True
        ),
    )
    via: str = Field(default="telegram", max_length=8, description="telegram or web.")
    created_at: datetime = _ts()


class SavedSegment(SQLModel, table=True):
    """A named set of campaign filters a coordinator saved in the console, to load later."""

    __tablename__ = "saved_segment"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    filters: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("staff_member.id", ondelete="SET NULL"), nullable=True
        ),
    )
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Graduate(SQLModel, table=True):
    """A student or graduate from the school's records (issue 13). Gives no consent.

    Imported from the student information system, upserted by student number. ``seen_at``
    is the last import that held the record: an unlinked record is purged a retention
    period after it (docs/privacy.md).
    """

    __tablename__ = "graduate"
    __table_args__ = (Index("ix_graduate_class", "crebo", "graduation_date"),)

    id: int | None = Field(default=None, primary_key=True)
    student_number: str = Field(max_length=32, unique=True)
    first_name: str = Field(max_length=64)
    last_name: str = Field(max_length=128)
    email: str | None = Field(default=None, max_length=254)
    crebo: str = Field(max_length=8)
    level: int
    track: str = Field(max_length=3, description="BOL or BBL.")
    location: str = Field(max_length=32)
    graduation_date: date = Field(description="Expected or actual graduation date.")
    alumnus_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("alumnus.id", ondelete="SET NULL"), nullable=True, unique=True
        ),
    )
    linked_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    seen_at: datetime = _ts(index=True)


class Invitation(SQLModel, table=True):
    """A personal invitation link: only the token's hash, one-time, expiring."""

    __tablename__ = "invitation"

    id: int | None = Field(default=None, primary_key=True)
    graduate_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("graduate.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _ts()
    expires_at: datetime = _ts()
    used_at: datetime | None = _ts(nullable=True)
    used_by: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("alumnus.id", ondelete="SET NULL"), nullable=True),
    )


class MatchDismissal(SQLModel, table=True):
    """A coordinator said an alumnus is not this graduate: never offered as a match again."""

    __tablename__ = "match_dismissal"

    graduate_id: int = Field(
        sa_column=Column(Integer, ForeignKey("graduate.id", ondelete="CASCADE"), primary_key=True)
    )
    alumnus_id: int = Field(
        sa_column=Column(Integer, ForeignKey("alumnus.id", ondelete="CASCADE"), primary_key=True)
    )
    at: datetime = _ts()


class CheckinStatus(StrEnum):
    """Where one aftercare check-in (one moment of one person) stands."""

    SCHEDULED = "scheduled"  # due at due_at; the aftercare tick asks it
    ASKED = "asked"  # the question is in the outbox (or sent)
    ANSWERING = "answering"  # the person answered part of it
    REMINDED = "reminded"  # one reminder was queued
    ANSWERED = "answered"  # every question that applies was answered
    NO_RESPONSE = "no_response"  # no complete answer after the reminder
    SKIPPED = "skipped"  # never asked: past the grace period, caught up, or a week too close
    CANCELLED = "cancelled"  # consent withdrawn (or none) when it was due


class Checkin(SQLModel, table=True):
    """One aftercare moment of one person: a due row, then its history (never rewritten)."""

    __tablename__ = "checkin"
    __table_args__ = (
        UniqueConstraint("alumnus_id", "moment"),
        Index("ix_checkin_due", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    alumnus_id: int = Field(
        sa_column=Column(Integer, ForeignKey("alumnus.id", ondelete="CASCADE"), nullable=False)
    )
    moment: str = Field(max_length=16, description="A moment code of content/aftercare.yaml.")
    due_at: datetime = _ts()
    status: str = Field(default=CheckinStatus.SCHEDULED.value, max_length=12)
    outcome: str | None = Field(
        default=None, max_length=16, description="Why skipped or cancelled: grace, catch_up..."
    )
    asked_at: datetime | None = _ts(nullable=True)
    reminded_at: datetime | None = _ts(nullable=True)
    answered_at: datetime | None = _ts(nullable=True)
    help_conversation_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("inbox_conversation.id", ondelete="SET NULL"), nullable=True
        ),
    )
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class CheckinAnswer(SQLModel, table=True):
    """One answer to one check-in question; appended, never updated (the history)."""

    __tablename__ = "checkin_answer"
    __table_args__ = (Index("ix_checkin_answer_checkin", "checkin_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    checkin_id: int = Field(
        sa_column=Column(Integer, ForeignKey("checkin.id", ondelete="CASCADE"), nullable=False)
    )
    alumnus_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("alumnus.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    moment: str = Field(max_length=16, description="The check-in's moment (for the monitor).")
    question: str = Field(max_length=16)
    value: str | None = Field(default=None, max_length=16)
    text: str | None = Field(default=None, sa_type=Text, description="A typed answer.")
    escalated: bool = False
    answered_at: datetime = _ts()


class AftercareMoment(SQLModel, table=True):
    """The schedule worked out per cohort: when each moment is due for a graduation month."""

    __tablename__ = "aftercare_moment"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    month: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    moment: str = Field(max_length=16, primary_key=True)
    due_at: datetime = _ts()


class AftercarePlan(SQLModel, table=True):
    """What the planner of check-ins did last: the schedule it used and up to when."""

    __tablename__ = "aftercare_plan"

    name: str = Field(max_length=16, primary_key=True)
    schedule_hash: str = Field(max_length=16)
    planned_until: datetime = _ts()


class SurveySend(SQLModel, table=True):
    """One survey sent to one segment (like a campaign)."""

    __tablename__ = "survey_send"

    id: int | None = Field(default=None, primary_key=True)
    survey: str = Field(max_length=48, index=True, description="Code of content/surveys/*.yaml.")
    segment: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    targeted: int = 0
    created_at: datetime = _ts()
    # The console's confirmed form carries a one-time key: the same form posted twice (a
    # double click, a reload) finds this send instead of making a second one.
    form_key: str | None = Field(default=None, max_length=64, unique=True, index=True)


class SurveyProgress(SQLModel, table=True):
    """A response being given: linked to the person until it is complete, then deleted."""

    __tablename__ = "survey_progress"

    alumnus_id: int = Field(
        sa_column=Column(Integer, ForeignKey("alumnus.id", ondelete="CASCADE"), primary_key=True)
    )
    survey: str = Field(max_length=48, primary_key=True)
    send_id: int = Field(
        sa_column=Column(Integer, ForeignKey("survey_send.id", ondelete="CASCADE"), nullable=False)
    )
    step: int = 0
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = _ts()


class SurveyMark(SQLModel, table=True):
    """Only this stays with the person: they responded to a survey (in a month)."""

    __tablename__ = "survey_mark"

    alumnus_id: int = Field(
        sa_column=Column(Integer, ForeignKey("alumnus.id", ondelete="CASCADE"), primary_key=True)
    )
    survey: str = Field(max_length=48, primary_key=True)
    responded_in: str = Field(max_length=7, description="YYYY-MM, no finer.")


class SurveyResponse(SQLModel, table=True):
    """A completed response, with coarse reporting attributes and no link to the person.

    The key is random (no sequence that could be matched to the order of marks); the
    attributes are coarsened until at least k alumni share them (docs/privacy.md).
    """

    __tablename__ = "survey_response"

    id: str = Field(max_length=32, primary_key=True)
    survey: str = Field(max_length=48, index=True)
    crebo: str | None = Field(default=None, max_length=8)
    level: int | None = None
    cohort: str | None = Field(default=None, max_length=9, description="2024 or 2020-2024.")
    location: str | None = Field(default=None, max_length=32)
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    submitted_in: str = Field(max_length=7, description="YYYY-MM, no finer.")
