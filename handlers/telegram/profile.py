"""/profiel: view the profile and edit one part of it."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.chat.commands import names
from handlers.telegram.common import PRIVATE, command, run
from handlers.telegram.context import AlumniContext


async def edit_profile(update: Update, context: AlumniContext) -> None:
    """A tap on one of the profile's edit buttons."""
    await run(update, context)


def handlers() -> list[BaseHandler[Update, AlumniContext, None]]:
    """Handlers of this feature."""
    return [
        CommandHandler(names("profile"), command("profile"), filters=PRIVATE),
        CallbackQueryHandler(edit_profile, pattern=r"^p:"),
    ]
