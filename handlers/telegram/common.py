"""Shared handler plumbing, plus /help, unknown commands, media and stale buttons."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Message, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.chat.commands import names
from bot.core.inbound import Inbound
from bot.core.text import strip_controls
from handlers.telegram.context import AlumniContext

logger = logging.getLogger(__name__)

PRIVATE = filters.ChatType.PRIVATE

_MEDIA_KINDS = (
    "sticker",
    "photo",
    "voice",
    "video",
    "video_note",
    "audio",
    "document",
    "animation",
    "location",
    "contact",
    "poll",
    "dice",
    "venue",
)


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


async def run(update: Update, context: AlumniContext, command: str | None = None) -> None:
    """Hand an update to the conversation service; always answer a button press."""
    query = update.callback_query
    context.update_claimed = True
    try:
        toast = await context.conversation.handle(to_inbound(update), command)
    except BaseException:
        if query is not None:
            await query.answer()
        raise
    if query is not None:
        await query.answer(toast)


Callback = Callable[[Update, AlumniContext], Coroutine[Any, Any, None]]


def command(name: str) -> Callback:
    """Return a callback that runs the named command."""

    async def callback(update: Update, context: AlumniContext) -> None:
        await run(update, context, name)

    callback.__name__ = f"run_{name}"
    return callback


async def claim_unhandled(update: Update, context: AlumniContext) -> None:
    """Claim updates no feature handled, so a webhook replay never brings them back.

    Features claim their update inside the transaction that handles it and say so on the
    context, which PTB shares between the handler groups of one update.
    """
    if context.update_claimed:
        return
    deps = context.deps
    async with deps.storage.transaction() as tx:
        await tx.updates.claim(update.update_id, deps.clock.now())


async def relay_media(update: Update, context: AlumniContext) -> None:
    """Stickers, photos, voice...: the service answers politely."""
    await run(update, context)


async def answer_unknown_command(update: Update, context: AlumniContext) -> None:
    """A command we do not know."""
    await run(update, context, "unknown")


async def answer_stale_button(update: Update, context: AlumniContext) -> None:
    """A button whose data matches no feature: old or forged."""
    await run(update, context)


def handlers() -> list[BaseHandler[Update, AlumniContext, None]]:
    """/help, then the catch-alls; these must be registered after the feature handlers."""
    return [
        CommandHandler(names("help"), command("help"), filters=PRIVATE),
        MessageHandler(PRIVATE & filters.COMMAND, answer_unknown_command),
        MessageHandler(PRIVATE & ~filters.TEXT & filters.UpdateType.MESSAGE, relay_media),
        CallbackQueryHandler(answer_stale_button),
    ]
