"""The `alumnibot` command in-process (Typer's CliRunner): setup, lists, languages, exit codes."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bot.core.settings import Settings
from handlers.cli.common import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    Cli,
    pick_locale,
)
from handlers.cli.main import build_app

PASSWORD = "a-long-enough-password"
ROUTED = ["alumni", "examenbureau", "llo", "loopbaan", "nazorg", "zorg"]


@pytest.fixture
def alumnibot(database_url, monkeypatch):
    """Run `alumnibot ARGS...` in this process against the test database."""
    monkeypatch.setenv("ALUMNIBOT_NEW_STAFF_PASSWORD", PASSWORD)
    settings = Settings(database_url=database_url)

    def invoke(*args: str, locale: str = "nl"):
        runner = CliRunner()
        return runner.invoke(build_app(Cli(locale, settings)), list(args))

    return invoke


def test_setup_creates_the_routed_teams_and_the_first_admin_and_can_run_again(alumnibot):
    first = alumnibot("setup", "--admin", "Ann@School.nl", "--name", "Ann Admin")
    assert first.exit_code == EXIT_OK, first.output
    assert "Team alumni (Alumni algemeen) gemaakt: vragen die geen regel" in first.stdout
    assert "Team nazorg (Nazorg) gemaakt." in first.stdout
    assert "Beheerder ann@school.nl gemaakt" in first.stdout
    teams = alumnibot("teams", "list")
    assert [line.split("\t")[0] for line in teams.stdout.splitlines()] == ROUTED
    assert "alumni\tAlumni algemeen\tdefault" in teams.stdout  # questions no rule routes go here
    staff = alumnibot("staff", "list")
    assert staff.stdout.startswith("ann@school.nl\tAnn Admin\tadmin\tactive\t" + ",".join(ROUTED))

    again = alumnibot("setup", "--admin", "ann@school.nl", "--name", "Ann Admin")
    assert again.exit_code == EXIT_OK, again.output
    assert "gemaakt" not in again.stdout
    assert "Deze teams waren er al: alumni, llo, zorg, loopbaan, nazorg, examenbureau." in (
        again.stdout
    )
    assert "ann@school.nl bestond al (rol: beheerder)" in again.stdout
    third = alumnibot("setup")  # no admin named: the existing one is enough
    assert third.exit_code == EXIT_OK and "Er is al een beheerder: ann@school.nl." in third.stdout
    assert alumnibot("teams", "list").stdout == teams.stdout
    assert alumnibot("staff", "list").stdout == staff.stdout


def test_setup_keeps_teams_made_before_it_and_asks_for_an_admin(alumnibot):
    assert alumnibot("teams", "add", "nazorg", "--name", "Nazorg en hulp").exit_code == EXIT_OK
    result = alumnibot("setup")  # not at a terminal: nothing to ask with
    assert result.exit_code == EXIT_REFUSED
    assert "Er is nog geen beheerder. Geef er een op: alumnibot setup --admin" in result.stderr
    teams = alumnibot("teams", "list").stdout
    assert "nazorg\tNazorg en hulp\tdefault" in teams  # the first team stays the default
    assert "alumni\tAlumni algemeen\n" in teams


def test_lists_are_tables_for_people_and_tab_separated_for_scripts(alumnibot):
    alumnibot("teams", "add", "llo", "--name", "LLO [cursussen]", "--default")
    table = alumnibot("teams", "list", "--format", "table")
    assert table.exit_code == EXIT_OK
    assert "┃ Code" in table.stdout and "Standaard" in table.stdout
    assert "LLO [cursussen]" in table.stdout  # brackets are text, not Rich markup
    assert alumnibot("teams", "list").stdout == "llo\tLLO [cursussen]\tdefault\n"
    english = alumnibot("teams", "list", "--format", "table", locale="en")
    assert "Default" in english.stdout and "yes" in english.stdout


def test_staff_commands_refuse_politely_in_the_chosen_language(alumnibot):
    result = alumnibot(
        "staff", "add", "c@school.nl", "--name", "C", "--role", "coordinator", "--team", "nope"
    )
    assert result.exit_code == EXIT_REFUSED
    assert "Er is geen team met code nope." in result.stderr
    result = alumnibot("staff", "disable", "x@school.nl", locale="en")
    assert result.exit_code == EXIT_REFUSED
    assert "There is no staff member with e-mail x@school.nl." in result.stderr
    result = alumnibot("staff", "add", "c@school.nl", "--name", "C", "--role", "boss")
    assert result.exit_code == EXIT_USAGE  # Click's own check of the choices
    alumnibot("teams", "add", "nazorg", "--name", "Nazorg")
    result = alumnibot("teams", "group", "nazorg", "-1001234567890")  # negative: not an option
    assert result.exit_code == EXIT_OK and "groep -1001234567890" in result.stdout
    result = alumnibot("teams", "group", "nazorg", "42")
    assert result.exit_code == EXIT_REFUSED and "42 is geen groep" in result.stderr


def test_exit_codes_scripts_can_rely_on(alumnibot, tmp_path):
    assert alumnibot("campaigns", "stats", "7").exit_code == EXIT_REFUSED
    assert alumnibot("campaigns", "frobnicate").exit_code == EXIT_USAGE
    assert alumnibot("offers", "import", str(tmp_path / "missing.csv")).exit_code == EXIT_REFUSED
    unreachable = Settings(database_url="postgresql://nobody@127.0.0.1:1/none")
    result = CliRunner().invoke(build_app(Cli("nl", unreachable)), ["teams", "list"])
    assert result.exit_code == EXIT_UNAVAILABLE
    assert "Ik kan de database postgresql+asyncpg://nobody@127.0.0.1:1/none niet" in (
        result.stderr
    )


def test_help_is_generated_in_the_chosen_language(alumnibot):
    dutch = alumnibot("--help")
    assert dutch.exit_code == EXIT_OK
    assert "Exitcodes: 0 gelukt" in dutch.stdout and "setup" in dutch.stdout
    english = alumnibot("campaigns", "create", "--help", locale="en")
    assert "Only this level (1 to 4)." in english.stdout and "--cohort-from" in english.stdout


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        ([], {}, "nl"),
        ([], {"LANG": "en_GB.UTF-8"}, "en"),
        ([], {"LANG": "C.UTF-8"}, "nl"),
        ([], {"LANG": "en_US.UTF-8", "LC_ALL": "nl_NL.UTF-8"}, "nl"),
        ([], {"LANG": "en_US.UTF-8", "ALUMNIBOT_CLI_LOCALE": "nl"}, "nl"),
        (["--lang", "en", "staff", "list"], {"ALUMNIBOT_CLI_LOCALE": "nl"}, "en"),
        (["--lang=en"], {}, "en"),
        (["staff", "add", "--lang", "en"], {}, "nl"),  # --lang belongs to alumnibot itself
    ],
)
def test_the_language_is_picked_from_the_line_the_setting_or_the_system(argv, environ, expected):
    assert pick_locale(argv, environ) == expected
