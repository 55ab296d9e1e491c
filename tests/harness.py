"""The app under test: its token and database, update tracking, a polling app, reading rows.

Plain helpers, not fixtures: ``tests/conftest.py`` builds its fixtures from them and test
modules import them from here.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select
from telegram import Update
from telegram.ext import TypeHandler

from bot.core.clock import FrozenClock
from bot.core.settings import Settings
from handlers.telegram.app import AlumniApplication, build_application, running
from storage.models import ConversationState, InboxConversation, SQLModel

TOKEN = "123456:TEST-alumnibot-token-abcdefghijklmnop"
TEST_DB = os.environ.get("ALUMNIBOT_TEST_DB", "sqlite")


class Processed:
    """Knows which update ids the app has finished, so tests wait on events, not sleeps."""

    def __init__(self) -> None:
        self.ids: set[int] = set()
        self._changed = asyncio.Condition()

    async def mark(self, update: Update, _context: Any) -> None:
        async with self._changed:
            self.ids.add(update.update_id)
            self._changed.notify_all()

    async def wait(self, update_id: int, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: update_id in self.ids)


_TRACKERS: dict[int, Processed] = {}


def track(application: AlumniApplication) -> Processed:
    """Add a last-group handler that records each finished update."""
    processed = Processed()
    application.add_handler(TypeHandler(Update, processed.mark), group=99)
    _TRACKERS[id(application)] = processed
    return processed


def processed_of(application: AlumniApplication) -> Processed:
    """Return the tracker of an application started by these fixtures."""
    return _TRACKERS[id(application)]


@asynccontextmanager
async def polling_app(
    settings: Settings, clock: FrozenClock, *, dispatch: bool = True
) -> AsyncIterator[AlumniApplication]:
    """Run a real Application long-polling the simulator, as ``alumnibot run`` does.

    ``dispatch=False`` leaves its outbox dispatcher idle: nothing it queues is sent until
    the test sends the queue itself.
    """
    application = build_application(settings, clock=clock)
    track(application)
    async with running(application, dispatch=dispatch):
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(timeout=1, poll_interval=0)
        try:
            yield application
        finally:
            await application.updater.stop()
            await application.stop()


async def settle(app) -> None:
    """Let the dispatcher handle everything due."""
    dispatcher = app.bot_data.graph.dispatcher
    dispatcher.wake()
    await dispatcher.idle()


async def rows(app: AlumniApplication, model: type) -> list:
    async with app.bot_data.graph.deps.storage.transaction() as tx:
        return list((await tx.session.execute(select(model))).scalars())


async def conversation_of(app, first_name: str) -> InboxConversation:
    deps = app.bot_data.graph.deps
    async with deps.storage.transaction() as tx:
        [(conversation, _)] = [
            (c, a)
            for c, a in await tx.inbox.listing([t.id for t in await tx.teams.all()], None, None)
            if a.first_name == first_name
        ]
    return conversation


async def state_of(app) -> ConversationState:
    """The one open conversation state."""
    [state] = await rows(app, ConversationState)
    return state


async def the_conversation(app) -> InboxConversation:
    """The one inbox conversation."""
    [conversation] = await rows(app, InboxConversation)
    return conversation


async def everything_in_the_database(app) -> str:
    """Every row of every table, as text."""
    dump = []
    async with app.bot_data.graph.deps.storage.transaction() as tx:
        for table in SQLModel.metadata.sorted_tables:
            for row in (await tx.session.execute(select(table))).all():
                dump.append(f"{table.name}: {tuple(row)!r}")
    return "\n".join(dump)
