"""``alumnibot delivery``: the outbox rows whose delivery is unknown, and sending them again.

A Typer app the command line mounts (``app.add_typer(delivery_app, name="delivery")``).
``unknown`` shows a campaign's pushes that may or may not have arrived; ``resend`` sends
them again, as new rows, after a confirmation (``--yes`` for scripts). Nothing is resent on
its own: some of these did arrive.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from bot.campaigns.service import CampaignService, CampaignStateError
from bot.core.messenger import QueueOnlyMessenger
from bot.core.settings import Settings
from handlers.graph import build_graph, make_deps
from storage.db import make_engine
from storage.migrate import upgrade
from storage.repositories import Storage

delivery_app = typer.Typer(
    help="Outbox rows of unknown delivery: see them, send them again.", no_args_is_help=True
)

T = TypeVar("T")
CampaignId = Annotated[int, typer.Argument(help="campaign id (see `alumnibot campaigns`)")]


def _run(work: Callable[[CampaignService], Awaitable[T]]) -> T:
    """Run ``work`` against the configured (migrated) database with a queue-only graph."""

    async def main() -> T:
        settings = Settings()
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
            return await work(graph.campaigns)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except (LookupError, CampaignStateError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None


@delivery_app.command("unknown")
def show_unknown(campaign: CampaignId) -> None:
    """List a campaign's pushes of unknown delivery (handed to Telegram, no answer came)."""

    async def work(service: CampaignService) -> list[tuple[int, str, str]]:
        return await service.unknown(campaign)

    found = _run(work)
    if not found:
        typer.echo(f"campaign {campaign}: no pushes of unknown delivery")
        return
    typer.echo(f"campaign {campaign}: {len(found)} pushes of unknown delivery")
    typer.echo("row\thanded over (UTC)\twhy")
    for row_id, handed, why in found:
        typer.echo(f"{row_id}\t{handed}\t{why}")
    typer.echo(f"send them again: alumnibot delivery resend {campaign}")


@delivery_app.command("resend")
def resend(
    campaign: CampaignId,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
) -> None:
    """Send a campaign's pushes of unknown delivery again, as new rows (audited)."""

    async def count(service: CampaignService) -> int:
        return len(await service.unknown(campaign))

    waiting = _run(count)
    if waiting == 0:
        typer.echo(f"campaign {campaign}: no pushes of unknown delivery; nothing to send")
        return
    if not yes:
        typer.confirm(
            f"Send campaign {campaign}'s push again to these {waiting} alumni? Some of them "
            "may have received it already.",
            abort=True,
        )

    async def work(service: CampaignService) -> int:
        return await service.resend_unknown(campaign, via="cli")

    queued = _run(work)
    typer.echo(f"campaign {campaign}: {queued} pushes queued again; the running bot sends them")
