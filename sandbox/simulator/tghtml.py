"""Strict parser for Telegram's HTML parse mode.

Modelled on the parser in TDLib (``parse_html`` in MessageEntity.cpp), which is what the Bot
API uses: only Telegram's tag subset, properly nested and closed, with the same error texts
("Unsupported start tag", "Unmatched end tag", ...). It is a hand-written scanner rather than
``html.parser.HTMLParser`` because HTMLParser silently accepts input Telegram rejects (a bare
``<`` followed by a space, stray end tags, unclosed tags) and cannot report byte offsets.

One deliberate difference: with ``strict=True`` (the default) a bare ``&`` or an unknown named
entity such as ``&nbsp;`` is an error, where Telegram would keep it as literal text. Both are
almost always a missing ``html.escape`` in the bot, which is what tests should catch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Tag name -> entity type. "span" needs class="tg-spoiler"; "a" needs href.
_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
_SPACES = " \t\r\n"


class HtmlParseError(ValueError):
    """Raised when text is not valid Telegram HTML; str() is Telegram's detail text."""


@dataclass(frozen=True, slots=True)
class ParsedText:
    """Visible text and its entities (offsets and lengths in UTF-16 code units)."""

    text: str
    entities: list[dict[str, Any]]


def utf16_len(text: str) -> int:
    """Return the length of text in UTF-16 code units, as Telegram counts offsets."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode())


def _decode_entity(source: str, start: int) -> tuple[str, int] | None:
    """Decode the entity at source[start] == "&"; return (text, next index) or None."""
    end = source.find(";", start + 1, start + 12)
    if end == -1:
        return None
    name = source[start + 1 : end]
    if name.startswith("#"):
        digits = name[1:]
        try:
            code = int(digits[1:], 16) if digits[:1] in ("x", "X") else int(digits, 10)
        except ValueError:
            return None
        if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        return chr(code), end + 1
    decoded = _NAMED_ENTITIES.get(name)
    return (decoded, end + 1) if decoded is not None else None


def _unescape_attribute(value: str) -> str:
    if "&" not in value:
        return value
    parts: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "&":
            found = _decode_entity(value, i)
            if found is not None:
                parts.append(found[0])
                i = found[1]
                continue
        parts.append(value[i])
        i += 1
    return "".join(parts)


@dataclass(slots=True)
class _Open:
    tag: str
    start: int  # UTF-16 offset in the visible text
    attrs: dict[str, str]
    language: str | None = None


def parse_html(source: str, *, strict: bool = True) -> ParsedText:
    """Parse Telegram HTML into visible text and entities, or raise HtmlParseError."""
    if "<" not in source and "&" not in source:
        return _strip(source, [])
    out: list[str] = []
    pos16 = 0
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    i = 0
    n = len(source)
    while i < n:
        char = source[i]
        if char == "&":
            found = _decode_entity(source, i)
            if found is None:
                if strict:
                    raise HtmlParseError(
                        f'Unsupported HTML entity or unescaped "&" at byte offset '
                        f"{_byte_offset(source, i)}"
                    )
                found = ("&", i + 1)
            out.append(found[0])
            pos16 += utf16_len(found[0])
            i = found[1]
            continue
        if char != "<":
            lt = source.find("<", i)
            amp = source.find("&", i)
            stop = min(x for x in (lt, amp, n) if x != -1)
            chunk = source[i:stop]
            out.append(chunk)
            pos16 += utf16_len(chunk)
            i = stop
            continue
        offset = i
        if i + 1 < n and source[i + 1] == "/":
            close = source.find(">", i + 2)
            if close == -1:
                raise HtmlParseError(
                    f"Unclosed end tag at byte offset {_byte_offset(source, offset)}"
                )
            name = source[i + 2 : close].strip(_SPACES).lower()
            if not stack:
                raise HtmlParseError(
                    f"Unexpected end tag at byte offset {_byte_offset(source, offset)}"
                )
            top = stack.pop()
            if top.tag != name:
                raise HtmlParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(source, offset)}, "
                    f'expected "</{top.tag}>", found "</{name}>"'
                )
            _close_entity(top, pos16, stack, entities)
            i = close + 1
            continue
        j = i + 1
        while j < n and source[j] in _NAME_CHARS:
            j += 1
        name = source[i + 1 : j].lower()
        if not name:
            raise HtmlParseError(f"Empty tag name at byte offset {_byte_offset(source, offset)}")
        if name not in _TAGS:
            raise HtmlParseError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, offset)}'
            )
        attrs: dict[str, str] = {}
        while True:
            while j < n and source[j] in _SPACES:
                j += 1
            if j >= n:
                raise HtmlParseError(
                    f'Unclosed start tag "{name}" at byte offset {_byte_offset(source, offset)}'
                )
            if source[j] == ">":
                j += 1
                break
            k = j
            while k < n and source[k] in _NAME_CHARS:
                k += 1
            attr = source[j:k].lower()
            if not attr:
                raise HtmlParseError(
                    f'Empty attribute name in the tag "{name}" at byte offset '
                    f"{_byte_offset(source, offset)}"
                )
            j = k
            while j < n and source[j] in _SPACES:
                j += 1
            if j >= n or source[j] != "=":
                attrs[attr] = ""
                continue
            j += 1
            while j < n and source[j] in _SPACES:
                j += 1
            if j < n and source[j] in "\"'":
                end = source.find(source[j], j + 1)
                if end == -1:
                    raise HtmlParseError(
                        f'Unclosed end of attribute value in the tag "{name}" at byte offset '
                        f"{_byte_offset(source, offset)}"
                    )
                value = source[j + 1 : end]
                j = end + 1
            else:
                k = j
                while k < n and source[k] not in _SPACES and source[k] != ">":
                    k += 1
                value = source[j:k]
                j = k
            attrs[attr] = _unescape_attribute(value)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise HtmlParseError('Tag "span" must have class "tg-spoiler"')
        if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
            raise HtmlParseError(
                "Custom emoji entity must contain a valid custom emoji identifier"
            )
        stack.append(_Open(name, pos16, attrs))
        i = j
    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    return _strip("".join(out), entities)


def _close_entity(
    item: _Open, end16: int, stack: list[_Open], entities: list[dict[str, Any]]
) -> None:
    length = end16 - item.start
    kind = _TAGS[item.tag]
    if kind == "code" and stack and stack[-1].tag == "pre":
        language = item.attrs.get("class", "")
        if language.startswith("language-") and stack[-1].start == item.start:
            # <pre><code class="language-x"> is one pre entity with a language.
            stack[-1].language = language.removeprefix("language-")
            return
    if length <= 0:
        return
    entity: dict[str, Any] = {"type": kind, "offset": item.start, "length": length}
    if kind == "text_link":
        href = item.attrs.get("href", "").strip()
        if not href:
            return
        entity["url"] = href
    elif kind == "pre" and item.language:
        entity["language"] = item.language
    elif kind == "blockquote" and "expandable" in item.attrs:
        entity["type"] = "expandable_blockquote"
    elif kind == "custom_emoji":
        entity["custom_emoji_id"] = item.attrs["emoji-id"]
    entities.append(entity)


def _strip(text: str, entities: list[dict[str, Any]]) -> ParsedText:
    """Strip surrounding whitespace like Telegram does, shifting and clipping entities."""
    stripped = text.strip()
    if stripped == text:
        entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return ParsedText(text, entities)
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    kept: list[dict[str, Any]] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    kept.sort(key=lambda e: (e["offset"], -e["length"]))
    return ParsedText(stripped, kept)


def plain_text(text: str) -> ParsedText:
    """Return text without a parse mode: visible as sent, stripped like Telegram."""
    return _strip(text, [])
