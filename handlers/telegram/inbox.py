"""The coordinator inbox in Telegram: /vraag, ratings, and the teams' staff groups."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.chat.commands import names
from bot.core.inbound import StaffInbound
from handlers.telegram.common import PRIVATE, command, media_of, run
from handlers.telegram.context import AlumniContext


async def answer_question_button(update: Update, context: AlumniContext) -> None:
    """A topic choice (``q:``) or a rating (``r:``)."""
    await run(update, context)


async def relay_staff_message(update: Update, context: AlumniContext) -> None:
    """A message in a staff group: the inbox decides whether it is an answer."""
    message = update.effective_message
    if message is None or update.effective_chat is None:
        return
    media, file_id = media_of(message)
    context.update_claimed = True
    await context.conversation.inbox.staff_message(
        StaffInbound(
            chat_id=update.effective_chat.id,
            update_id=update.update_id,
            message_id=message.message_id,
            thread_id=message.message_thread_id if message.is_topic_message else None,
            user_id=message.from_user.id if message.from_user else None,
            sender_chat_id=message.sender_chat.id if message.sender_chat else None,
            text=message.text or message.caption,
            media=media,
            file_id=file_id,
        )
    )


def handlers() -> list[BaseHandler[Update, AlumniContext, None]]:
    """Handlers of this feature."""
    return [
        CommandHandler(names("question"), command("question"), filters=PRIVATE),
        CallbackQueryHandler(answer_question_button, pattern=r"^[qr]:"),
        MessageHandler(
            filters.ChatType.SUPERGROUP & filters.UpdateType.MESSAGE & ~filters.StatusUpdate.ALL,
            relay_staff_message,
        ),
    ]
