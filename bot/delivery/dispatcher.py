"""The delivery engine: sends outbox rows at Telegram's limits, nothing lost, nothing twice.

One dispatcher per process claims due rows in batches of about one second of sending,
commits the claim, re-checks consent and reachability, sends with its own pacing (a global
token bucket, and per chat at most 1 msg/s, or 20 msg/min for groups) and records every
outcome as DESIGN.md prescribes. What is not known to have failed before it left (a timeout
after the request went out, a lease that expired after the row was handed over) becomes
``unknown``: never a blind resend. Each row is marked as handed over in its own small commit
just before it goes to the HTTP client (:class:`Journal`), so a crash leaves ``unknown`` only
the rows really in flight; the rest go back to pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, TypedDict

from bot.core.deps import Deps
from bot.core.messenger import (
    Button,
    MaybeDeliveredError,
    Outgoing,
    RejectedError,
    RetryLaterError,
    Send,
    TransientError,
    UnreachableError,
)
from storage.models import OutboxMessage, OutboxStatus
from storage.repositories import Tx

logger = logging.getLogger(__name__)

MAX_IN_FLIGHT = 100
MAX_BACKOFF = 300.0
PACER_RETRY = 1.0  # seconds before a row whose rate reservation failed is tried again
LOST = "lost"  # an outcome that is not recorded: the row's claim expired and is not ours


class NewRow(TypedDict):
    """One outbox row to insert (built by :func:`row`)."""

    dedupe_key: str
    chat_id: int
    message_thread_id: int | None
    campaign_id: int | None
    alumnus_id: int | None
    purpose: str | None
    payload: dict[str, Any]
    status: str
    attempts: int
    not_before: datetime
    created_at: datetime
    updated_at: datetime


class Outcome(TypedDict, total=False):
    """What became of a claimed row: written back by ``OutboxRepository.record``."""

    id: int | None
    status: str
    telegram_message_id: int
    sent_at: datetime
    not_before: datetime
    attempts: int
    lease_until: datetime | None
    handed_at: datetime | None
    last_error: str | None
    updated_at: datetime


def payload_of(message: Outgoing) -> dict[str, Any]:
    """Serialise a message for the outbox."""
    return {
        "text": message.text,
        "buttons": [[vars(button) for button in row] for row in message.buttons],
    }


def outgoing_of(payload: dict[str, Any]) -> Outgoing:
    """Rebuild the message from an outbox payload."""
    return Outgoing(
        text=payload["text"],
        buttons=[[Button(**button) for button in row] for row in payload.get("buttons", [])],
    )


async def enqueue(tx: Tx, item: NewRow) -> bool:
    """Queue one row (see :func:`row`) in the caller's transaction; False if queued before."""
    return await tx.outbox.enqueue([item]) == 1


def row(
    now: datetime,
    *,
    key: str,
    chat_id: int,
    message: Outgoing | None = None,
    payload: dict[str, Any] | None = None,
    purpose: str | None = None,
    alumnus_id: int | None = None,
    not_before: datetime | None = None,
    thread_id: int | None = None,
    campaign_id: int | None = None,
) -> NewRow:
    """Build one outbox row: a ``message`` (kind text), or a ``payload`` of another kind.

    ``campaign_id`` ties a row to a campaign (its policy holds and caps it), ``purpose`` to
    a consent that is checked again at send time.
    """
    if payload is None:
        if message is None:
            raise ValueError("give a message or a payload")
        payload = payload_of(message)
    elif message is not None:
        raise ValueError("give a message or a payload, not both")
    return {
        "dedupe_key": key,
        "chat_id": chat_id,
        "message_thread_id": thread_id,
        "campaign_id": campaign_id,
        "alumnus_id": alumnus_id,
        "purpose": purpose,
        "payload": payload,
        "status": OutboxStatus.PENDING.value,
        "attempts": 0,
        "not_before": not_before or now,
        "created_at": now,
        "updated_at": now,
    }


class Pacer:
    """Pacing in loop time: a global token bucket and a next free slot per chat."""

    def __init__(
        self,
        rate: float,
        interval_of: Callable[[int], float],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        """Pace sends.

        Args:
            rate: messages per second overall.
            interval_of: the messenger's seconds between two messages to one chat.
            clock: loop time; tests pass a fake.
            sleep: waits; tests pass a fake.
        """
        self.rate = rate
        # A small bucket lets sends catch up after scheduling jitter without ever exceeding
        # rate * (1 s + 0.1 s) in any window, well inside Telegram's 30/s.
        self.capacity = max(1.0, rate * 0.1)
        self._tokens = self.capacity
        self._updated = clock()
        self._clock, self._sleep = clock, sleep
        self._lock = asyncio.Lock()
        self._next_chat: dict[int, float] = {}
        self._interval_of = interval_of

    def reserve_chat(self, chat_id: int) -> float:
        """Reserve the chat's next slot; return how many seconds from now it is."""
        now = self._clock()
        if len(self._next_chat) > 50_000:
            self._next_chat = {c: t for c, t in self._next_chat.items() if t > now}
        slot = max(now, self._next_chat.get(chat_id, now))
        self._next_chat[chat_id] = slot + self._interval_of(chat_id)
        return slot - now

    async def acquire(self) -> None:
        """Wait for one token of the global rate."""
        async with self._lock:
            # Reserve first, then wait off the debt: no retry loop that float rounding could
            # keep spinning, and waiters leave in the order they came (the lock is FIFO).
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1
            if self._tokens < 0:
                await self._sleep(-self._tokens / self.rate)


class SharedPacer(Pacer):
    """The global rate shared by every process through the database (PostgreSQL).

    Tokens are reserved in small blocks from one ``rate_budget`` row (see
    ``OutboxRepository.reserve_rate``), each block a run of time slots ``1 / rate`` apart
    on the database's clock, so all processes together never exceed ``rate``. Slots left
    unused for longer than a moment are thrown away, never spent late in a burst.
    """

    NAME = "global"

    def __init__(
        self,
        rate: float,
        interval_of: Callable[[int], float],
        reserve: Callable[[int, float], Awaitable[float]],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        super().__init__(rate, interval_of, clock=clock, sleep=sleep)
        self._reserve = reserve
        self.block = max(1, math.ceil(rate * 0.1))
        self._slots: deque[float] = deque()

    async def acquire(self) -> None:
        """Wait for this process' next slot of the shared rate."""
        async with self._lock:
            stale = self._clock() - 0.02
            while self._slots and self._slots[0] < stale:
                self._slots.popleft()
            if not self._slots:
                # The wait is counted from the database's "now" during the round trip;
                # taking the middle of it as that moment keeps this process' slots where
                # the budget put them, instead of late by the answer's way back (which
                # would overlap them with the next block another process reserved).
                asked = self._clock()
                wait = await self._reserve(self.block, self.rate)
                start = (asked + self._clock()) / 2 + wait
                self._slots.extend(start + i / self.rate for i in range(self.block))
            slot = self._slots.popleft()
        delay = slot - self._clock()
        if delay > 0:
            await self._sleep(delay)


class Journal:
    """Writes hand-overs and outcomes while a batch is sent: group commit.

    A row is marked ``handed_at`` in a committed transaction before its request goes to the
    HTTP client; outcomes known by then are written in the same transaction. Requests that
    wait for a commit share the next one, so at 25 msg/s a commit carries one mark, at
    1000 msg/s several. After a crash, rows without the mark were never sent (the reaper
    gives them back) and rows with it but without an outcome are the requests that were
    really in flight, plus the few whose answer came within one commit of the crash.
    """

    def __init__(self, storage: Any, clock: Callable[[], datetime]) -> None:
        self._storage, self._clock = storage, clock
        self._marks: list[tuple[OutboxMessage, asyncio.Future[bool]]] = []
        self._outcomes: dict[int | None, Outcome] = {}
        self._written: set[int | None] = set()
        self._task: asyncio.Task[None] | None = None

    async def hand_over(self, r: OutboxMessage) -> bool:
        """Commit that ``r`` goes out now; False if it is no longer this claim's (reaped).

        Raises whatever the database raised: then nothing was sent.
        """
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._marks.append((r, done))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush())
        return await done

    def note(self, outcome: Outcome) -> None:
        """Remember an outcome; it is written with the next hand-over (or the batch's end)."""
        self._outcomes[outcome["id"]] = outcome

    async def _flush(self) -> None:
        while self._marks:
            marks, self._marks = self._marks, []
            outcomes = list(self._outcomes.values())
            self._outcomes = {}
            try:
                async with self._storage.transaction() as tx:
                    mine = await tx.outbox.hand_over(
                        [(r.id, r.lease_until) for r, _ in marks], self._clock()
                    )
                    await tx.outbox.record(outcomes)
            except Exception as error:  # nothing of these marks is sent; outcomes stay noted
                for outcome in outcomes:
                    self._outcomes.setdefault(outcome["id"], outcome)
                for _, done in marks:
                    if not done.done():
                        done.set_exception(error)
                continue
            self._written.update(o["id"] for o in outcomes)
            for r, done in marks:
                if not done.done():
                    done.set_result(r.id in mine)

    async def unwritten(self, outcomes: Sequence[Outcome]) -> list[Outcome]:
        """Wait for the last commit; return the outcomes it did not write, and start afresh."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        written, self._written, self._outcomes = self._written, set(), {}
        return [o for o in outcomes if o["id"] not in written]


Sender = Callable[[OutboxMessage], Awaitable[int]]
OutcomeListener = Callable[[Sequence[tuple[OutboxMessage, str]]], Awaitable[None]]
# A feature's say over a reply the messenger deferred to the outbox: it returns the row as
# that feature sends it (the inbox turns a reply in a conversation's topic into a relay, so
# a topic deleted meanwhile is recreated), or None to leave the row as it is.
DeferredAdopter = Callable[[Tx, NewRow], Awaitable[NewRow | None]]
Verdict = tuple[OutboxStatus, str]  # what a row that must not go out becomes, and why


class SendPolicy(Protocol):
    """A feature's rule checked at send time, in the transaction that claimed the rows.

    Delivery knows no features: campaigns register their weekly cap and digest this way, and
    so will aftercare's own rules, or a messenger's windows.
    """

    async def screen(
        self, tx: Tx, rows: Sequence[OutboxMessage], now: datetime
    ) -> dict[int | None, Verdict]:
        """Return, by row id, the rows that must not be sent now and what they become."""
        ...


class Dispatcher:
    """Sends due outbox rows; run one per process (several on PostgreSQL is safe).

    A row's ``payload["kind"]`` picks how it is sent: ``text`` (the default) and ``copy``
    here; features register more with :meth:`register` (the inbox adds ``relay`` and
    ``answer_copy``). Listeners hear every recorded outcome (the inbox keeps in the
    conversation what was refused, and tells a topic when an alumnus blocked the bot).
    """

    def __init__(self, deps: Deps, *, shared_rate: bool | None = None) -> None:
        """Wire the dispatcher.

        Args:
            deps: services and settings.
            shared_rate: pace by the rate budget in the database, shared with every other
                dispatcher; by default on PostgreSQL (where several processes may send).
        """
        self.deps = deps
        self._senders: dict[str, Sender] = {"text": self._send_text, "copy": self._send_copy}
        self._listeners: list[OutcomeListener] = []
        self._policies: list[SendPolicy] = []
        self._adopters: list[DeferredAdopter] = []
        interval_of = deps.messenger.interval
        self.pacer: Pacer
        if shared_rate is None:
            shared_rate = deps.storage.engine.dialect.name == "postgresql"
        if shared_rate:
            # Several processes may send: one global rate for all of them.
            self.pacer = SharedPacer(deps.settings.send_rate, interval_of, self._reserve_rate)
        else:
            self.pacer = Pacer(deps.settings.send_rate, interval_of)
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # set while nothing due is left unhandled
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.journal = Journal(deps.storage, deps.clock.now)

    async def _reserve_rate(self, tokens: int, rate: float) -> float:
        async with self.deps.storage.transaction() as tx:
            return await tx.outbox.reserve_rate(SharedPacer.NAME, tokens, rate)

    def register(self, kind: str, sender: Sender) -> None:
        """Teach the dispatcher a payload kind."""
        self._senders[kind] = sender

    def screen(self, policy: SendPolicy) -> None:
        """Check every claimed row against ``policy`` before it is sent."""
        self._policies.append(policy)

    def adopt_deferred(self, adopter: DeferredAdopter) -> None:
        """Let ``adopter`` take over deferred replies it knows how to send (see queue_replies)."""
        self._adopters.append(adopter)

    def listen(self, listener: OutcomeListener) -> None:
        """Call ``listener`` with (row, status) pairs after each batch's outcomes are recorded."""
        self._listeners.append(listener)

    async def _send_text(self, r: OutboxMessage) -> int:
        return await self.deps.messenger.deliver(
            r.chat_id, outgoing_of(r.payload), r.message_thread_id
        )

    async def _send_copy(self, r: OutboxMessage) -> int:
        source = r.payload["copy"]
        return await self.deps.messenger.copy(
            r.chat_id, source["from_chat_id"], source["message_id"], r.message_thread_id
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Run the send loop in the background."""
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name="outbox-dispatcher")

    async def stop(self) -> None:
        """Finish the batch in hand, then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def queue_replies(self, chat_id: int, sends: Sequence[Send], wait: float = 0.0) -> None:
        """Queue direct replies in the outbox, in order, and send them as soon as allowed.

        For replies the messenger could not send now (Telegram asked to wait ``wait``
        seconds: the rows are not tried before, which would only earn a second "retry
        after"). Each row keeps what its send carried: the message with its buttons, and its
        forum topic. A feature that registered with :meth:`adopt_deferred` may take a row
        over first.
        """
        now = self.deps.clock.now()
        not_before = now + timedelta(seconds=wait) if wait > 0 else None
        async with self.deps.storage.transaction() as tx:
            for send in sends:
                key = f"reply:{chat_id}:{uuid.uuid4().hex}"
                item = row(
                    now,
                    key=key,
                    chat_id=chat_id,
                    message=send.message,
                    thread_id=send.thread_id,
                    not_before=not_before,
                )
                for adopt in self._adopters:
                    adopted = await adopt(tx, item)
                    if adopted is not None:
                        item = adopted
                        break
                await enqueue(tx, item)
        self.wake()

    def wake(self) -> None:
        """Look for due rows now instead of at the next idle tick."""
        self._idle.clear()
        self._wake.set()

    async def idle(self) -> None:
        """Wait until the loop has handled everything due (outcomes recorded)."""
        await self._idle.wait()

    async def _loop(self, idle: float = 0.5) -> None:
        while not self._stopping:
            try:
                handled = await self.run_once()
            except Exception:
                logger.exception("dispatcher batch failed; retrying shortly")
                handled = 0
            if handled == 0 and not self._stopping:
                if not self._wake.is_set():
                    self._idle.set()
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), idle)

    # ------------------------------------------------------------------ one batch

    async def run_once(self) -> int:
        """Claim one batch of due rows, send them, record the outcomes; return the count."""
        settings, clock, storage = self.deps.settings, self.deps.clock, self.deps.storage
        now = clock.now()
        limit = max(1, min(settings.outbox_batch_size, math.ceil(settings.send_rate)))
        lease = timedelta(seconds=settings.outbox_lease_seconds)
        async with storage.transaction() as tx:
            claimed = await tx.outbox.claim_due(now, now + lease, limit)
            if not claimed:
                return 0
            sendable, skipped = await self._recheck(tx, claimed, now)
        # The claim is committed before any call to Telegram. Chats are served concurrently;
        # one chat's rows strictly in order (a topic's history, a person's messages).
        by_chat: dict[int, list[OutboxMessage]] = {}
        for r in sendable:
            by_chat.setdefault(r.chat_id, []).append(r)
        per_chat = await asyncio.gather(
            *(self._send_in_order(rows) for rows in by_chat.values()), return_exceptions=True
        )
        by_id: dict[int | None, Outcome] = {}
        for chat_rows, result in zip(by_chat.values(), per_chat, strict=True):
            if isinstance(result, BaseException):
                # Never happens by design (_send_in_order catches); if it does, the other
                # chats' outcomes are still recorded, and this chat's rows may have gone out.
                logger.error("sending to one chat failed", exc_info=result)
                result = [
                    self._final(r, OutboxStatus.UNKNOWN, f"dispatcher error: {result!r}")
                    for r in chat_rows
                ]
            by_id.update((o["id"], o) for o in result)
        # A row whose claim was lost (its lease expired and another process has it now) is
        # not ours to record.
        sendable = [r for r in sendable if by_id[r.id]["status"] != LOST]
        outcomes = [by_id[r.id] for r in sendable]
        blocked = [
            r.alumnus_id
            for r, o in zip(sendable, outcomes, strict=True)
            if o["status"] == OutboxStatus.FAILED.value and r.alumnus_id is not None
        ]
        unwritten = await self.journal.unwritten(outcomes)
        async with storage.transaction() as tx:
            await tx.outbox.record(unwritten)
            await tx.outbox.mark_unreachable(blocked, clock.now())
        if self._listeners:
            heard = [(r, o["status"]) for r, o in zip(sendable, outcomes, strict=True)]
            heard += [
                (r, o["status"])
                for r, o in ((r, o) for r in claimed for o in skipped if o["id"] == r.id)
            ]
            for listener in self._listeners:
                try:
                    await listener(heard)
                except Exception:
                    logger.exception("outbox outcome listener failed")
        return len(claimed)

    async def _recheck(
        self, tx: Tx, rows: Sequence[OutboxMessage], now: datetime
    ) -> tuple[list[OutboxMessage], list[Outcome]]:
        """Check every claimed row again at send time, in the claim's transaction.

        Dropped here: rows whose consent is gone or whose person blocked the bot. Then each
        registered :class:`SendPolicy` screens what is left (campaigns: cancelled, over the
        weekly cap), in the order they were registered.
        """
        wanted = {
            (r.alumnus_id, r.purpose) for r in rows if r.purpose and r.alumnus_id is not None
        }
        consenting = await tx.outbox.consenting(wanted)
        blocked = await tx.outbox.unreachable(r.alumnus_id for r in rows if r.alumnus_id)
        sendable: list[OutboxMessage] = []
        skipped: list[Outcome] = []
        for r in rows:
            if r.purpose and (r.alumnus_id, r.purpose) not in consenting:
                skipped.append(self._final(r, OutboxStatus.CANCELLED, "no consent at send time"))
            elif r.alumnus_id in blocked:
                skipped.append(self._final(r, OutboxStatus.FAILED, "person blocked the bot"))
            else:
                sendable.append(r)
        # Recorded before the policies look: a dropped row no longer counts as being sent.
        await tx.outbox.record(skipped)
        for policy in self._policies:
            if not sendable:
                break
            verdicts = await policy.screen(tx, sendable, now)
            dropped = [self._final(r, *verdicts[r.id]) for r in sendable if r.id in verdicts]
            await tx.outbox.record(dropped)
            skipped += dropped
            sendable = [r for r in sendable if r.id not in verdicts]
        return sendable, skipped

    async def _send_in_order(self, rows: Sequence[OutboxMessage]) -> list[Outcome]:
        """Send one chat's rows one by one; after one that did not go out, hold the rest."""
        outcomes: list[Outcome] = []
        for index, r in enumerate(rows):
            handed: list[bool] = []
            try:
                outcome = await self._send(r, handed)
            except Exception as error:
                logger.exception("dispatcher failed around outbox row %s", r.id)
                if handed:  # around the call: it may have gone out
                    outcome = self._final(r, OutboxStatus.UNKNOWN, f"dispatcher error: {error!r}")
                else:  # before the hand-over: nothing went out
                    outcome = self._retry(
                        r, PACER_RETRY, f"dispatcher error: {error!r}", counts=False
                    )
            outcomes.append(outcome)
            if outcome["status"] == LOST:  # our lease is gone: so are the chat's later rows
                outcomes.extend({"id": rest.id, "status": LOST} for rest in rows[index + 1 :])
                break
            if outcome["status"] != OutboxStatus.SENT.value:
                later = outcome.get("not_before", self.deps.clock.now())
                wait = max(0.0, (later - self.deps.clock.now()).total_seconds())
                outcomes.extend(
                    self._retry(rest, wait, "after an earlier message to this chat", counts=False)
                    for rest in rows[index + 1 :]
                )
                break
        return outcomes

    async def _send(self, r: OutboxMessage, handed: list[bool]) -> Outcome:
        """Send one row and return its outcome; append to ``handed`` once it is handed over."""
        outcome = await self._attempt(r, handed)
        if handed and outcome["status"] != LOST:
            self.journal.note(outcome)
        return outcome

    async def _attempt(self, r: OutboxMessage, handed: list[bool]) -> Outcome:
        wait = self.pacer.reserve_chat(r.chat_id)
        if wait > self.deps.settings.outbox_lease_seconds / 2:
            # This chat is booked for a while: give the row back instead of holding a lease.
            return self._retry(r, wait, "waiting for the chat's rate", counts=False)
        await asyncio.sleep(wait)
        async with self._in_flight:
            try:
                await self.pacer.acquire()
            except Exception as error:  # the shared rate budget's round trip failed
                # Nothing went out: the row goes back, and the claim's attempt is undone.
                logger.warning("outbox: rate budget unavailable (%r); row %s retried", error, r.id)
                return self._retry(r, PACER_RETRY, f"rate budget: {error!r}", counts=False)
            sender = self._senders.get(r.payload.get("kind", "text"))
            if sender is None:
                return self._final(r, OutboxStatus.DEAD, f"unknown kind {r.payload.get('kind')}")
            try:
                # Committed before the request exists: a crash before this line leaves a row
                # that was never sent (the reaper gives it back), after it one that may have.
                if not await self.journal.hand_over(r):
                    logger.warning("outbox: row %s was reaped before it was sent", r.id)
                    return {"id": r.id, "status": LOST}
            except Exception as error:  # the mark's round trip failed: nothing went out
                logger.warning("outbox: hand-over of row %s failed (%r); retried", r.id, error)
                return self._retry(r, PACER_RETRY, f"hand-over: {error!r}", counts=False)
            handed.append(True)
            try:
                message_id = await sender(r)
            except RetryLaterError as error:
                return self._retry(r, error.retry_after, str(error), counts=False)
            except TransientError as error:
                if r.attempts >= self.deps.settings.outbox_max_attempts:
                    return self._final(r, OutboxStatus.DEAD, f"gave up: {error}")
                backoff = min(MAX_BACKOFF, 2.0**r.attempts) * random.uniform(0.5, 1.5)
                return self._retry(r, backoff, str(error), counts=True)
            except MaybeDeliveredError as error:
                return self._final(r, OutboxStatus.UNKNOWN, str(error))
            except UnreachableError as error:
                return self._final(r, OutboxStatus.FAILED, str(error))
            except RejectedError as error:
                return self._final(r, OutboxStatus.DEAD, str(error))
            except Exception as error:  # an unknown failure may have sent it: no blind resend
                logger.exception("unexpected delivery failure for outbox row %s", r.id)
                return self._final(r, OutboxStatus.UNKNOWN, type(error).__name__)
        now = self.deps.clock.now()
        return {
            "id": r.id,
            "status": OutboxStatus.SENT.value,
            "telegram_message_id": message_id,
            "sent_at": now,
            "lease_until": None,
            "last_error": None,
            "updated_at": now,
        }

    def _final(self, r: OutboxMessage, status: OutboxStatus, error: str) -> Outcome:
        return {
            "id": r.id,
            "status": status.value,
            "lease_until": None,
            "last_error": error[:256],
            "updated_at": self.deps.clock.now(),
        }

    def _retry(self, r: OutboxMessage, delay: float, error: str, *, counts: bool) -> Outcome:
        now = self.deps.clock.now()
        return {
            "id": r.id,
            "status": OutboxStatus.PENDING.value,
            "not_before": now + timedelta(seconds=delay),
            "attempts": r.attempts if counts else r.attempts - 1,
            "lease_until": None,
            "last_error": error[:256],
            "updated_at": now,
        }

    async def export(self, tx: Tx, alumnus: Any) -> dict[str, list[dict[str, Any]]]:
        """Every outbox row for a person (pushes, digests, answers), for their data export."""
        rows = await tx.outbox.of_person(alumnus.id, alumnus.chat_id)
        return {"outbox": [r.model_dump(mode="json") for r in rows]}

    async def reap(self) -> int:
        """Settle expired leases (the process died mid-batch); return how many were unknown.

        A row handed over to the HTTP client becomes ``unknown`` (it may have gone out); a
        row that never was goes back to ``pending`` and is sent as if nothing happened.
        """
        async with self.deps.storage.transaction() as tx:
            unknown, returned = await tx.outbox.reap(self.deps.clock.now())
        if unknown:
            logger.warning("outbox: %d rows were in flight when their lease expired", unknown)
        if returned:
            logger.warning("outbox: %d rows with an expired lease were never sent", returned)
        return unknown
