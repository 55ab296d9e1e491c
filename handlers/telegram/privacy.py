"""/privacy, /mijngegevens, /verwijderen and /stop; and noticing a blocked bot."""

from __future__ import annotations

from telegram import ChatMember, ChatMemberUpdated, Update
from telegram.constants import ChatType
from telegram.ext import BaseHandler, CallbackQueryHandler, ChatMemberHandler, CommandHandler

from bot.chat.commands import names
from handlers.telegram.common import PRIVATE, command, run
from handlers.telegram.context import AlumniContext


async def toggle_consent(update: Update, context: AlumniContext) -> None:
    """A tap on a consent toggle or an erase confirmation."""
    await run(update, context)


async def track_block(update: Update, context: AlumniContext) -> None:
    """Record when a person blocks or unblocks the bot in their private chat."""
    change: ChatMemberUpdated | None = update.my_chat_member
    if change is None or change.chat.type != ChatType.PRIVATE:
        return
    blocked = change.new_chat_member.status == ChatMember.BANNED
    context.update_claimed = True
    await context.conversation.set_reachable(
        change.chat.id, reachable=not blocked, update_id=update.update_id
    )


def handlers() -> list[BaseHandler[Update, AlumniContext, None]]:
    """Handlers of this feature."""
    return [
        CommandHandler(names("privacy"), command("privacy"), filters=PRIVATE),
        CommandHandler(names("mydata"), command("mydata"), filters=PRIVATE),
        CommandHandler(names("delete"), command("delete"), filters=PRIVATE),
        CommandHandler(names("stop"), command("stop"), filters=PRIVATE),
        CallbackQueryHandler(toggle_consent, pattern=r"^[cx]:"),
        ChatMemberHandler(track_block, ChatMemberHandler.MY_CHAT_MEMBER, chat_id=None),
    ]
