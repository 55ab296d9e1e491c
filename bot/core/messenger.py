"""What services send, and the small protocol a messenger adapter implements.

Services never import ``telegram``: they build :class:`Outgoing` messages and hand
:class:`Action` lists to a :class:`Messenger`. The Telegram adapter lives in ``handlers/``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


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


class TopicGoneError(RejectedError):
    """The forum topic is gone (deleted, unknown, or closed to the bot): make a new one.

    A :class:`RejectedError` for whoever does not keep topics: sending there again fails.
    """


class UncopyableError(RejectedError):
    """The messenger cannot copy this message (a quiz, a service message): never will.

    Nothing was delivered. Whoever relays it sends a text in its place, so the other side
    learns that something was sent; a :class:`RejectedError` for whoever does not.
    """


class ChatMovedError(RejectedError):
    """The group now lives under another id (Telegram: upgraded to a supergroup).

    Nothing was delivered; the same message to ``new_chat_id`` may succeed. A
    :class:`RejectedError` for whoever does not follow it: the old id never works again.
    """

    def __init__(self, new_chat_id: int) -> None:
        super().__init__(f"the chat moved to {new_chat_id}")
        self.new_chat_id = new_chat_id


class MissingRightsError(RejectedError):
    """The bot lacks a right in the chat (e.g. to create topics): retry once it is given.

    ``right`` names what is missing in the messenger's own words (``can_manage_topics``).
    A :class:`RejectedError` for whoever cannot wait for an admin to fix it.
    """

    def __init__(self, right: str, detail: str = "") -> None:
        super().__init__(detail or f"missing right: {right}")
        self.right = right


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

    def fits(self, text: str) -> bool:
        """Return whether ``text`` (the message markup as sent) fits in one message."""
        ...

    async def deliver(self, chat_id: int, message: Outgoing, thread_id: int | None = None) -> int:
        """Send one outbox message; return its message id or raise a ``DeliveryError``."""
        ...

    async def copy(
        self, chat_id: int, from_chat_id: int, message_id: int, thread_id: int | None = None
    ) -> int:
        """Copy a message (any media) into a chat; return the new id or raise ``DeliveryError``."""
        ...


@runtime_checkable
class Forums(Protocol):
    """Forum topics in a group: a capability some messengers have (Telegram's supergroups).

    The inbox gives each conversation its own topic when the messenger has this; otherwise
    it relays into the team's group as it is, and coordinators answer in the web inbox.
    """

    async def create_topic(self, chat_id: int, name: str) -> int:
        """Create a forum topic in a group; return its thread id or raise ``DeliveryError``."""
        ...

    async def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """Delete a forum topic with every message in it, or raise ``DeliveryError``."""
        ...


def forums_of(messenger: Messenger) -> Forums | None:
    """Return the messenger's forum topics, if it has them."""
    return messenger if isinstance(messenger, Forums) else None


class QueueOnlyMessenger:
    """The messenger of a process without the bot (the CLI, a standalone console).

    Such a process only queues messages in the outbox; the running bot's dispatcher sends
    them. Anything that would talk to Telegram directly raises ``RuntimeError``.
    """

    def __init__(
        self, process: str = "this process", fits: Callable[[str], bool] | None = None
    ) -> None:
        """Queue only.

        Args:
            process: named in the refusal of a direct send.
            fits: the sending messenger's rule for the size of one message.
        """
        self._refusal = f"{process} queues messages; the running bot sends them"
        self._fits = fits

    async def perform(self, chat_id: int, actions: Sequence[Action]) -> None:
        """Refuse: replies are sent by the running bot."""
        raise RuntimeError(self._refusal)

    def interval(self, chat_id: int) -> float:
        """Nothing is sent from here: no pacing."""
        return 0.0

    def fits(self, text: str) -> bool:
        """The running bot's messenger decides: ``fits`` given at construction, if any."""
        return self._fits(text) if self._fits is not None else True

    async def deliver(self, chat_id: int, message: Outgoing, thread_id: int | None = None) -> int:
        """Refuse: the outbox is sent by the running bot."""
        raise RuntimeError(self._refusal)

    async def copy(
        self, chat_id: int, from_chat_id: int, message_id: int, thread_id: int | None = None
    ) -> int:
        """Refuse: copies are made by the running bot."""
        raise RuntimeError(self._refusal)
