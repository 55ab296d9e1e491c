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
                col(Checkin.moment),
                col(CheckinAnswer.question),
                col(CheckinAnswer.value),
                func.count(),
            )
            .select_from(CheckinAnswer)
            .join(Checkin, col(Checkin.id) == col(CheckinAnswer.checkin_id))
            .join(Alumnus, col(Alumnus.id) == col(CheckinAnswer.alumnus_id))
            .where(col(CheckinAnswer.question).in_(questions))
            .group_by(
                col(Alumnus.crebo),
                col(Alumnus.graduation_year),
                col(Checkin.moment),
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

    async def interests(self) -> list[tuple[str, str | None, str | None, int]]:
        """(interest, sector, region, alumni) over every alumnus' list of interests."""
        if is_postgres(self._session):
            each = text(
                "SELECT value AS interest, sector, region, count(*) AS n FROM alumnus, "
                "jsonb_array_elements_text(CAST(alumnus.interests AS jsonb)) AS value "
                "GROUP BY value, sector, region"
            )
        else:
            each = text(
                "SELECT json_each.value AS interest, sector, region, count(*) AS n "
                "FROM alumnus, json_each(alumnus.interests) GROUP BY 1, 2, 3"
            )
        result = await self._session.execute(each)
        return [(str(i), s, r, int(n)) for i, s, r, n in result.all()]

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
