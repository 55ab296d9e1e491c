"""A staff member opens their console link in Telegram (``/start staff-...``)."""

from __future__ import annotations

from bot.core.deps import Deps
from bot.core.inbound import Inbound
from bot.core.messenger import Outgoing, Send, UnreachableError
from bot.core.render import pick_locale
from bot.staff.service import StaffLinks


class StaffLinkChat:
    """Links the Telegram account that sends the link; never starts an alumnus' onboarding."""

    def __init__(self, deps: Deps, links: StaffLinks) -> None:
        self.deps = deps
        self.links = links

    async def redeem(self, event: Inbound, token: str) -> None:
        """Link this account to the member of the token; say only whether it is linked now.

        No person record is made for this chat.
        """
        async with self.deps.storage.transaction() as tx:
            if not await tx.updates.claim(event.update_id, self.deps.clock.now()):
                return
            outcome, name = await self.links.redeem(tx, token, event.chat_id)
        locale = pick_locale(event.language_code)
        text = self.deps.renderer.text(f"staff.link_{outcome}", locale, member=name)
        try:
            await self.deps.messenger.perform(event.chat_id, [Send(Outgoing(text))])
        except UnreachableError:
            return
