"""Check-ins in the chat: each answer is a button (or, for two questions, a typed line).

The buttons work outside any flow, from the question message or its reminder; only a typed
question opens the ``checkin`` flow, so the next text the person types is its answer.
"""

from __future__ import annotations

from typing import Any

from bot.aftercare.questions import SKIP
from bot.aftercare.service import CHECKIN_BUTTON, AftercareService, Answered
from bot.chat.router import STALE, ChatRouter, Outcome, Reply, Turn
from bot.core.callbacks import CallbackKind
from bot.core.messenger import Action, ClearButtons, Edit, Outgoing, Send

FLOW = "checkin"


class CheckinChat:
    """The check-in buttons, and the flow of a typed answer."""

    names: tuple[str, ...] = (FLOW,)
    buttons: tuple[CallbackKind[Any], ...] = ()

    def __init__(self, aftercare: AftercareService) -> None:
        self.aftercare = aftercare
        self.renderer = aftercare.deps.renderer

    async def tap(self, turn: Turn, value: tuple[int, str, str]) -> Outcome:
        """A tapped answer: the message turns into the next question (or the thanks)."""
        checkin_id, code, choice = value
        answered = await self.aftercare.answer(
            turn.tx, turn.alumnus, checkin_id, code, None if choice == SKIP else choice
        )
        message_id = turn.event.message_id or 0
        if answered is None:
            return STALE
        if answered.refused:
            text = self.renderer.label(answered.refused, turn.locale)
            return Reply([ClearButtons(message_id)], text)
        actions: list[Action] = [Edit(message_id, self._next(answered))]
        return Reply(await self._settle(turn, checkin_id, answered, actions))

    async def answer(self, turn: Turn, value: Any | None) -> Outcome:
        """A typed answer to the open typed question."""
        assert turn.state is not None
        checkin_id = int(turn.state.data.get("checkin", 0))
        if turn.event.media is not None or not (turn.event.text or "").strip():
            prompt = await self.prompt(turn)
            note = self.renderer.text("aftercare.text_only", turn.locale)
            return Reply([Send(Outgoing(f"{note}\n\n{prompt.text}", prompt.buttons))])
        answered = await self.aftercare.answer(
            turn.tx, turn.alumnus, checkin_id, turn.state.step, None, turn.event.text
        )
        if answered is None or answered.refused:
            await turn.end_flow()
            block = (answered.refused if answered else None) or "aftercare.closed"
            return Reply([Send(Outgoing(self.renderer.text(block, turn.locale)))])
        return Reply(await self._settle(turn, checkin_id, answered, [Send(self._next(answered))]))

    async def prompt(self, turn: Turn) -> Outgoing:
        """The open check-in question, shown again."""
        assert turn.state is not None
        current = await self.aftercare.current(
            turn.tx, int(turn.state.data.get("checkin", 0)), turn.alumnus
        )
        if current is None:
            await turn.end_flow()
            return Outgoing(self.renderer.text("aftercare.closed", turn.locale))
        return current

    def _next(self, answered: Answered) -> Outgoing:
        if answered.prompt is not None:
            return answered.prompt
        return Outgoing(answered.done or "")

    async def _settle(
        self, turn: Turn, checkin_id: int, answered: Answered, actions: list[Action]
    ) -> list[Action]:
        """Open the flow for a typed question, leave it otherwise; add the extra messages."""
        if answered.question is not None and answered.question.typed:
            turn.state = await turn.tx.states.set(
                turn.alumnus_id,
                FLOW,
                answered.question.code,
                {"checkin": checkin_id},
                self.aftercare.deps.clock.now(),
            )
        elif turn.state is not None and turn.state.flow == FLOW:
            await turn.end_flow()
        # Extra words (the leads notice, where to find help now) come after the question.
        return [*actions, *(Send(extra) for extra in answered.extra)]


def register(router: ChatRouter, chat: CheckinChat) -> None:
    """Register the check-in buttons and the typed-answer flow."""
    router.flow(chat)
    router.button(CHECKIN_BUTTON, chat.tap)
