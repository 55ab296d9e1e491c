"""The buttons under a pushed offer: interest and one-tap opt-out (and a preview's)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from bot.core.render import pick_locale
from handlers.telegram.common import run
from handlers.telegram.context import AlumniContext


async def answer_offer(update: Update, context: AlumniContext) -> None:
    """Answer the interest or opt-out button under a push."""
    await run(update, context)


async def answer_preview(update: Update, context: AlumniContext) -> None:
    """A button under a staff member's preview: it only says so, nothing is recorded."""
    query = update.callback_query
    assert query is not None
    locale = pick_locale(query.from_user.language_code)
    await query.answer(context.deps.renderer.label("offers.preview_tap", locale))


def handlers() -> list[BaseHandler[Update, AlumniContext, None]]:
    """Handlers of this feature (the preview's pattern first: it is the narrower one)."""
    return [
        CallbackQueryHandler(answer_preview, pattern=r"^o:p:\d+$"),
        CallbackQueryHandler(answer_offer, pattern=r"^o:"),
    ]
