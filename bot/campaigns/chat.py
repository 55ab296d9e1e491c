"""The buttons under a pushed offer in the chat: interest, one-tap opt-out, a preview's."""

from __future__ import annotations

from bot.campaigns.service import OFFER_BUTTON, PREVIEW_BUTTON, CampaignService
from bot.chat.router import STALE, ChatRouter, Outcome, Reply, Turn
from bot.core.inbound import Inbound
from bot.core.messenger import Outgoing, Send
from bot.core.render import pick_locale


class OfferButtons:
    """Answers the buttons of pushes and digests."""

    def __init__(self, campaigns: CampaignService) -> None:
        self.campaigns = campaigns
        self.renderer = campaigns.deps.renderer

    async def respond(self, turn: Turn, value: tuple[str, int]) -> Outcome:
        """Interest or opt-out; only a recipient of the campaign can respond."""
        action, campaign_id = value
        block = await self.campaigns.respond(
            turn.tx, turn.alumnus, action, campaign_id, turn.event.update_id
        )
        if block is None:
            return STALE
        return Reply([Send(Outgoing(self.renderer.text(block, turn.locale)))])

    async def preview_tap(self, event: Inbound, campaign_id: int) -> str | None:
        """A button under a staff member's preview: it only says so, nothing is recorded."""
        return self.renderer.label("offers.preview_tap", pick_locale(event.language_code))


def register(router: ChatRouter, buttons: OfferButtons) -> None:
    """Register the push buttons."""
    router.button(OFFER_BUTTON, buttons.respond)
    router.personless_button(PREVIEW_BUTTON, buttons.preview_tap)
