"""``alumnibot staff``: console and staff-group accounts."""

# No ``from __future__ import annotations``: Typer reads these annotations at run time, and
# they hold help texts rendered in this function's scope.

from enum import StrEnum
from typing import Annotated

import typer

from bot.staff.service import (
    ROLES,
    DuplicateError,
    InvalidInputError,
    NotFoundError,
    StaffView,
    WeakPasswordError,
    normalise_email,
)
from handlers.cli.common import Cli, OutputFormat
from handlers.graph import Graph


class Role(StrEnum):
    """The roles a staff member can have (``bot.staff.service.ROLES``)."""

    ADMIN = "admin"
    COORDINATOR = "coordinator"


assert tuple(Role) == ROLES, "keep Role in step with bot.staff.service.ROLES"


def group(cli: Cli) -> typer.Typer:
    """Build the ``staff`` commands with help in the CLI's language."""
    w = cli.words
    app = typer.Typer(help=w("staff.help"), no_args_is_help=True)
    email_arg = Annotated[str, typer.Argument(help=w("staff.help_email"))]

    @app.command("add", help=w("staff.help_add"))
    def add(
        email: email_arg,
        name: Annotated[str, typer.Option("--name", help=w("staff.help_name"))],
        role: Annotated[Role, typer.Option("--role", help=w("staff.help_role"))],
        team: Annotated[
            list[str] | None,
            typer.Option("--team", metavar="CODE", help=w("staff.help_team")),
        ] = None,
    ) -> None:
        codes = [c.strip().lower() for c in team or []]
        password = cli.new_password()

        async def work(graph: Graph) -> StaffView:
            known = {t.code for t in await graph.staff.list_teams()}
            for code in codes:
                if code not in known:
                    cli.fail("teams.no_team", code=code)
            try:
                return await graph.staff.add_staff(email, name, role.value, password, codes)
            except WeakPasswordError as weak:
                cli.fail("staff.password_refused", reason=cli.text(f"web.password_{weak.reason}"))
            except DuplicateError:
                cli.fail("staff.email_taken", email=normalise_email(email))
            except InvalidInputError:  # the role and password were checked above
                address = normalise_email(email)
                if address.count("@") != 1 or len(address) > 254 or " " in address:
                    cli.fail("staff.email_invalid", email=email)
                cli.fail("staff.name_invalid")

        member = cli.run(work)
        cli.say(
            "staff.added",
            email=member.email,
            role=w("staff.role", role=member.role),
            teams=list(member.teams),
        )

    @app.command("list", help=w("staff.help_list"))
    def list_(
        fmt: Annotated[
            OutputFormat | None, typer.Option("--format", help=w("main.help_format"))
        ] = None,
    ) -> None:
        async def work(graph: Graph) -> list[StaffView]:
            return await graph.staff.list_staff()

        members = cli.run(work)
        if not members:
            cli.say("staff.list_empty")
            return
        cli.table(
            fmt,
            [
                w(f"staff.column_{c}")
                for c in ("email", "name", "role", "status", "teams", "login")
            ],
            [
                (
                    m.email,
                    m.display_name,
                    w("staff.role", role=m.role),
                    w("staff.status", active=m.active),
                    ", ".join(m.teams) or "-",
                    cli.local_time(m.last_login_at) if m.last_login_at else "-",
                )
                for m in members
            ],
            [
                (
                    m.email,
                    m.display_name,
                    m.role,
                    "active" if m.active else "disabled",
                    ",".join(m.teams) or "-",
                    m.last_login_at.isoformat() if m.last_login_at else "-",
                )
                for m in members
            ],
        )

    @app.command("disable", help=w("staff.help_disable"))
    def disable(email: email_arg) -> None:
        async def work(graph: Graph) -> None:
            try:
                await graph.staff.disable(email)
            except NotFoundError:
                cli.fail("staff.no_staff", email=normalise_email(email))

        cli.run(work)
        cli.say("staff.disabled", email=normalise_email(email))

    @app.command("link", help=w("staff.help_link"))
    def link(
        email: email_arg,
        telegram_user_id: Annotated[int, typer.Argument(help=w("staff.help_telegram_user"))],
    ) -> None:
        async def work(graph: Graph) -> None:
            try:
                await graph.staff.link_telegram(email, telegram_user_id)
            except NotFoundError:
                cli.fail("staff.no_staff", email=normalise_email(email))
            except DuplicateError:
                cli.fail("staff.telegram_taken", user=telegram_user_id)

        cli.run(work)
        cli.say("staff.linked", email=normalise_email(email), user=telegram_user_id)

    @app.command("password", help=w("staff.help_password"))
    def password(email: email_arg) -> None:
        new = cli.new_password()

        async def work(graph: Graph) -> None:
            try:
                await graph.staff.set_password(email, new)
            except NotFoundError:
                cli.fail("staff.no_staff", email=normalise_email(email))
            except WeakPasswordError as weak:
                cli.fail("staff.password_refused", reason=cli.text(f"web.password_{weak.reason}"))

        cli.run(work)
        cli.say("staff.password_set", email=normalise_email(email))

    return app
