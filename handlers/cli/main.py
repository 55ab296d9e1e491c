"""The ``alumnibot`` command: one group of commands per feature, words from content/.

``main()`` picks the language first (``--lang``, ALUMNIBOT_CLI_LOCALE, the system's
language, Dutch), then builds the Typer app so that the generated help is in that language
too. Exit codes: see :mod:`handlers.cli.common`.
"""

# No ``from __future__ import annotations``: Typer reads the annotations at run time.

import os
import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from bot.core.logs import configure_logging
from bot.core.text import TextError, checked_text
from handlers.cli import (
    campaigns,
    db,
    delivery,
    graduates,
    offers,
    run,
    setup,
    staff,
    surveys,
    teams,
)
from handlers.cli.campaigns import progress_line, watch
from handlers.cli.common import EXIT_REFUSED, Cli, Locale, pick_locale

__all__ = ["build_app", "main", "progress_line", "watch"]


def build_app(cli: Cli) -> typer.Typer:
    """Build the whole command tree for one invocation, with help in ``cli.locale``."""
    w = cli.words
    app = typer.Typer(
        name="alumnibot",
        help=w("main.help"),
        epilog=w("main.epilog"),
        no_args_is_help=True,
        add_completion=False,
        # Plain-text help: our words are not Rich markup (a metavar holds brackets).
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def root(
        ctx: typer.Context,
        lang: Annotated[
            Locale | None,
            typer.Option("--lang", envvar="ALUMNIBOT_CLI_LOCALE", help=w("main.help_lang")),
        ] = None,
    ) -> None:
        # --lang was applied by main() before the help was rendered; declared for --help.
        level = cli.settings.log_level if cli.settings_ok else "INFO"
        if ctx.invoked_subcommand not in ("run", "db") and level.upper() == "INFO":
            # A command's own words say what happened; the log only warns (migrations,
            # services) unless ALUMNIBOT_LOG_LEVEL asks for DEBUG.
            level = "WARNING"
        configure_logging(level)

    run.command(cli, app)
    setup.command(cli, app)
    app.add_typer(db.group(cli), name="db")
    app.add_typer(staff.group(cli), name="staff")
    app.add_typer(teams.group(cli), name="teams")
    app.add_typer(offers.group(cli), name="offers")
    app.add_typer(campaigns.group(cli), name="campaigns")
    app.add_typer(graduates.group(cli), name="graduates")
    app.add_typer(delivery.group(cli), name="delivery")
    app.add_typer(surveys.group(cli), name="surveys")
    return app


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the console script: exit with the command's code."""
    args = list(sys.argv[1:] if argv is None else argv)
    cli = Cli(pick_locale(args, os.environ))
    # The text boundary: no NUL or other control characters in any argument.
    for arg in args:
        try:
            checked_text(arg, max_length=1000)
        except TextError as error:
            reason = cli.text(f"web.bad_request_{error}")
            cli.err.print(cli.words("main.bad_argument", reason=reason), markup=False)
            sys.exit(EXIT_REFUSED)
    # Click exits: with the code of typer.Exit, 2 for wrong use, 1 when a prompt is aborted.
    build_app(cli)(args=args, prog_name="alumnibot")


if __name__ == "__main__":
    main()
