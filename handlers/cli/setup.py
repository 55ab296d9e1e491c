"""``alumnibot setup``: a new installation's teams and first admin; safe to run again.

A new installation has no teams: early questions would go to a fallback team nobody sees,
while ``content/inbox.yaml`` routes to teams nobody created. Setup creates every team the
routing names plus the general team for questions no rule routes (the default), and the
first admin as a member of all of them. What exists already is left as it is.
"""

# No ``from __future__ import annotations``: Typer reads the annotations at run time.

from dataclasses import dataclass, field
from typing import Annotated

import typer

from bot.inbox.service import fallback_team_of, load_config, routing_rules
from bot.staff.service import (
    ADMIN,
    DuplicateError,
    InvalidInputError,
    StaffService,
    TeamView,
    normalise_email,
)
from handlers.cli.common import Cli
from handlers.graph import Graph


@dataclass
class TeamsReport:
    """What setup did with the teams."""

    added: list[TeamView] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)


def routed_teams(graph: Graph) -> list[tuple[str, str]]:
    """Return (code, name) of the general team and every team the routing names, in order.

    Names come from the ``teams`` section of content/inbox.yaml; a code without one is
    named after itself.
    """
    config = load_config(graph.deps.settings.content_dir / "inbox.yaml")
    names = {str(k).lower(): str(v) for k, v in (config.get("teams") or {}).items()}
    codes: list[str] = []
    general, _ = fallback_team_of(config)
    for code in [general, *(rule.team for rule in routing_rules(config))]:
        code = code.strip().lower()
        if code not in codes:
            codes.append(code)
    return [(code, names.get(code) or code.capitalize()) for code in codes]


async def ensure_teams(staff: StaffService, teams: list[tuple[str, str]]) -> TeamsReport:
    """Create the teams that do not exist; the first becomes the default if none is."""
    report = TeamsReport()
    existing = await staff.list_teams()
    known = {t.code for t in existing}
    has_default = any(t.is_default for t in existing)
    for i, (code, name) in enumerate(teams):
        if code in known:
            report.existing.append(code)
            continue
        try:
            team = await staff.add_team(code, name, default=i == 0 and not has_default)
        except DuplicateError:  # another process created it meanwhile
            report.existing.append(code)
            continue
        has_default = has_default or team.is_default
        report.added.append(team)
    return report


def command(cli: Cli, app: typer.Typer) -> None:
    """Add ``setup`` to ``app`` with help in the CLI's language."""
    w = cli.words

    @app.command("setup", help=w("setup.help"))
    def setup(
        admin: Annotated[
            str | None, typer.Option("--admin", metavar="EMAIL", help=w("setup.help_admin"))
        ] = None,
        name: Annotated[str | None, typer.Option("--name", help=w("setup.help_name"))] = None,
    ) -> None:
        async def work(graph: Graph) -> None:
            staff = graph.staff
            report = await ensure_teams(staff, routed_teams(graph))
            for team in report.added:
                cli.say(
                    "setup.team_added",
                    code=team.code,
                    team_name=team.name,
                    default=team.is_default,
                )
            if report.existing:
                cli.say("setup.teams_existing", codes=report.existing)
            codes = [t.code for t in await staff.list_teams()]

            members = await staff.list_staff()
            email = normalise_email(admin) if admin else None
            if email is None:
                admins = [m.email for m in members if m.role == ADMIN and m.active]
                if admins:
                    cli.say("setup.admin_existing", emails=admins)
                    cli.say("setup.done", url=_console_url(graph))
                    return
                if not cli.interactive():
                    cli.fail("setup.admin_needed")
                email = normalise_email(typer.prompt(w("setup.ask_email")))
            member = next((m for m in members if m.email == email), None)
            if member is None:
                display_name = name or (
                    typer.prompt(w("setup.ask_name")) if cli.interactive() else None
                )
                if not display_name:
                    cli.fail("setup.name_needed")
                password = cli.new_password()
                try:
                    await staff.add_staff(email, display_name, ADMIN, password, codes)
                except DuplicateError:
                    cli.fail("staff.email_taken", email=email)
                except InvalidInputError:
                    if email.count("@") != 1 or " " in email:
                        cli.fail("staff.email_invalid", email=email)
                    cli.fail("staff.name_invalid")
                cli.say("setup.admin_added", email=email, teams=codes)
            else:
                # Run again after teams were added to the routing: the admin sees them too.
                for code in codes:
                    await staff.join_team(email, code)
                cli.say("setup.admin_kept", email=email, role=w("staff.role", role=member.role))
            cli.say("setup.done", url=_console_url(graph))

        cli.run(work)


def _console_url(graph: Graph) -> str:
    settings = graph.deps.settings
    return f"http://{settings.web_host}:{settings.web_port}/inbox"
