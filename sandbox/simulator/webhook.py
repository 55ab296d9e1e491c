"""Delivery of updates to the bot's webhook, in order per chat, with retries."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from sandbox.simulator.state import SimState

JSON = dict[str, Any]


class WebhookDispatcher:
    """POSTs updates to ``sim.webhook["url"]``.

    Updates of one chat go out one at a time and in order (a failing update is retried with
    ``sim.webhook_retry_delays`` between tries before later updates of that chat are sent);
    different chats are delivered concurrently, up to the webhook's max_connections.
    """

    def __init__(self, sim: SimState) -> None:
        self._sim = sim
        self._queues: dict[int, deque[JSON]] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._semaphore = asyncio.Semaphore(40)
        self.last_error_date: int | None = None
        self.last_error_message: str | None = None

    def configure(self, max_connections: int) -> None:
        """Set the number of concurrent deliveries."""
        self._semaphore = asyncio.Semaphore(max_connections)

    @property
    def pending_count(self) -> int:
        """Return the number of updates not yet delivered."""
        return sum(len(queue) for queue in self._queues.values())

    def enqueue(self, update: JSON) -> None:
        """Queue an update for delivery."""
        from sandbox.simulator.updates import update_chat_id

        key = update_chat_id(update)
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
        queue.append(update)
        if key not in self._tasks:
            self._tasks[key] = asyncio.get_running_loop().create_task(self._drain(key))

    def clear(self) -> None:
        """Forget queued updates (those being sent right now still finish)."""
        for queue in self._queues.values():
            while len(queue) > 1:
                queue.pop()

    def take_backlog(self) -> list[JSON]:
        """Stop delivering and return the updates not yet sent, for getUpdates."""
        backlog = [u for queue in self._queues.values() for u in queue]
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
        self._queues.clear()
        return sorted(backlog, key=lambda u: int(u["update_id"]))

    async def close(self) -> None:
        """Cancel all deliveries."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._queues.clear()

    async def _drain(self, key: int) -> None:
        queue = self._queues[key]
        try:
            while queue and self._sim.webhook is not None:
                await self._deliver(queue[0])
                if queue:
                    queue.popleft()
                self._sim.notify()
        finally:
            if self._tasks.get(key) is asyncio.current_task():
                del self._tasks[key]
                if not queue:
                    self._queues.pop(key, None)

    async def _deliver(self, update: JSON) -> bool:
        sim = self._sim
        delays = sim.webhook_retry_delays
        for attempt in range(len(delays) + 1):
            webhook = sim.webhook
            if webhook is None or sim.session is None:
                return False
            headers = {}
            if webhook.get("secret_token"):
                headers["X-Telegram-Bot-Api-Secret-Token"] = webhook["secret_token"]
            record: JSON = {"update_id": update["update_id"], "attempt": attempt + 1}
            async with self._semaphore:
                try:
                    async with sim.session.post(
                        webhook["url"], json=update, headers=headers
                    ) as response:
                        await response.read()
                        record["status"] = response.status
                except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                    record["error"] = f"{exc.__class__.__name__}: {exc}"
            sim.webhook_deliveries.append(record)
            status = record.get("status")
            if isinstance(status, int) and 200 <= status < 300:
                sim.notify()
                return True
            self.last_error_date = int(time.time())
            self.last_error_message = (
                f"Wrong response from the webhook: {status}"
                if status is not None
                else record["error"]
            )
            sim.notify()
            if attempt < len(delays):
                await asyncio.sleep(delays[attempt])
        sim.webhook_deliveries.append({"update_id": update["update_id"], "gave_up": True})
        return False
