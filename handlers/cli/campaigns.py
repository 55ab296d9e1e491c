"""``alumnibot campaigns``: send an offer to a segment of alumni, and follow it."""

# No ``from __future__ import annotations``: Typer reads the annotations at run time.

import asyncio
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, NoReturn, TextIO
from zoneinfo import ZoneInfo

import typer
from rich.console import Console, RenderableType
from rich.progress import BarColumn, Progress, TextColumn
from rich.text import Text

from bot.campaigns.service import CampaignService, CampaignStateError, PreviewError
from handlers.cli.common import Cli, Locale, OutputFormat
from handlers.graph import Graph

BAR_WIDTH = 30


def progress_line(progress: dict[str, Any]) -> str:
    """The campaign's progress as one line for logs and scripts (the same in every language).

    ``campaign 7 [########......................] 1/4  25%  sent 1  digest 0  blocked 0
    failed 0  unknown 0  cancelled 0  (paused)``: the counts are named as in ``stats``, the
    last word is the campaign's status, or ``finished``.
    """
    total, done = int(progress["total"]), int(progress["done"])
    share = done / total if total else 1.0 if progress["finished"] else 0.0
    filled = round(BAR_WIDTH * share)
    state = "finished" if progress["finished"] else progress["status"]
    return (
        f"campaign {progress['campaign_id']} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
        f"{done}/{total} {share:4.0%}  sent {progress['sent']}  "
        f"digest {progress['in_digest']}  blocked {progress['failed']}  "
        f"failed {progress['dead']}  unknown {progress['unknown']}  "
        f"cancelled {progress['cancelled']}  ({state})"
    )


def _over(progress: dict[str, Any]) -> bool:
    return bool(progress["finished"]) or progress["status"] == "draft"


async def watch(
    service: CampaignService,
    campaign_id: int,
    stream: TextIO | None = None,
    interval: float = 1.0,
    *,
    cli: Cli | None = None,
) -> dict[str, Any]:
    """Show a campaign's progress until it is finished; return the last progress.

    At a terminal (with ``cli`` for the words) a Rich progress bar; otherwise (a log, a
    pipe) a :func:`progress_line` only when something changed.
    """
    out = stream or sys.stdout
    if cli is not None and out.isatty():
        return await _watch_bar(service, campaign_id, out, interval, cli)
    last = ""
    while True:
        progress = await service.progress(campaign_id)
        line = progress_line(progress)
        if line != last:
            out.write(line + "\n")
            out.flush()
        last = line
        if _over(progress):
            return progress
        await asyncio.sleep(interval)


class _CampaignBar(Progress):
    """A progress bar with the campaign's counts on a line of their own below it."""

    counts = ""

    def get_renderables(self) -> Iterable[RenderableType]:
        """Yield the bar, then the counts (they would not fit next to it)."""
        yield self.make_tasks_table(self.tasks)
        yield Text(self.counts)


async def _watch_bar(
    service: CampaignService, campaign_id: int, out: TextIO, interval: float, cli: Cli
) -> dict[str, Any]:
    w = cli.words
    bar = _CampaignBar(
        TextColumn("{task.description}"),
        BarColumn(bar_width=30),
        TextColumn("{task.fields[done]}/{task.fields[all]}"),
        TextColumn("{task.fields[share]:>4.0%}"),
        console=Console(file=out, highlight=False),
        auto_refresh=False,
    )
    with bar:
        task = bar.add_task(
            w("campaigns.bar_label", campaign=campaign_id), total=None, done=0, all=0, share=0.0
        )
        while True:
            progress = await service.progress(campaign_id)
            total, done = int(progress["total"]), int(progress["done"])
            share = done / total if total else 1.0 if progress["finished"] else 0.0
            bar.counts = w("campaigns.bar_counts", p=progress, state=_state(cli, progress))
            # Rich's bar needs a total above zero; the numbers shown are the real ones.
            bar.update(
                task,
                total=max(total, 1),
                completed=done if total else share,
                done=done,
                all=total,
                share=share,
                refresh=True,
            )
            if _over(progress):
                return progress
            await asyncio.sleep(interval)


def _state(cli: Cli, progress: dict[str, Any]) -> str:
    finished = progress["finished"] and progress["status"] != "cancelled"
    return cli.words("campaigns.status", status="finished" if finished else progress["status"])


def group(cli: Cli) -> typer.Typer:
    """Build the ``campaigns`` commands with help in the CLI's language."""
    w = cli.words
    app = typer.Typer(help=w("campaigns.help"), no_args_is_help=True)
    campaign_arg = Annotated[int, typer.Argument(help=w("campaigns.help_id"))]
    at_option = Annotated[
        str | None, typer.Option("--at", metavar="TIME", help=w("campaigns.help_at"))
    ]

    def local(graph: Graph, moment: datetime) -> str:
        zone = ZoneInfo(graph.deps.settings.timezone)
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")

    def moment(graph: Graph, text: str) -> datetime:
        try:
            datetime.fromisoformat(text.strip())
        except ValueError:
            cli.fail("campaigns.bad_time", value=text)
        try:
            return graph.campaigns.parse_moment(text)
        except ValueError:
            cli.fail("campaigns.time_passed")

    async def refused(graph: Graph, campaign_id: int, action: str) -> NoReturn:
        """Say why ``action`` does not fit the campaign's state, and exit."""
        progress = await graph.campaigns.progress(campaign_id)
        cli.fail(
            f"campaigns.cannot_{action}",
            campaign=campaign_id,
            status=progress["status"],
            state=_state(cli, progress),
        )

    def on_campaign(campaign_id: int, work: Any) -> Any:
        """Run ``work(graph)``; an unknown campaign is refused with the same words always."""

        async def guarded(graph: Graph) -> Any:
            try:
                return await work(graph)
            except LookupError as error:
                if type(error) is not LookupError:  # a KeyError is a bug, not a campaign
                    raise
                cli.fail("campaigns.no_campaign", campaign=campaign_id)

        return cli.run(guarded)

    @app.command("create", help=w("campaigns.help_create"))
    def create(
        offer: Annotated[int, typer.Argument(help=w("campaigns.help_offer"))],
        at: at_option = None,
        crebo: Annotated[list[str] | None, cli.segment_option("crebo")] = None,
        level: Annotated[list[int] | None, cli.segment_option("level")] = None,
        region: Annotated[list[str] | None, cli.segment_option("region")] = None,
        location: Annotated[list[str] | None, cli.segment_option("location")] = None,
        situation: Annotated[list[str] | None, cli.segment_option("situation")] = None,
        sector: Annotated[list[str] | None, cli.segment_option("sector")] = None,
        interest: Annotated[list[str] | None, cli.segment_option("interest")] = None,
        cohort_from: Annotated[int | None, cli.segment_option("cohort_from")] = None,
        cohort_to: Annotated[int | None, cli.segment_option("cohort_to")] = None,
    ) -> None:
        async def work(graph: Graph) -> None:
            service = graph.campaigns
            send_at = moment(graph, at) if at else None
            # Checked against the catalogue as the console's composer checks them.
            chosen = cli.segment(
                graph,
                crebo=crebo,
                level=level,
                region=region,
                location=location,
                situation=situation,
                sector=sector,
                interest=interest,
                cohort_from=cohort_from,
                cohort_to=cohort_to,
            )
            try:
                campaign = await service.create(
                    offer,
                    send_at=send_at,
                    **chosen.for_service(graph.deps.clock.now()),
                )
            except LookupError as error:
                if type(error) is not LookupError:  # a KeyError is a bug, not an offer
                    raise
                cli.fail("campaigns.no_offer", offer=offer)
            except ValueError:
                cli.fail("campaigns.time_passed")
            assert campaign.id is not None
            # The launch's own rule: whom another campaign already brought the offer is left
            # out, so the promise counts only the others (and says who is "maybe" reached).
            new, already, maybe = await service.reach(
                service.segment_of(campaign), campaign.offer_id
            )
            cli.say("campaigns.created", campaign=campaign.id, count=new)
            if already:
                cli.say(
                    "campaigns.created_already", campaign=campaign.id, count=already, maybe=maybe
                )
            if campaign.send_at:
                cli.say(
                    "campaigns.scheduled", campaign=campaign.id, at=local(graph, campaign.send_at)
                )

        cli.run(work)

    @app.command("preview", help=w("campaigns.help_preview"))
    def preview(
        campaign: campaign_arg,
        to: Annotated[int, typer.Option("--to", metavar="CHAT_ID", help=w("campaigns.help_to"))],
        locale: Annotated[
            Locale, typer.Option("--locale", help=w("campaigns.help_locale"))
        ] = Locale.NL,
    ) -> None:
        async def work(graph: Graph) -> None:
            try:
                await graph.campaigns.preview(to, campaign_id=campaign, locale=locale.value)
            except PreviewError:
                cli.fail("campaigns.preview_not_linked", chat=to)

        on_campaign(campaign, work)
        cli.say("campaigns.preview_queued", campaign=campaign, chat=to)

    @app.command("send", help=w("campaigns.help_send"))
    def send(campaign: campaign_arg, at: at_option = None) -> None:
        async def work(graph: Graph) -> None:
            service = graph.campaigns
            if at:
                try:
                    scheduled = await service.schedule(campaign, moment(graph, at))
                except CampaignStateError:
                    await refused(graph, campaign, "schedule")
                assert scheduled.send_at is not None
                cli.say(
                    "campaigns.scheduled", campaign=campaign, at=local(graph, scheduled.send_at)
                )
                return
            try:
                queued = await service.launch(campaign)
            except CampaignStateError:
                await refused(graph, campaign, "send")
            cli.say("campaigns.queued", campaign=campaign, count=queued)
            if cli.interactive():  # a person at a terminal sees the bar; scripts do not wait
                last = await watch(service, campaign, cli=cli)
                cli.say("campaigns.watch_done", campaign=campaign, state=_state(cli, last))
            else:
                cli.line(progress_line(await service.progress(campaign)))

        _until_interrupted(cli, lambda: on_campaign(campaign, work))

    @app.command("watch", help=w("campaigns.help_watch"))
    def watch_(campaign: campaign_arg) -> None:
        async def work(graph: Graph) -> None:
            last = await watch(graph.campaigns, campaign, cli=cli)
            if cli.interactive():
                cli.say("campaigns.watch_done", campaign=campaign, state=_state(cli, last))

        _until_interrupted(cli, lambda: on_campaign(campaign, work))

    @app.command("pause", help=w("campaigns.help_pause"))
    def pause(campaign: campaign_arg) -> None:
        async def work(graph: Graph) -> None:
            try:
                await graph.campaigns.pause(campaign)
            except CampaignStateError:
                await refused(graph, campaign, "pause")

        on_campaign(campaign, work)
        cli.say("campaigns.paused", campaign=campaign)

    @app.command("resume", help=w("campaigns.help_resume"))
    def resume(campaign: campaign_arg) -> None:
        async def work(graph: Graph) -> str:
            try:
                return await graph.campaigns.resume(campaign)
            except CampaignStateError:
                await refused(graph, campaign, "resume")

        status = on_campaign(campaign, work)
        cli.say(
            "campaigns.resumed",
            campaign=campaign,
            status=status,
            state=w("campaigns.status", status=status),
        )

    @app.command("cancel", help=w("campaigns.help_cancel"))
    def cancel(campaign: campaign_arg) -> None:
        async def work(graph: Graph) -> int:
            try:
                return await graph.campaigns.cancel(campaign)
            except CampaignStateError:
                await refused(graph, campaign, "cancel")

        cancelled = on_campaign(campaign, work)
        cli.say("campaigns.cancelled", campaign=campaign, count=cancelled)

    @app.command("stats", help=w("campaigns.help_stats"))
    def stats(
        campaign: campaign_arg,
        fmt: Annotated[
            OutputFormat | None, typer.Option("--format", help=w("main.help_format"))
        ] = None,
    ) -> None:
        async def work(graph: Graph) -> dict[str, int]:
            return await graph.campaigns.stats(campaign)

        figures: dict[str, int] = on_campaign(campaign, work)
        cli.table(
            fmt,
            [w("campaigns.column_figure"), w("campaigns.column_count")],
            [(w("campaigns.figure", key=key), value) for key, value in figures.items()],
            list(figures.items()),
        )

    return app


def _until_interrupted(cli: Cli, run: Any) -> None:
    """Run a command that watches; Ctrl-C stops watching, never the campaign (exit 0)."""
    try:
        run()
    except KeyboardInterrupt:
        cli.line()
        cli.say("campaigns.watch_stopped")
