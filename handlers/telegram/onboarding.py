"""/start, answers to the current question (typed or tapped), and the language choice."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.chat.commands import names
from handlers.telegram.common import PRIVATE, command, run
from handlers.telegram.context import AlumniContext


async def answer_step(update: Update, context: AlumniContext) -> None:
    """A typed message or a flow button: the service knows the current step."""
    await run(update, context)


def handlers() -> list[BaseHandler[Update, AlumniContext, None]]:
    """Handlers of this feature."""
    return [
        CommandHandler(names("start"), command("start"), filters=PRIVATE),
        CommandHandler(names("language"), command("language"), filters=PRIVATE),
        CallbackQueryHandler(answer_step, pattern=r"^[fl]:"),
        MessageHandler(
            PRIVATE & filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE, answer_step
        ),
    ]
