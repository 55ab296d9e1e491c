"""The graduate registry's figures: a 20,000-row import and 500 invitation cards.

Targets (issue 13): 20,000 rows import in under 10 s on SQLite and PostgreSQL; the
invitation PDF for 500 graduates in under 20 s. Each figure is the median of several runs
on a fresh database, beside a baseline measured in the same run: reading and checking the
file without a database (the import's own share), and making the 500 QR codes alone (the
PDF's share).
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import segno
from openpyxl import Workbook
from pydantic import SecretStr

from bench.databases import fresh_database
from bench.scenarios import log
from bot.core.messenger import QueueOnlyMessenger
from bot.core.settings import Settings
from bot.registry.documents import MASK
from bot.registry.importer import check_rows, read_table
from bot.registry.service import ClassKey
from handlers.graph import Graph, build_graph, make_deps
from storage.db import make_engine
from storage.migrate import upgrade
from storage.repositories import Storage

HEADING = "## Graduate registry"
HEADERS = [
    "Studentnummer",
    "Voornaam",
    "Achternaam",
    "E-mail",
    "Crebo",
    "Niveau",
    "Leerweg",
    "Locatie",
    "Diplomadatum",
]
IMPORT_TARGET, PDF_TARGET = 10.0, 20.0


def rows(count: int, cohort: date = date(2025, 7, 4)) -> list[list[object]]:
    """A school's export: ``count`` Software developers graduating on ``cohort``."""
    return [
        [
            str(200000 + n),
            f"Voornaam{n}",
            f"Achternaam{n}",
            f"s{n}@mail.example",
            "25998",
            "4",
            "BOL",
            "centrum",
            cohort.isoformat(),
        ]
        for n in range(count)
    ]


def as_csv(data: Sequence[Sequence[object]]) -> bytes:
    lines = [";".join(HEADERS)] + [";".join(str(c) for c in row) for row in data]
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def as_xlsx(data: Sequence[Sequence[object]]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADERS)
    for row in data:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@dataclass
class Figure:
    """One measured task: seconds of each run."""

    name: str
    backend: str
    seconds: list[float] = field(default_factory=list)
    target: float | None = None
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


async def _graph(url: str) -> tuple[Graph, Storage]:
    engine = make_engine(url)
    await upgrade(engine)
    storage = Storage(engine)
    settings = Settings(
        _env_file=None,
        database_url=url,
        secret_key=SecretStr("bench"),
        bot_username="alumnibot_bench_bot",
    )
    graph = build_graph(
        make_deps(settings, messenger=QueueOnlyMessenger("bench"), storage=storage)
    )
    return graph, storage


async def _load(graph: Graph, name: str, content: bytes, expected: int) -> float:
    """Import a file; return the seconds it took."""
    started = time.perf_counter()
    report = await graph.registry.import_file(name, content, dry_run=False)
    took = time.perf_counter() - started
    assert report.applied and len(report.new) + report.unchanged == expected
    return took


async def run_registry(
    backends: Sequence[str], *, import_rows: int = 20_000, cards: int = 500, repeats: int = 3
) -> list[Figure]:
    """Measure imports on each backend and the invitation PDF; return every figure."""
    figures: list[Figure] = []
    data = rows(import_rows)
    files = {"csv": as_csv(data), "xlsx": as_xlsx(data)}
    settings = Settings(_env_file=None)
    from bot.core.catalogue import Catalogue

    catalogue = Catalogue(settings.content_dir / "catalogue")
    for kind, content in files.items():
        baseline = Figure(f"read and check {import_rows:,} rows (.{kind}), no database", "")
        for _ in range(repeats):
            started = time.perf_counter()
            checked = check_rows(read_table(f"x.{kind}", content), catalogue, date(2026, 6, 1))
            baseline.seconds.append(time.perf_counter() - started)
            assert not checked.errors
        figures.append(baseline)
    for backend in backends:
        for kind, content in files.items():
            first = Figure(
                f"import {import_rows:,} new rows (.{kind})", backend, target=IMPORT_TARGET
            )
            again = Figure(f"re-import the same {import_rows:,} rows (.{kind})", backend)
            for repeat in range(repeats):
                log(f"registry: import .{kind} on {backend}, run {repeat + 1} of {repeats}")
                async with fresh_database(backend) as url:
                    graph, storage = await _graph(url)
                    try:
                        name = f"x.{kind}"
                        first.seconds.append(await _load(graph, name, content, import_rows))
                        again.seconds.append(await _load(graph, name, content, import_rows))
                    finally:
                        await storage.dispose()
            figures += [first, again]

    links = [f"https://t.me/alumnibot_bench_bot?start=g-{'x' * 40}{n:03d}" for n in range(cards)]
    qr = Figure(f"{cards} QR codes alone (segno, as on the cards), no PDF", "")
    for _ in range(repeats):
        started = time.perf_counter()
        for link in links:
            segno.make(link, error="m", micro=False, mask=MASK)
        qr.seconds.append(time.perf_counter() - started)
    figures.append(qr)
    backend = backends[0]
    pdf = Figure(
        f"invitation PDF and CSV for {cards} graduates (tokens issued)", backend, target=PDF_TARGET
    )
    for repeat in range(repeats):
        log(f"registry: {cards} invitation cards on {backend}, run {repeat + 1} of {repeats}")
        async with fresh_database(backend) as url:
            graph, storage = await _graph(url)
            try:
                await graph.registry.import_file("x.csv", as_csv(rows(cards)), dry_run=False)
                started = time.perf_counter()
                pack = await graph.registry.invitation_pack(
                    "alumnibot_bench_bot", ClassKey("25998", 4, 2025, 7), "nl"
                )
                pdf.seconds.append(time.perf_counter() - started)
                assert pack.count == cards
                pdf.note = f"{len(pack.pdf) / 1024:.0f} KiB, {-(-cards // 8)} pages"
            finally:
                await storage.dispose()
    figures.append(pdf)
    return figures


def render_registry(
    figures: Sequence[Figure],
    command: str,
    code: str,
    begun: datetime,
    took: float,
    machine: Sequence[tuple[str, str]] | None,
) -> str:
    """Return the registry section of docs/benchmarks.md."""
    lines = [
        HEADING,
        "",
        f"- Run: {begun.astimezone(UTC):%Y-%m-%d %H:%M} UTC, took {took / 60:.1f} min. "
        f"Command: `{command}`.",
        f"- Code measured: {code}.",
        "- Each figure is the median of the runs shown, each on a fresh database (a SQLite file, "
        "or a scratch PostgreSQL database on this machine).",
        "- Import: `RegistryService.import_file` as the CLI and the console call it: read the "
        "file, check every row against the catalogue, compare with the registry, write. The "
        "re-import finds every row unchanged (next month's export). The baseline rows read and "
        "check the same file without a database.",
        "- Invitations: `RegistryService.invitation_pack`: issue 500 tokens (hashes stored), "
        "draw 500 cards with their QR codes into an A4 PDF, write the CSV. The baseline makes "
        "the 500 QR codes alone.",
        "",
    ]
    if machine:
        lines += ["| machine | |", "|---|---|", *[f"| {k} | {v} |" for k, v in machine], ""]
    lines += [
        "| task | database | median | runs (s) | target | |",
        "|---|---|---:|---|---|---|",
    ]
    for f in figures:
        verdict = ""
        target = ""
        if f.target is not None:
            target = f"< {f.target:g} s"
            verdict = "met" if f.median < f.target else "**missed**"
        runs = ", ".join(f"{s:.2f}" for s in f.seconds)
        note = f" ({f.note})" if f.note else ""
        lines.append(
            f"| {f.name}{note} | {f.backend or '–'} | {f.median:.2f} s | {runs} | {target} "
            f"| {verdict} |"
        )
    return "\n".join(lines) + "\n"
