"""What services send, and the small protocol a messenger adapter implements.

Services never import ``telegram``: they build :class:`Outgoing` messages and hand
:class:`Action` lists to a :class:`Messenger`. The Telegram adapter lives in ``handlers/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Button:
    """An inline button: ``data`` comes back on a press, ``url`` opens a link."""

    text: str
    data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Outgoing:
    """A text message (Telegram HTML) with optional inline buttons, rows of buttons."""

    text: str
    buttons: Sequence[Sequence[Button]] = field(default_factory=tuple)


@dataclass(frozen=True)
class Send:
    """Send a new message (into a forum topic when ``thread_id`` is set)."""

    message: Outgoing
    thread_id: int | None = None


@dataclass(frozen=True)
class Edit:
    """Replace the text and buttons of a message the bot sent before."""

    message_id: int
    message: Outgoing


@dataclass(frozen=True)
class ClearButtons:
    """Remove the buttons of an earlier message so it cannot be pressed again."""

    message_id: int


@dataclass(frozen=True)
class SendDocument:
    """Send a file."""

    filename: str
    data: bytes
    caption: str


Action = Send | Edit | ClearButtons | SendDocument


def rows(buttons: Sequence[Button], per_row: int) -> list[list[Button]]:
    """Lay buttons out in rows."""
    return [list(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row)]


class DeliveryError(Exception):
    """A message could not be delivered; the subclass says what to do next."""


class RetryLaterError(DeliveryError):
    """The messenger asked us to slow down (Telegram 429): try again after ``retry_after``."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after:g}s")
        self.retry_after = retry_after


class TransientError(DeliveryError):
    """Nothing was delivered (connection refused, 5xx): safe to try again after a pause."""


class MaybeDeliveredError(DeliveryError):
    """The request went out but no answer came back: resending could duplicate it."""


class UnreachableError(DeliveryError):
    """The person blocked the bot or deleted their account (Telegram 403)."""


class RejectedError(DeliveryError):
    """The messenger refused the message itself (Telegram 400): it will never succeed."""


class Messenger(Protocol):
    """Delivers to one chat; implemented per messenger (Telegram now)."""

    async def perform(self, chat_id: int, actions: Sequence[Action]) -> None:
        """Carry out ``actions`` in order in ``chat_id`` (direct replies to a person).

        Raises:
            UnreachableError: the person blocked the bot; the rest is not carried out.
        """
        ...

    def interval(self, chat_id: int) -> float:
        """Return the seconds the messenger wants between two messages to ``chat_id``."""
        ...

    async def deliver(self, chat_id: int, message: Outgoing, thread_id: int | None = None) -> int:
        """Send one outbox message; return its message id or raise a ``DeliveryError``."""
        ...

    async def copy(
        self, chat_id: int, from_chat_id: int, message_id: int, thread_id: int | None = None
    ) -> int:
        """Copy a message (any media) into a chat; return the new id or raise ``DeliveryError``."""
        ...

    async def create_topic(self, chat_id: int, name: str) -> int:
        """Create a forum topic in a group; return its thread id or raise ``DeliveryError``."""
        ...

    async def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """Delete a forum topic with every message in it, or raise ``DeliveryError``."""
        ...


class QueueOnlyMessenger:
    """The messenger of a process without the bot (the CLI, a standalone console).

    Such a process only queues messages in the outbox; the running bot's dispatcher sends
    them. Anything that would talk to Telegram directly raises ``RuntimeError``.
    """

    def __init__(self, process: str = "this process") -> None:
        self._refusal = f"{process} queues messages; the running bot sends them"

    async def perform(self, chat_id: int, actions: Sequence[Action]) -> None:
        """Refuse: replies are sent by the running bot."""
        raise RuntimeError(self._refusal)

    def interval(self, chat_id: int) -> float:
        """Nothing is sent from here: no pacing."""
        return 0.0

    async def deliver(self, chat_id: int, message: Outgoing, thread_id: int | None = None) -> int:
        """Refuse: the outbox is sent by the running bot."""
        raise RuntimeError(self._refusal)

    async def copy(
        self, chat_id: int, from_chat_id: int, message_id: int, thread_id: int | None = None
    ) -> int:
        """Refuse: copies are made by the running bot."""
        raise RuntimeError(self._refusal)

    async def create_topic(self, chat_id: int, name: str) -> int:
        """Refuse: topics are created by the running bot."""
        raise RuntimeError(self._refusal)

    async def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """Refuse: topics are deleted by the running bot (through the outbox)."""
        raise RuntimeError(self._refusal)
