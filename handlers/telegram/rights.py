"""The bot's rights in the teams' staff groups: checked at start and whenever they change."""

from __future__ import annotations

import logging
from typing import Any

from telegram.ext import Application

from handlers.telegram.context import BotData
from handlers.telegram.messenger import staff_group_problems

logger = logging.getLogger(__name__)


async def check_staff_groups(
    application: Application[Any, Any, Any, Any, BotData, Any], only: int | None = None
) -> dict[str, list[str]]:
    """Check the bot's rights in every team's group; log what to change; release relays.

    A group where all is well gets its relays that waited for rights sent now, in order.
    Returns the problems per team code. ``only``: check just the group with this chat id
    (its rights just changed).
    """
    deps = application.bot_data.graph.deps
    async with deps.storage.transaction() as tx:
        teams = [t for t in await tx.teams.all() if t.chat_id is not None]
    if only is not None:
        teams = [t for t in teams if t.chat_id == only]
    found: dict[str, list[str]] = {}
    for team in teams:
        assert team.chat_id is not None
        problems = await staff_group_problems(application.bot, team.chat_id)
        found[team.code] = problems
        for problem in problems:
            logger.warning(
                "staff group of team %s: %s",
                team.code,
                deps.renderer.text(f"staff.rights_{problem}", "en"),
            )
        if not problems:
            async with deps.storage.transaction() as tx:
                released = await tx.inbox.release_relays(team.chat_id, deps.clock.now())
            if released:
                logger.info("team %s: %d relays waited for rights; sending", team.code, released)
                application.bot_data.graph.dispatcher.wake()
    return found
