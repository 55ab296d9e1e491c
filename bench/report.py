"""Machine facts, the results tables and docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version

from bench.bots import ALUMNIBOT, ECHO
from bench.drive import ONBOARDING, percentile
from bench.scenarios import WARMUP_ALUMNI, Measurement

RATIO_TARGET = 0.5
P99_TARGET_MS = 250.0


@dataclass
class Options:
    """How the run was configured."""

    alumni: int
    repeats: int
    rate: float
    open_alumni: int
    concurrent_updates: int
    backends: tuple[str, ...]
    command: str
    code: str


def code_version(root: str) -> str:
    """Return the commit measured, flagging uncommitted changes outside bench/ and docs/."""
    import subprocess

    given = os.environ.get("ALUMNIBOT_BENCH_CODE_VERSION")
    if given:
        return given
    try:
        commit = subprocess.run(
            ["git", "-C", root, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", root, "status", "--porcelain"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    dirty = [line for line in status if not line[3:].startswith(("bench/", "docs/"))]
    return f"{commit}" + (f" plus {len(dirty)} uncommitted change(s)" if dirty else "")


def machine(sqlite_version: str, pg_version: str) -> list[tuple[str, str]]:
    """Return the facts that make figures comparable between machines."""
    cpu = "unknown"
    memory = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in handle
                    if line.startswith("model name")
                ),
                cpu,
            )
        with open("/proc/meminfo", encoding="utf-8") as handle:
            kib = next(int(line.split()[1]) for line in handle if line.startswith("MemTotal"))
            memory = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return [
        ("CPUs (`nproc`)", str(len(os.sched_getaffinity(0)))),
        ("CPU model", cpu),
        ("memory", memory),
        ("OS", platform.platform()),
        ("Python", platform.python_version()),
        ("python-telegram-bot", version("python-telegram-bot")),
        ("aiohttp / httpx", f"{version('aiohttp')} / {version('httpx')}"),
        ("SQLAlchemy / asyncpg / aiosqlite", _versions("sqlalchemy", "asyncpg", "aiosqlite")),
        ("SQLite", sqlite_version),
        ("PostgreSQL", pg_version),
    ]


def _versions(*names: str) -> str:
    return " / ".join(version(name) for name in names)


@dataclass
class Row:
    """One line of a results table: medians over the repeats."""

    bot: str
    backend: str
    throughput: float
    throughput_range: tuple[float, float]
    p50: float
    p95: float
    p99: float
    worst: float
    cpu_ms: float
    cpu_busy: float
    driver_busy: float
    calls: float
    updates: int
    repeats: int
    onboarded: str

    @classmethod
    def of(cls, runs: Sequence[Measurement]) -> Row:
        """Summarise the repeats of one scenario (median of each figure)."""

        def med(values: Sequence[float]) -> float:
            return statistics.median(values)

        def ms(pct: float) -> float:
            return med([percentile(m.run.latencies, pct) * 1000 for m in runs])

        throughputs = [m.throughput for m in runs]
        first = runs[0]
        onboarded = (
            "/".join(str(m.onboarded) for m in runs) if first.onboarded is not None else "n/a"
        )
        return cls(
            bot=first.bot,
            backend=first.backend,
            throughput=med(throughputs),
            throughput_range=(min(throughputs), max(throughputs)),
            p50=ms(50),
            p95=ms(95),
            p99=ms(99),
            worst=med([max(m.run.latencies) * 1000 for m in runs]),
            cpu_ms=med([m.bot_cpu / m.updates * 1000 for m in runs]),
            cpu_busy=med([m.bot_cpu / m.run.wall for m in runs]),
            driver_busy=med([m.driver_cpu / m.run.wall for m in runs]),
            calls=med([m.api_calls / m.updates for m in runs]),
            updates=first.updates,
            repeats=len(runs),
            onboarded=onboarded,
        )


def closed_table(rows: Sequence[Row], baseline: Row) -> list[str]:
    """Markdown table of the closed-loop runs."""
    lines = [
        "| bot | database | updates/s (median; min–max) | vs bare PTB | p50 ms | p95 ms "
        "| p99 ms | max ms | bot CPU ms/update | CPU busy: bot / simulator "
        "| Bot API calls/update | onboarded (per run) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in [*rows, baseline]:
        ratio = row.throughput / baseline.throughput
        lines.append(
            f"| {row.bot} | {row.backend or '(none)'} | **{row.throughput:.1f}** "
            f"({row.throughput_range[0]:.1f}–{row.throughput_range[1]:.1f}) | {ratio:.2f} "
            f"| {row.p50:.0f} | {row.p95:.0f} | {row.p99:.0f} | {row.worst:.0f} "
            f"| {row.cpu_ms:.1f} | {row.cpu_busy:.0%} / {row.driver_busy:.0%} "
            f"| {row.calls:.1f} | {row.onboarded} |"
        )
    return lines


def open_table(runs: Sequence[Measurement], rate: float) -> list[str]:
    """Markdown table of the fixed-rate runs."""
    lines = [
        "| bot | database | offered/s | handled/s | p50 ms | p95 ms | p99 ms | max ms "
        "| p99 from schedule ms | max send lag ms | p99 < 250 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in runs:
        lat = m.run.latencies
        p99 = percentile(lat, 99) * 1000
        verdict = "**yes**" if p99 < P99_TARGET_MS else "**no**"
        lines.append(
            f"| {m.bot} | {m.backend or '(none)'} | {rate:.0f} | {m.throughput:.1f} "
            f"| {percentile(lat, 50) * 1000:.0f} | {percentile(lat, 95) * 1000:.0f} | {p99:.0f} "
            f"| {max(lat) * 1000:.0f} | {percentile(m.run.scheduled_latencies, 99) * 1000:.0f} "
            f"| {max(p.lag for p in m.run.probes) * 1000:.0f} | {verdict} |"
        )
    return lines


def verdicts(
    rows: Sequence[Row], baseline: Row, opens: Sequence[Measurement], rate: float
) -> list[str]:
    """One line per target, met or not, with the figures behind it."""
    lines = []
    for row in rows:
        ratio = row.throughput / baseline.throughput
        met = "met" if ratio >= RATIO_TARGET else "**not met**"
        lines.append(
            f"- Throughput on {row.backend}: {row.throughput:.1f} vs {baseline.throughput:.1f} "
            f"updates/s = {ratio:.2f} of bare PTB (target ≥ {RATIO_TARGET}): {met}."
        )
    for m in opens:
        if m.bot != ALUMNIBOT:
            continue
        p99 = percentile(m.run.latencies, 99) * 1000
        met = "met" if p99 < P99_TARGET_MS else "**not met**"
        lines.append(
            f"- p99 at {rate:.0f} updates/s offered on {m.backend}: {p99:.0f} ms "
            f"(target < {P99_TARGET_MS:.0f} ms): {met}."
        )
    return lines


def render(
    options: Options,
    facts: list[tuple[str, str]],
    rows: Sequence[Row],
    baseline: Row,
    opens: Sequence[Measurement],
    duration: float,
) -> str:
    """Return the whole docs/benchmarks.md."""
    steps = len(ONBOARDING)
    alumni_rows = [r for r in rows if r.bot == ALUMNIBOT]
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    ratio_text = ", ".join(
        f"{r.throughput / baseline.throughput:.2f} on {r.backend}" for r in alumni_rows
    )
    cpu_text = ", ".join(f"{r.cpu_ms:.1f} ms on {r.backend}" for r in alumni_rows)
    out = [
        "# Benchmarks",
        "",
        "Generated by `python -m bench` (run it with `make bench`); every figure below comes",
        "from that run. Do not edit by hand: rerun the benchmark.",
        "",
        f"- Run: {now}, took {duration / 60:.1f} min. Command: `{options.command}`.",
        f"- Code measured: {options.code}.",
        f"- Settings: {options.alumni} alumni, {options.repeats} repeat(s) of each closed-loop "
        f"measurement, fixed rate {options.rate:.0f} updates/s, concurrent_updates "
        f"{options.concurrent_updates}.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in facts),
        "",
        "## Method",
        "",
        "- **Transport.** The Bot API simulator (`sandbox.simulator`, rate limits off) runs in"
        " the benchmark process together with the simulated alumni. Each bot runs in its own",
        "  process, as in production (Telegram is another machine): it is built, started and",
        "  served like `alumnibot run --webhook` does (`handlers.runner.run_webhook`): the",
        "  Application without an Updater, `application.start()`, the aiohttp `AppRunner` on a",
        "  free 127.0.0.1 port, then `set_webhook(url, secret_token=...)`. The simulator POSTs",
        "  every update to that webhook over real HTTP (in order per chat, at most 40 at once:",
        "  Telegram's default `max_connections`), and the bot calls the simulator's Bot API over",
        "  real HTTP.",
        "- **Alumnibot.** `handlers.telegram.app.build_application(settings, webhook=True)` inside"
        " `handlers.telegram.app.running()`, served by"
        " `handlers.telegram.webhook.webhook_app` (each update is stored in",
        "  `inbound_update` before the 200, claimed once, then handled in its own transaction):",
        f"  `PerChatUpdateProcessor({options.concurrent_updates})`, PTB's requests on aiohttp's"
        f" client (`handlers.telegram.request.AiohttpRequest({options.concurrent_updates})`,",
        "  PTB's documented `BaseRequest` extension point) instead of the default httpx, HTML",
        "  defaults, the database pool of `storage.db.make_engine` (PostgreSQL: 10 + 20",
        "  overflow).",
        "- **Bare PTB.** An `Application` with `updater(None)`, `concurrent_updates("
        f"{options.concurrent_updates})` (PTB's `SimpleUpdateProcessor`), `connection_pool_size("
        f"{options.concurrent_updates})`, `pool_timeout(30)`, no database and no defaults: a",
        "  `MessageHandler(filters.TEXT)` that echoes the text with `reply_text` and a",
        "  `CallbackQueryHandler` that calls `query.answer()`. Its webhook endpoint is the same",
        "  aiohttp pattern (secret check, `Update.de_json`, `update_queue.put`, 200) without the",
        "  database write.",
        f"- **Script.** Every alumnus walks the onboarding of `tests/test_onboarding.py`: {steps}"
        " updates (/start, language, two consent toggles, continue, name, location typed,",
        "  programme search typed, programme, BOL/BBL, year typed, month, situation, sector,",
        "  region typed, two interests, done, save). Against the echo bot the same sequence of",
        "  typed messages and button presses is sent (with made-up button data).",
        "- **Latency** of an update is the time from the simulator creating it to the bot's",
        "  first answer to it, both observed in the simulator: a message sent, a message",
        "  edited, or the callback query answered. An update counts as answered (and the alumnus",
        "  moves on) on the bot's new message for a typed message, and on answerCallbackQuery",
        "  for a button press (both bots answer the query last). The driver waits on events the",
        "  simulator raises; there is no polling.",
        f"- **Closed loop (throughput).** {options.alumni} alumni start together; each sends"
        " its next update only when the previous one was answered. updates/s = all updates /",
        f"  wall time. Before each measurement {WARMUP_ALUMNI} extra alumni onboard to warm up"
        " (templates, pools); they are not counted. Each measurement has a fresh simulator, a",
        "  fresh bot process and a fresh database (a SQLite file in a temp dir, or a scratch",
        "  PostgreSQL database that is dropped after). After each Alumnibot run the benchmark",
        "  checks that every alumnus is onboarded in the database (`onboarded_at` set) and",
        "  fails otherwise. Figures are medians over the repeats (runs interleaved bare PTB,",
        "  SQLite, PostgreSQL so that machine noise spreads over all three).",
        f"- **Fixed rate (latency).** {options.open_alumni} alumni start"
        f" {1000 / options.rate:.0f} ms apart and each sends one update every"
        f" {options.open_alumni / options.rate:.1f} s, so the offered load is"
        f" {options.rate:.0f} updates/s on an even grid for"
        f" {options.open_alumni * steps / options.rate:.0f} s. Sending does not wait for the",
        "  bot unless the previous answer of that alumnus is still missing (then the send is",
        "  late: see *max send lag*; *p99 from schedule* adds that lateness). One run per bot",
        "  and database.",
        "- **Bot CPU ms/update** is the bot process's CPU time during the measurement divided",
        "  by its updates; *CPU busy* is each process's CPU time over the wall time (100% = one",
        "  core: a process near 100% is the bottleneck). Bot API calls/update counts the",
        "  requests the simulator received.",
        "",
        "## Results: closed loop, throughput",
        "",
        *closed_table(alumni_rows, baseline),
        "",
        f"Latencies here are queueing-dominated: with {options.alumni} alumni always waiting,",
        "latency ≈ alumni in flight / throughput (Little's law). The fixed-rate run below is",
        "the latency figure.",
        "",
        f"## Results: fixed rate, {options.rate:.0f} updates/s",
        "",
        *open_table(opens, options.rate),
        "",
        "## Targets",
        "",
        *verdicts(alumni_rows, baseline, opens, options.rate),
        "",
        "## Interpretation",
        "",
        f"- Alumnibot reaches {ratio_text} of bare PTB's throughput. Both are CPU-bound in one",
        "  Python process; the gap is the work per update: Alumnibot spends",
        f"  {cpu_text} of CPU per update against {baseline.cpu_ms:.1f} ms for bare PTB, and",
        f"  makes {', '.join(f'{r.calls:.1f}' for r in alumni_rows)} Bot API calls per update"
        f" against {baseline.calls:.1f}.",
        f"- During the bare PTB runs the bot process was {baseline.cpu_busy:.0%} busy and the"
        f" simulator process {baseline.driver_busy:.0%}: "
        + (
            "the simulator, not PTB, is the limit there, so bare PTB's real ceiling is higher"
            " and the ratio above flatters Alumnibot."
            if baseline.driver_busy > 0.85
            else "the bot process uses a full core, so bare PTB is bound by its own CPU, not by"
            " the simulator."
            if baseline.cpu_busy > 0.85
            else "neither is pinned at one full core, so the machine (2 cores shared with"
            " PostgreSQL and other tenants) limits the baseline as much as PTB does."
        ),
        "- Where that time goes (py-spy of the bot process during a closed-loop run):",
        "  SQLAlchemy and the SQLite driver thread (aiosqlite hops to its thread several times",
        "  per statement), then PTB parsing the answers of its Bot API calls into objects, then",
        "  the HTTP client. Alumnibot makes more calls per update (an edit of the question and",
        "  answerCallbackQuery for a tap). What was done about it: PTB's requests go through",
        "  aiohttp's client instead of httpx (about half the CPU per call); the hot path's SQL",
        "  statements are built once (SQLAlchemy memoises their cache keys); the person and the",
        "  open flow load in one query; the flow state is written with one upsert instead of",
        "  the unit of work; templates are not re-checked on disk on every render.",
        "- SQLite's long tail comes from writers waiting for the database lock: several",
        "  pooled connections write at once and SQLite's busy handler sleeps in steps of up to",
        "  100 ms before retrying. PostgreSQL has no such wait.",
        "- Noise: the machine is shared, with "
        f"{os.cpu_count()} CPUs for the simulator and driver, the bot and PostgreSQL",
        "  together; the min–max column shows the spread between repeats. Fixed-rate tails",
        "  (p99, max) move the most between runs; compare medians, not single runs.",
        "",
    ]
    return "\n".join(out)


def console_table(rows: Sequence[Row], baseline: Row, opens: Sequence[Measurement]) -> str:
    """A plain-text summary for the terminal."""
    lines = [
        f"{'bot':10} {'database':10} {'upd/s':>7} {'ratio':>6} {'p50':>6} {'p95':>6} "
        f"{'p99':>6} {'max':>6} {'cpu/upd':>8}",
    ]
    for row in [*rows, baseline]:
        lines.append(
            f"{row.bot:10} {row.backend or '-':10} {row.throughput:7.1f} "
            f"{row.throughput / baseline.throughput:6.2f} {row.p50:6.0f} {row.p95:6.0f} "
            f"{row.p99:6.0f} {row.worst:6.0f} {row.cpu_ms:7.1f}ms"
        )
    lines.append("")
    lines.append(f"fixed rate: {'bot':10} {'database':10} {'upd/s':>7} {'p50':>6} {'p99':>6}")
    for m in opens:
        lat = m.run.latencies
        lines.append(
            f"            {m.bot:10} {m.backend or '-':10} {m.throughput:7.1f} "
            f"{percentile(lat, 50) * 1000:6.0f} {percentile(lat, 99) * 1000:6.0f}"
        )
    return "\n".join(lines)


__all__ = ["ECHO", "Options", "Row", "code_version", "console_table", "machine", "render"]
