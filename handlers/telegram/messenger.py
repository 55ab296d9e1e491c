"""The Telegram adapter of the :class:`bot.core.messenger.Messenger` protocol."""

from __future__ import annotations

import asyncio
import functools
import html
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.core.messenger import (
    Action,
    Button,
    ChatMovedError,
    ClearButtons,
    DeliveryError,
    Edit,
    MaybeDeliveredError,
    MissingRightsError,
    Outgoing,
    RejectedError,
    RetryLaterError,
    Send,
    SendDocument,
    TopicGoneError,
    TransientError,
    UncopyableError,
    UnreachableError,
)
from handlers.telegram.request import NOT_SENT, AiohttpRequest

logger = logging.getLogger(__name__)

# Harmless answers to an edit: the message is already like that, or is gone.
_IGNORABLE_EDIT_ERRORS = ("message is not modified", "message to edit not found")

# A forum topic that is no more. The Bot API server answers "message thread not found" for a
# topic it checks and cannot find (telegram-bot-api Client.cpp, TdOnCheckForumTopicCallback);
# Telegram's servers answer TOPIC_DELETED / TOPIC_ID_INVALID for one its cache still knew,
# and TOPIC_CLOSED when the bot may not post in a closed topic (tdlib ForumTopicManager.cpp).
TOPIC_GONE = ("message thread not found", "topic_deleted", "topic_id_invalid", "topic_closed")

# createForumTopic without the right (telegram-bot-api Client.cpp).
_NO_TOPIC_RIGHTS = ("not enough rights to create a topic", "chat_admin_required")

# copyMessage of a message Telegram will not copy: a service message, a quiz whose answer
# the bot does not know, a giveaway, an invoice, paid or self-destructing media. tdlib
# (MessagesManager::forward_message) answers "The message can't be copied", which the Bot
# API server passes on as "the message can't be copied"; "can't be forwarded" is its
# wording for the same refusal elsewhere (tdlib can_forward_message_content).
_UNCOPYABLE = ("can't be copied", "can't be forwarded")


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


TEXT_LIMIT = 4096  # Telegram: characters of one message's text
_TAG = re.compile(r"<[^>]*>")  # the bot's own HTML: tags, never a bare "<" (escaped)


def fits(text: str) -> bool:
    """Whether an HTML text fits in one Telegram message.

    Telegram counts the characters of the text after entity parsing (tdlib's utf8_length of
    the parsed text; the Bot API docs say "after entities parsing"): tags do not count, an
    entity such as ``&amp;`` is one character, an emoji one. Measuring the HTML source
    instead refused a coordinator's answer full of "&" that Telegram would take.
    """
    return len(html.unescape(_TAG.sub("", text))) <= TEXT_LIMIT


# How long a direct reply may wait in all for Telegram's "retry after": a person just did
# something and waits for the answer. A longer wait hands the rest to the outbox.
PERFORM_WAIT = 5.0

# Receives the replies ``perform`` could not send in time (chat id, sends in order, each
# with the forum topic it was meant for, and the seconds Telegram asked to wait).
Deferrer = Callable[[int, Sequence[Send], float], Awaitable[None]]


class TelegramMessenger:
    """Carries out actions through PTB's Bot (HTML parse mode comes from Defaults)."""

    def __init__(
        self,
        bot: Bot,
        group_per_minute: float = GROUP_MESSAGES_PER_MINUTE,
        *,
        wait_bound: float = PERFORM_WAIT,
    ) -> None:
        self._bot = bot
        self._group_per_minute = group_per_minute
        self._on_deferred: Deferrer | None = None
        self._wait_bound = wait_bound

    def defer_to(self, on_deferred: Deferrer) -> None:
        """Hand direct replies Telegram will take only much later to ``on_deferred``.

        Set by the application once the outbox exists (the outbox is built on this
        messenger, so it cannot be passed in).
        """
        self._on_deferred = on_deferred

    def interval(self, chat_id: int) -> float:
        """Seconds between two messages to ``chat_id`` (see :func:`chat_interval`)."""
        return chat_interval(chat_id, self._group_per_minute)

    def fits(self, text: str) -> bool:
        """Whether ``text`` fits in one message (see :func:`fits`)."""
        return fits(text)

    async def perform(self, chat_id: int, actions: Sequence[Action]) -> None:
        """Send, edit and clear in order, as Telegram allows.

        A blocked chat raises :class:`UnreachableError` (the caller records it) and stops
        the rest. Telegram's "retry after" is waited
        for within ``wait_bound`` seconds in all; a longer one hands the remaining replies to
        the outbox (``on_deferred``). A call that may have arrived (a timeout after the
        request went out) is not repeated and not an error: what the person did is saved.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait_bound
        pending = list(actions)
        try:
            while pending:
                try:
                    await self._perform(chat_id, pending[0])
                except RetryAfter as error:
                    delay = _seconds(error.retry_after)
                    if loop.time() + delay > deadline:
                        await self._defer(chat_id, pending, delay)
                        return
                    logger.info("chat %s: Telegram asks to wait %.0fs; waiting", chat_id, delay)
                    await asyncio.sleep(delay)
                    continue
                except (TimedOut, NetworkError) as error:
                    if isinstance(error, BadRequest) or not isinstance(
                        classify(error), MaybeDeliveredError
                    ):
                        raise
                    logger.warning(
                        "chat %s: a reply may have arrived (%s); not sent again", chat_id, error
                    )
                pending.pop(0)
        except Forbidden as blocked:
            raise UnreachableError(str(blocked)) from blocked

    async def _defer(self, chat_id: int, actions: Sequence[Action], delay: float) -> None:
        """Hand replies Telegram will not take soon to the outbox; edits become messages.

        A send keeps its forum topic: a reply in a staff topic must not land in the group's
        General topic.
        """
        sends: list[Send] = []
        for action in actions:
            match action:
                case Send():
                    sends.append(action)
                case Edit(message=message):
                    sends.append(Send(message))
                case SendDocument():
                    logger.warning("chat %s: a document reply was dropped (rate limit)", chat_id)
        logger.warning(
            "chat %s: Telegram asks to wait %.0fs; %d replies go through the outbox",
            chat_id,
            delay,
            len(sends),
        )
        if sends and self._on_deferred is not None:
            await self._on_deferred(chat_id, sends, delay)

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
        return RetryLaterError(_seconds(error.retry_after))
    if isinstance(error, ChatMigrated):
        # 400 with parameters.migrate_to_chat_id: nothing was sent to the old group.
        return ChatMovedError(error.new_chat_id)
    if isinstance(error, Forbidden):
        return UnreachableError(error.message)
    if isinstance(error, BadRequest):
        text = error.message.lower()
        if any(gone in text for gone in TOPIC_GONE):
            return TopicGoneError(error.message)
        if any(words in text for words in _NO_TOPIC_RIGHTS):
            return MissingRightsError("can_manage_topics", error.message)
        if any(words in text for words in _UNCOPYABLE):
            return UncopyableError(error.message)
        return RejectedError(error.message)
    cause = error.__cause__
    if isinstance(error, TimedOut | NetworkError):
        if cause is None or isinstance(cause, NOT_SENT):
            # No transport cause: Telegram answered with a 5xx. A cause in NOT_SENT was
            # raised before the request left this machine. Either way nothing was sent.
            return TransientError(error.message)
        return MaybeDeliveredError(f"{type(cause).__name__}: {error.message}")
    return MaybeDeliveredError(error.message)


def _seconds(delay: timedelta | float) -> float:
    return delay.total_seconds() if isinstance(delay, timedelta) else float(delay)


async def staff_group_problems(bot: Bot, chat_id: int) -> list[str]:
    """Return what an admin must change so the bot can relay into a staff group.

    Codes (``content/<locale>/staff.j2`` has the words): ``not_member`` (add the bot),
    ``not_forum`` (turn on topics), ``not_admin`` (a member bot in privacy mode sees no
    ordinary group messages and may not create topics), ``no_manage_topics`` (the admin
    right "Manage topics", needed for createForumTopic). Empty: all is well.
    """
    try:
        chat = await bot.get_chat(chat_id)
        member = await bot.get_chat_member(chat_id, bot.id)
    except (BadRequest, Forbidden):
        return ["not_member"]
    problems = [] if chat.is_forum else ["not_forum"]
    if member.status in ("left", "kicked"):
        problems.append("not_member")
    elif member.status == "member":
        problems.append("not_admin")
    elif member.status == "administrator" and not getattr(member, "can_manage_topics", False):
        problems.append("no_manage_topics")
    return problems


async def check_group_rights(token: str, api_url: str | None, chat_id: int) -> list[str]:
    """Check one staff group with a Bot of its own (for the CLI); return problem codes."""
    bot = Bot(token, base_url=api_url or "https://api.telegram.org/bot", request=AiohttpRequest())
    async with bot:
        return await staff_group_problems(bot, chat_id)
