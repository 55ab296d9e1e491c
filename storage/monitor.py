"""The alumni monitor's counts: one GROUP BY per table, never a list of people."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.db import is_postgres
from storage.models import (
    Alumnus,
    Campaign,
    Checkin,
    CheckinAnswer,
    InboxConversation,
    Offer,
    OfferResponse,
    OutboxMessage,
    OutboxStatus,
    SurveyResponse,
    Team,
)

ASKED = ("asked", "answering", "reminded", "answered", "no_response")


class MonitorRepository:
    """Counts per programme, cohort and moment; ratings per team; demand per interest."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def answers(self, questions: list[str]) -> list[tuple[Any, ...]]:
        """(crebo, graduation year, moment, question, value, count) of check-in answers."""
        result = await self._session.execute(
            select(
                col(Alumnus.crebo),
                col(Alumnus.graduation_year),
                col(CheckinAnswer.moment),
                col(CheckinAnswer.question),
                col(CheckinAnswer.value),
                func.count(),
            )
            .select_from(CheckinAnswer)
            .join(Alumnus, col(Alumnus.id) == col(CheckinAnswer.alumnus_id))
            .where(col(CheckinAnswer.question).in_(questions))
            .group_by(
                col(Alumnus.crebo),
                col(Alumnus.graduation_year),
                col(CheckinAnswer.moment),
                col(CheckinAnswer.question),
                col(CheckinAnswer.value),
            )
        )
        return [tuple(row) for row in result.all()]

    async def checkins(self) -> list[tuple[Any, ...]]:
        """(crebo, graduation year, moment, status, count) of check-ins."""
        result = await self._session.execute(
            select(
                col(Alumnus.crebo),
                col(Alumnus.graduation_year),
                col(Checkin.moment),
                col(Checkin.status),
                func.count(),
            )
            .select_from(Checkin)
            .join(Alumnus, col(Alumnus.id) == col(Checkin.alumnus_id))
            # Planned, skipped and cancelled moments were never asked: left out, by index.
            .where(col(Checkin.status).in_(ASKED))
            .group_by(
                col(Alumnus.crebo),
                col(Alumnus.graduation_year),
                col(Checkin.moment),
                col(Checkin.status),
            )
        )
        return [tuple(row) for row in result.all()]

    async def helped(self) -> list[tuple[Any, ...]]:
        """(crebo, status, rated, rating sum, count) of conversations opened from check-ins."""
        result = await self._session.execute(
            select(
                col(Alumnus.crebo),
                col(InboxConversation.status),
                func.count(col(InboxConversation.rating)),
                func.coalesce(func.sum(col(InboxConversation.rating)), 0),
                func.count(func.distinct(col(InboxConversation.id))),
            )
            .select_from(Checkin)
            .join(
                InboxConversation,
                col(InboxConversation.id) == col(Checkin.help_conversation_id),
            )
            .join(Alumnus, col(Alumnus.id) == col(Checkin.alumnus_id))
            .group_by(col(Alumnus.crebo), col(InboxConversation.status))
        )
        return [tuple(row) for row in result.all()]

    async def team_ratings(self) -> list[tuple[Any, ...]]:
        """(team name, closed, rated, rating sum, rating counts 1..5) per team."""
        result = await self._session.execute(
            select(
                col(Team.name),
                func.count(col(InboxConversation.closed_at)),
                func.count(col(InboxConversation.rating)),
                func.coalesce(func.sum(col(InboxConversation.rating)), 0),
            )
            .select_from(Team)
            .join(InboxConversation, col(InboxConversation.team_id) == col(Team.id))
            .group_by(col(Team.name))
            .order_by(col(Team.name))
        )
        return [tuple(row) for row in result.all()]

    async def interests(self, codes: list[str]) -> list[tuple[str, str | None, str | None, int]]:
        """(interest, sector, region, alumni) for the catalogue's interest codes.

        One pass over the alumni without parsing their JSON lists: a list holds the code
        exactly when its text holds it quoted (codes are plain words), which is several times
        cheaper than expanding every list.
        """
        if not codes:
            return []
        find = (
            "strpos(CAST(interests AS TEXT), :c{n})"
            if is_postgres(self._session)
            else ("instr(interests, :c{n})")
        )
        sums = ", ".join(
            f"sum(CASE WHEN {find.format(n=n)} > 0 THEN 1 ELSE 0 END)" for n in range(len(codes))
        )
        # Only our own SQL fragments are formatted in; the codes are bound.
        statement = text(
            f"SELECT sector, region, {sums} FROM alumnus GROUP BY sector, region"
        ).bindparams(**{f"c{n}": f'"{code}"' for n, code in enumerate(codes)})
        result = await self._session.execute(statement)
        found: list[tuple[str, str | None, str | None, int]] = []
        for sector, region, *counts in result.all():
            found.extend(
                (code, sector, region, int(n or 0))
                for code, n in zip(codes, counts, strict=True)
                if n
            )
        return found

    async def offers_reach(self) -> list[tuple[Offer, int, int]]:
        """(LLO offer, pushes and digests sent, interest taps) per offer."""
        sent = (
            select(col(Campaign.offer_id), func.count().label("sent"))
            .select_from(OutboxMessage)
            .join(Campaign, col(Campaign.id) == col(OutboxMessage.campaign_id))
            .where(col(OutboxMessage.status) == OutboxStatus.SENT.value)
            .group_by(col(Campaign.offer_id))
            .subquery()
        )
        taps = (
            select(col(Campaign.offer_id), func.count().label("taps"))
            .select_from(OfferResponse)
            .join(Campaign, col(Campaign.id) == col(OfferResponse.campaign_id))
            .where(col(OfferResponse.kind) == "interest")
            .group_by(col(Campaign.offer_id))
            .subquery()
        )
        result = await self._session.execute(
            select(
                Offer,
                func.coalesce(sent.c.sent, literal_column("0")),
                func.coalesce(taps.c.taps, literal_column("0")),
            )
            .outerjoin(sent, sent.c.offer_id == col(Offer.id))
            .outerjoin(taps, taps.c.offer_id == col(Offer.id))
            .where(col(Offer.kind) == "llo")
        )
        return [(offer, int(s), int(t)) for offer, s, t in result.all()]

    async def survey_responses(self) -> list[SurveyResponse]:
        """Every stored (anonymous) survey response."""
        return list((await self._session.execute(select(SurveyResponse))).scalars())
