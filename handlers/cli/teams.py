"""``alumnibot teams``: teams of coordinators and their Telegram staff groups."""

import asyncio

# No ``from __future__ import annotations``: Typer reads the annotations at run time.
from typing import Annotated

import typer

from bot.staff.service import DuplicateError, InvalidInputError, NotFoundError, TeamView
from handlers.cli.common import Cli, OutputFormat
from handlers.graph import Graph
from handlers.telegram.messenger import check_group_rights


def group(cli: Cli) -> typer.Typer:
    """Build the ``teams`` commands with help in the CLI's language."""
    w = cli.words
    app = typer.Typer(help=w("teams.help"), no_args_is_help=True)
    code_arg = Annotated[str, typer.Argument(help=w("teams.help_code"))]

    @app.command("add", help=w("teams.help_add"))
    def add(
        code: code_arg,
        name: Annotated[str, typer.Option("--name", help=w("teams.help_name"))],
        default: Annotated[bool, typer.Option("--default", help=w("teams.help_default"))] = False,
    ) -> None:
        async def work(graph: Graph) -> TeamView:
            try:
                return await graph.staff.add_team(code, name, default=default)
            except DuplicateError:
                cli.fail("teams.code_taken", code=code.strip().lower())
            except InvalidInputError:
                cleaned = code.strip()
                if (
                    not cleaned
                    or len(cleaned) > 32
                    or not all(c.isalnum() or c in "-_" for c in cleaned)
                ):
                    cli.fail("teams.code_invalid", code=code)
                cli.fail("teams.name_invalid")

        team = cli.run(work)
        cli.say("teams.added", code=team.code, default=team.is_default)

    @app.command("list", help=w("teams.help_list"))
    def list_(
        fmt: Annotated[
            OutputFormat | None, typer.Option("--format", help=w("main.help_format"))
        ] = None,
    ) -> None:
        async def work(graph: Graph) -> list[TeamView]:
            return await graph.staff.list_teams()

        teams = cli.run(work)
        if not teams:
            cli.say("teams.list_empty")
            return
        cli.table(
            fmt,
            [w("teams.column_code"), w("teams.column_name"), w("teams.column_default")],
            [(t.code, t.name, w("teams.default_mark") if t.is_default else "") for t in teams],
            # As before the Typer CLI: a third column only on the default team.
            [(t.code, t.name, "default") if t.is_default else (t.code, t.name) for t in teams],
        )

    # A group's chat id is negative: let "-1001234567890" be the argument, not an option.
    @app.command(
        "group", help=w("teams.help_group"), context_settings={"ignore_unknown_options": True}
    )
    def group_(
        code: code_arg,
        chat_id: Annotated[int, typer.Argument(help=w("teams.help_chat_id"))],
    ) -> None:
        async def work(graph: Graph) -> None:
            try:
                await graph.staff.link_group(code, chat_id)
            except NotFoundError:
                cli.fail("teams.no_team", code=code.strip().lower())
            except InvalidInputError:
                cli.fail("teams.chat_not_group", chat=chat_id)
            except DuplicateError:
                cli.fail("teams.group_taken", chat=chat_id)

        cli.run(work)
        cli.say("teams.group_set", code=code.strip().lower(), chat=chat_id)
        # Say now what the bot still needs in that group, instead of failing later.
        settings = cli.settings
        if settings.telegram_token is not None:
            problems = asyncio.run(
                check_group_rights(
                    settings.telegram_token.get_secret_value(), settings.telegram_api_url, chat_id
                )
            )
            for problem in problems:
                cli.line(cli.text(f"staff.rights_{problem}"))

    return app
