"""The ``alumnibot`` command: ``run [--webhook]`` and ``db upgrade``."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Sequence

from bot.logs import configure_logging
from bot.settings import Settings
from storage.db import make_engine
from storage.migrate import upgrade

logger = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alumnibot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the bot (no token: offline sandbox)")
    run.add_argument("--webhook", action="store_true", help="receive updates by webhook")
    db = commands.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"], help="apply Alembic migrations")
    return parser


async def _db_upgrade(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    logger.info("database is up to date")


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level)
    if args.command == "db":
        asyncio.run(_db_upgrade(settings))
    elif args.command == "run":
        from bot.runner import run

        asyncio.run(run(settings, webhook=args.webhook))


if __name__ == "__main__":
    main()
