"""Token buckets that reproduce Telegram's sending limits.

Telegram documents "about 30 messages per second" per bot, "no more than one message per
second" in a single chat with short bursts tolerated, and "no more than 20 messages per minute"
in a group. The buckets below encode that as:

- overall: capacity 30, refilled at 30 per second;
- private chat: capacity 3, refilled at 1 per second (the tolerated short burst);
- group or supergroup: capacity 20, refilled at 20 per minute.

A send must find a token in both its chat bucket and the overall bucket; when it does not, the
answer is 429 with ``retry_after`` = seconds until a token is free, rounded up, at least 1.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class TokenBucket:
    """A token bucket refilled continuously at ``rate`` tokens per second."""

    capacity: float
    rate: float
    tokens: float
    updated: float

    def wait_time(self, now: float) -> float:
        """Refill and return seconds until one token is available (0 if one is)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


class RateLimiter:
    """Telegram's overall, per-private-chat and per-group send limits."""

    GLOBAL = (30.0, 30.0)
    PRIVATE = (3.0, 1.0)
    GROUP = (20.0, 20.0 / 60.0)

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._global = self._bucket(self.GLOBAL)
        self._chats: dict[int, TokenBucket] = {}

    def _bucket(self, spec: tuple[float, float]) -> TokenBucket:
        capacity, rate = spec
        return TokenBucket(capacity, rate, capacity, self._clock())

    def acquire(self, chat_id: int, is_group: bool) -> int:
        """Take a token for a send to chat_id; return 0, or the retry_after to announce."""
        bucket = self._chats.get(chat_id)
        if bucket is None:
            bucket = self._chats[chat_id] = self._bucket(self.GROUP if is_group else self.PRIVATE)
        now = self._clock()
        wait = max(bucket.wait_time(now), self._global.wait_time(now))
        if wait > 0:
            return max(1, math.ceil(wait))
        bucket.tokens -= 1.0
        self._global.tokens -= 1.0
        return 0

    def reset(self) -> None:
        """Forget all history, as if no message had been sent."""
        self._global = self._bucket(self.GLOBAL)
        self._chats.clear()
