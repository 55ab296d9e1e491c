"""The Telegram adapter of the :class:`bot.core.messenger.Messenger` protocol."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Sequence
from datetime import timedelta

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.core.messenger import (
    Action,
    Button,
    ClearButtons,
    DeliveryError,
    Edit,
    MaybeDeliveredError,
    Outgoing,
    RejectedError,
    RetryLaterError,
    Send,
    SendDocument,
    TransientError,
    UnreachableError,
)
from handlers.telegram.request import NOT_SENT

logger = logging.getLogger(__name__)

# Harmless answers to an edit: the message is already like that, or is gone.
_IGNORABLE_EDIT_ERRORS = ("message is not modified", "message to edit not found")


def keyboard(buttons: Sequence[Sequence[Button]]) -> InlineKeyboardMarkup | None:
    """Build an inline keyboard, or None for no buttons."""
    return _keyboard(tuple(tuple(row) for row in buttons))


@functools.lru_cache(maxsize=256)
def _keyboard(buttons: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup | None:
    # A campaign sends the same buttons to every recipient: PTB's objects are immutable,
    # so one keyboard serves them all instead of being built again for each send.
    rows = [
        [
            InlineKeyboardButton(b.text, url=b.url)
            if b.url
            else InlineKeyboardButton(b.text, callback_data=b.data)
            for b in row
        ]
        for row in buttons
        if row
    ]
    return InlineKeyboardMarkup(rows) if rows else None


PRIVATE_CHAT_INTERVAL = 1.0  # Telegram: about one message a second to one person
GROUP_MESSAGES_PER_MINUTE = 20  # Telegram: 20 messages a minute to one group


def chat_interval(chat_id: int, group_per_minute: float = GROUP_MESSAGES_PER_MINUTE) -> float:
    """Seconds between two messages to a chat, by Telegram's limits.

    Telegram's ids of groups, supergroups and channels are negative, a person's positive.
    """
    return 60.0 / group_per_minute if chat_id < 0 else PRIVATE_CHAT_INTERVAL


class TelegramMessenger:
    """Carries out actions through PTB's Bot (HTML parse mode comes from Defaults)."""

    def __init__(self, bot: Bot, group_per_minute: float = GROUP_MESSAGES_PER_MINUTE) -> None:
        self._bot = bot
        self._group_per_minute = group_per_minute

    def interval(self, chat_id: int) -> float:
        """Seconds between two messages to ``chat_id`` (see :func:`chat_interval`)."""
        return chat_interval(chat_id, self._group_per_minute)

    async def perform(self, chat_id: int, actions: Sequence[Action]) -> None:
        """Send, edit and clear in order; a blocked chat stops the rest.

        Raises:
            UnreachableError: the person blocked the bot (or left the group); the caller
                records it.
        """
        try:
            for action in actions:
                await self._perform(chat_id, action)
        except Forbidden as blocked:
            raise UnreachableError(str(blocked)) from blocked

    async def deliver(self, chat_id: int, message: Outgoing, thread_id: int | None = None) -> int:
        """Send one outbox message; translate PTB's errors into delivery outcomes."""
        try:
            sent = await self._bot.send_message(
                chat_id,
                message.text,
                reply_markup=keyboard(message.buttons),
                message_thread_id=thread_id,
            )
        except TelegramError as error:
            raise classify(error) from error
        return sent.message_id

    async def copy(
        self, chat_id: int, from_chat_id: int, message_id: int, thread_id: int | None = None
    ) -> int:
        """Copy a message (text, photo, document, voice...) into a chat or topic."""
        try:
            copied = await self._bot.copy_message(
                chat_id, from_chat_id, message_id, message_thread_id=thread_id
            )
        except TelegramError as error:
            raise classify(error) from error
        return copied.message_id

    async def create_topic(self, chat_id: int, name: str) -> int:
        """Create a forum topic; Telegram allows 1-128 characters."""
        try:
            topic = await self._bot.create_forum_topic(chat_id, name[:128] or "?")
        except TelegramError as error:
            raise classify(error) from error
        return topic.message_thread_id

    async def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """Delete a forum topic and every message in it (Bot API ``deleteForumTopic``).

        Needs the bot to be an administrator with ``can_delete_messages``, unless it created
        the topic (it creates every inbox topic).
        """
        try:
            await self._bot.delete_forum_topic(chat_id, thread_id)
        except TelegramError as error:
            raise classify(error) from error

    async def _perform(self, chat_id: int, action: Action) -> None:
        match action:
            case Send(message=message, thread_id=thread_id):
                await self._send(chat_id, message, thread_id)
            case Edit(message_id=message_id, message=message):
                await self._edit(
                    self._bot.edit_message_text(
                        message.text,
                        chat_id=chat_id,
                        message_id=message_id,
                        reply_markup=keyboard(message.buttons),
                    )
                )
            case ClearButtons(message_id=message_id):
                await self._edit(
                    self._bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id)
                )
            case SendDocument(filename=filename, data=data, caption=caption):
                await self._bot.send_document(
                    chat_id, InputFile(data, filename=filename), caption=caption
                )

    async def _send(self, chat_id: int, message: Outgoing, thread_id: int | None = None) -> int:
        sent = await self._bot.send_message(
            chat_id,
            message.text,
            reply_markup=keyboard(message.buttons),
            message_thread_id=thread_id,
        )
        return sent.message_id

    @staticmethod
    async def _edit(call: Awaitable[object]) -> None:
        try:
            await call
        except BadRequest as error:
            if not any(text in error.message.lower() for text in _IGNORABLE_EDIT_ERRORS):
                raise


def classify(error: TelegramError) -> DeliveryError:
    """Map a PTB error onto what the outbox must do (DESIGN.md, "Delivery")."""
    if isinstance(error, RetryAfter):
        delay = error.retry_after
        seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
        return RetryLaterError(seconds)
    if isinstance(error, Forbidden):
        return UnreachableError(error.message)
    if isinstance(error, BadRequest):
        return RejectedError(error.message)
    cause = error.__cause__
    if isinstance(error, TimedOut | NetworkError):
        if cause is None or isinstance(cause, NOT_SENT):
            # No transport cause: Telegram answered with a 5xx. A cause in NOT_SENT was
            # raised before the request left this machine. Either way nothing was sent.
            return TransientError(error.message)
        return MaybeDeliveredError(f"{type(cause).__name__}: {error.message}")
    return MaybeDeliveredError(error.message)
