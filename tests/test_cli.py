"""The `alumnibot` command as a deployment runs it: a real process, stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import socket

import aiohttp

from tests.cli import clean_env, start
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


async def test_run_without_token_serves_the_sandbox_web_chat(tmp_path, database_url):
    port = free_port()
    env = clean_env(
        ALUMNIBOT_SANDBOX_PORT=str(port),
        ALUMNIBOT_WEB_PORT=str(free_port()),
        ALUMNIBOT_DATABASE_URL=database_url,
    )
    process = await start(["run"], env, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
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

    process = await start(["campaigns", "create", "1", "--region", "UT"], env, tmp_path)
    stdout, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0 and "campaign 1: reaches 0 alumni now" in stdout.decode()
    process = await start(["campaigns", "send", "1"], env, tmp_path)
    stdout, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert "campaign 1: 0 pushes queued" in stdout.decode()
    process = await start(["campaigns", "stats", "1"], env, tmp_path)
    stdout, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert "targeted\t0" in stdout.decode()
