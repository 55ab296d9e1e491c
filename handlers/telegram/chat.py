"""Every Telegram handler of the bot, in the one ordered list PTB tries them in.

Handlers only translate: an update becomes a neutral :class:`bot.core.inbound.Inbound` (or
``StaffInbound``) and goes to the chat router or the inbox. What a command or button does is
decided in ``bot/``, in the router's table.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import CallbackQuery, ChatMember, ChatMemberUpdated, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.chat.commands import COMMANDS, names
from bot.core.inbound import Inbound, StaffInbound
from bot.core.text import strip_controls
from bot.staff.service import STAFF_LINK_PREFIX
from handlers.telegram.context import AlumniContext
from handlers.telegram.rights import check_staff_groups

logger = logging.getLogger(__name__)

PRIVATE = filters.ChatType.PRIVATE
# The first that a message has names its kind: a GIF comes with a ``document`` as well
# (Bot API docs, Message.animation), so ``animation`` goes before it.
_MEDIA_KINDS = (
    "sticker",
    "photo",
    "voice",
    "video",
    "video_note",
    "audio",
    "animation",
    "document",
    "location",
    "contact",
    "poll",
    "dice",
    "venue",
)
Callback = Callable[[Update, AlumniContext], Coroutine[Any, Any, None]]


def handlers() -> list[BaseHandler[Update, AlumniContext, None]]:
    """All handlers of group 0, in order: PTB runs the first whose filter matches."""
    return [
        # A staff member's console link, before the /start of alumni.
        CommandHandler(
            names("start"),
            link_staff_account,
            filters=PRIVATE & filters.Regex(rf"^/\S+\s+{STAFF_LINK_PREFIX}"),
        ),
        # The command menu (Dutch names and English aliases); the router's table decides.
        *(CommandHandler(names(c.key), _command(c.key), filters=PRIVATE) for c in COMMANDS),
        MessageHandler(PRIVATE & filters.COMMAND, _command("unknown")),
        # An alumnus edits a message: the inbox passes it on if the team got the message.
        MessageHandler(PRIVATE & filters.UpdateType.EDITED_MESSAGE, relay_edit),
        # Typed text and media in a private chat, and every button press.
        MessageHandler(PRIVATE & filters.UpdateType.MESSAGE, route),
        CallbackQueryHandler(route),
        # The person blocked the bot, or came back.
        ChatMemberHandler(track_block, ChatMemberHandler.MY_CHAT_MEMBER, chat_id=None),
        # Messages in the teams' staff groups, and edits of them.
        MessageHandler(
            filters.ChatType.SUPERGROUP & filters.UpdateType.MESSAGE & ~filters.StatusUpdate.ALL,
            relay_staff_message,
        ),
        MessageHandler(
            filters.ChatType.SUPERGROUP
            & filters.UpdateType.EDITED_MESSAGE
            & ~filters.StatusUpdate.ALL,
            relay_staff_edit,
        ),
    ]


def media_of(message: Message | None) -> tuple[str | None, str | None]:
    """Return the kind of non-text content of a message and its file id, if any."""
    if message is None or message.text is not None:
        return None, None
    kind = next((k for k in _MEDIA_KINDS if getattr(message, k, None)), "other")
    content = getattr(message, kind, None)
    if isinstance(content, tuple):  # photo sizes: take the largest
        content = content[-1] if content else None
    return kind, getattr(content, "file_id", None)


def to_inbound(update: Update) -> Inbound:
    """Translate a Telegram update into the service's neutral event."""
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None
    query = update.callback_query
    message = update.effective_message if query is None else None
    media, file_id = media_of(message)
    if query is not None:
        message_id = query.message.message_id if query.message else None
    else:
        message_id = message.message_id if message is not None else None
    text = (message.text or message.caption) if message is not None else None
    # The text boundary: Telegram delivers valid UTF-8, but NUL and other control characters
    # get through, and PostgreSQL refuses NUL. Dropped, so the message itself still arrives.
    return Inbound(
        chat_id=chat.id,
        update_id=update.update_id,
        text=strip_controls(text) if text is not None else None,
        data=strip_controls(query.data) if query is not None and query.data is not None else None,
        message_id=message_id,
        media=media,
        file_id=file_id,
        first_name=strip_controls(user.first_name) if user else None,
        language_code=user.language_code if user else None,
    )


# Answer a button press within this many seconds, with the toast if the work is done by
# then and without it otherwise: Telegram forgets a press that is not answered in time
# (the client's spinner gives up, answerCallbackQuery then fails: docs/telegram-fidelity.md).
ANSWER_WITHIN = 1.0


async def route(update: Update, context: AlumniContext, command: str | None = None) -> None:
    """Hand an update to the chat router; always answer a button press, in time."""
    query = update.callback_query
    context.update_claimed = True
    work = context.graph.router.handle(to_inbound(update), command)
    if query is None:
        await work
        return
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=ANSWER_WITHIN)
    except BaseException:
        task.cancel()
        raise
    if not done:
        await _answer(query, None)  # the result follows as messages
        await task
        return
    try:
        toast = task.result()
    except BaseException:
        await _answer(query, None)
        raise
    await _answer(query, toast)


async def _answer(query: CallbackQuery, toast: str | None) -> None:
    """Answer a press; one Telegram forgot already (or cannot take now) is harmless.

    The action behind the press is saved either way: failing here would only bring an
    apology for something that went well.
    """
    try:
        await query.answer(toast)
    except TelegramError as error:
        logger.info("button press not answered (%s); harmless", error.message)


def _command(key: str) -> Callback:
    """Return a callback that routes the command ``key``."""

    async def callback(update: Update, context: AlumniContext) -> None:
        await route(update, context, key)

    callback.__name__ = f"route_{key}"
    return callback


async def link_staff_account(update: Update, context: AlumniContext) -> None:
    """``/start staff-<token>``: link this account, never start an alumnus' onboarding."""
    context.update_claimed = True
    token = context.args[0] if context.args else ""
    await context.graph.staff_link_chat.redeem(to_inbound(update), token)


async def track_block(update: Update, context: AlumniContext) -> None:
    """Record when a person blocks or unblocks the bot; re-check a staff group's rights.

    In a group, a change of the bot's own membership (made admin, given the right to manage
    topics) releases the relays that waited for it, without waiting for the next check.
    """
    change: ChatMemberUpdated | None = update.my_chat_member
    if change is None:
        return
    if change.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP):
        await check_staff_groups(context.application, only=change.chat.id)
        return
    if change.chat.type != ChatType.PRIVATE:
        return
    blocked = change.new_chat_member.status == ChatMember.BANNED
    context.update_claimed = True
    await context.graph.router.set_reachable(
        change.chat.id, reachable=not blocked, update_id=update.update_id
    )


async def relay_edit(update: Update, context: AlumniContext) -> None:
    """An alumnus edited a message: the inbox passes it on if it went to a team."""
    context.update_claimed = True
    await context.graph.inbox.alumnus_edited(to_inbound(update))


async def relay_staff_message(update: Update, context: AlumniContext) -> None:
    """A message in a staff group: the inbox decides whether it is an answer."""
    event = _staff_inbound(update)
    if event is None:
        return
    context.update_claimed = True
    await context.graph.inbox.staff_message(event)


async def relay_staff_edit(update: Update, context: AlumniContext) -> None:
    """An edited message in a staff group: the inbox decides whether it was an answer."""
    event = _staff_inbound(update)
    if event is None:
        return
    context.update_claimed = True
    await context.graph.inbox.staff_edited(event)


def _staff_inbound(update: Update) -> StaffInbound | None:
    """Translate a (new or edited) message in a group into the inbox's neutral event."""
    message = update.effective_message
    if message is None or update.effective_chat is None:
        return None
    media, file_id = media_of(message)
    text = message.text or message.caption
    return StaffInbound(
        chat_id=update.effective_chat.id,
        update_id=update.update_id,
        message_id=message.message_id,
        thread_id=message.message_thread_id if message.is_topic_message else None,
        user_id=message.from_user.id if message.from_user else None,
        sender_chat_id=message.sender_chat.id if message.sender_chat else None,
        text=strip_controls(text) if text is not None else None,
        media=media,
        file_id=file_id,
    )


async def claim_unhandled(update: Update, context: AlumniContext) -> None:
    """Claim updates no handler took, so a webhook replay never brings them back.

    Handlers claim their update inside the transaction that handles it and say so on the
    context, which PTB shares between the handler groups of one update.
    """
    if context.update_claimed:
        return
    deps = context.deps
    async with deps.storage.transaction() as tx:
        await tx.updates.claim(update.update_id, deps.clock.now())
