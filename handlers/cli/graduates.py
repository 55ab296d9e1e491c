"""``alumnibot graduates``: import the school's records, export them, invite, purge.

The CLI's own words are in ``content/<locale>/cli/graduates.j2``; an import's report uses
the words of ``content/<locale>/registry.j2`` (:mod:`bot.registry.report`), the same as the
console, in the CLI's language. Exit codes: 0 done, 1 refused (a file with errors: nothing
imported; an unknown class), 2 wrong use (neither or both of --class and --all, a class code
that is not one, no bot username).
"""

# No ``from __future__ import annotations``: Typer reads the annotations at run time.

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from bot.registry import report
from bot.registry.importer import FIELDS, ImportFileError, parse_mapping
from bot.registry.service import ClassKey
from handlers.cli.common import EXIT_REFUSED, EXIT_USAGE, Cli, file_exists
from handlers.graph import Graph

SHOWN = 50  # lines per section of a report; the rest is counted


def group(cli: Cli) -> typer.Typer:
    """Build the ``graduates`` commands with help in the CLI's language."""
    w = cli.words
    app = typer.Typer(help=w("graduates.help"), no_args_is_help=True)

    def section(title: str, lines: list[str]) -> None:
        if not lines:
            return
        cli.line()
        cli.out.print(Text(title, style="bold"))
        for line in lines[:SHOWN]:
            cli.line(f"  {line}")
        if len(lines) > SHOWN:
            cli.line(f"  {w('graduates.more', count=len(lines) - SHOWN)}")

    @app.command("import", help=w("graduates.help_import"))
    def import_(
        file: Annotated[Path, typer.Argument(help=w("graduates.help_file"))],
        mapping: Annotated[
            list[str] | None,
            typer.Option(
                "--map",
                metavar="HEADER=FIELD",
                help=w("graduates.help_map", fields=", ".join(FIELDS)),
            ),
        ] = None,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help=w("graduates.help_dry_run"))
        ] = False,
    ) -> None:
        path = file_exists(cli, file)
        data = path.read_bytes()

        async def work(graph: Graph) -> report.ReportView:
            renderer = graph.deps.renderer
            try:
                parsed = parse_mapping(mapping or [])
                done = await graph.registry.import_file(
                    path.name, data, mapping=parsed, dry_run=dry_run
                )
            except ImportFileError as error:
                cli.err.print(report.file_error(renderer, error, cli.locale), markup=False)
                raise typer.Exit(EXIT_REFUSED) from None
            return report.view(renderer, done, cli.locale)

        shown = cli.run(work)
        cli.line(shown.file)
        if shown.ignored:
            cli.line(shown.ignored)
        for name in ("errors", "new", "updated", "missing"):
            section(shown.headings[name], getattr(shown, name))
        cli.line()
        cli.line(shown.counts)
        if not shown.ok:
            cli.err.print(shown.summary, markup=False)
            raise typer.Exit(EXIT_REFUSED)
        cli.line(shown.summary)

    @app.command("export", help=w("graduates.help_export"))
    def export(
        target: Annotated[Path, typer.Argument(dir_okay=False, help=w("graduates.help_target"))],
    ) -> None:
        async def work(graph: Graph) -> int:
            target.write_bytes(await graph.registry.export_xlsx(cli.locale))
            return len(await graph.registry.all())

        cli.say("graduates.exported", count=cli.run(work), path=str(target))

    @app.command("invite", help=w("graduates.help_invite"))
    def invite(
        class_code: Annotated[
            str | None,
            typer.Option("--class", metavar="CREBO-LEVEL-YYYYMM", help=w("graduates.help_class")),
        ] = None,
        every_class: Annotated[bool, typer.Option("--all", help=w("graduates.help_all"))] = False,
        out_dir: Annotated[
            Path, typer.Option("--out", file_okay=False, help=w("graduates.help_out"))
        ] = Path("."),
        bot: Annotated[
            str | None, typer.Option("--bot", metavar="NAME", help=w("graduates.help_bot"))
        ] = None,
        graduated_only: Annotated[
            bool, typer.Option("--graduated-only", help=w("graduates.help_graduated_only"))
        ] = False,
        class_link: Annotated[
            bool, typer.Option("--class-link", help=w("graduates.help_class_link"))
        ] = False,
    ) -> None:
        if (class_code is None) == (not every_class):
            cli.fail("graduates.class_or_all", exit_code=EXIT_USAGE)
        key = ClassKey.parse(class_code.strip()) if class_code else None
        if class_code and key is None:
            cli.fail("graduates.bad_class", exit_code=EXIT_USAGE, value=class_code)
        bot_username = (bot or cli.settings.bot_username or "").strip().lstrip("@")
        if not bot_username:
            cli.fail("graduates.no_bot", exit_code=EXIT_USAGE)

        async def work(graph: Graph) -> None:
            service, renderer = graph.registry, graph.deps.renderer
            known = [c.key for c in await service.classes()]
            if key is not None and key not in known:
                cli.fail("graduates.unknown_class", code=key.code)
            if not known:
                cli.say("graduates.no_classes")
                return
            out_dir.mkdir(parents=True, exist_ok=True)
            for chosen in [key] if key is not None else known:
                if class_link:
                    name = renderer.label("registry.class_filename", cli.locale, code=chosen.code)
                    path = out_dir / f"{name}.pdf"
                    path.write_bytes(service.class_sheet(bot_username, chosen, cli.locale))
                    link = service.class_link(bot_username, chosen)
                    cli.say("graduates.class_link", code=chosen.code, link=link, path=str(path))
                    continue
                pack = await service.invitation_pack(
                    bot_username, chosen, cli.locale, students=not graduated_only
                )
                stem = renderer.label(
                    "registry.invitations_filename", cli.locale, code=chosen.code
                )
                pdf, csv = out_dir / f"{stem}.pdf", out_dir / f"{stem}.csv"
                pdf.write_bytes(pack.pdf)
                csv.write_bytes(pack.csv)
                cli.say(
                    "graduates.invited", code=chosen.code, count=pack.count, paths=f"{pdf}, {csv}"
                )

        cli.run(work)

    @app.command("purge", help=w("graduates.help_purge"))
    def purge() -> None:
        async def work(graph: Graph) -> int:
            return await graph.registry.purge()

        count = cli.run(work)
        cli.say("graduates.purged", count=count, days=cli.settings.registry_retention_days)

    return app
