"""A simulator that timestamps each update and the bot's first answer to it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from sandbox.simulator import BotApiSimulator, SimMessage

JSON = dict[str, Any]


@dataclass
class Probe:
    """One update in flight: when it was created, first answered and fully answered."""

    chat_id: int
    kind: str  # "message" or "callback_query"
    done: asyncio.Future[None]
    update_id: int = 0
    created: float = 0.0
    first: float | None = None
    first_what: str | None = None
    lag: float = 0.0  # open loop: how late after its scheduled time it was sent

    @property
    def latency(self) -> float:
        """Seconds from the update's creation to the bot's first answer."""
        assert self.first is not None
        return self.first - self.created


@dataclass
class ChatWatch:
    """Wakes the driver of one chat whenever the bot does something there."""

    changed: asyncio.Event = field(default_factory=asyncio.Event)


class TimedSimulator(BotApiSimulator):
    """The Bot API simulator plus per-chat hooks the benchmark driver waits on.

    A driver arms a :class:`Probe` for its chat, then acts as the user; the simulator stamps
    the update's creation in ``emit`` and the bot's first visible answer (a new message, an
    edit, or an answered callback query) in the chat. The probe's future resolves when the
    update is answered: a new bot message for a typed message, the answerCallbackQuery for a
    button press (both bots answer the query last). Everything is event-driven: no polling.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._armed: dict[int, Probe] = {}
        self._watches: dict[int, ChatWatch] = {}
        self.stray_answers = 0

    def watch(self, chat_id: int) -> ChatWatch:
        """Return the change signal of a chat (created on first use)."""
        watch = self._watches.get(chat_id)
        if watch is None:
            watch = self._watches[chat_id] = ChatWatch()
        return watch

    def arm(self, chat_id: int, kind: str) -> Probe:
        """Expect the next update of ``chat_id``; the caller then sends or presses."""
        probe = Probe(chat_id, kind, asyncio.get_running_loop().create_future())
        self._armed[chat_id] = probe
        return probe

    def emit(self, kind: str, payload: JSON) -> JSON:
        """Stamp the creation of an armed update, then create and deliver it."""
        created = time.perf_counter()
        update = super().emit(kind, payload)
        chat = payload.get("chat") or (payload.get("message") or {}).get("chat") or {}
        probe = self._armed.get(chat.get("id", 0))
        if probe is not None and not probe.created:
            probe.created = created
            probe.update_id = int(update["update_id"])
        return update

    def store_message(self, message: SimMessage) -> SimMessage:
        """Record a message; a bot message answers the armed update of its chat."""
        stored = super().store_message(message)
        if message.from_bot:
            self._answer(message.chat_id, "message")
        return stored

    def message_changed(self, message: SimMessage) -> None:
        """Announce an edit; an edit is a first answer but does not finish an update."""
        super().message_changed(message)
        self._answer(message.chat_id, "edit")

    def publish(self, chat_id: int, event: JSON) -> None:
        """Pass web chat events on; an answered callback query finishes a button press."""
        super().publish(chat_id, event)
        if event.get("event") == "answer":
            self._answer(chat_id, "answer")

    def _answer(self, chat_id: int, what: str) -> None:
        now = time.perf_counter()
        watch = self._watches.get(chat_id)
        if watch is not None:
            watch.changed.set()
        probe = self._armed.get(chat_id)
        if probe is None or not probe.created:
            self.stray_answers += 1
            return
        if probe.first is None:
            probe.first, probe.first_what = now, what
        finished = (probe.kind == "message" and what == "message") or (
            probe.kind == "callback_query" and what == "answer"
        )
        if finished:
            del self._armed[chat_id]
            if not probe.done.done():
                probe.done.set_result(None)
