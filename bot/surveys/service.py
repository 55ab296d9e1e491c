"""Surveys: sent to a segment like a campaign, answered with buttons, stored anonymously.

While a person answers, their progress is theirs (resumable, in their export). When the
response is complete it is stored with coarse reporting attributes (programme, level,
cohort, location, month) and **no** link to them; only a "has responded" mark stays with the
person, so nobody answers twice. Attributes that fewer than k alumni share are coarsened
first: location dropped, the cohort widened (docs/privacy.md).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.callbacks import CALLBACKS, number, parts
from bot.core.deps import Deps
from bot.core.hours import outside_quiet_hours
from bot.core.messenger import Button, Outgoing, RejectedError, rows
from bot.core.render import DEFAULT_LOCALE
from bot.delivery.dispatcher import Dispatcher
from bot.inbox.service import InboxService
from bot.surveys.definition import Survey, SurveyQuestion, load_surveys
from storage.campaigns import Segment
from storage.models import (
    Alumnus,
    OutboxMessage,
    Purpose,
    SurveyMark,
    SurveyProgress,
    SurveyResponse,
    SurveySend,
)
from storage.repositories import Tx

logger = logging.getLogger(__name__)

START, DONE, SKIP, TOGGLE = "go", "ok", "-", "t."
TOPIC = "aftercare"  # the inbox topic of a request for contact after a survey answer
TEXT_LIMIT = 1000
COHORT_BAND = 5  # a cohort too small is widened to five graduation years


def _parse_survey_button(payload: str) -> tuple[int, int, str] | None:
    found = parts(payload, 3)
    if found is None:
        return None
    send, step, value = number(found[0]), number(found[1]), found[2]
    if send is None or step is None or step > 99 or len(value) > 16:
        return None
    if not all(c.isalnum() or c in "._-" for c in value):
        return None
    return send, step, value


# ``s:<send>:<step>:<value>``: an answer to a survey question (``go`` starts, ``ok`` ends a
# multiple choice, ``t.<option>`` toggles one, ``-`` skips a typed question).
SURVEY_BUTTON = CALLBACKS.declare(
    "s", _parse_survey_button, longest="999999999999:99:t.abcdefghijkl"
)
YES, NO = "y", "n"


def _parse_contact_button(payload: str) -> tuple[int, str] | None:
    found = parts(payload, 2)
    if found is None:
        return None
    send = number(found[0])
    return (send, found[1]) if send is not None and found[1] in (YES, NO) else None


# ``sc:<send>:<y|n>``: after a typed answer with words that need a person soon, whether
# someone from school may get in touch (the answer itself stays anonymous).
CONTACT_BUTTON = CALLBACKS.declare("sc", _parse_contact_button, longest="999999999999:y")


@dataclass
class SurveyStep:
    """What an answer led to."""

    prompt: Outgoing | None = None
    typed: bool = False
    step: int = 0
    done: str | None = None
    refused: str | None = None
    # A typed answer held words that need a person soon (content/escalation.yaml): the
    # person is offered contact; nothing about the answer reaches the school.
    worried: Outgoing | None = None


class SurveyService:
    """Sends surveys and records their responses."""

    def __init__(self, deps: Deps, dispatcher: Dispatcher, inbox: InboxService) -> None:
        self.deps = deps
        self.inbox = inbox
        self.surveys: dict[str, Survey] = load_surveys(deps.settings.content_dir / "surveys")
        dispatcher.register("survey", self._deliver)

    # ------------------------------------------------------------------ sending

    def segment(self, **filters: Any) -> Segment:
        """The segment a survey goes to: profile filters as in campaigns, consent for surveys.

        The purpose is fixed here, never taken from ``filters``: only alumni whose latest
        consent for surveys is a grant are invited (and the dispatcher checks it again when
        each invitation is sent).
        """
        return Segment(**{**filters, "purpose": Purpose.SURVEYS.value})

    async def reach(self, code: str, **filters: Any) -> int:
        """How many alumni :meth:`send` would invite now (the console's confirmation)."""
        if code not in self.surveys:
            raise LookupError(f"no survey {code!r} in content/surveys")
        async with self.deps.storage.transaction() as tx:
            return await tx.surveys.reach(code, self.segment(**filters))

    async def send(self, code: str, **filters: Any) -> tuple[int, int]:
        """Send a survey to a segment (profile filters as in campaigns); return (send, queued).

        Everyone in it who consented to surveys, has not responded and was not invited
        before gets one invitation, queued with one ``INSERT .. SELECT``; quiet hours hold.
        """
        send, _ = await self._send(code, None, filters)
        assert send.id is not None
        return send.id, send.targeted

    async def send_once(self, code: str, form_key: str, **filters: Any) -> tuple[SurveySend, bool]:
        """Send as :meth:`send` does, once per ``form_key``; return the send and if it is new.

        The console's confirmed form carries a one-time key: posted again (a double click,
        a reload, two tabs), it queues nothing and returns the first send.
        """
        return await self._send(code, form_key, filters)

    async def _send(
        self, code: str, form_key: str | None, filters: dict[str, Any]
    ) -> tuple[SurveySend, bool]:
        if code not in self.surveys:
            raise LookupError(f"no survey {code!r} in content/surveys")
        segment = self.segment(**filters)
        now = self.deps.clock.now()
        settings = self.deps.settings
        not_before = outside_quiet_hours(
            now, settings.timezone, settings.quiet_hours_start, settings.quiet_hours_end
        )
        row = SurveySend(
            survey=code,
            segment={k: v for k, v in vars(segment).items() if v},
            created_at=now,
            form_key=form_key,
        )
        async with self.deps.storage.transaction() as tx:
            if form_key is None:
                send = await tx.surveys.add_send(row)
            else:
                send, new = await tx.surveys.add_send_once(row)
                if not new:
                    logger.info("survey %s: send %s was posted again", code, send.id)
                    return send, False
            queued = await tx.surveys.queue(send, segment, now, not_before)
            await tx.surveys.set_targeted(send, queued)
        logger.info("survey %s: %d invitations queued", code, queued)
        return send, True

    async def sent(self, send_id: int) -> SurveySend | None:
        """Return one send (the console's result page)."""
        async with self.deps.storage.transaction() as tx:
            return await tx.surveys.send(send_id)

    async def sent_with(self, form_key: str) -> SurveySend | None:
        """Return the send a console form with this one-time key made, if any."""
        async with self.deps.storage.transaction() as tx:
            return await tx.surveys.send_with_key(form_key)

    async def totals(self) -> dict[str, tuple[int, int]]:
        """Return per survey code (invited, responded), counts without people."""
        async with self.deps.storage.transaction() as tx:
            return await tx.surveys.totals()

    async def _deliver(self, row: OutboxMessage) -> int:
        """Send an invitation: the survey's title and intro, with its first question."""
        async with self.deps.storage.transaction() as tx:
            send = await tx.surveys.send(int(row.payload["send"]))
            alumnus = await tx.offers.alumnus(row.alumnus_id or 0)
            survey = self.surveys.get(send.survey) if send else None
            if send is None or alumnus is None or survey is None or alumnus.id is None:
                raise RejectedError("survey gone before it was sent")
            if await tx.surveys.responded(alumnus.id, survey.code):
                raise RejectedError("responded already")
            message = self.invitation(survey, send, alumnus.locale or DEFAULT_LOCALE)
        return await self.deps.messenger.deliver(row.chat_id, message, row.message_thread_id)

    def invitation(self, survey: Survey, send: SurveySend, locale: str) -> Outgoing:
        """Title, intro and the first question."""
        renderer = self.deps.renderer
        heading = renderer.text("surveys.heading", locale, text=_word(survey.titles, locale))
        intro = renderer.text("surveys.intro", locale, text=_word(survey.intros, locale))
        first = survey.next_step({})
        assert send.id is not None and first is not None
        question = self.question(survey, send.id, first, {}, locale)
        return Outgoing(f"{heading}\n{intro}\n\n{question.text}", question.buttons)

    def question(
        self, survey: Survey, send_id: int, step: int, answers: dict[str, Any], locale: str
    ) -> Outgoing:
        """One question with its buttons (multiple choice: the chosen ones ticked)."""
        renderer = self.deps.renderer
        q = survey.questions[step]
        text = renderer.text("surveys.question", locale, n=step + 1, text=_word(q.texts, locale))

        def button(label: str, value: str) -> Button:
            return Button(label, SURVEY_BUTTON.build(send_id, step, value))

        if q.type == "text":
            return Outgoing(text, [[button(renderer.label("surveys.skip", locale), SKIP)]])
        if q.type in ("scale", "nps"):
            values = q.values()
            return Outgoing(
                text, rows([button(v, v) for v in values], 6 if q.type == "nps" else 5)
            )
        chosen = answers.get(q.id) or []
        options = []
        for option in q.options:
            label = _word(option.labels, locale)
            if q.type == "multi":
                if option.code in chosen:
                    label = renderer.label("surveys.chosen", locale, text=label)
                options.append(button(label, TOGGLE + option.code))
            else:
                options.append(button(label, option.code))
        keyboard = rows(options, 1)
        if q.type == "multi":
            keyboard.append([button(renderer.label("surveys.done", locale), DONE)])
        return Outgoing(text, keyboard)

    # ------------------------------------------------------------------ answering

    async def current(self, tx: Tx, alumnus: Alumnus, send_id: int) -> SurveyStep | None:
        """The question a person is at (to show it again), if they are answering."""
        assert alumnus.id is not None
        send = await tx.surveys.send(send_id)
        survey = self.surveys.get(send.survey) if send else None
        if survey is None or send is None:
            return None
        progress = await tx.surveys.progress(alumnus.id, survey.code)
        if progress is None:
            return None
        q = survey.questions[progress.step]
        prompt = self.question(
            survey, send_id, progress.step, progress.answers, alumnus.locale or DEFAULT_LOCALE
        )
        return SurveyStep(prompt, typed=q.type == "text", step=progress.step)

    async def answer(
        self,
        tx: Tx,
        alumnus: Alumnus,
        send_id: int,
        step: int,
        value: str | None,
        text: str | None = None,
    ) -> SurveyStep | None:
        """Record one answer; return the next question or the thanks (None: stale)."""
        assert alumnus.id is not None
        send = await tx.surveys.send(send_id)
        survey = self.surveys.get(send.survey) if send else None
        if send is None or survey is None:
            return SurveyStep(refused="surveys.closed")
        if not (await tx.consents.current(alumnus.id)).get(Purpose.SURVEYS.value, False):
            return SurveyStep(refused="surveys.no_consent")
        if await tx.surveys.responded(alumnus.id, survey.code):
            return SurveyStep(refused="surveys.already")
        now = self.deps.clock.now()
        progress = await tx.surveys.progress(alumnus.id, survey.code)
        if progress is None:
            first = survey.next_step({})
            assert first is not None
            progress = SurveyProgress(
                alumnus_id=alumnus.id, survey=survey.code, send_id=send_id, step=first, answers={}
            )
        if step != progress.step:
            return None
        q = survey.questions[step]
        answers = dict(progress.answers)
        locale = alumnus.locale or DEFAULT_LOCALE
        if not self._take(q, answers, value, text):
            return None
        progress.answers, progress.updated_at = answers, now
        worried = None
        if q.type == "text" and text and self.inbox.escalation.matches(text):
            worried = self.contact_offer(send_id, locale)
        if q.type == "multi" and value != DONE:
            await tx.surveys.save_progress(progress)
            return SurveyStep(self.question(survey, send_id, step, answers, locale))
        following = survey.next_step(answers, step)
        if following is None:
            await self._complete(tx, alumnus, survey, answers, now)
            done = self.deps.renderer.text("surveys.thanks", locale)
            return SurveyStep(done=done, worried=worried)
        progress.step = following
        await tx.surveys.save_progress(progress)
        prompt = self.question(survey, send_id, following, answers, locale)
        typed = survey.questions[following].type == "text"
        return SurveyStep(prompt, typed=typed, step=following, worried=worried)

    def contact_offer(self, send_id: int, locale: str) -> Outgoing:
        """Where to find help now, and whether someone from school may get in touch."""
        renderer = self.deps.renderer
        return Outgoing(
            renderer.text("surveys.worried", locale),
            [
                [
                    Button(
                        renderer.label("surveys.contact_yes", locale),
                        CONTACT_BUTTON.build(send_id, YES),
                    ),
                    Button(
                        renderer.label("surveys.contact_no", locale),
                        CONTACT_BUTTON.build(send_id, NO),
                    ),
                ]
            ],
        )

    async def contact(self, tx: Tx, alumnus: Alumnus, send_id: int) -> bool:
        """The person asked for contact: their conversation in the inbox, marked urgent.

        The team reads that the request came after a survey answer, never the answer. A
        second tap (a stale button, a double tap) adds nothing once the conversation is
        urgent. False: the button is not one this person was given (stale or forged).
        """
        assert alumnus.id is not None
        send = await tx.surveys.send(send_id)
        survey = self.surveys.get(send.survey) if send else None
        if survey is None or not (
            await tx.surveys.responded(alumnus.id, survey.code)
            or await tx.surveys.progress(alumnus.id, survey.code)
        ):
            return False  # not a survey this person is answering or answered: forged
        staff = self.inbox.staff_locale
        current = await tx.inbox.open_for(alumnus.id)
        if current is not None and current.urgent_since is not None:
            return True
        await self.inbox.open_or_join(
            tx,
            alumnus,
            topic=TOPIC,
            context={"source": "survey", "send_id": send_id, "priority": "urgent"},
            note=self.deps.renderer.text(
                "surveys.note_contact", staff, title=survey.titles.get(staff) or survey.code
            ),
            urgent=True,
        )
        return True

    @staticmethod
    def _take(
        q: SurveyQuestion, answers: dict[str, Any], value: str | None, text: str | None
    ) -> bool:
        """Put one answer in ``answers``; False if it does not fit the question."""
        if q.type == "text":
            if value == SKIP:
                answers[q.id] = None
            elif value is None and text and text.strip():
                answers[q.id] = text.strip()[:TEXT_LIMIT]
            else:
                return False
            return True
        if q.type == "multi":
            chosen = list(answers.get(q.id) or [])
            if value == DONE:
                answers[q.id] = chosen
                return True
            if value is None or not value.startswith(TOGGLE):
                return False
            code = value[len(TOGGLE) :]
            if code not in q.values():
                return False
            answers[q.id] = [c for c in chosen if c != code] if code in chosen else [*chosen, code]
            return True
        if value not in q.values():
            return False
        answers[q.id] = int(value) if q.type in ("scale", "nps") else value
        return True

    async def _complete(
        self, tx: Tx, alumnus: Alumnus, survey: Survey, answers: dict[str, Any], now: datetime
    ) -> None:
        """Store the response without the person; keep only their mark."""
        assert alumnus.id is not None
        month = now.astimezone(ZoneInfo(self.deps.settings.timezone)).strftime("%Y-%m")
        attributes = await self.coarse_attributes(tx, alumnus)
        await tx.surveys.complete(
            alumnus.id,
            survey.code,
            SurveyMark(alumnus_id=alumnus.id, survey=survey.code, responded_in=month),
            SurveyResponse(
                id=secrets.token_hex(16),  # random: no order to match with the marks
                survey=survey.code,
                answers=answers,
                submitted_in=month,
                **attributes,
            ),
        )

    async def coarse_attributes(self, tx: Tx, alumnus: Alumnus) -> dict[str, Any]:
        """The reporting attributes, coarsened until at least k alumni share them.

        Full (programme, level, cohort, location); else without location; else the cohort
        widened to a five-year band; else without cohort; else without level; else nothing.
        """
        k = self.deps.settings.report_min_group
        crebo, level, year = alumnus.crebo, alumnus.level, alumnus.graduation_year
        base: dict[str, Any] = {"crebo": crebo, "level": level}
        if crebo is None:
            return {"crebo": None, "level": None, "cohort": None, "location": None}
        if year is not None:
            exact = {**base, "graduation_year": year}
            if (
                alumnus.location
                and await tx.surveys.peers(**exact, location=alumnus.location) >= k
            ):
                return {**base, "cohort": str(year), "location": alumnus.location}
            if await tx.surveys.peers(**exact) >= k:
                return {**base, "cohort": str(year), "location": None}
            start = year - year % COHORT_BAND
            band = {"cohort_from": start, "cohort_to": start + COHORT_BAND - 1}
            if await tx.surveys.peers(**base, **band) >= k:
                return {**base, "cohort": f"{start}-{start + COHORT_BAND - 1}", "location": None}
        if await tx.surveys.peers(**base) >= k:
            return {**base, "cohort": None, "location": None}
        if await tx.surveys.peers(crebo=crebo) >= k:
            return {"crebo": crebo, "level": None, "cohort": None, "location": None}
        return {"crebo": None, "level": None, "cohort": None, "location": None}

    # ------------------------------------------------------------------ privacy

    async def export_of(self, tx: Tx, alumnus: Alumnus) -> dict[str, list[dict[str, Any]]]:
        """What surveys hold of a person: "has responded" marks, a response being given."""
        return {
            "survey_mark": [
                m.model_dump(mode="json") for m in await tx.surveys.marks_of(alumnus.id or 0)
            ],
            "survey_progress": [
                p.model_dump(mode="json") for p in await tx.surveys.progress_of(alumnus.id or 0)
            ],
        }


def _word(words: dict[str, str], locale: str) -> str:
    return words.get(locale) or words.get("nl") or next(iter(words.values()), "")
