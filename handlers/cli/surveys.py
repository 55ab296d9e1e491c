"""``alumnibot surveys``: the surveys in content/surveys, and sending one to a segment."""

# No ``from __future__ import annotations``: Typer reads the annotations at run time.

from typing import Annotated

import typer

from handlers.cli.common import Cli, OutputFormat
from handlers.graph import Graph


def group(cli: Cli) -> typer.Typer:
    """Build the ``surveys`` commands with help in the CLI's language."""
    w = cli.words
    app = typer.Typer(help=w("surveys.help"), no_args_is_help=True)

    @app.command("list", help=w("surveys.help_list"))
    def list_(
        fmt: Annotated[
            OutputFormat | None, typer.Option("--format", help=w("main.help_format"))
        ] = None,
    ) -> None:
        async def work(graph: Graph) -> list[tuple[str, str, int]]:
            return [
                (code, s.titles.get(cli.locale) or s.titles.get("nl", code), len(s.questions))
                for code, s in sorted(graph.surveys.surveys.items())
            ]

        found = cli.run(work)
        if not found:
            cli.say("surveys.none")
            return
        cli.table(
            fmt,
            [w("surveys.column_code"), w("surveys.column_title"), w("surveys.column_questions")],
            found,
            found,
        )

    @app.command("send", help=w("surveys.help_send"))
    def send(
        code: Annotated[str, typer.Argument(help=w("surveys.help_code"))],
        crebo: Annotated[list[str] | None, cli.segment_option("crebo")] = None,
        level: Annotated[list[int] | None, cli.segment_option("level")] = None,
        region: Annotated[list[str] | None, cli.segment_option("region")] = None,
        cohort_from: Annotated[int | None, cli.segment_option("cohort_from")] = None,
        cohort_to: Annotated[int | None, cli.segment_option("cohort_to")] = None,
    ) -> None:
        async def work(graph: Graph) -> int:
            if code not in graph.surveys.surveys:
                cli.fail("surveys.no_survey", code=code)
            chosen = cli.segment(
                graph,
                crebo=crebo,
                level=level,
                region=region,
                cohort_from=cohort_from,
                cohort_to=cohort_to,
            )
            _, queued = await graph.surveys.send(
                code,
                crebos=chosen.crebos,
                levels=chosen.levels,
                regions=chosen.regions,
                cohort_from=chosen.cohort_from,
                cohort_to=chosen.cohort_to,
            )
            return queued

        queued = cli.run(work)
        cli.say("surveys.sent", code=code, count=queued)

    return app
