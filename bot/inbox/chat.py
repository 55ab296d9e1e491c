"""Questions in the chat: /vraag, a message outside any flow, the topic choice, ratings."""

from __future__ import annotations

from typing import Any

from bot.chat.router import STALE, ChatRouter, Outcome, Reply, Turn
from bot.core.callbacks import CALLBACKS, CallbackKind
from bot.core.inbound import Inbound
from bot.core.messenger import Action, Button, ClearButtons, Outgoing, Send, rows
from bot.inbox.service import RATING_BUTTON, TOPIC_CODE, InboxService, Incoming

QUESTION = "question"
TOPIC_STEP, TEXT_STEP = "topic", "text"

# ``q:<topic>``: the topic of a question, chosen before it is routed to a team. The topics
# are content (content/inbox.yaml, read at start); the flow refuses a code not among them.
TOPIC_BUTTON = CALLBACKS.declare(
    "q", lambda topic: topic if TOPIC_CODE.fullmatch(topic) else None, longest="x" * 16
)


class QuestionFlow:
    """Asking the school: the question waits for its topic, or the topic for the question."""

    names: tuple[str, ...] = (QUESTION,)
    buttons: tuple[CallbackKind[Any], ...] = (TOPIC_BUTTON,)

    def __init__(self, inbox: InboxService) -> None:
        self.inbox = inbox
        self.deps = inbox.deps

    async def ask_command(self, turn: Turn) -> Outcome:
        """/vraag: leave any open flow and ask for the topic first."""
        if turn.alumnus.onboarded_at is None:
            text = self.deps.renderer.text("inbox.finish_onboarding_first", turn.locale)
            return Reply([Send(Outgoing(text))])
        await turn.end_flow()
        return await self._ask(turn, typed=False)

    async def ask(self, turn: Turn) -> Outcome:
        """A message outside any flow: it joins the open conversation or starts a question."""
        return await self._ask(turn, typed=True)

    async def _ask(self, turn: Turn, *, typed: bool) -> Outcome:
        conversation = await turn.tx.inbox.open_for(turn.alumnus_id) if typed else None
        if conversation is not None:
            await self.inbox.add_from_alumnus(
                turn.tx, conversation, _as_incoming(turn.event.chat_id, _incoming(turn.event))
            )
            return Reply([Send(Outgoing(self.inbox.acknowledgement(turn.locale, new=False)))])
        pending = [_incoming(turn.event)] if typed else []
        turn.state = await turn.tx.states.set(
            turn.alumnus_id, QUESTION, TOPIC_STEP, {"pending": pending}, self.deps.clock.now()
        )
        return Reply([Send(self._topic_prompt(turn.locale, "inbox.choose_topic"))])

    def _topic_prompt(self, locale: str, block: str) -> Outgoing:
        label = self.deps.renderer.label
        buttons = [
            Button(label(f"labels.topic_{t}", locale), TOPIC_BUTTON.build(t))
            for t in self.inbox.topics
        ]
        return Outgoing(self.deps.renderer.text(block, locale), rows(buttons, 1))

    async def prompt(self, turn: Turn) -> Outgoing:
        """The topic buttons, or the request to type the question."""
        assert turn.state is not None
        if turn.state.step == TEXT_STEP:
            return Outgoing(self.deps.renderer.text("inbox.ask_question", turn.locale))
        return self._topic_prompt(turn.locale, "inbox.choose_topic")

    async def answer(self, turn: Turn, value: Any | None) -> Outcome:
        """A tapped topic (``value``), or a typed message while the flow waits."""
        assert turn.state is not None
        state, event = turn.state, turn.event
        pending = list(state.data.get("pending", []))
        if value is not None:
            if state.step != TOPIC_STEP or value not in self.inbox.topics:
                return STALE
            if not pending:  # /vraag: topic first, then the question
                turn.state = await turn.tx.states.set(
                    turn.alumnus_id, QUESTION, TEXT_STEP, {"topic": value}, self.deps.clock.now()
                )
                ask = Outgoing(self.deps.renderer.text("inbox.ask_question", turn.locale))
                return Reply([ClearButtons(event.message_id or 0), Send(ask)])
            return await self._open(turn, value, pending, clear=event.message_id)
        if state.step == TEXT_STEP:
            return await self._open(turn, state.data["topic"], [_incoming(event)])
        pending.append(_incoming(event))
        turn.state = await turn.tx.states.set(
            turn.alumnus_id, QUESTION, TOPIC_STEP, {"pending": pending}, self.deps.clock.now()
        )
        return Reply([Send(self._topic_prompt(turn.locale, "inbox.choose_topic_first"))])

    async def _open(
        self, turn: Turn, topic: str, pending: list[dict[str, Any]], clear: int | None = None
    ) -> Outcome:
        messages = [_as_incoming(turn.event.chat_id, p) for p in pending]
        _, new = await self.inbox.open_or_join(
            turn.tx, turn.alumnus, topic=topic, messages=messages
        )
        await turn.end_flow()
        actions: list[Action] = [ClearButtons(clear)] if clear else []
        actions.append(Send(Outgoing(self.inbox.acknowledgement(turn.locale, new=new))))
        return Reply(actions)

    async def rate(self, turn: Turn, value: tuple[int, int]) -> Outcome:
        """A rating of a closed conversation."""
        conversation, score = value
        if not await self.inbox.rate(turn.tx, turn.alumnus, conversation, score):
            return STALE
        thanks = Outgoing(self.deps.renderer.text("inbox.rating_thanks", turn.locale))
        return Reply([ClearButtons(turn.event.message_id or 0), Send(thanks)])


def _incoming(event: Inbound) -> dict[str, Any]:
    return {
        "message_id": event.message_id,
        "kind": event.media or "text",
        "text": event.text,
        "file_id": event.file_id,
    }


def _as_incoming(chat_id: int, data: dict[str, Any]) -> Incoming:
    text, file_id = data.get("text"), data.get("file_id")
    return Incoming(
        chat_id=chat_id,
        message_id=int(str(data["message_id"])),
        kind=str(data.get("kind") or "text"),
        text=text if isinstance(text, str) else None,
        file_id=file_id if isinstance(file_id, str) else None,
    )


def register(router: ChatRouter, flow: QuestionFlow) -> None:
    """Register /vraag, the question flow, ratings and questions outside flows."""
    router.flow(flow)
    router.command("question", flow.ask_command)
    router.otherwise(flow.ask)
    router.button(RATING_BUTTON, flow.rate)
    router.on_unreachable(flow.inbox.unreachable)
