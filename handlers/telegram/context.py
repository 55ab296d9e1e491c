"""Typed access to the services from a handler (instead of ``bot_data["x"]`` lookups)."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.core.deps import Deps
from handlers.graph import Graph


class BotData:
    """What the application keeps for its handlers: the service graph."""

    graph: Graph


class AlumniContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """CallbackContext with properties for the services."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        # Set by a handler that claimed the update in its own transaction (see chat.py).
        self.update_claimed = False

    @property
    def graph(self) -> Graph:
        """Return every service."""
        return self.bot_data.graph

    @property
    def deps(self) -> Deps:
        """Return settings, storage, renderer, catalogue, clock and messenger."""
        return self.bot_data.graph.deps
