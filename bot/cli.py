"""The ``alumnibot`` command: ``run [--webhook]``, ``db upgrade``, ``staff ...``, ``teams ...``."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Sequence

from bot.clock import SystemClock
from bot.logs import configure_logging
from bot.settings import Settings
from bot.staff import MIN_PASSWORD_LENGTH, ROLES, StaffError, StaffService
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

    teams = commands.add_parser("teams", help="teams of coordinators")
    team_actions = teams.add_subparsers(dest="action", required=True)
    team_add = team_actions.add_parser("add", help="add a team")
    team_add.add_argument("code", help="short code, e.g. llo or nazorg")
    team_add.add_argument("--name", required=True)
    team_add.add_argument(
        "--default", action="store_true", help="the team for conversations no rule routes"
    )
    team_actions.add_parser("list", help="list teams")
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


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level)
    if args.command == "db":
        asyncio.run(_db_upgrade(settings))
    elif args.command in ("staff", "teams"):
        asyncio.run(_staff(settings, args))
    elif args.command == "run":
        from bot.runner import run

        asyncio.run(run(settings, webhook=args.webhook))


if __name__ == "__main__":
    main()
