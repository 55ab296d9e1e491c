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
    """Send a new message."""

    message: Outgoing


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


class UnreachableError(Exception):
    """The person blocked the bot or deleted their account."""


class Messenger(Protocol):
    """Delivers actions to one chat; implemented per messenger (Telegram now)."""

    async def perform(self, chat_id: int, actions: Sequence[Action]) -> None:
        """Carry out ``actions`` in order in ``chat_id``."""
        ...
