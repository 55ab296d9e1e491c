"""Surveys: sends to a segment (set-based into the outbox), progress, marks, responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, delete, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.campaigns import OfferRepository, Segment
from storage.db import is_postgres
from storage.models import (
    Alumnus,
    OutboxStatus,
    SurveyMark,
    SurveyProgress,
    SurveyResponse,
    SurveySend,
)
from storage.outbox import insert_from
from storage.types import UTCDateTime


class SurveyRepository:
    """Who was asked, who is answering, who responded; responses without a person."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_send(self, send: SurveySend) -> SurveySend:
        """Insert a send and return it with its id."""
        self._session.add(send)
        await self._session.flush()
        return send

    async def send(self, send_id: int) -> SurveySend | None:
        """Return one send."""
        return await self._session.get(SurveySend, send_id)

    async def queue(
        self, send: SurveySend, segment: Segment, now: datetime, not_before: datetime
    ) -> int:
        """Queue the invitation for everyone in the segment who has not responded yet.

        One ``INSERT .. SELECT`` from the campaigns' audience query (consent for surveys,
        onboarded, reachable); the words are rendered when each message is sent.
        """
        audience = OfferRepository(self._session).audience(segment).subquery()
        responded = (
            select(col(SurveyMark.alumnus_id))
            .where(col(SurveyMark.survey) == send.survey)
            .scalar_subquery()
        )
        build = func.json_build_object if is_postgres(self._session) else func.json_object
        # One invitation per person and survey, whichever send brings it.
        key = literal(f"survey:{send.survey}:") + cast(audience.c.id, String)
        source = select(
            key,
            audience.c.id,
            audience.c.chat_id,
            literal("surveys"),
            build("kind", "survey", "send", send.id),
            literal(OutboxStatus.PENDING.value),
            literal(0),
            literal(not_before, UTCDateTime),
            literal(now, UTCDateTime),
            literal(now, UTCDateTime),
        ).where(audience.c.id.not_in(responded))
        return await insert_from(self._session, source)

    async def progress(self, alumnus_id: int, survey: str) -> SurveyProgress | None:
        """Return a person's response in progress."""
        return await self._session.get(SurveyProgress, (alumnus_id, survey))

    async def save_progress(self, progress: SurveyProgress) -> None:
        """Create or update a response in progress."""
        await self._session.merge(progress)
        await self._session.flush()

    async def responded(self, alumnus_id: int, survey: str) -> bool:
        """Return whether the person responded to this survey."""
        return await self._session.get(SurveyMark, (alumnus_id, survey)) is not None

    async def complete(
        self, alumnus_id: int, survey: str, mark: SurveyMark, response: SurveyResponse
    ) -> None:
        """Store the response without the person, keep only the mark, drop the progress."""
        await self._session.execute(
            delete(SurveyProgress).where(
                col(SurveyProgress.alumnus_id) == alumnus_id, col(SurveyProgress.survey) == survey
            )
        )
        self._session.add(mark)
        self._session.add(response)
        await self._session.flush()

    async def peers(self, **attributes: Any) -> int:
        """How many alumni share these profile attributes (``cohort_from``/``cohort_to``)."""
        query = select(func.count()).select_from(Alumnus)
        for name in ("crebo", "level", "location", "graduation_year"):
            if name in attributes:
                query = query.where(getattr(Alumnus, name) == attributes[name])
        if "cohort_from" in attributes:
            query = query.where(
                col(Alumnus.graduation_year) >= attributes["cohort_from"],
                col(Alumnus.graduation_year) <= attributes["cohort_to"],
            )
        return int((await self._session.execute(query)).scalar_one())

    async def marks_of(self, alumnus_id: int) -> list[SurveyMark]:
        """Return a person's "has responded" marks (their export)."""
        result = await self._session.execute(
            select(SurveyMark).where(col(SurveyMark.alumnus_id) == alumnus_id)
        )
        return list(result.scalars())

    async def progress_of(self, alumnus_id: int) -> list[SurveyProgress]:
        """Return a person's responses in progress (their export)."""
        result = await self._session.execute(
            select(SurveyProgress).where(col(SurveyProgress.alumnus_id) == alumnus_id)
        )
        return list(result.scalars())

    async def responses(self, survey: str | None = None) -> list[SurveyResponse]:
        """Return the stored responses (of one survey)."""
        query = select(SurveyResponse)
        if survey is not None:
            query = query.where(col(SurveyResponse.survey) == survey)
        return list((await self._session.execute(query)).scalars())
