"""``alumnibot delivery``: a campaign's pushes of unknown delivery, and sending them again.

``unknown`` lists the pushes handed to Telegram that got no answer (they may or may not have
arrived); ``resend`` sends them again, as new rows, after a confirmation (``--yes`` for
scripts). Nothing is resent on its own: some of these did arrive. Exit codes: 0 done (also
when there is nothing to send), 1 refused (no such campaign, a cancelled one, the
confirmation declined).
"""

# No ``from __future__ import annotations``: Typer reads the annotations at run time.

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from bot.campaigns.service import CampaignStateError
from handlers.cli.common import Cli, OutputFormat
from handlers.graph import Graph

T = TypeVar("T")


def group(cli: Cli) -> typer.Typer:
    """Build the ``delivery`` commands with help in the CLI's language."""
    w = cli.words
    app = typer.Typer(help=w("delivery.help"), no_args_is_help=True)
    campaign_arg = Annotated[int, typer.Argument(help=w("delivery.help_id"))]

    def on_campaign(campaign_id: int, work: Callable[[Graph], Awaitable[T]]) -> T:
        """Run ``work``; an unknown or cancelled campaign is refused in words (exit 1)."""

        async def guarded(graph: Graph) -> T:
            try:
                return await work(graph)
            except CampaignStateError:
                cli.fail("delivery.cancelled", campaign=campaign_id)
            except LookupError as error:
                if type(error) is not LookupError:  # a KeyError is a bug, not a campaign
                    raise
                cli.fail("campaigns.no_campaign", campaign=campaign_id)

        return cli.run(guarded)

    @app.command("unknown", help=w("delivery.help_unknown"))
    def unknown(
        campaign: campaign_arg,
        fmt: Annotated[
            OutputFormat | None, typer.Option("--format", help=w("main.help_format"))
        ] = None,
    ) -> None:
        async def work(graph: Graph) -> list[tuple[int, str, str]]:
            return await graph.campaigns.unknown(campaign)

        found = on_campaign(campaign, work)
        people = cli.for_people(fmt)
        if not found:
            if people:
                cli.say("delivery.none", campaign=campaign)
            return
        if people:
            cli.say("delivery.found", campaign=campaign, count=len(found))
        cli.table(
            fmt,
            [w("delivery.column_row"), w("delivery.column_handed"), w("delivery.column_why")],
            found,
        )
        if people:
            cli.say("delivery.resend_hint", campaign=campaign)

    @app.command("resend", help=w("delivery.help_resend"))
    def resend(
        campaign: campaign_arg,
        yes: Annotated[bool, typer.Option("--yes", help=w("delivery.help_yes"))] = False,
    ) -> None:
        async def count(graph: Graph) -> int:
            return len(await graph.campaigns.unknown(campaign))

        waiting = on_campaign(campaign, count)
        if waiting == 0:
            cli.say("delivery.nothing_to_send", campaign=campaign)
            return
        if not yes:
            try:
                sure = typer.confirm(w("delivery.confirm", campaign=campaign, count=waiting))
            except typer.Abort:  # Ctrl-C, or no answer on standard input
                sure = False
            if not sure:
                cli.fail("delivery.not_sent")

        async def work(graph: Graph) -> int:
            return await graph.campaigns.resend_unknown(campaign, via="cli")

        cli.say("delivery.queued", campaign=campaign, count=on_campaign(campaign, work))

    return app
