"""SQLModel tables. Every timestamp is aware UTC; every change goes through a migration."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, UniqueConstraint
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
