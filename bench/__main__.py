"""``python -m bench``: onboarding over the webhook and the delivery engine, vs bare PTB."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import bench  # noqa: F401  (sets PTB_TIMEDELTA before telegram is imported)
from bench.aftercare import HEADING as AFTERCARE_HEADING
from bench.aftercare import render_aftercare, run_aftercare
from bench.bots import ALUMNIBOT, ECHO
from bench.databases import POSTGRES, SQLITE, server_versions
from bench.delivery import (
    DeliveryOptions,
    delivery_section,
    merge_section,
    render_delivery,
    run_delivery,
)
from bench.registry import HEADING as REGISTRY_HEADING
from bench.registry import render_registry, run_registry
from bench.report import Options, Row, code_version, console_table, machine, render
from bench.scenarios import CLOSED, OPEN, Measurement, log, measure

ROOT = Path(__file__).resolve().parent.parent


def parse(argv: list[str]) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20 alumni, 1 repeat, 5 s at 50/s")
    parser.add_argument("--alumni", type=int, default=200, help="closed loop: alumni at once")
    parser.add_argument("--repeats", type=int, default=3, help="closed loop: runs per scenario")
    parser.add_argument("--rate", type=float, default=50.0, help="fixed rate: updates/s")
    parser.add_argument(
        "--open-alumni", type=int, default=50, help="fixed rate: alumni (one update/s each)"
    )
    parser.add_argument("--concurrent-updates", type=int, default=64)
    parser.add_argument(
        "--backend", choices=("sqlite", "postgres", "both"), default="both", help="databases"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "docs" / "benchmarks.md",
        help="where to write the report ('-' for nowhere)",
    )
    parser.add_argument("--profile", type=Path, help="write cProfile stats of each bot here")
    parser.add_argument(
        "--suite",
        choices=("all", "onboarding", "delivery", "registry", "aftercare"),
        default="all",
        help="onboarding (webhook updates), delivery (outbox dispatcher), registry (imports "
        "and invitation PDFs), aftercare (the check-in tick and the monitor over 100,000 "
        "alumni), or all",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.alumni, args.repeats, args.open_alumni = 20, 1, 13
    return args


def delivery_options(args: argparse.Namespace, backends: tuple[str, ...]) -> DeliveryOptions:
    """The delivery suite's sizes: the issue's, or small ones with --quick."""
    if args.quick:
        return DeliveryOptions(
            backends,
            rate_recipients=500,
            lifted_recipients=2000,
            lifted_repeats=1,
            memory_sizes=(1000, 10_000),
            memory_sent=1000,
            count_alumni=10_000,
            count_repeats=5,
            profile_dir=args.profile,
        )
    return DeliveryOptions(backends, profile_dir=args.profile)


async def main(args: argparse.Namespace) -> int:
    """Run the chosen suites and write docs/benchmarks.md."""
    backends = {"sqlite": (SQLITE,), "postgres": (POSTGRES,), "both": (SQLITE, POSTGRES)}[
        args.backend
    ]
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    command = "python -m bench" + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else "")
    document = ""
    if str(args.output) != "-" and args.output.exists():
        document = args.output.read_text(encoding="utf-8")
    if args.suite in ("all", "onboarding"):
        earlier = document
        document = await onboarding(args, backends, command)
        if args.suite == "onboarding":
            # Keep the delivery figures of an earlier run: only this suite was measured.
            delivery = delivery_section(earlier)
            if delivery:
                document = merge_section(document, delivery)
        # Keep the other suites' figures of an earlier run unless this run measures them.
        for heading in (REGISTRY_HEADING, AFTERCARE_HEADING):
            kept = delivery_section(earlier, heading)
            if kept and args.suite != "all":
                document = merge_section(document, kept, heading)
    if args.suite in ("all", "delivery"):
        started, begun = time.perf_counter(), datetime.now(UTC)
        results = await run_delivery(delivery_options(args, backends))
        section = render_delivery(
            results,
            command,
            code_version(str(ROOT)),
            begun,
            time.perf_counter() - started,
            await machine_of(args),
        )
        print(section)
        document = merge_section(document or "# Benchmarks\n", section)
    if args.suite in ("all", "registry"):
        started, begun = time.perf_counter(), datetime.now(UTC)
        repeats = 1 if args.quick else 3
        figures = await run_registry(backends, repeats=repeats)
        section = render_registry(
            figures,
            command,
            code_version(str(ROOT)),
            begun,
            time.perf_counter() - started,
            await machine_of(args),
        )
        print(section)
        document = merge_section(document or "# Benchmarks\n", section, REGISTRY_HEADING)
    if args.suite in ("all", "aftercare"):
        alumni = 10_000 if args.quick else 100_000
        begun = datetime.now(UTC)
        aftercare = await run_aftercare(
            backends, alumni=alumni, due=alumni // 10, answered=alumni // 2
        )
        section = render_aftercare(
            aftercare, command, code_version(str(ROOT)), begun, await machine_of(args)
        )
        print(section)
        document = merge_section(document or "# Benchmarks\n", section, AFTERCARE_HEADING)
    if str(args.output) != "-":
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(document, encoding="utf-8")
        log(f"wrote {args.output}")
    return 0


async def machine_of(args: argparse.Namespace) -> list[tuple[str, str]] | None:
    """The machine's facts for a suite's section; None when all ran (onboarding has them)."""
    if args.suite == "all":
        return None
    sqlite_version, pg_version = await server_versions()
    return machine(sqlite_version, pg_version)


async def onboarding(args: argparse.Namespace, backends: tuple[str, ...], command: str) -> str:
    """Alumnibot vs bare PTB over the webhook; return the onboarding document."""
    started = time.perf_counter()
    sqlite_version, pg_version = await server_versions()
    common = {
        "rate": args.rate,
        "concurrent_updates": args.concurrent_updates,
        "profile_dir": args.profile,
    }
    closed: dict[tuple[str, str], list[Measurement]] = {}
    for repeat in range(1, args.repeats + 1):
        log(f"closed loop, {args.alumni} alumni, run {repeat} of {args.repeats}")
        for bot, backend in [(ECHO, ""), *((ALUMNIBOT, b) for b in backends)]:
            result = await measure(bot, backend, CLOSED, alumni=args.alumni, **common)
            closed.setdefault((bot, backend), []).append(result)
    log(f"fixed rate, {args.rate:.0f} updates/s from {args.open_alumni} alumni")
    opens = [
        await measure(bot, backend, OPEN, alumni=args.open_alumni, **common)
        for bot, backend in [(ECHO, ""), *((ALUMNIBOT, b) for b in backends)]
    ]
    baseline = Row.of(closed[(ECHO, "")])
    rows = [Row.of(closed[(ALUMNIBOT, b)]) for b in backends]
    print(console_table(rows, baseline, opens))
    options = Options(
        alumni=args.alumni,
        repeats=args.repeats,
        rate=args.rate,
        open_alumni=args.open_alumni,
        concurrent_updates=args.concurrent_updates,
        backends=backends,
        command=command,
        code=code_version(str(ROOT)),
    )
    return render(
        options,
        machine(sqlite_version, pg_version),
        rows,
        baseline,
        opens,
        time.perf_counter() - started,
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    sys.exit(asyncio.run(main(parse(sys.argv[1:]))))
