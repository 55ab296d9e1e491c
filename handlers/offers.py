"""The buttons under a pushed offer: interest and one-tap opt-out."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from handlers.common import run
from handlers.context import AlumniContext


async def answer_offer(update: Update, context: AlumniContext) -> None:
    """Answer the interest or opt-out button under a push."""
    await run(update, context)


def handlers() -> list[BaseHandler[Update, AlumniContext, None]]:
    """Handlers of this feature."""
    return [CallbackQueryHandler(answer_offer, pattern=r"^o:")]
