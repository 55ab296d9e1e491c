"""One measurement: a fresh simulator, database and bot process, warmed up, then driven."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from bench.bots import ALUMNIBOT, BotConfig, BotProcess, profile_path
from bench.databases import fresh_database, onboarded
from bench.drive import Run, closed_loop, make_alumni, open_loop
from bench.probe import TimedSimulator

TOKEN = "123456:BENCH-alumnibot-token-abcdefghijklmnop"
WARMUP_ALUMNI = 5
CLOSED, OPEN = "closed", "open"


@dataclass
class Measurement:
    """The outcome of one scenario run."""

    bot: str
    backend: str
    mode: str
    run: Run
    updates: int
    bot_cpu: float
    stray_answers: int
    api_calls: int
    driver_cpu: float
    onboarded: int | None = None

    @property
    def throughput(self) -> float:
        """Updates per second of wall time."""
        return self.updates / self.run.wall


def log(text: str) -> None:
    """Progress on stderr."""
    print(text, file=sys.stderr, flush=True)


@contextlib.asynccontextmanager
async def _stage(
    bot: str, backend: str, concurrent_updates: int, profile_dir: Path | None, label: str
) -> AsyncIterator[tuple[TimedSimulator, BotProcess, str]]:
    simulator = TimedSimulator(token=TOKEN, bot_username="alumnibot_bench_bot", local_mode=True)
    await simulator.start(host="127.0.0.1", port=0)
    try:
        async with fresh_database(backend) if bot == ALUMNIBOT else _no_database() as url:
            process = BotProcess(
                BotConfig(
                    kind=bot,
                    token=TOKEN,
                    api_url=simulator.api_base_url,
                    file_url=simulator.file_base_url,
                    concurrent_updates=concurrent_updates,
                    database_url=url,
                    profile_to=profile_path(profile_dir, label),
                )
            )
            await process.start()
            try:
                yield simulator, process, url
            finally:
                await process.stop()
    finally:
        await simulator.stop()


@contextlib.asynccontextmanager
async def _no_database() -> AsyncIterator[str]:
    yield ""


async def measure(
    bot: str,
    backend: str,
    mode: str,
    *,
    alumni: int,
    rate: float,
    concurrent_updates: int,
    profile_dir: Path | None = None,
) -> Measurement:
    """Run one scenario on fresh everything and return its figures."""
    label = f"{bot}-{backend}-{mode}".replace(" ", "_").lower()
    real = bot == ALUMNIBOT
    async with _stage(bot, backend, concurrent_updates, profile_dir, label) as (
        sim,
        process,
        url,
    ):
        # Warm up: templates, catalogue, connection pools, PTB's HTTP pool.
        await closed_loop(make_alumni(sim, WARMUP_ALUMNI, real_buttons=real))
        people = make_alumni(sim, alumni, real_buttons=real)
        stray_before, calls_before = sim.stray_answers, len(sim.requests)
        if profile_dir is not None:
            await process.profile(True)
        cpu_before = await process.cpu_seconds()
        driver_before = time.process_time()
        started = time.perf_counter()
        run = await (closed_loop(people) if mode == CLOSED else open_loop(people, rate))
        driver_cpu = time.process_time() - driver_before
        cpu = await process.cpu_seconds() - cpu_before
        if profile_dir is not None:
            await process.profile(False)
        elapsed = time.perf_counter() - started
        result = Measurement(
            bot=bot,
            backend=backend,
            mode=mode,
            run=run,
            updates=len(run.probes),
            bot_cpu=cpu,
            stray_answers=sim.stray_answers - stray_before,
            api_calls=len(sim.requests) - calls_before,
            driver_cpu=driver_cpu,
        )
        if real:
            ours, total = await onboarded(url, [p.user.id for p in people])
            result.onboarded = ours
            if ours != alumni or total != alumni + WARMUP_ALUMNI:
                raise AssertionError(
                    f"{alumni} alumni should be onboarded; the database has {ours} of them "
                    f"({total} in all, {WARMUP_ALUMNI} of them warm-up)"
                )
        log(
            f"  {bot:9} {backend or '-':10} {mode:6} {result.updates:5} updates in "
            f"{elapsed:5.1f}s: {result.throughput:6.1f}/s, CPU bot {cpu:5.1f}s "
            f"simulator {driver_cpu:5.1f}s, "
            f"{result.api_calls / result.updates:.1f} Bot API calls/update"
        )
        return result
