"""Conversations of the coordinator inbox and their messages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from storage.db import is_postgres
from storage.models import (
    Alumnus,
    InboxConversation,
    InboxMessage,
    InboxStatus,
    OutboxMessage,
    OutboxStatus,
    Team,
)

OPEN_STATUSES = (InboxStatus.OPEN.value, InboxStatus.WAITING.value)


class InboxRepository:
    """Conversations, their messages, and the forum topic each one lives in."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, conversation_id: int) -> InboxConversation | None:
        """Return one conversation."""
        return await self._session.get(InboxConversation, conversation_id)

    async def open_for(self, alumnus_id: int) -> InboxConversation | None:
        """Return the alumnus' open conversation (open or waiting), newest first."""
        result = await self._session.execute(
            select(InboxConversation)
            .where(
                col(InboxConversation.alumnus_id) == alumnus_id,
                col(InboxConversation.status).in_(OPEN_STATUSES),
            )
            .order_by(col(InboxConversation.id).desc())
        )
        return result.scalars().first()

    async def by_thread(self, team_id: int, thread_id: int) -> InboxConversation | None:
        """Return the conversation that lives in this forum topic of a team's group."""
        result = await self._session.execute(
            select(InboxConversation).where(
                col(InboxConversation.team_id) == team_id,
                col(InboxConversation.thread_id) == thread_id,
            )
        )
        return result.scalar_one_or_none()

    async def relayed(
        self, conversation_ids: Sequence[int], chat_id: int, message_id: int, direction: str
    ) -> InboxMessage | None:
        """Return the message of these conversations that was relayed from this chat message.

        ``direction`` "in" for an alumnus' message, "out" for a staff answer copied from the
        team's topic. The conversations keep the search on their index.
        """
        if not conversation_ids:
            return None
        result = await self._session.execute(
            select(InboxMessage)
            .where(
                col(InboxMessage.conversation_id).in_(list(conversation_ids)),
                col(InboxMessage.direction) == direction,
                col(InboxMessage.source_chat_id) == chat_id,
                col(InboxMessage.source_message_id) == message_id,
            )
            .order_by(col(InboxMessage.id))
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def add(self, conversation: InboxConversation) -> InboxConversation:
        """Insert a conversation and return it with its id."""
        self._session.add(conversation)
        await self._session.flush()
        return conversation

    async def add_message(self, message: InboxMessage) -> InboxMessage:
        """Append a message to a conversation."""
        self._session.add(message)
        await self._session.flush()
        return message

    async def messages(self, conversation_id: int) -> Sequence[InboxMessage]:
        """Return a conversation's messages in order."""
        result = await self._session.execute(
            select(InboxMessage)
            .where(col(InboxMessage.conversation_id) == conversation_id)
            .order_by(col(InboxMessage.id))
        )
        return list(result.scalars())

    async def of_alumnus(self, alumnus_id: int) -> list[InboxConversation]:
        """Return every conversation of one alumnus, oldest first."""
        result = await self._session.execute(
            select(InboxConversation)
            .where(col(InboxConversation.alumnus_id) == alumnus_id)
            .order_by(col(InboxConversation.id))
        )
        return list(result.scalars())

    async def messages_of(self, conversation_ids: Sequence[int]) -> list[InboxMessage]:
        """Return the messages of these conversations, in order."""
        if not conversation_ids:
            return []
        result = await self._session.execute(
            select(InboxMessage)
            .where(col(InboxMessage.conversation_id).in_(list(conversation_ids)))
            .order_by(col(InboxMessage.id))
        )
        return list(result.scalars())

    async def drop_outbox_of(self, conversation_ids: Sequence[int]) -> int:
        """Delete the outbox rows of these conversations (relays, answers: their words).

        A row being sent right now keeps its id for the outcome, with its payload emptied
        (the dispatcher has it in hand already); if it ever comes back, it cannot be sent.
        """
        if not conversation_ids:
            return 0
        keys = [
            col(OutboxMessage.dedupe_key).startswith(f"inbox:{cid}:") for cid in conversation_ids
        ]
        deleted = await self._session.execute(
            delete(OutboxMessage).where(
                or_(*keys), col(OutboxMessage.status) != OutboxStatus.SENDING.value
            )
        )
        await self._session.execute(
            update(OutboxMessage)
            .where(or_(*keys), col(OutboxMessage.status) == OutboxStatus.SENDING.value)
            .values(payload={"kind": "erased"})
        )
        return int(deleted.rowcount or 0)  # type: ignore[attr-defined]

    async def set(self, conversation_id: int, **values: Any) -> None:
        """Update columns of a conversation."""
        await self._session.execute(
            update(InboxConversation)
            .where(col(InboxConversation.id) == conversation_id)
            .values(**values)
        )

    async def mark_urgent(self, conversation_id: int, now: datetime) -> bool:
        """Mark a conversation urgent; return whether it was not urgent before (any process)."""
        result = await self._session.execute(
            update(InboxConversation)
            .where(
                col(InboxConversation.id) == conversation_id,
                col(InboxConversation.urgent_since).is_(None),
            )
            .values(urgent_since=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def unanswered(
        self, started_before: datetime
    ) -> list[tuple[InboxConversation, str, datetime]]:
        """Open, not yet reminded conversations of teams with a group, waiting since long.

        A conversation waits since the first message of the alumnus after the last staff
        answer (follow-ups do not move that moment). Returns (conversation, team code, since)
        for those whose wait began before ``started_before``; the caller applies business
        hours (N business hours never pass in fewer than N real hours, so this only narrows).
        """
        answer, question, first = (
            aliased(InboxMessage),
            aliased(InboxMessage),
            aliased(InboxMessage),
        )
        last_answer = (
            select(func.max(col(answer.id)))
            .where(
                col(answer.conversation_id) == col(InboxConversation.id),
                col(answer.direction) == "out",
            )
            .correlate(InboxConversation)
            .scalar_subquery()
        )
        first_unanswered = (
            select(func.min(col(question.id)))
            .where(
                col(question.conversation_id) == col(InboxConversation.id),
                col(question.direction) == "in",
                col(question.id) > func.coalesce(last_answer, 0),
            )
            .correlate(InboxConversation)
            .scalar_subquery()
        )
        result = await self._session.execute(
            select(InboxConversation, col(Team.code), col(first.created_at))
            .join(Team, col(Team.id) == col(InboxConversation.team_id))
            .join(first, col(first.id) == first_unanswered)
            .where(
                col(InboxConversation.status) == InboxStatus.OPEN.value,
                col(InboxConversation.reminded_at).is_(None),
                col(Team.chat_id).is_not(None),
                col(first.created_at) <= started_before,
            )
            .order_by(col(InboxConversation.id))
        )
        return [(conversation, code, since) for conversation, code, since in result.all()]

    async def mark_reminded(self, conversation_id: int, now: datetime) -> bool:
        """Record the reminder of this unanswered stretch; False if it was sent already."""
        result = await self._session.execute(
            update(InboxConversation)
            .where(
                col(InboxConversation.id) == conversation_id,
                col(InboxConversation.status) == InboxStatus.OPEN.value,
                col(InboxConversation.reminded_at).is_(None),
            )
            .values(reminded_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def queued_for_group(self, chat_id: int) -> int:
        """Return how many outbox rows wait (pending) for this group."""
        result = await self._session.execute(
            select(func.count()).where(
                col(OutboxMessage.status) == OutboxStatus.PENDING.value,
                col(OutboxMessage.chat_id) == chat_id,
            )
        )
        return int(result.scalar_one())

    async def waiting_relay(self, conversation_id: int, chat_id: int) -> OutboxMessage | None:
        """Return the conversation's newest relay if it still waits unsent, locked for a merge.

        Only the newest unfinished relay qualifies (merging into an older one would reorder
        the topic). On PostgreSQL the row is locked, and skipped when a dispatcher is claiming
        it right now; on SQLite the caller's transaction already holds the write lock.
        """
        newest = await self._session.execute(
            select(col(OutboxMessage.id))
            .where(
                col(OutboxMessage.chat_id) == chat_id,
                col(OutboxMessage.dedupe_key).like(f"inbox:{conversation_id}:%"),
                col(OutboxMessage.status).in_(
                    [OutboxStatus.PENDING.value, OutboxStatus.SENDING.value]
                ),
            )
            .order_by(col(OutboxMessage.id).desc())
            .limit(1)
        )
        row_id = newest.scalar_one_or_none()
        if row_id is None:
            return None
        query = (
            select(OutboxMessage)
            .where(
                col(OutboxMessage.id) == row_id,
                col(OutboxMessage.status) == OutboxStatus.PENDING.value,
            )
            .execution_options(populate_existing=True)
        )
        if is_postgres(self._session):
            query = query.with_for_update(skip_locked=True)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def set_relay_payload(self, row_id: int, payload: dict[str, Any], now: datetime) -> None:
        """Replace the payload of a relay that still waits (see :meth:`waiting_relay`)."""
        await self._session.execute(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id) == row_id,
                col(OutboxMessage.status) == OutboxStatus.PENDING.value,
            )
            .values(payload=payload, updated_at=now)
        )

    async def forget_threads(self, team_id: int) -> None:
        """Forget the topics of a team's conversations (its group moved; ids do not carry)."""
        await self._session.execute(
            update(InboxConversation)
            .where(col(InboxConversation.team_id) == team_id)
            .values(thread_id=None, thread_state="none")
        )

    async def release_relays(self, chat_id: int, now: datetime) -> int:
        """Make a group's waiting relays due now (the bot got the rights it lacked)."""
        result = await self._session.execute(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.chat_id) == chat_id,
                col(OutboxMessage.status) == OutboxStatus.PENDING.value,
                col(OutboxMessage.not_before) > now,
            )
            .values(not_before=now, updated_at=now)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def claim_thread(self, conversation_id: int) -> bool:
        """Win the right to create the conversation's topic (compare-and-set, any process)."""
        result = await self._session.execute(
            update(InboxConversation)
            .where(
                col(InboxConversation.id) == conversation_id,
                col(InboxConversation.thread_state) == "none",
            )
            .values(thread_state="creating")
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def summary_sent(self, conversation_id: int, thread_id: int) -> None:
        """Mark a recreated topic's summary as delivered: the topic is ready for relays."""
        await self._session.execute(
            update(InboxConversation)
            .where(
                col(InboxConversation.id) == conversation_id,
                col(InboxConversation.thread_id) == thread_id,
            )
            .values(thread_state="ready")
        )

    async def listing(
        self, team_ids: Sequence[int], status: str | None, search: str | None, limit: int = 200
    ) -> list[tuple[InboxConversation, Alumnus]]:
        """Conversations of these teams, optionally by status or text.

        Urgent conversations that are not closed come first, then newest activity first.
        """
        urgent_first = case(
            (
                and_(
                    col(InboxConversation.urgent_since).is_not(None),
                    col(InboxConversation.status) != InboxStatus.CLOSED.value,
                ),
                0,
            ),
            else_=1,
        )
        query = (
            select(InboxConversation, Alumnus)
            .join(Alumnus, col(Alumnus.id) == col(InboxConversation.alumnus_id))
            .where(col(InboxConversation.team_id).in_(list(team_ids)))
            .order_by(urgent_first, col(InboxConversation.updated_at).desc())
            .limit(limit)
        )
        if status:
            query = query.where(col(InboxConversation.status) == status)
        if search:
            needle = f"%{search.lower()}%"
            has_text = (
                select(col(InboxMessage.id))
                .where(
                    col(InboxMessage.conversation_id) == col(InboxConversation.id),
                    func.lower(col(InboxMessage.text)).like(needle),
                )
                .exists()
            )
            query = query.where(or_(func.lower(col(Alumnus.first_name)).like(needle), has_text))
        result = await self._session.execute(query)
        return [(conversation, alumnus) for conversation, alumnus in result.all()]
