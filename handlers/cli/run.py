"""``alumnibot run``: the bot, with the coordinator console next to it."""

# No ``from __future__ import annotations``: Typer reads the annotations at run time.

import asyncio
from typing import Annotated

import typer

from handlers.cli.common import Cli


def command(cli: Cli, app: typer.Typer) -> None:
    """Add ``run`` to ``app`` with help in the CLI's language."""

    @app.command("run", help=cli.words("run.help"))
    def run(
        webhook: Annotated[
            bool, typer.Option("--webhook", help=cli.words("run.help_webhook"))
        ] = False,
    ) -> None:
        from handlers.runner import run as run_bot  # PTB and aiohttp only for this command

        if webhook and cli.settings.telegram_token and not cli.settings.webhook_url:
            cli.fail("run.no_webhook_url")

        asyncio.run(run_bot(cli.settings, webhook=webhook, locale=cli.locale))
