"""Staff accounts and teams: the service, and the `alumnibot staff|teams` commands."""

from __future__ import annotations

import asyncio

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from bot.staff.service import (
    ConsoleAuth,
    DuplicateError,
    InvalidInputError,
    NotFoundError,
    StaffService,
)
from storage.models import StaffMember
from tests.cli import ALUMNIBOT, clean_env
from tests.console_fixtures import PASSWORD, console_deps, console_settings


@pytest.fixture
async def deps(database_url, clock):
    async with console_deps(console_settings(database_url), clock) as deps:
        yield deps


@pytest.fixture
def service(deps):
    return StaffService(deps.storage, deps.clock)


# ---------------------------------------------------------------------------- service


async def test_add_staff_normalises_the_email_and_stores_an_argon2id_hash(service, deps):
    await service.add_team("llo", "Leven lang ontwikkelen")
    member = await service.add_staff(" Ann@School.Example ", " Ann ", "admin", PASSWORD, ["LLO"])
    assert (member.email, member.display_name, member.role) == (
        "ann@school.example",
        "Ann",
        "admin",
    )
    assert member.teams == ("llo",)
    async with deps.storage.transaction() as tx:
        row = (await tx.session.execute(select(StaffMember))).scalar_one()
    assert row.password_hash and row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash
    assert PasswordHasher().verify(row.password_hash, PASSWORD)


async def test_duplicate_email_is_refused_whatever_its_case(service):
    await service.add_staff("ann@school.example", "Ann", "admin", PASSWORD)
    with pytest.raises(DuplicateError):
        await service.add_staff("ANN@school.example", "Ann 2", "coordinator", PASSWORD)
    assert len(await service.list_staff()) == 1


@pytest.mark.parametrize(
    ("email", "name", "role", "password", "teams", "error"),
    [
        ("not-an-address", "A", "admin", PASSWORD, [], InvalidInputError),
        ("a@b.example", "", "admin", PASSWORD, [], InvalidInputError),
        ("a@b.example", "A", "root", PASSWORD, [], InvalidInputError),
        ("a@b.example", "A", "admin", "short pass", [], InvalidInputError),
        ("a@b.example", "A", "admin", PASSWORD, ["nosuchteam"], NotFoundError),
    ],
)
async def test_bad_staff_input_is_refused(service, email, name, role, password, teams, error):
    with pytest.raises(error):
        await service.add_staff(email, name, role, password, teams)
    assert await service.list_staff() == []


async def test_list_and_disable(service):
    await service.add_team("nazorg", "Nazorg")
    await service.add_staff("b@school.example", "Bea", "coordinator", PASSWORD, ["nazorg"])
    await service.add_staff("a@school.example", "Ann", "admin", PASSWORD)
    listed = await service.list_staff()
    assert [(m.email, m.active, m.teams) for m in listed] == [
        ("a@school.example", True, ()),
        ("b@school.example", True, ("nazorg",)),
    ]
    await service.disable("B@school.example")
    assert [m.active for m in await service.list_staff()] == [True, False]
    with pytest.raises(NotFoundError):
        await service.disable("nobody@school.example")


async def test_teams_have_one_default(service):
    first = await service.add_team("LLO", "Leven lang ontwikkelen")
    assert first.code == "llo" and first.is_default  # the first team is the default
    assert not (await service.add_team("werk", "Werk en loopbaan")).is_default
    await service.add_team("nazorg", "Nazorg", default=True)
    teams = await service.list_teams()
    assert [(t.code, t.is_default) for t in teams] == [
        ("llo", False),
        ("nazorg", True),
        ("werk", False),
    ]
    with pytest.raises(DuplicateError):
        await service.add_team("llo", "Again")
    with pytest.raises(InvalidInputError):
        await service.add_team("no spaces", "X")


async def test_join_team_is_idempotent(service):
    await service.add_team("llo", "LLO")
    await service.add_staff("a@school.example", "Ann", "admin", PASSWORD)
    await service.join_team("a@school.example", "llo")
    await service.join_team("a@school.example", "llo")
    assert (await service.list_staff())[0].teams == ("llo",)
    with pytest.raises(NotFoundError):
        await service.join_team("a@school.example", "nope")


async def test_an_outdated_hash_is_upgraded_at_login(deps):
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    await StaffService(deps.storage, deps.clock, weak).add_staff(
        "a@school.example", "Ann", "admin", PASSWORD
    )
    auth = ConsoleAuth(deps.storage, deps.clock, deps.settings)
    assert await auth.login("a@school.example", PASSWORD, "127.0.0.1") is not None
    async with deps.storage.transaction() as tx:
        row = (await tx.session.execute(select(StaffMember))).scalar_one()
    assert row.password_hash and not PasswordHasher().check_needs_rehash(row.password_hash)
    assert row.last_login_at == deps.clock.now()


# ---------------------------------------------------------------------------- CLI


async def alumnibot(tmp_path, database_url, *args, password: str | None = None):
    env = clean_env(ALUMNIBOT_DATABASE_URL=database_url)
    if password is not None:
        env["ALUMNIBOT_NEW_STAFF_PASSWORD"] = password
    process = await asyncio.create_subprocess_exec(
        ALUMNIBOT,
        *args,
        env=env,
        cwd=tmp_path,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode, stdout.decode(), stderr.decode()


async def test_cli_teams_and_staff_round_trip(tmp_path, database_url):
    def run(*args, password=None):
        return alumnibot(tmp_path, database_url, *args, password=password)

    code, out, err = await run("teams", "add", "llo", "--name", "Leven lang ontwikkelen")
    assert code == 0, err
    assert "Team llo toegevoegd (standaardteam)." in out
    code, out, _ = await run("teams", "add", "nazorg", "--name", "Nazorg", "--default")
    assert code == 0 and "(standaardteam)" in out
    code, out, _ = await run("teams", "list")
    assert out.splitlines() == ["llo\tLeven lang ontwikkelen", "nazorg\tNazorg\tdefault"]
    code, _, err = await run("teams", "add", "llo", "--name", "Again")
    assert code != 0 and "Er is al een team met code llo." in err

    code, out, err = await run(
        "staff", "add", "Ann@School.example", "--name", "Ann", "--role", "admin",
        "--team", "llo", "--team", "nazorg", password=PASSWORD,
    )  # fmt: skip
    assert code == 0, err
    assert "ann@school.example toegevoegd (beheerder; llo, nazorg)." in out
    assert PASSWORD not in out + err  # never echoed or logged

    code, _, err = await run(
        "staff", "add", "ann@school.example", "--name", "Ann", "--role", "admin",
        password=PASSWORD,
    )  # fmt: skip
    assert code != 0 and "Er is al een medewerker met e-mail ann@school.example." in err
    code, _, err = await run(
        "staff", "add", "bea@school.example", "--name", "Bea", "--role", "coordinator",
        password="too short",
    )  # fmt: skip
    assert code != 0 and "minstens 12 tekens" in err
    code, _, err = await run(
        "staff", "add", "bea@school.example", "--name", "Bea", "--role", "boss",
        password=PASSWORD,
    )  # fmt: skip
    assert code != 0 and "Invalid value for '--role'" in err  # Click's own words
    code, _, err = await run(
        "staff", "add", "bea@school.example", "--name", "Bea", "--role", "coordinator",
        "--team", "nope", password=PASSWORD,
    )  # fmt: skip
    assert code != 0 and "Er is geen team met code nope." in err

    code, out, _ = await run("staff", "list")
    assert code == 0
    [line] = out.splitlines()
    assert line.split("\t")[:5] == ["ann@school.example", "Ann", "admin", "active", "llo,nazorg"]

    code, _, err = await run("staff", "disable", "nobody@school.example")
    assert code != 0 and "Er is geen medewerker met e-mail nobody@school.example." in err
    code, out, _ = await run("staff", "disable", "ANN@school.example")
    assert code == 0 and "ann@school.example staat nu uit" in out
    code, out, _ = await run("staff", "list")
    assert "\tdisabled\t" in out


async def test_cli_staff_list_on_an_empty_database_says_what_to_do(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"  # also shows the command migrates first
    code, out, err = await alumnibot(tmp_path, url, "staff", "list")
    assert code == 0, err
    assert "alumnibot staff add" in out


async def test_cli_links_telegram_accounts_and_staff_groups(tmp_path, database_url):
    def run(*args, password=None):
        return alumnibot(tmp_path, database_url, *args, password=password)

    assert (await run("teams", "add", "nazorg", "--name", "Nazorg"))[0] == 0
    code, _, err = await run(
        "staff", "add", "ann@school.example", "--name", "Ann", "--role", "coordinator",
        "--team", "nazorg", password=PASSWORD,
    )  # fmt: skip
    assert code == 0, err
    code, out, err = await run("staff", "link", "ann@school.example", "424242")
    assert code == 0 and "ann@school.example is gekoppeld aan Telegram-account 424242." in out, err
    code, out, _ = await run("teams", "group", "nazorg", "-1001234567890")
    assert code == 0 and "Team nazorg gebruikt nu groep -1001234567890." in out
    code, _, err = await run("teams", "group", "nazorg", "1234")
    assert code != 0 and "het nummer van een groep is negatief" in err
    code, _, err = await run("staff", "link", "nobody@school.example", "1")
    assert code != 0 and "Er is geen medewerker met e-mail nobody@school.example." in err


async def test_a_telegram_account_links_to_one_staff_member_only(service):
    await service.add_staff("a@school.example", "A", "coordinator", PASSWORD, [])
    await service.add_staff("b@school.example", "B", "coordinator", PASSWORD, [])
    await service.link_telegram("a@school.example", 77)
    with pytest.raises(DuplicateError):
        await service.link_telegram("b@school.example", 77)
    await service.add_team("x", "X")
    await service.add_team("y", "Y")
    await service.link_group("x", -100)
    with pytest.raises(DuplicateError):
        await service.link_group("y", -100)
    with pytest.raises(NotFoundError):
        await service.link_group("z", -200)
