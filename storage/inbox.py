"""Conversations of the coordinator inbox and their messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Alumnus, InboxConversation, InboxMessage, InboxStatus

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

    async def set(self, conversation_id: int, **values: Any) -> None:
        """Update columns of a conversation."""
        await self._session.execute(
            update(InboxConversation)
            .where(col(InboxConversation.id) == conversation_id)
            .values(**values)
        )

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

    async def listing(
        self, team_ids: Sequence[int], status: str | None, search: str | None, limit: int = 200
    ) -> list[tuple[InboxConversation, Alumnus]]:
        """Conversations of these teams, newest activity first, optionally by status or text."""
        query = (
            select(InboxConversation, Alumnus)
            .join(Alumnus, col(Alumnus.id) == col(InboxConversation.alumnus_id))
            .where(col(InboxConversation.team_id).in_(list(team_ids)))
            .order_by(col(InboxConversation.updated_at).desc())
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
