"""Saved campaign filters and the console's campaign list (the console's own reads and writes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Campaign, SavedSegment


class SavedSegmentRepository:
    """Named filter sets; a name is unique, saving it again replaces its filters."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def all(self) -> list[SavedSegment]:
        """Return every saved segment, by name."""
        result = await self._session.execute(select(SavedSegment).order_by(SavedSegment.name))
        return list(result.scalars())

    async def get(self, segment_id: int) -> SavedSegment | None:
        """Return one saved segment."""
        return await self._session.get(SavedSegment, segment_id)

    async def save(
        self, name: str, filters: dict[str, Any], staff_id: int, now: datetime
    ) -> SavedSegment:
        """Store ``filters`` under ``name``, replacing an earlier set of that name."""
        found = (
            await self._session.execute(select(SavedSegment).where(col(SavedSegment.name) == name))
        ).scalar_one_or_none()
        if found is not None:
            await self._session.execute(
                update(SavedSegment)
                .where(col(SavedSegment.id) == found.id)
                .values(filters=filters, created_by=staff_id, updated_at=now)
            )
            await self._session.refresh(found)
            return found
        saved = SavedSegment(
            name=name, filters=filters, created_by=staff_id, created_at=now, updated_at=now
        )
        self._session.add(saved)
        await self._session.flush()
        return saved


class CampaignListRepository:
    """The campaigns the console lists (newest first)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def recent(self, limit: int = 200) -> list[Campaign]:
        """Return the newest campaigns."""
        result = await self._session.execute(
            select(Campaign).order_by(col(Campaign.id).desc()).limit(limit)
        )
        return list(result.scalars())
