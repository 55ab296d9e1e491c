"""Plain data kept by the simulator: users, chats, messages, faults and counters."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

JSON = dict[str, Any]

FaultKind = Literal["429", "5xx", "slow", "drop_after_accept", "drop_before"]


class ApiError(Exception):
    """A Telegram-style error answer: HTTP status, description and optional retry_after."""

    def __init__(
        self,
        status: int,
        description: str,
        retry_after: int | None = None,
        *,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id

    def payload(self) -> JSON:
        """Return the JSON body Telegram sends for this error (ResponseParameters too)."""
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        parameters: JSON = {}
        if self.retry_after is not None:
            parameters["retry_after"] = self.retry_after
        if self.migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = self.migrate_to_chat_id
        if parameters:
            body["parameters"] = parameters
        return body


def bad_request(detail: str) -> ApiError:
    """Build a 400 error with Telegram's "Bad Request: " prefix."""
    return ApiError(400, f"Bad Request: {detail}")


@dataclass(slots=True)
class SimUser:
    """A simulated Telegram user; their private chat with the bot has the same id."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "nl"
    is_bot: bool = False

    def to_dict(self) -> JSON:
        """Return the Bot API ``User`` object."""
        data: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data


@dataclass(slots=True)
class SimChat:
    """A simulated chat: private (id == user id), group, supergroup or channel (negative id)."""

    id: int
    type: str
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    is_forum: bool = False
    # ChatPermissions.can_manage_topics: members (a non-admin bot too) may create topics.
    members_can_manage_topics: bool = False

    @property
    def is_group(self) -> bool:
        """Return whether this is a group or supergroup."""
        return self.type in ("group", "supergroup")

    def to_dict(self) -> JSON:
        """Return the Bot API ``Chat`` object."""
        data: JSON = {"id": self.id, "type": self.type}
        for key in ("title", "first_name", "last_name", "username"):
            value = getattr(self, key)
            if value:
                data[key] = value
        if self.is_forum:
            data["is_forum"] = True
        return data


@dataclass(slots=True)
class SimMessage:
    """One message in a chat in its current state (edits applied).

    ``text`` and ``caption`` hold the visible text after entity parsing; ``html`` holds what
    the bot sent (text or caption) before parsing. ``raw`` is the Bot API ``Message`` dict.
    """

    message_id: int
    chat_id: int
    date: int
    raw: JSON
    text: str | None = None
    caption: str | None = None
    html: str | None = None
    parse_mode: str | None = None
    entities: list[JSON] = field(default_factory=list)
    reply_markup: JSON | None = None
    document: JSON | None = None
    message_thread_id: int | None = None
    edited: bool = False
    from_bot: bool = True
    kind: str = "text"


@dataclass(slots=True)
class StoredFile:
    """A file known to the simulator, uploaded by the bot or sent by a user."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_name: str | None = None
    mime_type: str | None = None
    kind: str = "document"

    @property
    def file_path(self) -> str:
        """Return the path used by ``getFile`` and the file download URL.

        Telegram files photos, voice notes and stickers under their own folders.
        """
        folder = _FILE_FOLDERS.get(self.kind, "documents")
        return f"{folder}/{self.file_unique_id}"


_FILE_FOLDERS = {
    "photo": "photos",
    "voice": "voice",
    "sticker": "stickers",
    "animation": "animations",
}

# Telegram's fixed palette for forum topic icons (createForumTopic's icon_color).
TOPIC_COLORS = (0x6FB9F0, 0xFFD67E, 0xCB86DB, 0x8EEE98, 0xFF93B2, 0xFB6F5F)


@dataclass(slots=True)
class SimTopic:
    """A forum topic; its message_thread_id is the id of its forum_topic_created message."""

    message_thread_id: int
    name: str
    icon_color: int = TOPIC_COLORS[0]
    icon_custom_emoji_id: str | None = None
    is_closed: bool = False

    def to_dict(self) -> JSON:
        """Return the Bot API ``ForumTopic`` object."""
        data: JSON = {
            "message_thread_id": self.message_thread_id,
            "name": self.name,
            "icon_color": self.icon_color,
        }
        if self.icon_custom_emoji_id:
            data["icon_custom_emoji_id"] = self.icon_custom_emoji_id
        return data


@dataclass(slots=True)
class Stats:
    """Counters of what the simulator answered."""

    calls: Counter[str] = field(default_factory=Counter)
    responses: Counter[int] = field(default_factory=Counter)
    rate_limited: int = 0
    faults_injected: Counter[str] = field(default_factory=Counter)
    messages_sent: int = 0
    updates_created: int = 0
    hidden_by_privacy: int = 0

    def reset(self) -> None:
        """Set every counter back to zero."""
        self.calls.clear()
        self.responses.clear()
        self.faults_injected.clear()
        self.rate_limited = 0
        self.messages_sent = 0
        self.updates_created = 0
        self.hidden_by_privacy = 0


@dataclass(slots=True)
class Fault:
    """A fault to inject into matching Bot API calls.

    Args:
        method: Bot API method name to match (case-insensitive), or None for every method.
        kind: "429", "5xx" (502 Bad Gateway), "slow" (sleep ``delay`` then answer normally),
            "drop_before" (close the connection, do nothing) or "drop_after_accept" (perform
            the call, then close the connection without an answer).
        probability: chance that a matching call is hit, drawn from the seeded generator.
        count: hit at most this many calls, then stop; None for no limit.
        retry_after: seconds announced in a 429 answer.
        delay: seconds a "slow" fault waits.
        chat_id: only match calls for this chat_id.
    """

    method: str | None = None
    kind: FaultKind = "5xx"
    probability: float = 1.0
    count: int | None = None
    retry_after: int = 1
    delay: float = 2.0
    chat_id: int | None = None
    hits: int = 0

    def matches(self, method: str, chat_id: int | None) -> bool:
        """Return whether this fault applies to a call, ignoring probability."""
        if self.count is not None and self.hits >= self.count:
            return False
        if self.method is not None and self.method.lower() != method.lower():
            return False
        return self.chat_id is None or self.chat_id == chat_id


class FaultSet:
    """The faults active in a simulator, consulted for every Bot API call."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._random = random.Random()

    def add(self, fault: Fault) -> Fault:
        """Activate a fault and return it (its ``hits`` counts how often it fired)."""
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault."""
        self._faults.clear()

    def seed(self, value: int) -> None:
        """Seed the generator behind ``probability`` so runs are repeatable."""
        self._random.seed(value)

    def __bool__(self) -> bool:
        return bool(self._faults)

    def __len__(self) -> int:
        return len(self._faults)

    def pick(self, method: str, chat_id: int | None) -> Fault | None:
        """Return the first fault that fires for this call, counting the hit."""
        for fault in self._faults:
            if not fault.matches(method, chat_id):
                continue
            if fault.probability < 1.0 and self._random.random() >= fault.probability:
                continue
            fault.hits += 1
            return fault
        return None
