"""What the parts of the simulator see of it: the state protocol the method modules use.

``core.BotApiSimulator`` composes the parts (the Bot API methods, the forum and media
methods, the user API and the webhook delivery); the parts depend on this protocol, never on
``core``. So imports point one way: ``core`` -> parts -> ``state`` -> ``models``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sandbox.simulator.models import (
    JSON,
    FaultSet,
    SimChat,
    SimMessage,
    SimTopic,
    SimUser,
    Stats,
    StoredFile,
)
from sandbox.simulator.ratelimit import RateLimiter
from sandbox.simulator.updates import ChatRef

if TYPE_CHECKING:
    import aiohttp

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


class WebhookDelivery(Protocol):
    """The webhook delivery as the Bot API methods drive it."""

    last_error_date: int | None
    last_error_message: str | None

    @property
    def pending_count(self) -> int:
        """Return the number of updates not yet delivered."""
        ...

    def configure(self, max_connections: int) -> None:
        """Set the number of concurrent deliveries."""
        ...

    def enqueue(self, update: JSON) -> None:
        """Queue an update for delivery."""
        ...

    def take_backlog(self) -> list[JSON]:
        """Stop delivering and return the updates not yet sent."""
        ...


class SimState(Protocol):
    """The simulator's state and the operations its parts call (``core`` implements it)."""

    token: str
    bot_id: int
    bot_user: SimUser
    strict_html: bool
    enforce_rate_limits: bool
    faults: FaultSet
    stats: Stats
    rate_limiter: RateLimiter
    users: dict[int, SimUser]
    chats: dict[int, SimChat]
    files: dict[str, StoredFile]
    blocked: set[int]
    deactivated: set[int]
    not_started: set[int]
    bot_groups: set[int]
    members: dict[int, dict[int, str]]
    deleted_topics: dict[int, dict[int, str]]
    bot_rights: dict[int, JSON]
    migrated: dict[int, int]
    callback_query_ttl: float
    local_mode: bool
    callbacks: dict[str, JSON]
    callback_answers: list[JSON]
    chat_actions: list[JSON]
    commands: dict[tuple[str, str], list[JSON]]
    descriptions: dict[tuple[str, str], str]
    webhook: JSON | None
    webhook_deliveries: list[JSON]
    webhook_retry_delays: tuple[float, ...] | None
    webhook_time_scale: float
    session: aiohttp.ClientSession | None

    @property
    def webhook_delivery(self) -> WebhookDelivery:
        """Return the webhook delivery."""
        ...

    # state changes and streams
    def notify(self) -> None:
        """Wake everything waiting for a state change."""
        ...

    def publish(self, chat_id: int, event: JSON) -> None:
        """Send an event to the web chat streams watching chat_id."""
        ...

    def subscribe(self, chat_id: int) -> asyncio.Queue[JSON | None]:
        """Return a queue receiving this chat's events."""
        ...

    def unsubscribe(self, chat_id: int, queue: asyncio.Queue[JSON | None]) -> None:
        """Stop delivering events to queue."""
        ...

    def wake_pollers(self) -> None:
        """Wake a waiting getUpdates."""
        ...

    # messages and files
    def next_message_id(self, chat_id: int) -> int:
        """Return the next message id in a chat."""
        ...

    def store_message(self, message: SimMessage) -> SimMessage:
        """Record a new message and announce it."""
        ...

    def message_changed(self, message: SimMessage) -> None:
        """Announce that a stored message was edited."""
        ...

    def remove_message(self, message: SimMessage) -> None:
        """Delete a stored message."""
        ...

    def get_message(self, chat_id: int, message_id: int) -> SimMessage | None:
        """Return a stored message or None."""
        ...

    def chat_messages(self, chat: ChatRef, after: int = 0) -> list[SimMessage]:
        """Return every message in a chat with message_id > after."""
        ...

    def new_file(
        self, data: bytes, file_name: str | None, mime_type: str | None, kind: str = "document"
    ) -> StoredFile:
        """Store bytes and return the file record."""
        ...

    # updates
    def emit(self, kind: str, payload: JSON) -> JSON:
        """Create an update and queue or deliver it."""
        ...

    def set_allowed_updates(self, allowed: Iterable[str] | None) -> None:
        """Apply an allowed_updates choice."""
        ...

    def pending_updates(self) -> list[JSON]:
        """Return updates waiting for getUpdates."""
        ...

    def drop_pending_updates(self) -> None:
        """Forget every queued update."""
        ...

    def confirm_updates(self, offset: int) -> None:
        """Drop updates below offset."""
        ...

    async def wait_for_updates(self, seconds: float) -> None:
        """Wait until an update is queued or the time passes."""
        ...

    async def begin_poll(self) -> asyncio.Event:
        """Register a getUpdates call."""
        ...

    def requeue_for_polling(self, updates: Iterable[JSON]) -> None:
        """Put webhook backlog back into the getUpdates queue."""
        ...

    # users, chats, members, topics
    def create_user(
        self,
        first_name: str = "Sanne",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "nl",
        *,
        started: bool = True,
    ) -> SimUser:
        """Create a user and their private chat."""
        ...

    def member_status(self, chat: ChatRef, user: ChatRef) -> str:
        """Return a user's status in a group."""
        ...

    def topic(self, group: ChatRef, thread_id: int) -> SimTopic | None:
        """Return one forum topic, or None."""
        ...

    def open_topic(
        self,
        group: SimChat,
        name: str,
        sender: JSON,
        *,
        icon_color: int = ...,
        icon_custom_emoji_id: str | None = None,
        sender_chat: SimChat | None = None,
    ) -> tuple[SimTopic, SimMessage]:
        """Create a topic and its service message."""
        ...

    def service_message(
        self,
        chat: SimChat,
        sender: JSON,
        content: JSON,
        thread_id: int | None = None,
        *,
        sender_chat: SimChat | None = None,
    ) -> SimMessage:
        """Store a service message."""
        ...

    def delete_topic(self, group: SimChat, thread_id: int) -> None:
        """Delete a topic and its messages."""
        ...

    # user actions (the web chat)
    async def user_sends(
        self,
        user: SimUser,
        text: str,
        chat: SimChat | None = None,
        *,
        message_thread_id: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSON:
        """Let a user send text."""
        ...

    async def user_sends_media(
        self,
        user: SimUser,
        kind: str = "sticker",
        caption: str | None = None,
        chat: SimChat | None = None,
        *,
        message_thread_id: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSON:
        """Let a user send media."""
        ...

    async def user_presses(
        self, user: SimUser, message_id: int, callback_data: str, chat: SimChat | None = None
    ) -> str:
        """Let a user press an inline button."""
        ...
