"""The ``alumnibot`` command: run, db, staff, teams, offers and campaigns."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from bot.campaigns.service import (
    CampaignService,
    CampaignStateError,
    OfferImportError,
    PreviewError,
)
from bot.core.clock import SystemClock
from bot.core.logs import configure_logging
from bot.core.messenger import QueueOnlyMessenger
from bot.core.settings import Settings
from bot.staff.service import MIN_PASSWORD_LENGTH, ROLES, StaffError, StaffService
from handlers.graph import build_graph, make_deps
from storage.db import make_engine
from storage.migrate import upgrade
from storage.repositories import Storage

logger = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alumnibot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the bot (no token: offline sandbox)")
    run.add_argument("--webhook", action="store_true", help="receive updates by webhook")
    db = commands.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"], help="apply Alembic migrations")

    staff = commands.add_parser("staff", help="console and staff-group accounts")
    staff_actions = staff.add_subparsers(dest="action", required=True)
    add = staff_actions.add_parser(
        "add",
        help="add a staff member",
        description=f"The password is asked for, or read from {PASSWORD_ENV} (scripts).",
    )
    add.add_argument("email")
    add.add_argument("--name", required=True, help="display name shown in the console")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument(
        "--team", action="append", default=[], metavar="CODE", help="team code (repeatable)"
    )
    staff_actions.add_parser("list", help="list staff members")
    disable = staff_actions.add_parser("disable", help="disable a staff member, end sessions")
    disable.add_argument("email")
    link = staff_actions.add_parser(
        "link", help="link a staff member's Telegram account (numeric user id) for staff groups"
    )
    link.add_argument("email")
    link.add_argument("telegram_user_id", type=int)

    teams = commands.add_parser("teams", help="teams of coordinators")
    team_actions = teams.add_subparsers(dest="action", required=True)
    team_add = team_actions.add_parser("add", help="add a team")
    team_add.add_argument("code", help="short code, e.g. llo or nazorg")
    team_add.add_argument("--name", required=True)
    team_add.add_argument(
        "--default", action="store_true", help="the team for conversations no rule routes"
    )
    team_actions.add_parser("list", help="list teams")
    group = team_actions.add_parser(
        "group", help="use a forum supergroup (chat id, negative) as the team's staff group"
    )
    group.add_argument("code")
    group.add_argument("chat_id", type=int)

    offers = commands.add_parser("offers", help="LLO courses, job leads, bpv places, events")
    offer_actions = offers.add_subparsers(dest="action", required=True)
    offer_import = offer_actions.add_parser(
        "import", help="import a CSV or YAML file: all rows, or none when any row is wrong"
    )
    offer_import.add_argument("file")
    offer_actions.add_parser("list", help="list offers")

    campaigns = commands.add_parser("campaigns", help="send an offer to a segment of alumni")
    campaign_actions = campaigns.add_subparsers(dest="action", required=True)
    create = campaign_actions.add_parser(
        "create", help="create a campaign and show how many alumni it reaches"
    )
    create.add_argument("offer", type=int, help="offer id (see `alumnibot offers list`)")
    create.add_argument(
        "--at", help='send at this time, e.g. "2026-12-01 10:00" (school time zone)'
    )
    for name, meta in (
        ("crebo", "CODE"),
        ("region", "CODE"),
        ("location", "CODE"),
        ("situation", "working|studying|looking|other"),
        ("sector", "CODE"),
        ("interest", "CODE"),
    ):
        create.add_argument(f"--{name}", action="append", default=[], metavar=meta)
    create.add_argument("--level", action="append", type=int, default=[], choices=[1, 2, 3, 4])
    create.add_argument("--cohort-from", type=int, metavar="YEAR")
    create.add_argument("--cohort-to", type=int, metavar="YEAR")
    send = campaign_actions.add_parser(
        "send", help="queue the pushes; the running bot sends them at the configured rate"
    )
    send.add_argument("campaign", type=int)
    send.add_argument(
        "--at", help='schedule instead: send at this time, e.g. "2026-12-01 10:00" (school time)'
    )
    for name, text in (
        ("pause", "hold the queued pushes (those in flight finish)"),
        ("resume", "let a paused campaign's pushes go again"),
        ("cancel", "cancel the queued pushes; they count as cancelled"),
        ("watch", "show the campaign's progress until it is finished (Ctrl-C stops watching)"),
    ):
        action = campaign_actions.add_parser(name, help=text)
        action.add_argument("campaign", type=int)
    preview = campaign_actions.add_parser(
        "preview", help="send the push, marked as a preview, to your own linked Telegram chat"
    )
    preview.add_argument("campaign", type=int)
    preview.add_argument(
        "--to", type=int, required=True, metavar="CHAT_ID", help="a linked staff member's chat"
    )
    preview.add_argument("--locale", choices=["nl", "en"], default="nl")
    stats = campaign_actions.add_parser(
        "stats",
        help="targeted, already reached, sent, blocked, failed, unknown, cancelled, interest, "
        "opt-outs",
    )
    stats.add_argument("campaign", type=int)
    return parser


PASSWORD_ENV = "ALUMNIBOT_NEW_STAFF_PASSWORD"


async def _db_upgrade(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    logger.info("database is up to date")


def _new_password() -> str:
    """Read the new member's password from the environment or, twice, from the terminal."""
    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != password:
            raise SystemExit("error: the passwords differ")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise SystemExit(f"error: the password must be at least {MIN_PASSWORD_LENGTH} characters")
    return password


def _out(line: str = "") -> None:
    sys.stdout.write(line + "\n")


async def _staff(settings: Settings, args: argparse.Namespace) -> None:
    """Run a ``staff`` or ``teams`` action against the (migrated) database."""
    password = _new_password() if args.command == "staff" and args.action == "add" else ""
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
        service = StaffService(Storage(engine), SystemClock())
        if args.command == "staff" and args.action == "add":
            member = await service.add_staff(args.email, args.name, args.role, password, args.team)
            teams = ", ".join(member.teams) or "no team"
            _out(f"added {member.email} ({member.role}; {teams})")
        elif args.command == "staff" and args.action == "list":
            members = await service.list_staff()
            for m in members:
                status = "active" if m.active else "disabled"
                last = m.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if m.last_login_at else "-"
                _out(
                    f"{m.email}\t{m.display_name}\t{m.role}\t{status}\t"
                    f"{','.join(m.teams) or '-'}\tlast login {last}"
                )
            if not members:
                _out("no staff members yet: add one with `alumnibot staff add`")
        elif args.command == "staff" and args.action == "disable":
            await service.disable(args.email)
            _out(f"disabled {args.email.strip().lower()}; their console sessions are ended")
        elif args.command == "staff" and args.action == "link":
            await service.link_telegram(args.email, args.telegram_user_id)
            _out(f"linked {args.email.strip().lower()} to Telegram user {args.telegram_user_id}")
        elif args.command == "teams" and args.action == "group":
            await service.link_group(args.code, args.chat_id)
            _out(f"team {args.code} now uses group {args.chat_id}")
        elif args.command == "teams" and args.action == "add":
            team = await service.add_team(args.code, args.name, default=args.default)
            _out(f"added team {team.code}" + (" (default)" if team.is_default else ""))
        elif args.command == "teams" and args.action == "list":
            teams_ = await service.list_teams()
            for t in teams_:
                _out(f"{t.code}\t{t.name}" + ("\tdefault" if t.is_default else ""))
            if not teams_:
                _out("no teams yet: add one with `alumnibot teams add`")
    except StaffError as error:
        raise SystemExit(f"error: {error}") from None
    finally:
        await engine.dispose()


BAR_WIDTH = 30


def progress_line(progress: dict[str, Any]) -> str:
    """One line of plain text: a bar, the counts and the campaign's state."""
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


async def watch(
    service: CampaignService,
    campaign_id: int,
    stream: TextIO | None = None,
    interval: float = 1.0,
) -> dict[str, Any]:
    """Show a campaign's progress until it is finished; return the last progress.

    On a terminal the bar is redrawn in place; otherwise (a log, a pipe) a line is written
    only when something changed.
    """
    out = stream or sys.stdout
    tty = out.isatty()
    last = ""
    while True:
        progress = await service.progress(campaign_id)
        line = progress_line(progress)
        if tty:
            out.write("\r" + line.ljust(len(last)))
        elif line != last:
            out.write(line + "\n")
        out.flush()
        last = line
        if progress["finished"] or progress["status"] == "draft":
            break
        await asyncio.sleep(interval)
    if tty:
        out.write("\n")
    return progress


async def _campaigns(settings: Settings, args: argparse.Namespace) -> None:
    """Run an ``offers`` or ``campaigns`` action."""
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
        deps, service = graph.deps, graph.campaigns
        render = deps.renderer.text
        if args.command == "offers" and args.action == "import":
            try:
                offers = await service.import_file(Path(args.file))
            except OfferImportError as failed:
                _out(render("offers.import_failed", "nl", count=len(failed.errors)))
                for e in failed.errors:
                    reason = render(e.reason, "nl")
                    _out(
                        render(
                            "offers.import_row_error",
                            "nl",
                            row=e.row,
                            field=e.field,
                            reason=reason,
                            value=e.value,
                        )
                    )
                raise SystemExit(1) from None
            _out(render("offers.import_done", "nl", count=len(offers)))
        elif args.command == "offers" and args.action == "list":
            async with deps.storage.transaction() as tx:
                for offer in await tx.offers.offers():
                    _out(f"{offer.id}\t{offer.kind}\t{offer.title}")
        elif args.command == "campaigns" and args.action == "create":
            send_at = service.parse_moment(args.at) if args.at else None
            campaign = await service.create(
                args.offer,
                send_at=send_at,
                crebos=args.crebo,
                levels=args.level,
                regions=args.region,
                locations=args.location,
                situations=args.situation,
                sectors=args.sector,
                interests=args.interest,
                cohort_from=args.cohort_from,
                cohort_to=args.cohort_to,
            )
            assert campaign.id is not None
            # The launch's own rule: whom another campaign already brought the offer is left
            # out, so the promise counts only the others (and says who is "maybe" reached).
            new, already, maybe = await service.reach(
                service.segment_of(campaign), campaign.offer_id
            )
            _out(f"campaign {campaign.id}: reaches {new} alumni now")
            if already:
                _out(
                    f"campaign {campaign.id}: {already} others already had this offer from "
                    f"another campaign and are left out ({maybe} of them maybe: delivery "
                    "unknown; `alumnibot delivery resend` on that campaign sends it again)"
                )
            if campaign.send_at:
                _out(f"campaign {campaign.id}: scheduled for {_local(settings, campaign.send_at)}")
        elif args.command == "campaigns" and args.action == "send" and args.at:
            campaign = await service.schedule(args.campaign, service.parse_moment(args.at))
            assert campaign.send_at is not None
            _out(f"campaign {args.campaign}: scheduled for {_local(settings, campaign.send_at)}")
        elif args.command == "campaigns" and args.action == "send":
            queued = await service.launch(args.campaign)
            _out(f"campaign {args.campaign}: {queued} pushes queued")
            if sys.stdout.isatty():  # an operator at a terminal sees the bar; scripts do not wait
                await watch(service, args.campaign)
            else:
                _out(progress_line(await service.progress(args.campaign)))
        elif args.command == "campaigns" and args.action == "watch":
            await watch(service, args.campaign)
        elif args.command == "campaigns" and args.action == "pause":
            await service.pause(args.campaign)
            _out(f"campaign {args.campaign}: paused; queued pushes wait until you resume it")
        elif args.command == "campaigns" and args.action == "resume":
            status = await service.resume(args.campaign)
            _out(f"campaign {args.campaign}: resumed ({status})")
        elif args.command == "campaigns" and args.action == "cancel":
            cancelled = await service.cancel(args.campaign)
            _out(
                f"campaign {args.campaign}: cancelled; {cancelled} queued pushes will not be sent"
            )
        elif args.command == "campaigns" and args.action == "preview":
            await service.preview(args.to, campaign_id=args.campaign, locale=args.locale)
            _out(
                f"campaign {args.campaign}: preview queued for chat {args.to}; "
                "the running bot sends it"
            )
        elif args.command == "campaigns" and args.action == "stats":
            for key, value in (await service.stats(args.campaign)).items():
                _out(f"{key}\t{value}")
    except (LookupError, ValueError, CampaignStateError, PreviewError) as error:
        raise SystemExit(f"error: {error}") from None
    finally:
        await engine.dispose()


def _local(settings: Settings, moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m-%d %H:%M %Z")


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level)
    if args.command == "db":
        asyncio.run(_db_upgrade(settings))
    elif args.command in ("staff", "teams"):
        asyncio.run(_staff(settings, args))
    elif args.command in ("offers", "campaigns"):
        try:
            asyncio.run(_campaigns(settings, args))
        except KeyboardInterrupt:  # Ctrl-C while watching: the campaign goes on
            _out("")
    elif args.command == "run":
        from handlers.runner import run

        asyncio.run(run(settings, webhook=args.webhook))


if __name__ == "__main__":
    main()
