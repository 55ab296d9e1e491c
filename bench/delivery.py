"""The delivery engine: campaign sends at Telegram's limits and beyond, memory, audience count.

``python -m bench --suite delivery``. The simulator runs in this process; the sending process
(Alumnibot's dispatcher, or a bare PTB send loop as the baseline) runs in its own process, as
in production. Waits are event-driven: the simulator signals when the n-th message arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import logging
import multiprocessing
import random
import resource
import statistics
import time
import tracemalloc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.bots import ALUMNIBOT, ECHO, profile_path
from bench.databases import fresh_database
from bench.scenarios import TOKEN, log
from bot.delivery.dispatcher import (
    MAX_IN_FLIGHT,  # the dispatcher's bound on sends; the baseline's too
)
from sandbox.simulator import BotApiSimulator, SimMessage
from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import Alumnus, ConsentEvent, Offer

POOL = 100  # HTTP connections: one per send in flight, for both senders
RATE_LIMITED = 25.0
RATE_TARGET = 0.95
LIFTED = 1000.0
RATIO_TARGET, LIFTED_TARGET = 0.8, 500.0
MEMORY_TARGET_MB = 50.0
COUNT_TARGET_MS = 100.0
STEADY_TRIM = 0.05  # steady part: drop the first and last 5% of messages
PURPOSES = ("llo", "jobs", "aftercare", "surveys", "network")
# Share of alumni granting each purpose at onboarding, and share of those withdrawing later.
GRANT = {"llo": 0.55, "jobs": 0.65, "aftercare": 0.8, "surveys": 0.45, "network": 0.35}
WITHDRAW = 0.08
BASE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


# ---------------------------------------------------------------------- simulator side


class CountingSimulator(BotApiSimulator):
    """The simulator, stamping each message the bot sends and waking whoever waits for n."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent_at: list[float] = []
        self._target = 0
        self._reached = asyncio.Event()

    def store_message(self, message: SimMessage) -> SimMessage:
        """Record a message; count the bot's."""
        stored = super().store_message(message)
        if message.from_bot:
            self.sent_at.append(time.perf_counter())
            if len(self.sent_at) >= self._target:
                self._reached.set()
        return stored

    async def wait_sent(self, count: int, timeout: float) -> None:  # noqa: ASYNC109
        """Wait until the bot has sent ``count`` messages in all."""
        self._target = count
        if len(self.sent_at) < count:
            self._reached.clear()
            try:
                await asyncio.wait_for(self._reached.wait(), timeout)
            except TimeoutError:
                raise TimeoutError(
                    f"{len(self.sent_at)} of {count} messages arrived within {timeout:.0f}s"
                ) from None


def steady_rate(stamps: Sequence[float]) -> float:
    """Messages per second between the first and last 5% of messages."""
    n = len(stamps)
    first, last = int(n * STEADY_TRIM), n - 1 - int(n * STEADY_TRIM)
    if last <= first:
        return float("nan")
    return (last - first) / (stamps[last] - stamps[first])


# ---------------------------------------------------------------------- the database


def _catalogue() -> Any:
    from bot.core.catalogue import Catalogue
    from bot.core.settings import CONTENT_DIR

    return Catalogue(CONTENT_DIR / "catalogue")


async def seed(
    url: str, count: int, *, chat_ids: Sequence[int] | None = None, everyone: str | None = None
) -> None:
    """Migrate, then insert ``count`` onboarded alumni with consent events in bulk (core).

    With ``everyone`` every alumnus consents to that purpose and is reachable (a campaign
    audience of exactly ``count``); otherwise the distributions are realistic: programmes
    skewed towards a few big ones, regions by population, 0-3 interests, each purpose
    granted by 35-80%, 8% of grants withdrawn later, 3% unreachable, 7% not onboarded.
    """
    engine = make_engine(url)
    try:
        await upgrade(engine)
        rng = random.Random(count)
        catalogue = _catalogue()
        programmes = catalogue.programmes
        weights = [1 / (rank + 1) for rank in range(len(programmes))]
        regions = [r.code for r in catalogue.regions]
        region_weights = [1 + 3 * (code in ("ZH", "NH", "NB", "GE")) for code in regions]
        locations = [item.code for item in catalogue.locations]
        interests = [item.code for item in catalogue.interests]
        alumni: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for index in range(1, count + 1):
            programme = rng.choices(programmes, weights)[0]
            joined = BASE + timedelta(minutes=rng.randrange(500_000))
            realistic = everyone is None
            alumni.append(
                {
                    "id": index,
                    "chat_id": chat_ids[index - 1] if chat_ids else 500_000_000 + index,
                    "locale": "en" if rng.random() < 0.1 else "nl",
                    "first_name": "Sanne",
                    "location": rng.choice(locations),
                    "crebo": programme.code,
                    "level": rng.choice(programme.levels),
                    "track": rng.choice(("BOL", "BBL")),
                    "graduation_year": rng.randrange(2015, 2027),
                    "graduation_month": rng.choice((1, 7, 7, 7, 12)),
                    "still_studying": False,
                    "situation": rng.choice(("working", "studying", "looking", "other")),
                    "sector": programme.sector,
                    "region": rng.choices(regions, region_weights)[0],
                    "interests": rng.sample(interests, rng.choice((0, 1, 1, 2, 2, 3))),
                    "onboarded_at": None if realistic and rng.random() < 0.07 else joined,
                    "unreachable_since": joined if realistic and rng.random() < 0.03 else None,
                    "created_at": joined,
                    "updated_at": joined,
                    "last_seen_at": joined + timedelta(days=rng.randrange(300)),
                }
            )
            for purpose in PURPOSES:
                granted = purpose == everyone or (realistic and rng.random() < GRANT[purpose])
                if not granted:
                    continue
                event = {
                    "alumnus_id": index,
                    "purpose": purpose,
                    "text_version": "bench",
                    "locale": "nl",
                    "source": "onboarding",
                    "occurred_at": joined,
                }
                events.append({**event, "granted": True})
                if realistic and rng.random() < WITHDRAW:
                    later = joined + timedelta(days=rng.randrange(1, 200))
                    events.append({**event, "granted": False, "occurred_at": later})
        async with engine.begin() as connection:
            for start in range(0, len(alumni), 5000):
                await connection.execute(
                    Alumnus.__table__.insert(),  # type: ignore[attr-defined]
                    alumni[start : start + 5000],
                )
            rng.shuffle(events)  # consent events of many people interleave over time
            for start in range(0, len(events), 5000):
                await connection.execute(
                    ConsentEvent.__table__.insert(),  # type: ignore[attr-defined]
                    events[start : start + 5000],
                )
            await connection.execute(
                Offer.__table__.insert(),  # type: ignore[attr-defined]
                [
                    {
                        "id": 1,
                        "kind": "llo",
                        "title": "Excel voor beginners",
                        "body": "In vier avonden leer je werken met Excel. Aan de slag met "
                        "formules, tabellen en grafieken, bij jou in de buurt.",
                        "provider": "ROC Voorbeeld",
                        "link": "https://example.org/excel",
                        "regions": [],
                        "sectors": [],
                        "crebos": [],
                        "levels": [],
                        "cost": "€ 95",
                        "created_at": BASE,
                    }
                ],
            )
            if engine.dialect.name == "postgresql":
                for table in ("alumnus", "consent_event", "offer"):
                    await connection.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT max(id) FROM {table}))"
                        )
                    )
            else:
                await connection.execute(text("ANALYZE"))
        if engine.dialect.name == "postgresql":
            async with engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(text("VACUUM ANALYZE"))
    finally:
        await engine.dispose()


async def outbox_counts(url: str) -> dict[str, int]:
    """Outbox rows per status."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT status, count(*) FROM outbox GROUP BY status")
            )
            return {str(status): int(n) for status, n in rows.all()}
    finally:
        await engine.dispose()


# ---------------------------------------------------------------------- the sending process


@dataclass(frozen=True)
class SenderConfig:
    """What the child process needs: which sender, where the simulator and database are."""

    kind: str
    api_url: str
    file_url: str
    database_url: str = ""
    send_rate: float = RATE_LIMITED
    paid_broadcast: bool = False
    trace_memory: bool = False
    profile_to: str | None = None


def sender_main(config: SenderConfig, conn: Connection) -> None:
    """Entry point of the sending process: obey the parent's commands until "stop"."""
    import bench  # noqa: F401  (sets PTB_TIMEDELTA before telegram is imported)

    logging.basicConfig(level=logging.WARNING, format="sender: %(levelname)s %(name)s %(message)s")
    profiler = cProfile.Profile() if config.profile_to else None
    try:
        asyncio.run(_serve(config, conn, profiler))
    finally:
        if profiler is not None and config.profile_to:
            profiler.dump_stats(config.profile_to)
        conn.close()


def _memory() -> dict[str, float]:
    traced = tracemalloc.get_traced_memory() if tracemalloc.is_tracing() else (0, 0)
    return {
        "traced_peak_mb": traced[1] / 2**20,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cpu": time.process_time(),
    }


async def _serve(
    config: SenderConfig, conn: Connection, profiler: cProfile.Profile | None
) -> None:
    commands: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def on_command() -> None:
        try:
            commands.put_nowait(conn.recv())
        except (EOFError, OSError):
            loop.remove_reader(conn.fileno())
            commands.put_nowait(("stop",))

    async with _sender(config) as handle:
        loop.add_reader(conn.fileno(), on_command)
        conn.send(("ready", _memory()))
        try:
            while True:
                command = await commands.get()
                if command[0] == "stop":
                    break
                if profiler is not None and command[0] in ("go", "send"):
                    profiler.enable()
                reply = await handle(command)
                conn.send((command[0], reply, _memory()))
        finally:
            loop.remove_reader(conn.fileno())
            if profiler is not None:
                profiler.disable()
    with contextlib.suppress(OSError):
        conn.send(("stopped", _memory()))


@contextlib.asynccontextmanager
async def _sender(config: SenderConfig) -> AsyncIterator[Any]:
    """Yield a command handler for Alumnibot (launch, go) or bare PTB (send)."""
    if config.kind == ALUMNIBOT:
        from pydantic import SecretStr

        from bot.core.settings import Settings
        from handlers.telegram.app import build_application, running

        settings = Settings(
            _env_file=None,
            telegram_token=SecretStr(TOKEN),
            telegram_api_url=config.api_url,
            telegram_file_url=config.file_url,
            database_url=config.database_url,
            school_name="Benchcollege",
            secret_key=SecretStr("bench-secret-key"),
            concurrent_updates=POOL,
            send_rate=config.send_rate,
            paid_broadcast=config.paid_broadcast,
            quiet_hours_start=0,  # no quiet hours: the run may happen at night
            quiet_hours_end=0,
            log_level="WARNING",
        )
        application = build_application(settings, webhook=True)
        async with running(application, dispatch=False):
            campaigns = application.bot_data.graph.campaigns
            dispatcher = application.bot_data.graph.dispatcher

            async def alumnibot(command: tuple[Any, ...]) -> Any:
                if command[0] == "launch":
                    if config.trace_memory:
                        tracemalloc.start()
                    started = time.perf_counter()
                    campaign = await campaigns.create(command[1])
                    assert campaign.id is not None
                    queued = await campaigns.launch(campaign.id)
                    return {"queued": queued, "seconds": time.perf_counter() - started}
                if command[0] == "go":
                    dispatcher.start()
                    return None
                raise ValueError(command)

            yield alumnibot
        return
    from telegram import Bot, InlineKeyboardMarkup
    from telegram.request import HTTPXRequest

    bot = Bot(
        TOKEN,
        base_url=config.api_url,
        base_file_url=config.file_url,
        request=HTTPXRequest(connection_pool_size=POOL, pool_timeout=30),
    )
    async with bot:

        async def bare(command: tuple[Any, ...]) -> Any:
            _, chat_ids, html, markup = command
            keyboard = InlineKeyboardMarkup.de_json(markup, bot) if markup else None
            gate = asyncio.Semaphore(MAX_IN_FLIGHT)

            async def one(chat_id: int) -> None:
                async with gate:
                    await bot.send_message(
                        chat_id,
                        html,
                        parse_mode="HTML",
                        reply_markup=keyboard,
                        disable_web_page_preview=True,
                    )

            started = time.perf_counter()
            await asyncio.gather(*(one(c) for c in chat_ids))
            return {"seconds": time.perf_counter() - started}

        yield bare


class SenderProcess:
    """The parent's handle on a sending process."""

    def __init__(self, config: SenderConfig) -> None:
        self.config = config
        context = multiprocessing.get_context("spawn")
        self._conn, child_conn = context.Pipe()
        self._process = context.Process(
            target=sender_main, args=(config, child_conn), name=f"bench-{config.kind}"
        )
        self._child_conn = child_conn

    async def _recv(self, timeout: float) -> tuple[Any, ...]:  # noqa: ASYNC109
        if not await asyncio.to_thread(self._conn.poll, timeout):
            raise TimeoutError(f"{self.config.kind} process did not answer in {timeout}s")
        message: tuple[Any, ...] = self._conn.recv()
        return message

    async def start(self) -> dict[str, float]:
        """Start the process; return its memory figures once it is ready."""
        self._process.start()
        self._child_conn.close()
        message = await self._recv(120)
        if message[0] != "ready":
            raise RuntimeError(f"unexpected message from the sending process: {message!r}")
        return dict(message[1])

    async def ask(self, *command: Any, timeout: float = 600) -> tuple[Any, dict[str, float]]:  # noqa: ASYNC109
        """Send a command; return its reply and the process's memory and CPU figures."""
        self._conn.send(command)
        message = await self._recv(timeout)
        if message[0] != command[0]:
            raise RuntimeError(f"unexpected answer to {command[0]}: {message!r}")
        return message[1], dict(message[2])

    async def stop(self) -> dict[str, float]:
        """Stop the process (the dispatcher finishes its batch); return its last figures."""
        figures: dict[str, float] = {}
        if self._process.is_alive():
            try:
                self._conn.send(("stop",))
                figures = dict((await self._recv(120))[1])
            except (OSError, EOFError, TimeoutError):
                pass
        await asyncio.to_thread(self._process.join, 30)
        if self._process.is_alive():
            self._process.terminate()
            await asyncio.to_thread(self._process.join, 5)
        self._conn.close()
        if self._process.exitcode not in (0, None):
            raise RuntimeError(f"{self.config.kind} process exited with {self._process.exitcode}")
        return figures


# ---------------------------------------------------------------------- measurements


@dataclass
class SendRun:
    """One campaign (or bare loop) sent to ``recipients``."""

    sender: str
    backend: str
    recipients: int
    rate: float  # steady msg/s
    overall: float  # all messages / (last - first)
    rate_limited: int  # 429 answers of the simulator
    cpu: float  # CPU seconds of the sending process while sending
    final: dict[str, int] = field(default_factory=dict)
    launch_seconds: float = 0.0


@contextlib.asynccontextmanager
async def _staged(
    *, enforce: bool, recipients: int
) -> AsyncIterator[tuple[CountingSimulator, list[int]]]:
    sim = CountingSimulator(
        token=TOKEN, bot_username="alumnibot_bench_bot", enforce_rate_limits=enforce
    )
    await sim.start(host="127.0.0.1", port=0)
    try:
        users = [
            sim.create_user(first_name="Sanne", language_code="nl") for _ in range(recipients)
        ]
        yield sim, [u.id for u in users]
    finally:
        await sim.stop()


async def campaign_run(
    backend: str,
    recipients: int,
    *,
    send_rate: float,
    paid: bool,
    enforce: bool,
    profile_to: str | None = None,
) -> tuple[SendRun, tuple[str, Any]]:
    """Launch a campaign to ``recipients`` in the dispatcher's process and time its sending."""
    async with (
        _staged(enforce=enforce, recipients=recipients) as (sim, chat_ids),
        fresh_database(backend) as url,
    ):
        await seed(url, recipients, chat_ids=chat_ids, everyone="llo")
        process = SenderProcess(
            SenderConfig(
                ALUMNIBOT,
                sim.api_base_url,
                sim.file_base_url,
                url,
                send_rate=send_rate,
                paid_broadcast=paid,
                profile_to=profile_to,
            )
        )
        await process.start()
        try:
            launched, _ = await process.ask("launch", 1)
            assert launched["queued"] == recipients, launched
            _, before = await process.ask("go")
            await sim.wait_sent(recipients, timeout=recipients / send_rate * 3 + 60)
            after = await process.stop()
        except BaseException:
            with contextlib.suppress(Exception):
                await process.stop()
            raise
        final = await outbox_counts(url)
        first = sim.bot_messages(chat_ids[0])[0]
        stamps = sim.sent_at
        result = SendRun(
            sender=ALUMNIBOT,
            backend=backend,
            recipients=recipients,
            rate=steady_rate(stamps),
            overall=(len(stamps) - 1) / (stamps[-1] - stamps[0]),
            rate_limited=sim.stats.rate_limited,
            cpu=after.get("cpu", 0.0) - before["cpu"],
            final=final,
            launch_seconds=launched["seconds"],
        )
        duplicates = sum(len(sim.bot_messages(c)) - 1 for c in chat_ids)
        if final.get("sent") != recipients or duplicates:
            raise AssertionError(f"outbox {final}, {duplicates} duplicate messages")
        return result, (first.html or "", first.reply_markup)


async def bare_run(recipients: int, push: tuple[str, Any]) -> SendRun:
    """The baseline: bare PTB ``send_message`` in concurrent tasks, same pool, same payload."""
    async with _staged(enforce=False, recipients=recipients) as (sim, chat_ids):
        process = SenderProcess(SenderConfig(ECHO, sim.api_base_url, sim.file_base_url))
        await process.start()
        try:
            _, figures = await process.ask("send", chat_ids, push[0], push[1])
            await sim.wait_sent(recipients, timeout=60)
        finally:
            await process.stop()
        stamps = sim.sent_at
        return SendRun(
            sender=ECHO,
            backend="",
            recipients=recipients,
            rate=steady_rate(stamps),
            overall=(len(stamps) - 1) / (stamps[-1] - stamps[0]),
            rate_limited=sim.stats.rate_limited,
            cpu=figures["cpu"],
        )


@dataclass
class MemoryRun:
    """Peak memory of the dispatcher's process for one campaign size."""

    backend: str
    recipients: int
    sent: int
    traced_peak_mb: float
    launch_peak_mb: float
    rss_before_mb: float
    rss_peak_mb: float
    launch_seconds: float


async def memory_run(backend: str, recipients: int, sent: int) -> MemoryRun:
    """Launch to ``recipients`` and send the first ``sent`` of them under tracemalloc."""
    async with (
        _staged(enforce=False, recipients=recipients) as (sim, chat_ids),
        fresh_database(backend) as url,
    ):
        await seed(url, recipients, chat_ids=chat_ids, everyone="llo")
        process = SenderProcess(
            SenderConfig(
                ALUMNIBOT,
                sim.api_base_url,
                sim.file_base_url,
                url,
                send_rate=LIFTED,
                paid_broadcast=True,
                trace_memory=True,
            )
        )
        ready = await process.start()
        try:
            launched, after_launch = await process.ask("launch", 1)
            await process.ask("go")
            await sim.wait_sent(sent, timeout=600)
            after = await process.stop()
        except BaseException:
            with contextlib.suppress(Exception):
                await process.stop()
            raise
        return MemoryRun(
            backend=backend,
            recipients=recipients,
            sent=len(sim.sent_at),
            traced_peak_mb=after.get("traced_peak_mb", float("nan")),
            launch_peak_mb=after_launch["traced_peak_mb"],
            rss_before_mb=ready["maxrss_mb"],
            rss_peak_mb=after.get("maxrss_mb", float("nan")),
            launch_seconds=launched["seconds"],
        )


@dataclass
class CountRun:
    """Audience count timings for one segment on one database."""

    backend: str
    segment: str
    audience: int
    median_ms: float
    worst_ms: float
    runs: int


SEGMENTS: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "llo + region ZH + interest digitaal",
        {"purpose": "llo", "regions": ["ZH"], "interests": ["digitaal"]},
    ),
    (
        "jobs + crebo 25655 + interest leidinggeven",
        {"purpose": "jobs", "crebos": ["25655"], "interests": ["leidinggeven"]},
    ),
)


async def count_runs(backend: str, alumni: int, repeats: int) -> list[CountRun]:
    """Time ``OfferRepository.count`` of realistic segments over ``alumni`` alumni."""
    from storage.campaigns import Segment
    from storage.repositories import Storage

    results: list[CountRun] = []
    async with fresh_database(backend) as url:
        started = time.perf_counter()
        await seed(url, alumni)
        log(f"  seeded {alumni} alumni on {backend} in {time.perf_counter() - started:.1f}s")
        storage = Storage(make_engine(url))
        try:
            for label, filters in SEGMENTS:
                segment = Segment(**filters)
                timings: list[float] = []
                audience = 0
                for attempt in range(repeats + 1):  # the first one warms the caches
                    started = time.perf_counter()
                    async with storage.transaction() as tx:
                        audience = await tx.offers.count(segment)
                    if attempt:
                        timings.append((time.perf_counter() - started) * 1000)
                results.append(
                    CountRun(
                        backend, label, audience, statistics.median(timings), max(timings), repeats
                    )
                )
                log(
                    f"  count {label} on {backend}: {audience} in "
                    f"{statistics.median(timings):.1f} ms (median of {repeats})"
                )
        finally:
            await storage.dispose()
    return results


# ---------------------------------------------------------------------- the suite


@dataclass
class DeliveryOptions:
    """How the delivery suite runs."""

    backends: tuple[str, ...]
    rate_recipients: int = 5000
    lifted_recipients: int = 5000
    lifted_repeats: int = 3
    memory_sizes: tuple[int, int] = (10_000, 100_000)
    memory_sent: int = 5000
    count_alumni: int = 100_000
    count_repeats: int = 9
    profile_dir: Path | None = None


@dataclass
class DeliveryResults:
    """Everything the suite measured."""

    options: DeliveryOptions
    limited: list[SendRun] = field(default_factory=list)
    lifted: list[SendRun] = field(default_factory=list)
    bare: list[SendRun] = field(default_factory=list)
    memory: list[MemoryRun] = field(default_factory=list)
    counts: list[CountRun] = field(default_factory=list)


async def run_delivery(options: DeliveryOptions) -> DeliveryResults:
    """Run the four delivery benchmarks."""
    results = DeliveryResults(options)
    for backend in options.backends:
        log(
            f"delivery: {options.rate_recipients} recipients at {RATE_LIMITED:.0f}/s on "
            f"{backend}, simulator enforcing Telegram's limits"
        )
        run, _ = await campaign_run(
            backend, options.rate_recipients, send_rate=RATE_LIMITED, paid=False, enforce=True
        )
        log(f"  {run.rate:.2f} msg/s steady, {run.rate_limited} x 429")
        results.limited.append(run)
    for repeat in range(1, options.lifted_repeats + 1):
        log(f"delivery: limit lifted, {options.lifted_recipients} recipients, run {repeat}")
        push: tuple[str, Any] = ("", None)
        for backend in options.backends:
            run, push = await campaign_run(
                backend,
                options.lifted_recipients,
                send_rate=LIFTED,
                paid=True,
                enforce=False,
                profile_to=profile_path(
                    options.profile_dir, f"dispatcher-{backend.lower()}-{repeat}"
                ),
            )
            log(f"  alumnibot {backend}: {run.rate:.0f} msg/s, CPU {run.cpu:.1f}s")
            results.lifted.append(run)
        bare = await bare_run(options.lifted_recipients, push)
        log(f"  bare PTB: {bare.rate:.0f} msg/s, CPU {bare.cpu:.1f}s")
        results.bare.append(bare)
    for backend in options.backends:
        for size in options.memory_sizes:
            log(f"delivery: memory, campaign to {size} on {backend}")
            memory = await memory_run(backend, size, min(size, options.memory_sent))
            log(
                f"  traced peak {memory.traced_peak_mb:.1f} MB "
                f"(launch {memory.launch_peak_mb:.1f})"
                f", RSS peak {memory.rss_peak_mb:.0f} MB"
            )
            results.memory.append(memory)
    for backend in options.backends:
        log(f"delivery: audience count over {options.count_alumni} alumni on {backend}")
        results.counts.extend(
            await count_runs(backend, options.count_alumni, options.count_repeats)
        )
    return results


# ---------------------------------------------------------------------- report


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def delivery_verdicts(results: DeliveryResults) -> list[str]:
    """One line per target."""
    lines = []
    for run in results.limited:
        lines.append(
            f"- Sustained rate on {run.backend}: {run.rate:.2f} msg/s steady = "
            f"{run.rate / RATE_LIMITED:.1%} of {RATE_LIMITED:.0f} (target ≥ {RATE_TARGET:.0%}): "
            f"{_met(run.rate >= RATE_TARGET * RATE_LIMITED)}; {run.rate_limited} answers 429 "
            f"(target 0): {_met(run.rate_limited == 0)}."
        )
    bare = statistics.median(r.rate for r in results.bare) if results.bare else float("nan")
    for backend in results.options.backends:
        runs = [r for r in results.lifted if r.backend == backend]
        if not runs:
            continue
        rate = statistics.median(r.rate for r in runs)
        lines.append(
            f"- Limit lifted on {backend}: {rate:.0f} msg/s vs bare PTB {bare:.0f} msg/s = "
            f"{rate / bare:.2f} (target ≥ {RATIO_TARGET}): {_met(rate / bare >= RATIO_TARGET)}; "
            f"≥ {LIFTED_TARGET:.0f} msg/s: {_met(rate >= LIFTED_TARGET)}."
        )
    for backend in results.options.backends:
        sizes = sorted(
            (m for m in results.memory if m.backend == backend), key=lambda m: m.recipients
        )
        if len(sizes) == 2:
            small, big = sizes
            diff = big.traced_peak_mb - small.traced_peak_mb
            lines.append(
                f"- Memory on {backend}: traced peak {big.traced_peak_mb:.1f} MB for "
                f"{big.recipients:,} vs {small.traced_peak_mb:.1f} MB for {small.recipients:,}: "
                f"difference {diff:.1f} MB (target < {MEMORY_TARGET_MB:.0f} MB): "
                f"{_met(diff < MEMORY_TARGET_MB)}."
            )
    for count in results.counts:
        lines.append(
            f"- Audience count on {count.backend} ({count.segment}): {count.median_ms:.1f} ms "
            f"(target < {COUNT_TARGET_MS:.0f} ms): {_met(count.median_ms < COUNT_TARGET_MS)}."
        )
    return lines


def render_delivery(
    results: DeliveryResults,
    command: str,
    code: str,
    started: datetime,
    duration: float,
    facts: list[tuple[str, str]] | None = None,
) -> str:
    """The "Delivery engine" section of docs/benchmarks.md."""
    o = results.options
    bare = statistics.median(r.rate for r in results.bare) if results.bare else float("nan")
    out = [
        "## Delivery engine",
        "",
        f"- Run: {started.strftime('%Y-%m-%d %H:%M UTC')}, took {duration / 60:.1f} min. "
        f"Command: `{command}`.",
        f"- Code measured: {code}.",
        "",
    ]
    if facts:
        out += ["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in facts), ""]
    out += [
        "### Method",
        "",
        "- The Bot API simulator runs in the benchmark process; the sender runs in its own",
        "  process. **Alumnibot**: `build_application(settings, webhook=True)` inside",
        "  `running(dispatch=False)`; it creates and launches the campaign itself",
        "  (`CampaignService.create` + `launch`: audience paging, bulk enqueue), then starts",
        "  the dispatcher (`bot.delivery.dispatcher.Dispatcher`,"
        f" {MAX_IN_FLIGHT} sends in flight, HTTP pool "
        f"{POOL}; PTB's requests on aiohttp's client, `handlers.telegram.request`).",
        "  **Bare PTB**: `telegram.Bot` with PTB's default client,",
        f"  `HTTPXRequest(connection_pool_size={POOL})`, `send_message` in one task per",
        f"  recipient behind a semaphore of {MAX_IN_FLIGHT}, with the exact HTML text and",
        "  buttons the dispatcher sent in the same repeat. No database. Both go through PTB's",
        "  `Bot.send_message`; the gap between them is mostly the HTTP client (httpx spends",
        "  several times aiohttp's CPU per call here).",
        "- Recipients are onboarded alumni who consented to `llo`, inserted in bulk into a fresh",
        "  database (SQLite file / scratch PostgreSQL database), one simulator user each.",
        "- msg/s is measured in the simulator: the time each message was stored; *steady* drops",
        f"  the first and last {STEADY_TRIM:.0%} of messages. Every run checks that every row",
        "  ended `sent` and that no chat received two messages.",
        "",
        f"### Sustained rate at {RATE_LIMITED:.0f} msg/s, simulator enforcing Telegram's limits",
        "",
        "(30 msg/s overall, 1 msg/s per chat with a burst of 3; `enforce_rate_limits=True`)",
        "",
        "| database | recipients | launch s | steady msg/s | of limit | overall msg/s | 429s "
        "| sender CPU s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results.limited:
        out.append(
            f"| {r.backend} | {r.recipients:,} | {r.launch_seconds:.1f} | **{r.rate:.2f}** "
            f"| {r.rate / RATE_LIMITED:.1%} | {r.overall:.2f} | {r.rate_limited} | {r.cpu:.1f} |"
        )
    out += [
        "",
        f"### Limit lifted: `send_rate={LIFTED:.0f}`, `paid_broadcast=true`, no 429s",
        "",
        f"{o.lifted_recipients:,} recipients, {o.lifted_repeats} repeat(s), interleaved; medians.",
        "",
        "| sender | database | msg/s (median; min–max) | vs bare PTB | sender CPU ms/msg |",
        "|---|---|---|---|---|",
    ]
    groups = [(ALUMNIBOT, b, [r for r in results.lifted if r.backend == b]) for b in o.backends]
    groups.append((ECHO, "", results.bare))
    for sender, backend, runs in groups:
        if not runs:
            continue
        rates = [r.rate for r in runs]
        rate = statistics.median(rates)
        cpu = statistics.median(r.cpu / r.recipients * 1000 for r in runs)
        out.append(
            f"| {sender} | {backend or '(none)'} | **{rate:.0f}** ({min(rates):.0f}–"
            f"{max(rates):.0f}) | {rate / bare:.2f} | {cpu:.2f} |"
        )
    out += [
        "",
        "### Peak memory of the sending process",
        "",
        "Measured in the dispatcher's process with `tracemalloc` started just before",
        "`CampaignService.create`: the campaign's launch (audience paging and bulk enqueue of",
        "every recipient), then the dispatcher sending at 1000 msg/s until the simulator has",
        f"received the first {o.memory_sent:,} messages. *Traced peak* is the highest",
        "Python allocation total in that span; RSS is `ru_maxrss` of the process (including",
        "the interpreter and libraries loaded before).",
        "",
        "| database | recipients | launch s | sent | traced peak: launch MB | traced peak MB "
        "| RSS at start MB | RSS peak MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in results.memory:
        out.append(
            f"| {m.backend} | {m.recipients:,} | {m.launch_seconds:.1f} | {m.sent:,} "
            f"| {m.launch_peak_mb:.1f} | **{m.traced_peak_mb:.1f}** | {m.rss_before_mb:.0f} "
            f"| {m.rss_peak_mb:.0f} |"
        )
    out += [
        "",
        f"### Audience count over {o.count_alumni:,} alumni",
        "",
        "`OfferRepository.count(segment)` in its own transaction, the first call (warm-up) not",
        f"counted, median of {o.count_repeats}. Alumni inserted in bulk with realistic",
        "distributions: programmes skewed to a few large ones (weight 1/rank), the big four",
        "provinces 4× as likely, 0–3 interests, each purpose granted by 35–80%, 8% of grants",
        "withdrawn later (two consent events), 3% unreachable, 7% not onboarded.",
        "",
        "| database | segment | audience | median ms | max ms |",
        "|---|---|---|---|---|",
    ]
    for c in results.counts:
        out.append(
            f"| {c.backend} | {c.segment} | {c.audience:,} | **{c.median_ms:.1f}** "
            f"| {c.worst_ms:.1f} |"
        )
    out += ["", "### Targets", "", *delivery_verdicts(results), ""]
    return "\n".join(out)


def _bounds(lines: list[str], heading: str) -> tuple[int, int] | None:
    """Return where ``heading``'s section starts and ends (at the next ``## ``), or None."""
    if heading not in lines:
        return None
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return start, end


def delivery_section(document: str, heading: str = "## Delivery engine") -> str:
    """Return ``heading``'s section of ``document`` (up to the next ``## ``), or ""."""
    lines = document.rstrip("\n").split("\n")
    bounds = _bounds(lines, heading)
    if bounds is None:
        return ""
    return "\n".join(lines[bounds[0] : bounds[1]]).rstrip("\n") + "\n"


def merge_section(document: str, section: str, heading: str = "## Delivery engine") -> str:
    """Replace ``heading``'s section in ``document`` (up to the next ``## ``), or append it."""
    lines = document.rstrip("\n").split("\n")
    bounds = _bounds(lines, heading)
    if bounds is None:
        return "\n".join(lines) + "\n\n" + section.rstrip("\n") + "\n"
    start, end = bounds
    lines[start:end] = section.rstrip("\n").split("\n") + ([""] if end < len(lines) else [])
    return "\n".join(lines) + "\n"
