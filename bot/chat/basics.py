"""What every chat has whatever the features: /help."""

from __future__ import annotations

from bot.chat.router import ChatRouter, Outcome, Reply, Turn
from bot.core.deps import Deps
from bot.core.messenger import Outgoing, Send


def register(router: ChatRouter, deps: Deps) -> None:
    """Register /help."""

    async def show_help(turn: Turn) -> Outcome:
        text = deps.renderer.text(
            "common.help", turn.locale, onboarded=turn.alumnus.onboarded_at is not None
        )
        return Reply([Send(Outgoing(text))])

    router.command("help", show_help)
