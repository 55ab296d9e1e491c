"""Privacy rights in the chat: /privacy, /mijngegevens, /verwijderen, /stop and their buttons."""

from __future__ import annotations

import logging

from bot.chat.router import ChatRouter, Outcome, Reply, Turn
from bot.core.messenger import ClearButtons, Edit, Outgoing
from bot.privacy.service import CONSENT_BUTTON, ERASE_BUTTON, ERASE_NO, PrivacyService

logger = logging.getLogger(__name__)


class PrivacyChat:
    """What the privacy commands and buttons answer."""

    def __init__(self, privacy: PrivacyService) -> None:
        self.privacy = privacy
        self.renderer = privacy.deps.renderer

    async def overview(self, turn: Turn) -> Outcome:
        """/privacy: each purpose with a switch."""
        return Reply(await self.privacy.overview(turn.tx, turn.alumnus))

    async def export(self, turn: Turn) -> Outcome:
        """/mijngegevens: everything held, as a file and a summary."""
        return Reply(await self.privacy.export(turn.tx, turn.alumnus))

    async def ask_erase(self, turn: Turn) -> Outcome:
        """/verwijderen: ask for confirmation with a signed button."""
        return Reply(self.privacy.ask_erase(turn.alumnus))

    async def stop(self, turn: Turn) -> Outcome:
        """/stop: withdraw every consent."""
        return Reply(await self.privacy.stop(turn.tx, turn.alumnus, turn.event.update_id))

    async def toggle(self, turn: Turn, purpose: str) -> Outcome:
        """A switch on the /privacy screen."""
        actions, toast = await self.privacy.toggle(
            turn.tx, turn.alumnus, purpose, turn.event.message_id or 0, turn.event.update_id
        )
        return Reply(actions, toast)

    async def erase(self, turn: Turn, token: str) -> Outcome:
        """The erase confirmation: cancel, refuse an expired one, or erase everything."""
        text, message_id = self.renderer.text, turn.event.message_id or 0
        if token == ERASE_NO:
            return Reply(
                [Edit(message_id, Outgoing(text("privacy.erase_cancelled", turn.locale)))]
            )
        if not self.privacy.erase_token_valid(turn.alumnus.chat_id, token):
            return Reply(
                [ClearButtons(message_id)],
                self.renderer.label("privacy.erase_expired", turn.locale),
            )
        locale = turn.locale
        await self.privacy.erase(turn.tx, turn.alumnus)
        turn.state = None  # erased with the person
        logger.info("alumnus erased on request")
        return Reply([Edit(message_id, Outgoing(text("privacy.erased", locale)))])


def register(router: ChatRouter, chat: PrivacyChat) -> None:
    """Register the privacy commands and buttons."""
    router.command("privacy", chat.overview)
    router.command("mydata", chat.export)
    router.command("delete", chat.ask_erase)
    router.command("stop", chat.stop)
    router.button(CONSENT_BUTTON, chat.toggle)
    router.button(ERASE_BUTTON, chat.erase)
