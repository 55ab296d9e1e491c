"""Surveys: sends to a segment (set-based into the outbox), progress, marks, responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, Subquery, cast, delete, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.campaigns import OfferRepository, Segment
from storage.db import insert_for, is_postgres
from storage.models import (
    Alumnus,
    OutboxMessage,
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

    async def add_send_once(self, send: SurveySend) -> tuple[SurveySend, bool]:
        """Insert a send with a ``form_key`` unless that key was used; return it and if new.

        Two posts of one form racing each other both end here: the unique key lets one
        insert, the other waits for it and gets the same send back (``False``).
        """
        assert send.form_key is not None
        insert = insert_for(self._session)
        values = {
            "survey": send.survey,
            "segment": send.segment,
            "targeted": send.targeted,
            "created_at": send.created_at,
            "form_key": send.form_key,
        }
        result = await self._session.execute(
            insert(SurveySend).values(**values).on_conflict_do_nothing(index_elements=["form_key"])
        )
        new = bool(result.rowcount)  # type: ignore[attr-defined]
        found = await self.send_with_key(send.form_key)
        assert found is not None
        return found, new

    async def send(self, send_id: int) -> SurveySend | None:
        """Return one send."""
        return await self._session.get(SurveySend, send_id)

    async def send_with_key(self, form_key: str) -> SurveySend | None:
        """Return the send a console form with this one-time key made, if any."""
        result = await self._session.execute(
            select(SurveySend).where(col(SurveySend.form_key) == form_key)
        )
        return result.scalar_one_or_none()

    async def set_targeted(self, send: SurveySend, targeted: int) -> None:
        """Record how many invitations a send queued."""
        send.targeted = targeted
        self._session.add(send)
        await self._session.flush()

    def _invitees(
        self, survey: str, segment: Segment
    ) -> tuple[Subquery, ColumnElement[str], list[ColumnElement[bool]]]:
        """Who a send of ``survey`` to ``segment`` invites now: (audience, key, conditions).

        The campaigns' audience query (consent for surveys, onboarded, reachable), less who
        responded and who was invited before: one invitation per person and survey,
        whichever send brings it. The caller selects from ``audience`` where ``conditions``.
        """
        audience = OfferRepository(self._session).audience(segment).subquery()
        responded = (
            select(col(SurveyMark.alumnus_id))
            .where(col(SurveyMark.survey) == survey)
            .scalar_subquery()
        )
        key = literal(f"survey:{survey}:") + cast(audience.c.id, String)
        invited = (
            select(col(OutboxMessage.id)).where(col(OutboxMessage.dedupe_key) == key).exists()
        )
        return audience, key, [audience.c.id.not_in(responded), ~invited]

    async def reach(self, survey: str, segment: Segment) -> int:
        """How many alumni a send of ``survey`` to ``segment`` would invite now."""
        audience, _, conditions = self._invitees(survey, segment)
        query = select(func.count()).select_from(audience).where(*conditions)
        return int((await self._session.execute(query)).scalar_one())

    async def queue(
        self, send: SurveySend, segment: Segment, now: datetime, not_before: datetime
    ) -> int:
        """Queue the invitation for everyone :meth:`reach` counts; return how many.

        One ``INSERT .. SELECT``; the words are rendered when each message is sent. A key
        queued meanwhile by another send is skipped (the outbox's unique key).
        """
        audience, key, conditions = self._invitees(send.survey, segment)
        build = func.json_build_object if is_postgres(self._session) else func.json_object
        # The WHERE also keeps SQLite from reading ON CONFLICT as part of the SELECT.
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
        ).where(*conditions)
        return await insert_from(self._session, source)

    async def totals(self) -> dict[str, tuple[int, int]]:
        """Return per survey (invited, responded): invitations queued, responses stored.

        Both are counts without people: the sends' ``targeted`` and the anonymous responses.
        """
        invited = await self._session.execute(
            select(col(SurveySend.survey), func.sum(col(SurveySend.targeted))).group_by(
                col(SurveySend.survey)
            )
        )
        responses = await self._session.execute(
            select(col(SurveyResponse.survey), func.count()).group_by(col(SurveyResponse.survey))
        )
        found: dict[str, tuple[int, int]] = {code: (int(n or 0), 0) for code, n in invited.all()}
        for code, n in responses.all():
            found[code] = (found.get(code, (0, 0))[0], int(n))
        return found

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
