"""Surveys in the chat: buttons under the question, a typed line for an open question."""

from __future__ import annotations

from typing import Any

from bot.chat.router import STALE, ChatRouter, Outcome, Reply, Turn
from bot.core.callbacks import CallbackKind
from bot.core.messenger import Action, ClearButtons, Edit, Outgoing, Send
from bot.surveys.service import (
    CONTACT_BUTTON,
    NO,
    SURVEY_BUTTON,
    SurveyService,
    SurveyStep,
)

FLOW = "survey"


class SurveyChat:
    """The survey buttons, and the flow of a typed answer."""

    names: tuple[str, ...] = (FLOW,)
    buttons: tuple[CallbackKind[Any], ...] = ()

    def __init__(self, surveys: SurveyService) -> None:
        self.surveys = surveys
        self.renderer = surveys.deps.renderer

    async def tap(self, turn: Turn, value: tuple[int, int, str]) -> Outcome:
        """A tapped answer: the message becomes the next question, or the thanks."""
        send_id, step, choice = value
        result = await self.surveys.answer(turn.tx, turn.alumnus, send_id, step, choice)
        message_id = turn.event.message_id or 0
        if result is None:
            return STALE
        if result.refused:
            return Reply(
                [ClearButtons(message_id)], self.renderer.label(result.refused, turn.locale)
            )
        await self._follow(turn, send_id, result)
        return Reply([Edit(message_id, self._message(result))])

    async def answer(self, turn: Turn, value: Any | None) -> Outcome:
        """A typed answer to the open question."""
        assert turn.state is not None
        send_id, step = int(turn.state.data.get("send", 0)), int(turn.state.step)
        if turn.event.media is not None or not (turn.event.text or "").strip():
            prompt = await self.prompt(turn)
            note = self.renderer.text("surveys.text_only", turn.locale)
            return Reply([Send(Outgoing(f"{note}\n\n{prompt.text}", prompt.buttons))])
        result = await self.surveys.answer(
            turn.tx, turn.alumnus, send_id, step, None, turn.event.text
        )
        if result is None or result.refused:
            await turn.end_flow()
            block = (result.refused if result else None) or "surveys.closed"
            return Reply([Send(Outgoing(self.renderer.text(block, turn.locale)))])
        await self._follow(turn, send_id, result)
        actions: list[Action] = [Send(self._message(result))]
        if result.worried is not None:
            # Help first: where to find it now, and whether school may get in touch.
            actions.insert(0, Send(result.worried))
        return Reply(actions)

    async def contact(self, turn: Turn, value: tuple[int, str]) -> Outcome:
        """Yes or no to contact after a worrying answer; the buttons go, the choice shows."""
        send_id, choice = value
        message_id = turn.event.message_id or 0
        if choice == NO:
            said = self.renderer.text("surveys.contact_declined", turn.locale)
        elif not await self.surveys.contact(turn.tx, turn.alumnus, send_id):
            return STALE
        else:
            said = self.renderer.text("surveys.contact_asked", turn.locale)
        return Reply([ClearButtons(message_id), Send(Outgoing(said))])

    async def prompt(self, turn: Turn) -> Outgoing:
        """The open survey question, shown again."""
        assert turn.state is not None
        current = await self.surveys.current(
            turn.tx, turn.alumnus, int(turn.state.data.get("send", 0))
        )
        if current is None or current.prompt is None:
            await turn.end_flow()
            return Outgoing(self.renderer.text("surveys.closed", turn.locale))
        return current.prompt

    @staticmethod
    def _message(result: SurveyStep) -> Outgoing:
        return result.prompt if result.prompt is not None else Outgoing(result.done or "")

    async def _follow(self, turn: Turn, send_id: int, result: SurveyStep) -> None:
        """Open the flow for a typed question; leave it otherwise."""
        if result.typed:
            step = str(result.step)
            turn.state = await turn.tx.states.set(
                turn.alumnus_id, FLOW, step, {"send": send_id}, self.surveys.deps.clock.now()
            )
        elif turn.state is not None and turn.state.flow == FLOW:
            await turn.end_flow()


def register(router: ChatRouter, chat: SurveyChat) -> None:
    """Register the survey buttons and the typed-answer flow."""
    router.flow(chat)
    router.button(SURVEY_BUTTON, chat.tap)
    router.button(CONTACT_BUTTON, chat.contact)
