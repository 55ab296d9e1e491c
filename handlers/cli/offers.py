"""``alumnibot offers``: LLO courses, job leads, bpv places, events and news."""

# No ``from __future__ import annotations``: Typer reads the annotations at run time.

from pathlib import Path
from typing import Annotated

import typer
import yaml

from bot.campaigns.service import OfferImportError
from handlers.cli.common import Cli, OutputFormat, file_exists
from handlers.graph import Graph
from storage.models import Offer


def group(cli: Cli) -> typer.Typer:
    """Build the ``offers`` commands with help in the CLI's language."""
    w = cli.words
    app = typer.Typer(help=w("offers.help"), no_args_is_help=True)

    @app.command("import", help=w("offers.help_import"))
    def import_(
        file: Annotated[Path, typer.Argument(help=w("offers.help_file"))],
    ) -> None:
        path = file_exists(cli, file)

        async def work(graph: Graph) -> list[Offer]:
            try:
                return await graph.campaigns.import_file(path)
            except OfferImportError as failed:
                # The same words as the console's import page; every wrong row is listed.
                cli.line(cli.text("offers.import_failed", count=len(failed.errors)))
                for e in failed.errors:
                    cli.line(
                        cli.text(
                            "offers.import_row_error",
                            row=e.row,
                            field=e.field,
                            reason=cli.text(e.reason),
                            value=e.value,
                        )
                    )
                raise typer.Exit(1) from None
            except (UnicodeDecodeError, yaml.YAMLError):
                cli.fail("offers.not_readable", path=str(path))

        offers = cli.run(work)
        cli.line(cli.text("offers.import_done", count=len(offers)))

    @app.command("list", help=w("offers.help_list"))
    def list_(
        fmt: Annotated[
            OutputFormat | None, typer.Option("--format", help=w("main.help_format"))
        ] = None,
    ) -> None:
        async def work(graph: Graph) -> list[Offer]:
            async with graph.deps.storage.transaction() as tx:
                return list(await tx.offers.offers())

        offers = cli.run(work)
        if not offers:
            cli.say("offers.list_empty")
            return
        cli.table(
            fmt,
            [w("offers.column_id"), w("offers.column_kind"), w("offers.column_title")],
            [(o.id, w("offers.kind", kind=o.kind), o.title) for o in offers],
            [(o.id, o.kind, o.title) for o in offers],
        )

    return app
