"""The callback registry: every kind of button data declared once, with its parser.

Telegram hands ``callback_data`` back verbatim, so it is untrusted input: a kind parses its
payload and answers ``None`` for anything it would not have built. Telegram allows 1-64
bytes; :meth:`CallbackKind.build` is the one place that limit is checked, and every kind
declares the longest payload it can build, so a test proves the limit holds for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

MAX_CALLBACK_BYTES = 64  # Bot API: callback_data is 1-64 bytes
SEPARATOR = ":"

T = TypeVar("T")


class CallbackDataError(ValueError):
    """Button data that cannot be built: too long, or a part that would split wrongly."""


@dataclass(frozen=True)
class CallbackKind(Generic[T]):
    """One kind of button: a short prefix, a parser for what follows, the longest payload."""

    prefix: str
    parse: Callable[[str], T | None]
    longest: str

    def build(self, *parts: object) -> str:
        """Return ``<prefix>:<part>:<part>...``, refusing data Telegram would not accept."""
        text = [str(p) for p in parts]
        if any(not p for p in text):
            raise CallbackDataError(f"empty part in {self.prefix!r} button data")
        data = SEPARATOR.join((self.prefix, *text))
        if len(data.encode()) > MAX_CALLBACK_BYTES:
            raise CallbackDataError(
                f"button data longer than {MAX_CALLBACK_BYTES} bytes: {data!r}"
            )
        return data


class CallbackRegistry:
    """All kinds of button data in the bot; a prefix can be declared only once."""

    def __init__(self) -> None:
        self._kinds: dict[str, CallbackKind[Any]] = {}

    def declare(
        self, prefix: str, parse: Callable[[str], T | None], longest: str
    ) -> CallbackKind[T]:
        """Declare a kind of button data.

        Args:
            prefix: the data's first part, unique in the bot (one or two letters: the data
                must fit in 64 bytes).
            parse: turns the payload after ``<prefix>:`` into a value, or ``None`` when it
                is not something this kind builds (old, forged or damaged data).
            longest: the longest payload the kind can build; it must parse and fit.
        """
        if not prefix or SEPARATOR in prefix:
            raise CallbackDataError(f"bad callback prefix {prefix!r}")
        if prefix in self._kinds:
            raise CallbackDataError(f"callback prefix {prefix!r} declared twice")
        kind = CallbackKind(prefix, parse, longest)
        if len(f"{prefix}{SEPARATOR}{longest}".encode()) > MAX_CALLBACK_BYTES:
            raise CallbackDataError(
                f"the longest {prefix!r} data is over {MAX_CALLBACK_BYTES} bytes"
            )
        self._kinds[prefix] = kind
        return kind

    def parse(self, data: str) -> tuple[CallbackKind[Any], Any] | None:
        """Return the kind and parsed payload of button data, or ``None`` if it is stale."""
        prefix, separator, payload = data.partition(SEPARATOR)
        kind = self._kinds.get(prefix)
        if kind is None or not separator:
            return None
        value = kind.parse(payload)
        return None if value is None else (kind, value)

    def __iter__(self) -> Iterator[CallbackKind[Any]]:
        return iter(self._kinds.values())


# The bot's one registry. Features declare their kinds at import time, next to the code
# that builds and answers them.
CALLBACKS = CallbackRegistry()


def parts(payload: str, count: int) -> list[str] | None:
    """Split a payload into exactly ``count`` non-empty parts, or ``None``."""
    found = payload.split(SEPARATOR, count - 1)
    if len(found) != count or not all(found):
        return None
    return found


def number(text: str) -> int | None:
    """Return a positive database id from button data, or ``None``."""
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        return None
    return int(text)
