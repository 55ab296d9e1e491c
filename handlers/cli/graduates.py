"""``alumnibot graduates``: import the school's records, export them, invite, purge.

A Typer sub-app; :func:`mount` adds it to the main ``alumnibot`` app. Words come from
``content/<locale>/registry.j2`` like everywhere else. Exit codes: 0 done, 1 the file or
the request was refused (nothing changed), 2 wrong usage.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from bot.core.logs import configure_logging
from bot.core.messenger import QueueOnlyMessenger
from bot.core.render import LOCALES
from bot.core.settings import Settings
from bot.registry import report as words
from bot.registry.importer import ImportFileError, parse_mapping
from bot.registry.service import ClassKey, RegistryService
from handlers.graph import build_graph, make_deps
from storage.db import make_engine
from storage.migrate import upgrade
from storage.repositories import Storage

logger = logging.getLogger(__name__)
T = TypeVar("T")
SHOWN = 50  # lines per section of a report; the rest is counted

graduates_app = typer.Typer(
    name="graduates",
    help="The graduate registry: import the school's export, export it, invite, purge.",
    no_args_is_help=True,
    add_completion=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

Locale = Annotated[str, typer.Option("--locale", help="Language of the output: nl or en.")]


def mount(app: typer.Typer) -> None:
    """Add ``graduates`` to the main ``alumnibot`` Typer app."""
    app.add_typer(graduates_app, name="graduates")


def _run(work: Callable[[RegistryService], Awaitable[T]]) -> T:
    """Run ``work`` on the registry service of a migrated database."""
    settings = Settings()
    configure_logging(settings.log_level)

    async def main() -> T:
        engine = make_engine(settings.database_url)
        try:
            await upgrade(engine)
            graph = build_graph(
                make_deps(
                    settings,
                    messenger=QueueOnlyMessenger("the command line"),
                    storage=Storage(engine),
                )
            )
            return await work(graph.registry)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _locale(locale: str) -> str:
    if locale not in LOCALES:
        raise typer.BadParameter("nl, en", param_hint="--locale")
    return locale


def _section(title: str, lines: list[str]) -> None:
    if not lines:
        return
    out.print(f"\n[bold]{title}[/bold]", markup=True)
    for line in lines[:SHOWN]:
        out.print(f"  {line}", markup=False)
    if len(lines) > SHOWN:
        out.print(f"  … +{len(lines) - SHOWN}", markup=False)


@graduates_app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map", metavar="HEADER=FIELD", help="Read another header as one of our fields."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
    ] = False,
    locale: Locale = "nl",
) -> None:
    """Import an .xlsx or .csv export: every row checked, all or nothing."""
    locale = _locale(locale)
    data = file.read_bytes()

    async def work(service: RegistryService) -> words.ReportView | str:
        renderer = service.deps.renderer
        try:
            parsed = parse_mapping(mapping or [])
            report = await service.import_file(file.name, data, mapping=parsed, dry_run=dry_run)
        except ImportFileError as error:
            return words.file_error(renderer, error, locale)
        return words.view(renderer, report, locale)

    shown = _run(work)
    if isinstance(shown, str):
        err.print(shown, markup=False)
        raise typer.Exit(1)
    out.print(shown.file, markup=False)
    if shown.ignored:
        out.print(shown.ignored, markup=False)
    _section(shown.headings["errors"], shown.errors)
    _section(shown.headings["new"], shown.new)
    _section(shown.headings["updated"], shown.updated)
    _section(shown.headings["missing"], shown.missing)
    out.print("")
    out.print(shown.counts, markup=False)
    (out if shown.ok else err).print(shown.summary, markup=False)
    if not shown.ok:
        raise typer.Exit(1)


@graduates_app.command("export")
def export(
    target: Annotated[Path, typer.Argument(dir_okay=False, help="The .xlsx file to write.")],
    locale: Locale = "nl",
) -> None:
    """Export the registry to .xlsx (headers that import back)."""
    locale = _locale(locale)

    async def work(service: RegistryService) -> str:
        data = await service.export_xlsx(locale)
        target.write_bytes(data)
        count = len(await service.all())
        return service.deps.renderer.label(
            "registry.cli_exported", locale, count=count, path=str(target)
        )

    out.print(_run(work), markup=False)


@graduates_app.command("invite")
def invite(
    class_code: Annotated[
        str | None,
        typer.Option(
            "--class", metavar="CREBO-LEVEL-YYYYMM", help="One class, e.g. 25998-4-202607."
        ),
    ] = None,
    every_class: Annotated[bool, typer.Option("--all", help="Every class.")] = False,
    out_dir: Annotated[
        Path, typer.Option("--out", file_okay=False, help="Folder to write to.")
    ] = Path("."),
    bot: Annotated[
        str | None,
        typer.Option("--bot", help="The bot's @username (else ALUMNIBOT_BOT_USERNAME)."),
    ] = None,
    graduated_only: Annotated[
        bool, typer.Option("--graduated-only", help="Leave out current students.")
    ] = False,
    class_link: Annotated[
        bool,
        typer.Option("--class-link", help="Write the class's reusable link and QR code instead."),
    ] = False,
    locale: Locale = "nl",
) -> None:
    """Make personal invitations per class: printable cards (PDF) and links (CSV)."""
    locale = _locale(locale)
    if (class_code is None) == (not every_class):
        raise typer.BadParameter("give --class CODE or --all", param_hint="--class")
    key = ClassKey.parse(class_code) if class_code else None
    if class_code and key is None:
        raise typer.BadParameter("CREBO-LEVEL-YYYYMM, e.g. 25998-4-202607", param_hint="--class")

    async def work(service: RegistryService) -> tuple[int, list[str]]:
        renderer = service.deps.renderer
        bot_username = bot or service.deps.settings.bot_username
        if not bot_username:
            return 2, [renderer.label("registry.cli_no_bot", locale)]
        known = [c.key for c in await service.classes()]
        if key is not None and key not in known:
            return 1, [renderer.label("registry.cli_unknown_class", locale, code=key.code)]
        out_dir.mkdir(parents=True, exist_ok=True)
        lines: list[str] = []
        for chosen in [key] if key is not None else known:
            if class_link:
                name = renderer.label("registry.class_filename", locale, code=chosen.code)
                path = out_dir / f"{name}.pdf"
                path.write_bytes(service.class_sheet(bot_username, chosen, locale))
                link = service.class_link(bot_username, chosen)
                lines.append(
                    renderer.label("registry.cli_class_link", locale, link=link, path=str(path))
                )
                continue
            pack = await service.invitation_pack(
                bot_username, chosen, locale, students=not graduated_only
            )
            stem = renderer.label("registry.invitations_filename", locale, code=chosen.code)
            pdf, csv = out_dir / f"{stem}.pdf", out_dir / f"{stem}.csv"
            pdf.write_bytes(pack.pdf)
            csv.write_bytes(pack.csv)
            lines.append(
                renderer.label(
                    "registry.cli_invited", locale, count=pack.count, paths=f"{pdf}, {csv}"
                )
            )
        return 0, lines

    code, lines = _run(work)
    for line in lines:
        (out if code == 0 else err).print(line, markup=False)
    if code:
        raise typer.Exit(code)


@graduates_app.command("purge")
def purge(locale: Locale = "nl") -> None:
    """Delete records nobody linked once no import held them for the retention period."""
    locale = _locale(locale)

    async def work(service: RegistryService) -> str:
        count = await service.purge()
        return service.deps.renderer.label(
            "registry.cli_purged",
            locale,
            count=count,
            days=service.deps.settings.registry_retention_days,
        )

    out.print(_run(work), markup=False)
