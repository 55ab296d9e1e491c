"""The aiohttp webhook endpoint and /healthz.

An update is written to ``inbound_update`` before Telegram gets its 2xx, so a crash after
the answer loses nothing: start-up replays what was received but never processed.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any

from aiohttp import web
from telegram import Update

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
RECEIPTS_KEY: web.AppKey[Any] = web.AppKey("receipts", object)


class Receipts:
    """Group commit for incoming updates: those that arrive together share one transaction.

    Each request still gets its 2xx only after its update is committed; under load (Telegram
    sends up to 40 at once) this turns forty transactions into a few.
    """

    def __init__(self, application: Any) -> None:
        self._application = application
        self._pending: list[tuple[int, dict[str, Any], asyncio.Future[bool]]] = []
        self._flushing = False
        self._task: asyncio.Task[None] | None = None  # held: an unreferenced task may vanish

    async def store(self, update_id: int, payload: dict[str, Any]) -> bool:
        """Store an update durably; return False if its id was seen before."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((update_id, payload, future))
        if not self._flushing:
            self._flushing = True
            self._task = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        deps = self._application.bot_data.graph.deps
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                first: dict[int, dict[str, Any]] = {}
                for update_id, payload, _ in batch:
                    first.setdefault(update_id, payload)
                try:
                    async with deps.storage.transaction() as tx:
                        fresh = await tx.updates.receive_many(
                            list(first.items()), deps.clock.now()
                        )
                except Exception as error:
                    for _, _, future in batch:
                        future.set_exception(error)
                    continue
                answered: set[int] = set()
                for update_id, _, future in batch:
                    # Of the same id twice in one batch, only the first counts as new.
                    future.set_result(update_id in fresh and update_id not in answered)
                    answered.add(update_id)
        finally:
            self._flushing = False


APPLICATION_KEY: web.AppKey[Any] = web.AppKey("application", object)
SECRET_KEY: web.AppKey[str] = web.AppKey("secret", str)


async def receive_update(request: web.Request) -> web.Response:
    """Check the secret, store the update durably, queue it, then answer 200."""
    secret = request.app[SECRET_KEY]
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        logger.warning("webhook call with a missing or wrong secret token refused")
        return web.json_response({"ok": False}, status=403)
    try:
        payload = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return web.json_response({"ok": False, "error": "invalid JSON"}, status=400)
    update_id = payload.get("update_id") if isinstance(payload, dict) else None
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        return web.json_response({"ok": False, "error": "no update_id"}, status=400)

    application = request.app[APPLICATION_KEY]
    fresh = await request.app[RECEIPTS_KEY].store(update_id, payload)
    if fresh:
        await application.update_queue.put(Update.de_json(payload, application.bot))
    else:
        logger.info("update %s received before; not queued again", update_id)
    return web.json_response({"ok": True})


async def health(request: web.Request) -> web.Response:
    """Report whether the database answers."""
    deps = request.app[APPLICATION_KEY].bot_data.graph.deps
    try:
        await deps.storage.ping()
    except Exception:
        logger.exception("health check: database unreachable")
        return web.json_response({"status": "unhealthy"}, status=503)
    return web.json_response({"status": "ok"})


def webhook_app(application: Any, secret: str, path: str) -> web.Application:
    """Build the aiohttp app that receives updates at ``path``."""
    app = web.Application(client_max_size=1024 * 1024)
    app[APPLICATION_KEY] = application
    app[SECRET_KEY] = secret
    app[RECEIPTS_KEY] = Receipts(application)
    app.router.add_post(path, receive_update)
    app.router.add_get("/healthz", health)
    return app


async def replay_unprocessed(application: Any) -> int:
    """Queue updates that were received (and answered) but never processed."""
    deps = application.bot_data.graph.deps
    async with deps.storage.transaction() as tx:
        payloads = await tx.updates.unclaimed()
    for payload in payloads:
        await application.update_queue.put(Update.de_json(payload, application.bot))
    if payloads:
        logger.info("replaying %d updates received before a restart", len(payloads))
    return len(payloads)
