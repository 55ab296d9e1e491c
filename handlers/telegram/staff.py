"""A staff member links their Telegram account by the console's deep link (/start staff-...)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.chat.commands import names
from bot.staff.service import STAFF_LINK_PREFIX
from handlers.telegram.common import PRIVATE, to_inbound
from handlers.telegram.context import AlumniContext


async def link_account(update: Update, context: AlumniContext) -> None:
    """``/start staff-<token>``: link this account, never start an alumnus' onboarding."""
    context.update_claimed = True
    token = context.args[0] if context.args else ""
    await context.conversation.link_staff(to_inbound(update), token)


def handlers() -> list[BaseHandler[Update, AlumniContext, None]]:
    """Handlers of this feature; registered before onboarding's own /start."""
    return [
        CommandHandler(
            names("start"),
            link_account,
            filters=PRIVATE & filters.Regex(rf"^/\S+\s+{STAFF_LINK_PREFIX}"),
        )
    ]
