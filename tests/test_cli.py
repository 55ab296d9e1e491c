"""The `alumnibot` command as a deployment runs it: a real process, stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import re
import signal
import socket

import aiohttp

from bot.core.clock import SystemClock
from bot.staff.service import StaffService
from handlers.runner import SANDBOX_COORDINATOR
from storage.db import make_engine
from storage.repositories import Storage
from tests.cli import clean_env, start
from tests.console_fixtures import csrf_in
from tests.harness import TOKEN


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def stop(process: asyncio.subprocess.Process) -> str:
    """SIGTERM, and return the log once the process has exited (it must exit cleanly)."""
    process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    log = stderr.decode()
    assert process.returncode == 0, log
    return log


async def eventually(check, timeout: float = 20.0):
    """Poll another process's state (there is no event to wait on across processes)."""
    async with asyncio.timeout(timeout):
        while not (result := await check()):
            await asyncio.sleep(0.1)
    return result


async def demo_login(process: asyncio.subprocess.Process) -> tuple[str, str, str]:
    """Read the sandbox's start-up output until its login; return (console, email, password)."""
    assert process.stdout is not None
    seen = []
    async with asyncio.timeout(30):
        while line := (await process.stdout.readline()).decode():
            seen.append(line)
            if match := re.search(r"Log in met e-mail (\S+) en wachtwoord (\S+)", line):
                console = re.search(r"(http://\S+/inbox)", "".join(seen))
                assert console, seen
                return console.group(1), match.group(1), match.group(2)
    raise AssertionError(f"no login printed: {seen}")


async def test_run_without_token_serves_the_sandbox_web_chat(tmp_path, database_url):
    port, web_port = free_port(), free_port()
    env = clean_env(
        ALUMNIBOT_SANDBOX_PORT=str(port),
        ALUMNIBOT_WEB_PORT=str(web_port),
        ALUMNIBOT_DATABASE_URL=database_url,
    )
    process = await start(["run"], env, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        console, email, password = await demo_login(process)
        assert console == f"http://127.0.0.1:{web_port}/inbox"
        # The printed login works: the console's own form, as a browser submits it. (The
        # cookie jar must take cookies from an IP address: the sandbox serves 127.0.0.1.)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as web:
            async with web.get(console + "/login") as form:
                token = csrf_in(await form.text())
            async with web.post(
                console + "/login",
                data={"csrf_token": token, "email": email, "password": password},
                allow_redirects=False,
            ) as signed_in:
                assert signed_in.status == 303, await signed_in.text()
                assert signed_in.headers["Location"] == "/inbox"
            async with web.get(console) as inbox:
                assert inbox.status == 200 and email in await inbox.text()

        async with aiohttp.ClientSession() as http:

            async def page_up() -> bool:
                try:
                    async with http.get(base + "/") as response:
                        return (
                            response.status == 200 and "<html" in (await response.text()).lower()
                        )
                except aiohttp.ClientConnectionError:
                    return False

            await eventually(page_up)
            async with http.post(base + "/sim/api/users", json={"first_name": "Ilse"}) as r:
                user = await r.json()
            async with http.post(
                f"{base}/sim/api/users/{user['id']}/messages", json={"text": "/start"}
            ) as r:
                assert r.status == 201

            async def welcomed() -> bool:
                async with http.get(f"{base}/sim/api/chats/{user['id']}/messages") as r:
                    messages = (await r.json())["messages"]
                return any(m["side"] == "bot" for m in messages)

            await eventually(welcomed)
    finally:
        log = await stop(process)
    assert "sandbox: chat with the bot at" in log
    assert "SANDBOX-alumnibot" not in log  # the sandbox token is redacted too
    assert password not in log  # the login is printed for the person, not logged


async def test_every_sandbox_start_prints_a_fresh_login(tmp_path, database_url):
    """The demo password is new at every start: nobody can work it out from the code."""
    env = clean_env(
        ALUMNIBOT_SANDBOX_PORT=str(free_port()),
        ALUMNIBOT_WEB_PORT=str(free_port()),
        ALUMNIBOT_DATABASE_URL=database_url,
        ALUMNIBOT_CLI_LOCALE="en",
    )
    logins = []
    for _ in range(2):
        process = await start(["run"], env, tmp_path)
        try:
            assert process.stdout is not None
            async with asyncio.timeout(30):
                while line := (await process.stdout.readline()).decode():
                    if "Sign in with e-mail" in line:
                        logins.append(line.strip())
                        break
        finally:
            await stop(process)
    assert len(logins) == 2 and logins[0] != logins[1]
    assert logins[0].split("password")[0] == logins[1].split("password")[0]  # same account


async def test_webhook_mode_sets_the_webhook_serves_and_stops_gracefully(
    tmp_path, sim, database_url
):
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    env = clean_env(
        ALUMNIBOT_TELEGRAM_TOKEN=TOKEN,
        ALUMNIBOT_TELEGRAM_API_URL=sim.api_base_url,
        ALUMNIBOT_DATABASE_URL=database_url,
        ALUMNIBOT_WEBHOOK_URL=url,
        ALUMNIBOT_LISTEN_PORT=str(port),
        ALUMNIBOT_WEB_PORT=str(free_port()),
    )
    # This database was used by the sandbox first: its demo coordinator must not live on.
    engine = make_engine(database_url)
    staff = StaffService(Storage(engine), SystemClock())
    await staff.add_staff(SANDBOX_COORDINATOR[0], "Demo", "coordinator", "paars kanon fiets regen")
    process = await start(["run", "--webhook"], env, tmp_path)
    try:
        await sim.wait_for(lambda s: s.webhook is not None and s.webhook.get("url") == url, 20)
        assert len(sim.webhook["secret_token"]) >= 32  # random when not configured
        user = sim.create_user(first_name="Joost")
        await sim.user_sends(user, "/start")
        [welcome] = await sim.wait_for_bot_messages(user.id, 1, timeout=20)
        assert "alumnibot van" in welcome.text
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/healthz") as r,
        ):
            assert r.status == 200
    finally:
        log = await stop(process)
    assert "stopping: no new updates accepted" in log
    assert TOKEN not in log and TOKEN.split(":")[1] not in log
    [demo] = await staff.list_staff()
    await engine.dispose()
    assert not demo.active and "demo coordinator demo@sandbox.example is disabled" in log


async def test_db_upgrade_creates_the_schema(tmp_path):
    db = tmp_path / "fresh.db"
    env = clean_env(ALUMNIBOT_DATABASE_URL=f"sqlite:///{db}")
    process = await start(["db", "upgrade"], env, tmp_path)
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, stderr.decode()
    assert "database is up to date" in stderr.decode()
    import sqlite3

    with sqlite3.connect(db) as connection:
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
    assert {"alumnus", "consent_event", "conversation_state", "inbound_update"} <= tables


async def test_offers_import_reports_every_bad_row_and_imports_nothing(tmp_path):
    db = tmp_path / "cli.db"
    env = clean_env(ALUMNIBOT_DATABASE_URL=f"sqlite:///{db}")
    bad = tmp_path / "bad.csv"
    bad.write_text("kind,title,text\nllo,Goed,Prima\ncursus,,tekst\n", encoding="utf-8")
    process = await start(["offers", "import", str(bad)], env, tmp_path)
    stdout, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    out = stdout.decode()
    assert process.returncode == 1
    assert "Niets geïmporteerd: het bestand heeft 2 fouten." in out
    assert "Rij 2, veld kind: soort moet llo, job, bpv, event of news zijn" in out
    assert "Rij 2, veld title" in out

    good = tmp_path / "good.yaml"
    good.write_text("- {kind: llo, title: Excel, text: In vier avonden, regions: [UT]}\n")
    process = await start(["offers", "import", str(good)], env, tmp_path)
    stdout, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0 and "1 aanbod geïmporteerd." in stdout.decode()

    # A code the catalogue does not know (here: "Utrecht" for UT) is refused by name, as
    # the console's composer refuses it; nothing is created.
    process = await start(["campaigns", "create", "1", "--region", "Utrecht"], env, tmp_path)
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 1 and "--region Utrecht: onbekend" in stderr.decode()
    assert "er is niets verstuurd" in stderr.decode()
    process = await start(["campaigns", "create", "1", "--region", "UT"], env, tmp_path)
    stdout, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0 and "Campagne 1: bereikt nu 0 oud-studenten." in stdout.decode()
    process = await start(["campaigns", "send", "1"], env, tmp_path)
    stdout, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert "Campagne 1: 0 berichten klaargezet." in stdout.decode()
    process = await start(["campaigns", "stats", "1"], env, tmp_path)
    stdout, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert "targeted\t0" in stdout.decode()


def test_webhook_mode_without_its_address_says_so_in_the_clis_language(settings):
    from pydantic import SecretStr

    from handlers.cli.common import EXIT_REFUSED
    from tests.cli import in_process

    live = settings.model_copy(update={"telegram_token": SecretStr("1:x"), "webhook_url": None})
    for locale, words in (("nl", "moet ALUMNIBOT_WEBHOOK_URL gezet zijn"), ("en", "needs")):
        result = in_process(live, "run", "--webhook", locale=locale)
        assert result.exit_code == EXIT_REFUSED
        assert words in result.stderr and "Traceback" not in result.output
