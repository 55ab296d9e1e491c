"""Aftercare (nazorg): check-ins at set moments after graduation, answered in the chat.

What is due is a row in ``checkin`` (planned from the graduation date and
``content/aftercare.yaml``); a periodic tick claims due rows and queues their questions in
the outbox in one transaction, set-based. The questions are rendered when they are sent, at
the question the person is at. "Looking for work" brings matching job leads and courses and
tells the aftercare team; "I'd like help" and worrying words open a routed conversation in
the coordinator inbox.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.aftercare.questions import (
    BY_CODE,
    LOOKING,
    SKIP,
    Question,
    next_question,
    situation_of,
)
from bot.aftercare.schedule import Schedule
from bot.campaigns.service import CampaignService
from bot.core.callbacks import CALLBACKS, number, parts
from bot.core.deps import Deps
from bot.core.hours import outside_quiet_hours
from bot.core.messenger import Button, Outgoing, RejectedError, rows
from bot.core.render import DEFAULT_LOCALE
from bot.delivery.dispatcher import Dispatcher
from bot.inbox.service import InboxService
from storage.aftercare import OPEN
from storage.models import (
    Alumnus,
    Checkin,
    CheckinAnswer,
    CheckinStatus,
    OutboxMessage,
    Purpose,
)
from storage.repositories import Tx

logger = logging.getLogger(__name__)

ASK, REMIND, NEXT = "ask", "remind", "next"
PLAN_OVERLAP = timedelta(minutes=10)  # planning again a little back: a late commit is seen
TEXT_LIMIT = 500  # a typed answer is kept up to this many characters


def _parse_checkin_button(payload: str) -> tuple[int, str, str] | None:
    found = parts(payload, 3)
    if found is None:
        return None
    checkin, code, value = number(found[0]), found[1], found[2]
    question = BY_CODE.get(code)
    if checkin is None or question is None:
        return None
    if value not in question.values and not (question.typed and value == SKIP):
        return None
    return checkin, code, value


# ``k:<checkin>:<question>:<value>``: an answer to a check-in question.
CHECKIN_BUTTON = CALLBACKS.declare(
    "k", _parse_checkin_button, longest="999999999999:situation:studying"
)


@dataclass
class TickResult:
    """What one tick did."""

    planned: int = 0
    asked: int = 0
    skipped: int = 0
    reminded: int = 0
    closed: int = 0

    @property
    def queued(self) -> int:
        """Return how many messages were queued."""
        return self.asked + self.reminded


@dataclass
class Answered:
    """What an answer led to: the next question (or the thanks), and messages besides."""

    question: Question | None = None
    prompt: Outgoing | None = None
    done: str | None = None
    extra: list[Outgoing] = field(default_factory=list)
    refused: str | None = None  # a block saying why nothing was stored


class AftercareService:
    """Plans, asks, reminds and records check-ins."""

    def __init__(
        self,
        deps: Deps,
        dispatcher: Dispatcher,
        inbox: InboxService,
        campaigns: CampaignService,
    ) -> None:
        self.deps = deps
        self.inbox = inbox
        self.campaigns = campaigns
        content = deps.settings.content_dir
        self.schedule = Schedule.load(content / "aftercare.yaml")
        self._months = {m.code: m.months for m in self.schedule.moments}
        dispatcher.register("checkin", self._deliver)

    # ------------------------------------------------------------------ planning

    async def plan(self, now: datetime | None = None) -> int:
        """Plan the check-ins of people who joined, consented or changed; return rows added.

        Everyone is planned again when the schedule changed (content/aftercare.yaml):
        moments still ahead move, removed ones are cancelled, new ones are added.
        """
        now = now or self.deps.clock.now()
        schedule, zone = self.schedule, self.deps.settings.timezone
        async with self.deps.storage.transaction() as tx:
            marker = await tx.aftercare.marker()
            full = marker is None or marker.schedule_hash != schedule.version
            cohorts = await tx.aftercare.cohorts(schedule.default_month)
            await tx.aftercare.set_moments(
                [
                    {
                        "year": year,
                        "month": month,
                        "moment": moment.code,
                        "due_at": schedule.due_at(year, month, moment, zone),
                    }
                    for year, month in cohorts
                    for moment in schedule.moments
                ],
                [m.code for m in schedule.moments],
            )
            alumni: list[int] | None = None  # everyone
            if not full and marker is not None:
                alumni = await tx.aftercare.changed_since(marker.planned_until - PLAN_OVERLAP)
            added = 0
            if alumni is None or alumni:
                added = await tx.aftercare.plan(
                    now, now - schedule.grace, schedule.default_month, alumni
                )
            await tx.aftercare.set_marker(schedule.version, now)
        return added

    # ------------------------------------------------------------------ the tick

    async def tick(self) -> TickResult:
        """Plan, ask what is due, remind, close: the aftercare job (safe in many processes).

        Due check-ins are claimed (only each person's latest: after downtime the older ones
        are skipped) and queued in one transaction; quiet hours hold.
        """
        result = TickResult(planned=await self.plan())
        now = self.deps.clock.now()
        settings = self.deps.settings
        not_before = outside_quiet_hours(
            now, settings.timezone, settings.quiet_hours_start, settings.quiet_hours_end
        )
        storage, schedule = self.deps.storage, self.schedule
        async with storage.transaction() as tx:
            claimed = await tx.aftercare.claim_due(now, schedule.batch_size)
            ids = [checkin for checkin, _ in claimed]
            result.skipped = await tx.aftercare.skip_older([a for _, a in claimed], now)
            await tx.aftercare.drop_unsendable(ids, now)
            result.asked = await tx.aftercare.queue(ids, ASK, now, not_before)
        async with storage.transaction() as tx:
            await tx.aftercare.cancel_withdrawn(now)
            due = await tx.aftercare.claim_reminders(
                now - schedule.reminder_after, now, schedule.batch_size
            )
            await tx.aftercare.drop_unsendable(due, now)
            result.reminded = await tx.aftercare.queue(due, REMIND, now, not_before)
            result.closed = await tx.aftercare.close_unanswered(
                now - schedule.no_response_after, now
            )
        if result.queued or result.skipped:
            logger.info(
                "aftercare: %d asked, %d reminded, %d caught up, %d no response",
                result.asked,
                result.reminded,
                result.skipped,
                result.closed,
            )
        return result

    # ------------------------------------------------------------------ the messages

    async def _deliver(self, row: OutboxMessage) -> int:
        """Send a queued check-in question or reminder, as it stands when it goes out."""
        checkin_id, step = int(row.payload["checkin"]), str(row.payload.get("step", ASK))
        async with self.deps.storage.transaction() as tx:
            checkin = await tx.aftercare.get(checkin_id)
            alumnus = await tx.offers.alumnus(checkin.alumnus_id) if checkin else None
            if checkin is None or alumnus is None or checkin.status not in OPEN:
                raise RejectedError("check-in closed before it was sent")
            message = self.render(step, checkin, alumnus, await self._given(tx, checkin_id))
        return await self.deps.messenger.deliver(row.chat_id, message, row.message_thread_id)

    async def _given(self, tx: Tx, checkin_id: int) -> dict[str, str | None]:
        return {
            a.question: a.value if a.value is not None else a.text
            for a in await tx.aftercare.answers(checkin_id)
        }

    def months(self, checkin: Checkin) -> int:
        """Return the months after graduation of a check-in's moment."""
        return self._months.get(checkin.moment, 0)

    def render(
        self, step: str, checkin: Checkin, alumnus: Alumnus, given: dict[str, str | None]
    ) -> Outgoing:
        """The message of a check-in at the question the person is at."""
        locale = alumnus.locale or DEFAULT_LOCALE
        renderer = self.deps.renderer
        question = next_question(given)
        if question is None:
            return Outgoing(renderer.text("aftercare.closed", locale))
        prompt = self.question(checkin, question, locale)
        if step == NEXT:
            return prompt
        intro = renderer.text(
            f"aftercare.{step}", locale, first_name=alumnus.first_name, n=self.months(checkin)
        )
        return Outgoing(f"{intro}\n\n{prompt.text}", prompt.buttons)

    def question(self, checkin: Checkin, question: Question, locale: str) -> Outgoing:
        """One question with its buttons (a typed one: a button to skip it)."""
        renderer = self.deps.renderer
        assert checkin.id is not None
        if question.typed:
            skip = Button(
                renderer.label("aftercare.skip", locale),
                CHECKIN_BUTTON.build(checkin.id, question.code, SKIP),
            )
            return Outgoing(renderer.text(f"aftercare.q_{question.code}", locale), [[skip]])
        buttons = [
            Button(
                renderer.label(f"aftercare.v_{question.code}_{value}", locale),
                CHECKIN_BUTTON.build(checkin.id, question.code, value),
            )
            for value in question.values
        ]
        text = renderer.text(f"aftercare.q_{question.code}", locale)
        return Outgoing(text, rows(buttons, question.per_row))

    async def current(self, tx: Tx, checkin_id: int, alumnus: Alumnus) -> Outgoing | None:
        """The question a person is at in an open check-in (to show it again)."""
        checkin = await tx.aftercare.get(checkin_id)
        if checkin is None or checkin.alumnus_id != alumnus.id or checkin.status not in OPEN:
            return None
        return self.render(NEXT, checkin, alumnus, await self._given(tx, checkin_id))

    # ------------------------------------------------------------------ answers

    async def answer(
        self,
        tx: Tx,
        alumnus: Alumnus,
        checkin_id: int,
        code: str,
        value: str | None,
        text: str | None = None,
    ) -> Answered | None:
        """Store one answer (a tap, or typed ``text``) and say what comes next.

        Returns None for a button that is not the current question of the person's own
        open check-in (an old message): the caller treats it as stale.
        """
        assert alumnus.id is not None
        locale = alumnus.locale or DEFAULT_LOCALE
        checkin = await tx.aftercare.get(checkin_id, lock=True)
        if checkin is None or checkin.alumnus_id != alumnus.id:
            return None
        assert checkin.id is not None
        if checkin.status not in OPEN:
            return Answered(refused="aftercare.closed")
        if not (await tx.consents.current(alumnus.id)).get(Purpose.AFTERCARE.value, False):
            return Answered(refused="aftercare.no_consent")
        given = await self._given(tx, checkin.id)
        question = next_question(given)
        if question is None or question.code != code:
            return None
        now = self.deps.clock.now()
        typed = (text or "")[:TEXT_LIMIT] if value is None else None
        escalated = bool(typed) and self.inbox.escalation.matches(typed or "")
        await tx.aftercare.add_answer(
            CheckinAnswer(
                checkin_id=checkin.id,
                alumnus_id=alumnus.id,
                moment=checkin.moment,
                question=code,
                value=value,
                text=typed,
                escalated=escalated,
                answered_at=now,
            )
        )
        given[code] = value if value is not None else typed
        result = Answered()
        renderer = self.deps.renderer
        if code == "situation" and value is not None:
            alumnus.situation = situation_of(value)
            tx.alumni.save(alumnus, now)
            if value == LOOKING:
                await self._looking(tx, alumnus, checkin)
                result.extra.append(Outgoing(renderer.text("aftercare.leads", locale)))
        if escalated:
            await self._escalate(tx, alumnus, checkin, typed or "")
            result.extra.append(Outgoing(renderer.text("aftercare.urgent_help", locale)))
        if code == "help" and value == "yes":
            await self._help(tx, alumnus, checkin, given)
        following = next_question(given)
        values: dict[str, Any] = {"status": CheckinStatus.ANSWERING.value, "updated_at": now}
        if following is None:
            values.update(status=CheckinStatus.ANSWERED.value, answered_at=now)
            wanted_help = given.get("help") == "yes"
            result.done = renderer.text(
                "aftercare.thanks_help" if wanted_help else "aftercare.thanks", locale
            )
        else:
            result.question = following
            result.prompt = self.question(checkin, following, locale)
        await tx.aftercare.set(checkin.id, **values)
        return result

    async def _looking(self, tx: Tx, alumnus: Alumnus, checkin: Checkin) -> None:
        """Send matching leads and courses; tell the aftercare team in the inbox."""
        sent = await self.campaigns.send_leads(tx, alumnus, self.schedule.max_leads)
        note = self.deps.renderer.text(
            "aftercare.note_looking", self.inbox.staff_locale, n=self.months(checkin), count=sent
        )
        await self.inbox.open_or_join(
            tx,
            alumnus,
            topic=self.schedule.topic,
            context={"source": "checkin", "checkin_id": checkin.id, "reason": "looking"},
            note=note,
        )

    async def _escalate(self, tx: Tx, alumnus: Alumnus, checkin: Checkin, text: str) -> None:
        """Worrying words: the person's conversation, marked urgent, with the answer."""
        conversation, _ = await self.inbox.open_or_join(
            tx,
            alumnus,
            topic=self.schedule.topic,
            context={"source": "checkin", "checkin_id": checkin.id, "priority": "urgent"},
            note=self.deps.renderer.text(
                "aftercare.note_urgent", self.inbox.staff_locale, text=text
            ),
            urgent=True,
        )
        assert checkin.id is not None
        await tx.aftercare.set(checkin.id, help_conversation_id=conversation.id)
        logger.warning("aftercare: an answer was escalated to the inbox with priority")

    async def _help(
        self, tx: Tx, alumnus: Alumnus, checkin: Checkin, given: dict[str, str | None]
    ) -> None:
        """Open a routed conversation ("I'd like help") with the check-in's answers."""
        renderer = self.deps.renderer
        summary = [
            (
                renderer.text(f"aftercare.q_{code}", self.inbox.staff_locale),
                renderer.label(f"aftercare.v_{code}_{answer}", self.inbox.staff_locale)
                if BY_CODE[code].values and answer
                else answer,
            )
            for code, answer in given.items()
            if code in BY_CODE and answer != SKIP
        ]
        conversation, _ = await self.inbox.open_or_join(
            tx,
            alumnus,
            topic=self.schedule.topic,
            context={
                "source": "checkin",
                "checkin_id": checkin.id,
                "moment": checkin.moment,
                "answers": dict(given),
            },
            note=renderer.text(
                "aftercare.note_help",
                self.inbox.staff_locale,
                n=self.months(checkin),
                rows=summary,
            ),
        )
        assert checkin.id is not None
        await tx.aftercare.set(checkin.id, help_conversation_id=conversation.id)

    # ------------------------------------------------------------------ privacy

    async def export_of(self, tx: Tx, alumnus: Alumnus) -> dict[str, list[dict[str, Any]]]:
        """Everything aftercare holds of a person: each check-in and every answer."""
        history = await tx.aftercare.history(alumnus.id or 0)
        return {
            "checkin": [checkin.model_dump(mode="json") for checkin, _ in history],
            "checkin_answer": [
                answer.model_dump(mode="json") for _, answers in history for answer in answers
            ],
        }
