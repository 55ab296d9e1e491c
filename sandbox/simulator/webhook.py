"""Delivery of updates to the bot's webhook, in order per chat, with retries."""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from sandbox.simulator.state import SimState

JSON = dict[str, Any]

# telegram-bot-api WebhookActor.h / .cpp
MAX_RESEND = 60.0  # WEBHOOK_MAX_RESEND_TIMEOUT: the back-off tops out at 60-120 s
DROP_AFTER = 23 * 3600.0  # WEBHOOK_DROP_TIMEOUT: undeliverable updates are dropped
MAX_RETRY_AFTER = 3600  # a webhook's own Retry-After is honoured up to an hour


class WebhookDispatcher:
    """POSTs updates to ``sim.webhook["url"]``.

    Updates of one chat go out one at a time and in order (a failing update is retried, with
    Telegram's back-off, before later updates of that chat are sent);
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
        """POST one update until the webhook takes it, backing off like Telegram.

        telegram-bot-api WebhookActor.cpp (on_update_error): the first failure is retried
        at once, later ones after a delay that starts at 2 s and doubles up to a random
        60-120 s; a 429 answer's Retry-After (at most 3600 s) is waited instead; an update
        that cannot be delivered within 23 hours of its creation is dropped.
        """
        sim = self._sim
        fixed = sim.webhook_retry_delays
        delay, fails, waited = 1.0, 0, 0.0
        while True:
            webhook = sim.webhook
            if webhook is None or sim.session is None:
                return False
            headers = {}
            if webhook.get("secret_token"):
                headers["X-Telegram-Bot-Api-Secret-Token"] = webhook["secret_token"]
            record: JSON = {"update_id": update["update_id"], "attempt": fails + 1}
            retry_after = 0
            async with self._semaphore:
                try:
                    async with sim.session.post(
                        webhook["url"], json=update, headers=headers
                    ) as response:
                        await response.read()
                        record["status"] = response.status
                        if response.status == 429:
                            retry_after = _retry_after(response.headers.get("Retry-After"))
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
            if fixed is not None:
                if fails >= len(fixed):
                    break
                wait = fixed[fails]
            else:
                wait = float(retry_after)
                if retry_after == 0 and fails > 0:
                    delay = min(random.uniform(MAX_RESEND, 2 * MAX_RESEND), delay * 2)
                    wait = delay
                if waited + wait > DROP_AFTER:
                    break
            record["next_try_in"] = wait
            fails += 1
            waited += wait
            await asyncio.sleep(wait * (1.0 if fixed is not None else sim.webhook_time_scale))
        sim.webhook_deliveries.append({"update_id": update["update_id"], "gave_up": True})
        return False


def _retry_after(header: str | None) -> int:
    """Read a webhook's Retry-After (seconds), clamped like Telegram to 0-3600."""
    try:
        return max(0, min(MAX_RETRY_AFTER, int(header or 0)))
    except ValueError:
        return 0
