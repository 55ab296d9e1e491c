"""The one check for text entering the system: chat, console, CLI arguments and imports.

PostgreSQL refuses NUL in text (``invalid byte sequence "UTF8": 0x00``) and text that is not
valid UTF-8; other control characters are invisible, break logs and exports, and no person
types them. So every boundary passes what it receives through :func:`checked_text` (refuse)
or, where a message must still get through (chat), :func:`strip_controls` (drop them).
Line breaks, tabs and carriage returns are text, not control characters, here.
"""

from __future__ import annotations

import re

# C0 and C1 control characters except tab, line feed and carriage return; DEL; and lone
# surrogates (a str can hold them, but they cannot be encoded as UTF-8).
_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

DEFAULT_MAX_LENGTH = 10_000  # far above any field; a backstop, fields keep their own limits

ENCODING, CHARACTERS, LENGTH = "encoding", "characters", "length"


class TextError(ValueError):
    """Text that may not enter: ``reason`` is ``encoding``, ``characters`` or ``length``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def checked_text(value: str | bytes, *, max_length: int = DEFAULT_MAX_LENGTH) -> str:
    """Return ``value`` as text fit to store, or raise :class:`TextError`.

    Bytes must be valid UTF-8; the text may hold no control character other than line feed,
    tab and carriage return, and at most ``max_length`` characters.
    """
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise TextError(ENCODING) from None
    if _REFUSED.search(value):
        raise TextError(CHARACTERS)
    if len(value) > max_length:
        raise TextError(LENGTH)
    return value


def is_clean(value: str) -> bool:
    """Return whether ``value`` holds no refused character (its length is not judged)."""
    return _REFUSED.search(value) is None


def strip_controls(value: str) -> str:
    """Drop the refused characters from ``value`` (for messages that must get through)."""
    return _REFUSED.sub("", value)


# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...) in a
# name from an imported file, say). OWASP's advice for CSV: start such a text with a quote.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A value for a CSV cell that a spreadsheet shows as text, never runs as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
