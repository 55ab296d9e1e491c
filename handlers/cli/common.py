"""What every command group shares: the language, the words, the output, the database.

Every word the CLI prints comes from ``content/<locale>/cli/<group>.j2`` (plain text, Dutch
first); what scripts read (tab-separated lists, ``key<TAB>value`` stats, the watch line in a
pipe) is data and the same in every language. Exit codes are the constants below.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.campaigns.segments import Filters, parse_filters, values_of
from bot.core.messenger import QueueOnlyMessenger
from bot.core.render import DEFAULT_LOCALE, LOCALES, Renderer
from bot.core.settings import CONTENT_DIR, Settings
from bot.staff.service import MIN_PASSWORD_LENGTH
from handlers.graph import Graph, build_graph, make_deps
from handlers.telegram.messenger import fits as telegram_fits
from storage.db import make_engine
from storage.migrate import upgrade
from storage.repositories import Storage

# Exit codes scripts can rely on (README, "Command line").
EXIT_OK = 0
EXIT_REFUSED = 1  # understood but not done: unknown id, wrong state, bad value or file
EXIT_USAGE = 2  # Click's own: unknown command or option, missing argument, wrong type
EXIT_UNAVAILABLE = 3  # the settings are invalid or the database cannot be reached

LOCALE_ENV = "ALUMNIBOT_CLI_LOCALE"
PASSWORD_ENV = "ALUMNIBOT_NEW_STAFF_PASSWORD"

T = TypeVar("T")


class Locale(StrEnum):
    """The languages the CLI speaks."""

    NL = "nl"
    EN = "en"


class OutputFormat(StrEnum):
    """How lists are printed: a table for people, tab-separated values for scripts."""

    TABLE = "table"
    TSV = "tsv"


def _as_locale(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip().lower()
    if value.startswith("en"):
        return "en"
    if value.startswith("nl"):
        return "nl"
    return None


def pick_locale(argv: Sequence[str], environ: Mapping[str, str]) -> str:
    """Choose the language: ``--lang``, then ALUMNIBOT_CLI_LOCALE, then the system's, then nl.

    Only the options before the first command are read (``--lang`` belongs to ``alumnibot``
    itself); the help texts are rendered before Click parses the line, so it is read here.
    """
    args = list(argv)
    for i, arg in enumerate(args):
        if not arg.startswith("-"):
            break
        if arg == "--lang" and i + 1 < len(args):
            return _as_locale(args[i + 1]) or DEFAULT_LOCALE
        if arg.startswith("--lang="):
            return _as_locale(arg.partition("=")[2]) or DEFAULT_LOCALE
    if chosen := _as_locale(environ.get(LOCALE_ENV)):
        return chosen
    # POSIX order: LC_ALL overrides LC_MESSAGES overrides LANG; "C" or "POSIX" say nothing.
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if value := environ.get(name):
            return _as_locale(value) or DEFAULT_LOCALE
    return DEFAULT_LOCALE


# The segment options of `campaigns create` and `surveys send`, in one place for both: the
# option's name, the name it has in :class:`Filters`, and how Typer reads it.
SEGMENT_OPTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "crebo": ("crebos", {"metavar": "CODE"}),
    "level": ("levels", {"min": 1, "max": 4, "metavar": "1-4"}),
    "region": ("regions", {"metavar": "CODE"}),
    "location": ("locations", {"metavar": "CODE"}),
    "situation": ("situations", {"metavar": "working|studying|looking|other"}),
    "sector": ("sectors", {"metavar": "CODE"}),
    "interest": ("interests", {"metavar": "CODE"}),
    "cohort_from": ("cohort_from", {"metavar": "YEAR"}),
    "cohort_to": ("cohort_to", {"metavar": "YEAR"}),
}
# Filters that are lists of catalogue codes: a wrong value there is a code it does not know.
CODE_LISTS = frozenset({"crebos", "regions", "locations", "situations", "sectors", "interests"})


class Cli:
    """One invocation: its language, words, output streams and settings."""

    def __init__(self, locale: str = DEFAULT_LOCALE, settings: Settings | None = None) -> None:
        """Read the settings (unless given) and the words of ``locale``.

        Invalid settings do not stop ``--help``; a command that needs them exits with
        EXIT_UNAVAILABLE and says what is wrong.
        """
        self.locale = locale if locale in LOCALES else DEFAULT_LOCALE
        self._settings = settings
        self._settings_error = ""
        if settings is None:
            try:
                self._settings = Settings()
            except ValidationError as error:
                self._settings_error = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
                )
        self._renderer = Renderer(self._settings.content_dir if self._settings else CONTENT_DIR)

    # ------------------------------------------------------------------ words

    @property
    def renderer(self) -> Renderer:
        """The renderer of the content directory (CLI words, and the features' own)."""
        return self._renderer

    def words(self, block: str, /, **ctx: Any) -> str:
        """Render ``content/<locale>/cli/<group>.j2`` block ``block`` ("group.block")."""
        return self.renderer.label(f"cli/{block}", self.locale, **ctx)

    def text(self, block: str, /, **ctx: Any) -> str:
        """Render a feature's own block (``offers.import_done``) as plain text."""
        return self.renderer.label(block, self.locale, **ctx)

    # ------------------------------------------------------------------ output

    @property
    def out(self) -> Console:
        """Standard output (a new Console each time: it follows a redirected sys.stdout)."""
        return Console(file=sys.stdout, highlight=False, soft_wrap=True)

    @property
    def err(self) -> Console:
        """Standard error, for what went wrong."""
        return Console(file=sys.stderr, highlight=False, soft_wrap=True)

    def say(self, block: str, /, **ctx: Any) -> None:
        """Print the words of a block on standard output."""
        self.line(self.words(block, **ctx))

    def line(self, text: str = "") -> None:
        """Print plain text as it is (no Rich markup: offer titles may hold brackets)."""
        self.out.print(text, markup=False, highlight=False)

    def segment_option(self, name: str) -> Any:
        """The ``typer.Option`` of a segment option (``crebo``, ``level``, ...), in our words."""
        _, how = SEGMENT_OPTIONS[name]
        return typer.Option(**how, help=self.words(f"campaigns.help_{name}"))

    def segment(self, graph: Graph, **options: Any) -> Filters:
        """Check segment options against the catalogue, as the console's composer does.

        ``options``: the segment options given (``crebo=[...]``, ``level=[...]``, ...). A code
        the catalogue does not know would quietly match nobody, so the command is refused
        and every wrong value named with its option.
        """
        flags = {SEGMENT_OPTIONS[o][0]: "--" + o.replace("_", "-") for o in options}
        form = {
            SEGMENT_OPTIONS[option][0]: value
            for option, value in options.items()
            if value not in (None, [])
        }
        chosen, errors = parse_filters(form, graph.deps.catalogue)
        if not errors:
            return chosen
        problems: list[tuple[str, list[str], str | None]] = []
        for name, reason in errors.items():
            given = values_of(form, name)
            if name in CODE_LISTS:
                kept = {str(v) for v in getattr(chosen, name)}
                wrong = [v for v in given if v not in kept and v.upper() not in kept]
                problems.append((flags[name], wrong, None))  # codes it does not know
            else:  # a level, a year, or the years' order: the console's reason says why
                problems.append((flags.get(name, name), given, self.text(reason)))
        self.fail("main.bad_segment", problems=problems)

    def fail(self, block: str, /, *, exit_code: int = EXIT_REFUSED, **ctx: Any) -> NoReturn:
        """Print the words of a block on standard error and exit with ``exit_code``."""
        self.err.print(self.words(block, **ctx), markup=False, highlight=False)
        raise typer.Exit(exit_code)

    def interactive(self) -> bool:
        """Return whether a person is at the terminal (standard output is one)."""
        return sys.stdout.isatty()

    def for_people(self, fmt: OutputFormat | None) -> bool:
        """Return whether a list is a table for people (not TSV): ``--format``, else a terminal."""
        return (fmt or (OutputFormat.TABLE if self.interactive() else OutputFormat.TSV)) is (
            OutputFormat.TABLE
        )

    def table(
        self,
        fmt: OutputFormat | None,
        headers: Sequence[str],
        rows: Sequence[Sequence[Any]],
        plain_rows: Sequence[Sequence[Any]] | None = None,
    ) -> None:
        """Print rows as a Rich table for people, or tab-separated values for scripts.

        Args:
            fmt: the chosen format; ``None`` picks a table on a terminal, TSV otherwise.
            headers: the table's column headings (words; not printed as TSV).
            rows: the cells people see.
            plain_rows: the cells scripts get, when they differ (codes instead of words).
        """
        if not self.for_people(fmt):
            for row in plain_rows if plain_rows is not None else rows:
                sys.stdout.write("\t".join(str(cell) for cell in row) + "\n")
            return
        table = Table(*headers, header_style="bold")
        for row in rows:
            # Text, not markup: an offer's title may hold [brackets].
            table.add_row(*(Text(str(cell)) for cell in row))
        self.out.print(table)

    # ------------------------------------------------------------------ settings and database

    @property
    def settings_ok(self) -> bool:
        """Return whether the settings could be read."""
        return self._settings is not None

    @property
    def settings(self) -> Settings:
        """The deployment's settings; invalid ones end the command with EXIT_UNAVAILABLE."""
        if self._settings is None:
            self.fail(
                "main.error_settings", exit_code=EXIT_UNAVAILABLE, detail=self._settings_error
            )
        return self._settings

    def run(self, work: Callable[[Graph], Awaitable[T]]) -> T:
        """Migrate the database, build the service graph and run ``work`` on it."""
        return asyncio.run(self._with_graph(work))

    async def _with_graph(self, work: Callable[[Graph], Awaitable[T]]) -> T:
        settings = self.settings
        engine = make_engine(settings.database_url)
        try:
            try:
                await upgrade(engine)
            except (OSError, SQLAlchemyError) as error:
                self.fail(
                    "main.error_database",
                    exit_code=EXIT_UNAVAILABLE,
                    url=make_url(settings.database_url).render_as_string(hide_password=True),
                    detail=str(error).splitlines()[0] if str(error) else type(error).__name__,
                )
            graph = build_graph(
                make_deps(
                    settings,
                    messenger=QueueOnlyMessenger("the command line", fits=telegram_fits),
                    storage=Storage(engine),
                )
            )
            return await work(graph)
        finally:
            await engine.dispose()

    def local_time(self, moment: datetime) -> str:
        """A moment as the school reads it (``ALUMNIBOT_TIMEZONE``), not in UTC."""
        return moment.astimezone(ZoneInfo(self.settings.timezone)).strftime("%Y-%m-%d %H:%M")

    # ------------------------------------------------------------------ passwords

    def new_password(self) -> str:
        """Read a new staff password from ALUMNIBOT_NEW_STAFF_PASSWORD or, twice, the terminal."""
        password = os.environ.get(PASSWORD_ENV)
        if password is None:
            password = getpass.getpass(self.words("staff.password_prompt") + " ")
            if getpass.getpass(self.words("staff.password_again") + " ") != password:
                self.fail("staff.passwords_differ")
        if len(password) < MIN_PASSWORD_LENGTH:
            self.fail("staff.password_short", min=MIN_PASSWORD_LENGTH)
        return password


def file_exists(cli: Cli, path: Path) -> Path:
    """Return ``path`` if it is a readable file; otherwise say so and exit."""
    if not path.is_file():
        cli.fail("main.error_no_file", path=str(path))
    return path
