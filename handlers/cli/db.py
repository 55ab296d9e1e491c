"""``alumnibot db``: database maintenance."""

import logging

import typer

from handlers.cli.common import Cli
from handlers.graph import Graph

logger = logging.getLogger(__name__)


def group(cli: Cli) -> typer.Typer:
    """Build the ``db`` commands with help in the CLI's language."""
    app = typer.Typer(help=cli.words("db.help"), no_args_is_help=True)

    @app.command("upgrade", help=cli.words("db.help_upgrade"))
    def upgrade() -> None:
        async def work(graph: Graph) -> None:  # opening the graph migrates
            logger.info("database is up to date")

        cli.run(work)
        cli.say("db.upgraded")

    return app
