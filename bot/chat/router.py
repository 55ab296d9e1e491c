"""The chat router: a table of commands, button kinds and open flows that features fill.

Each inbound event is handled in one transaction; messages go out only after it commits.
State lives in the ``conversation_state`` table, so a restart continues at the same step.

Features register into the table (``bot/<feature>/chat.py``, wired in the composition root)
and answer with an *outcome*: a :class:`Reply`, or one of the rules the router owns for
every feature alike: :data:`STALE` (an old or forged button), :data:`RESUME` (show where the
person is).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from bot.core.callbacks import CALLBACKS, CallbackKind, CallbackRegistry
from bot.core.deps import Deps
from bot.core.inbound import Inbound
from bot.core.messenger import Action, Outgoing, Send, UnreachableError
from bot.core.render import pick_locale
from storage.models import Alumnus, ConversationState
from storage.repositories import Tx

logger = logging.getLogger(__name__)

LAST_SEEN_GRANULARITY = timedelta(hours=1)


@dataclass
class Reply:
    """What to do after an event: actions in the chat and an optional button toast.

    ``reprompt`` asks the router to show the open flow's question again after the actions
    (a language switch, a consent toggle in the middle of onboarding).
    """

    actions: list[Action] = field(default_factory=list)
    toast: str | None = None
    reprompt: bool = False


class _Rule:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


STALE = _Rule("STALE")  # an old or forged button: say so, show where the person is
RESUME = _Rule("RESUME")  # "you were here": show the open flow's question again

Outcome = Reply | _Rule


@dataclass
class Turn:
    """One event of one person, inside the transaction that handles it."""

    tx: Tx
    alumnus: Alumnus
    state: ConversationState | None
    event: Inbound

    @property
    def locale(self) -> str:
        """The person's language, or their Telegram app's until they chose one."""
        return self.alumnus.locale or pick_locale(self.event.language_code)

    @property
    def start_payload(self) -> str | None:
        """The deep-link payload of ``/start <payload>``, if the event is one."""
        text = self.event.text or ""
        if not text.startswith("/"):
            return None
        _, _, payload = text.partition(" ")
        return payload.strip() or None

    @property
    def alumnus_id(self) -> int:
        """The person's id (always set: the router loads or creates them first)."""
        assert self.alumnus.id is not None
        return self.alumnus.id

    async def end_flow(self) -> None:
        """Leave the open flow, if any."""
        if self.state is not None:
            await self.tx.states.clear(self.alumnus_id)
            self.state = None


class Flow(Protocol):
    """A multi-step exchange whose position is stored in ``conversation_state``."""

    names: tuple[str, ...]  # the ``conversation_state.flow`` values this flow owns
    buttons: tuple[CallbackKind[Any], ...]  # kinds only meaningful inside the flow

    async def answer(self, turn: Turn, value: Any | None) -> Outcome:
        """Handle typed text or media (``value`` None), or a tap of one of ``buttons``."""

    async def prompt(self, turn: Turn) -> Outgoing:
        """Render the question the person is at (to resume, or after a stale tap)."""


CommandHandler = Callable[[Turn], Awaitable[Outcome]]
ButtonHandler = Callable[[Turn, Any], Awaitable[Outcome]]
# A button that concerns no person record (a staff member's campaign preview): its toast.
PersonlessButton = Callable[[Inbound, Any], Awaitable[str | None]]
Listener = Callable[[Tx, Alumnus], Awaitable[None]]


class ChatRouter:
    """Routes each event of a private chat to a command, a button kind or the open flow."""

    def __init__(self, deps: Deps, callbacks: CallbackRegistry = CALLBACKS) -> None:
        self.deps = deps
        self.callbacks = callbacks
        self._commands: dict[str, CommandHandler] = {}
        self._buttons: dict[str, ButtonHandler] = {}
        self._personless: dict[str, PersonlessButton] = {}
        self._flows: dict[str, Flow] = {}
        self._flow_buttons: dict[str, Flow] = {}
        self._start_payloads: dict[str, CommandHandler] = {}
        self._first_contact: CommandHandler | None = None
        self._otherwise: CommandHandler | None = None
        self._unreachable: list[Listener] = []

    # ----------------------------------------------------------------- registration

    def command(self, key: str, handler: CommandHandler) -> None:
        """Answer a command (by its key in ``bot.chat.commands``) with ``handler``."""
        self._claim(self._commands, key, handler, "command")

    def button(self, kind: CallbackKind[Any], handler: ButtonHandler) -> None:
        """Answer a button kind, outside flows or left by the open flow, with ``handler``."""
        self._claim_kind(kind)
        self._buttons[kind.prefix] = handler

    def personless_button(self, kind: CallbackKind[Any], handler: PersonlessButton) -> None:
        """Answer a button kind without loading or creating a person record."""
        self._claim_kind(kind)
        self._personless[kind.prefix] = handler

    def flow(self, flow: Flow) -> None:
        """Give ``flow`` the events of people whose open flow it owns."""
        for name in flow.names:
            self._claim(self._flows, name, flow, "flow")
        for kind in flow.buttons:
            self._claim_kind(kind)
            self._flow_buttons[kind.prefix] = flow

    def start_payload(self, prefix: str, handler: CommandHandler) -> None:
        """Answer ``/start <payload>`` (a deep link) whose payload starts with ``prefix``.

        The handler reads the payload from :attr:`Turn.start_payload`; a /start without a
        matching payload goes to the ``start`` command as usual.
        """
        self._claim(self._start_payloads, prefix, handler, "start payload")

    def first_contact(self, handler: CommandHandler) -> None:
        """What anything from a person who never finished onboarding starts."""
        self._first_contact = handler

    def otherwise(self, handler: CommandHandler) -> None:
        """What a message outside any flow is (a question for the school)."""
        self._otherwise = handler

    def on_unreachable(self, listener: Listener) -> None:
        """Be told, in the transaction that records it, that a person blocked the bot."""
        self._unreachable.append(listener)

    def answered_kinds(self) -> list[str]:
        """Every button prefix that has a handler (a flow, the table, or personless)."""
        return [*self._flow_buttons, *self._buttons, *self._personless]

    def commands(self) -> list[str]:
        """Every command key that has a handler."""
        return list(self._commands)

    def _claim_kind(self, kind: CallbackKind[Any]) -> None:
        if kind.prefix in self.answered_kinds():
            raise ValueError(f"button kind {kind.prefix!r} has two handlers")

    @staticmethod
    def _claim(table: dict[str, Any], key: str, value: Any, what: str) -> None:
        if key in table:
            raise ValueError(f"{what} {key!r} registered twice")
        table[key] = value

    # ----------------------------------------------------------------- entry points

    async def handle(self, event: Inbound, command: str | None = None) -> str | None:
        """Handle one event in one transaction, then deliver; return the toast, if any."""
        parsed = self.callbacks.parse(event.data) if event.data is not None else None
        if parsed is not None and parsed[0].prefix in self._personless:
            return await self._personless_button(event, parsed)
        async with self.deps.storage.transaction() as tx:
            # The update is claimed in the same transaction that handles it: one round trip
            # fewer per update, and a crash rolls back the claim together with the work.
            if not await tx.updates.claim(event.update_id, self.deps.clock.now()):
                logger.info("update %s handled before; skipped", event.update_id)
                return None
            alumnus, state = await self._alumnus(tx, event)
            turn = Turn(tx, alumnus, state, event)
            if state is not None and state.flow not in self._flows:
                # A flow this version no longer has (a removed feature): leave it quietly.
                logger.warning("unknown flow %r left", state.flow)
                await turn.end_flow()
            outcome = await self._route(turn, command, parsed)
            reply = await self._settle(turn, outcome)
        if reply.actions:
            try:
                await self.deps.messenger.perform(event.chat_id, reply.actions)
            except UnreachableError:
                logger.info("chat %s blocked the bot", event.chat_id)
                await self.set_reachable(event.chat_id, reachable=False)
        return reply.toast

    async def set_reachable(
        self, chat_id: int, *, reachable: bool, update_id: int | None = None
    ) -> None:
        """Record that a person blocked the bot, or came back."""
        since = None if reachable else self.deps.clock.now()
        async with self.deps.storage.transaction() as tx:
            if update_id is not None and not await tx.updates.claim(
                update_id, self.deps.clock.now()
            ):
                return
            await tx.alumni.set_unreachable(chat_id, since)
            alumnus = await tx.alumni.by_chat(chat_id)
            if alumnus is not None and not reachable:
                for listener in self._unreachable:
                    await listener(tx, alumnus)

    async def _personless_button(
        self, event: Inbound, parsed: tuple[CallbackKind[Any], Any]
    ) -> str | None:
        async with self.deps.storage.transaction() as tx:
            if not await tx.updates.claim(event.update_id, self.deps.clock.now()):
                return None
        kind, value = parsed
        return await self._personless[kind.prefix](event, value)

    async def _alumnus(self, tx: Tx, event: Inbound) -> tuple[Alumnus, ConversationState | None]:
        """Load (or create) the person and their open flow together: one round trip."""
        now = self.deps.clock.now()
        alumnus, state = await tx.alumni.with_state(event.chat_id)
        if alumnus is None:
            alumnus = await tx.alumni.create(event.chat_id, now)
        else:
            # Activity is kept to the hour (segments use it); writing it on every update
            # would cost an UPDATE each time.
            if now - alumnus.last_seen_at >= LAST_SEEN_GRANULARITY:
                alumnus.last_seen_at = now
            if alumnus.unreachable_since is not None:
                alumnus.unreachable_since = None
        return alumnus, state

    # ----------------------------------------------------------------- the table

    async def _route(
        self, turn: Turn, command: str | None, parsed: tuple[CallbackKind[Any], Any] | None
    ) -> Outcome:
        if command == "start" and turn.start_payload:
            for prefix, deep_link in self._start_payloads.items():
                if turn.start_payload.startswith(prefix):
                    return await deep_link(turn)
        if command is not None:
            handler = self._commands.get(command)
            if handler is None:
                text = self.deps.renderer.text("common.unknown_command", turn.locale)
                return Reply([Send(Outgoing(text))])
            return await handler(turn)
        flow = self._open_flow(turn)
        if turn.event.data is not None:
            if parsed is None:
                return STALE
            kind, value = parsed
            if flow is not None and kind.prefix in self._flow_buttons:
                if self._flow_buttons[kind.prefix] is not flow:
                    return STALE  # a button of another flow than the open one
                return await flow.answer(turn, value)
            button = self._buttons.get(kind.prefix)
            return STALE if button is None else await button(turn, value)
        if flow is not None:
            return await flow.answer(turn, None)
        if turn.alumnus.onboarded_at is None and self._first_contact is not None:
            # Whatever a new person sends first, they get the welcome.
            return await self._first_contact(turn)
        if self._otherwise is None:
            return STALE
        return await self._otherwise(turn)

    def _open_flow(self, turn: Turn) -> Flow | None:
        return None if turn.state is None else self._flows.get(turn.state.flow)

    async def _settle(self, turn: Turn, outcome: Outcome) -> Reply:
        """Turn a router rule into a reply; append the flow's question where asked."""
        flow = self._open_flow(turn)
        renderer = self.deps.renderer
        if outcome is STALE:
            toast = renderer.label("common.stale_button", turn.locale)
            actions: list[Action] = [Send(await flow.prompt(turn))] if flow else []
            return Reply(actions, toast)
        if outcome is RESUME:
            if flow is None:
                text = renderer.text(
                    "common.welcome_back", turn.locale, first_name=turn.alumnus.first_name
                )
                return Reply([Send(Outgoing(text))])
            note = renderer.text("common.resume", turn.locale)
            prompt = await flow.prompt(turn)
            return Reply([Send(Outgoing(f"{note}\n\n{prompt.text}", prompt.buttons))])
        assert isinstance(outcome, Reply)
        if outcome.reprompt and flow is not None:
            outcome.actions.append(Send(await flow.prompt(turn)))
        return outcome
