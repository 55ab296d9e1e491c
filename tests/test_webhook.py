"""Webhook mode: the aiohttp endpoint, its secret, de-duplication and replay after a crash."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web

from handlers.telegram.app import AlumniApplication, build_application, running
from handlers.telegram.webhook import SECRET_HEADER, webhook_app
from storage.models import Alumnus, InboundUpdate
from tests.chat import Chat
from tests.harness import processed_of, rows, track

SECRET = "webhook-secret-for-tests_123"


@asynccontextmanager
async def webhook_bot(settings, clock) -> AsyncIterator[tuple[AlumniApplication, str]]:
    """Run the app in webhook mode on a free port; yield it and its webhook URL."""
    application = build_application(settings, clock=clock, webhook=True)
    track(application)
    runner = web.AppRunner(webhook_app(application, SECRET, "/telegram"))
    async with running(application):
        await application.start()
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        url = f"http://{host}:{port}/telegram"
        await application.bot.set_webhook(url, secret_token=SECRET)
        try:
            yield application, url
        finally:
            await runner.cleanup()
            await application.stop()


def start_update(update_id: int, user_id: int) -> dict:
    user = {"id": user_id, "is_bot": False, "first_name": "Piet", "language_code": "nl"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": 1781000000,
            "chat": {"id": user_id, "type": "private", "first_name": "Piet"},
            "from": user,
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


async def test_onboarding_starts_through_the_webhook(sim, settings, clock):
    async with webhook_bot(settings, clock) as (app, url):
        assert sim.webhook["url"] == url and sim.webhook["secret_token"] == SECRET
        chat = Chat(sim, processed_of(app), sim.create_user(first_name="Piet"))
        reply = await chat.say("/start")
        assert "alumnibot van <b>Testcollege</b>" in reply[0].html
        await chat.tap("Nederlands")
        assert "Waarvoor mogen we je berichten sturen" in chat.last.text


@pytest.mark.parametrize("headers", [{}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: SECRET[:-1]}])
async def test_missing_or_wrong_secret_is_refused_and_nothing_processed(
    sim, settings, clock, headers
):
    user = sim.create_user(first_name="Piet")
    async with webhook_bot(settings, clock) as (app, url):
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json=start_update(5000, user.id), headers=headers) as r:
                assert r.status == 403
        assert await rows(app, InboundUpdate) == []
        assert await rows(app, Alumnus) == []
        assert sim.bot_messages(user.id) == []


async def test_malformed_bodies_are_refused(sim, settings, clock):
    async with webhook_bot(settings, clock) as (app, url), aiohttp.ClientSession() as session:
        for body, status in ((b"{not json", 400), (b'{"no_update_id": 1}', 400), (b"[1]", 400)):
            async with session.post(
                url, data=body, headers={SECRET_HEADER: SECRET, "Content-Type": "application/json"}
            ) as response:
                assert response.status == status
        assert await rows(app, InboundUpdate) == []


async def test_the_same_update_id_twice_is_processed_once(sim, settings, clock):
    user = sim.create_user(first_name="Piet")
    async with webhook_bot(settings, clock) as (app, url):
        async with aiohttp.ClientSession() as session:
            for _ in range(2):
                async with session.post(
                    url, json=start_update(7000, user.id), headers={SECRET_HEADER: SECRET}
                ) as response:
                    assert response.status == 200
        await processed_of(app).wait(7000)
        # A later update of the same chat is handled strictly after the duplicate.
        chat = Chat(sim, processed_of(app), user)
        await chat.say("/help")
        texts = [m.text for m in sim.bot_messages(user.id)]
        assert sum("alumnibot van" in t for t in texts) == 1
        assert len(await rows(app, Alumnus)) == 1


async def test_the_same_update_id_twice_is_processed_once_when_polling(app, sim):
    user = sim.create_user(first_name="Piet")
    await sim.inject_raw_update(start_update(9000, user.id))
    await processed_of(app).wait(9000)
    await sim.inject_raw_update(start_update(9000, user.id))
    chat = Chat(sim, processed_of(app), user)
    await chat.say("/help")
    texts = [m.text for m in sim.bot_messages(user.id)]
    assert sum("alumnibot van" in t for t in texts) == 1


async def test_an_update_received_but_not_processed_is_replayed_at_start(sim, settings, clock):
    from handlers.telegram.webhook import replay_unprocessed

    user = sim.create_user(first_name="Piet")
    # First run: the update is stored (as the webhook does before answering 200), then the
    # process dies before handling it.
    application = build_application(settings, clock=clock, webhook=True)
    async with running(application):
        deps = application.bot_data.graph.deps
        async with deps.storage.transaction() as tx:
            payload = start_update(8000, user.id)
            assert await tx.updates.receive_many([(8000, payload)], clock.now()) == {8000}
    # Second run: start-up replays it.
    async with webhook_bot(settings, clock) as (app, _url):
        assert await replay_unprocessed(app) == 1
        await processed_of(app).wait(8000)
        assert "alumnibot van" in sim.bot_messages(user.id)[0].text
        [row] = await rows(app, InboundUpdate)
        assert row.claimed_at is not None and row.payload is None
        assert await replay_unprocessed(app) == 0


async def test_healthz_reports_the_database(sim, settings, clock):
    async with webhook_bot(settings, clock) as (_app, url), aiohttp.ClientSession() as session:
        async with session.get(url.replace("/telegram", "/healthz")) as response:
            assert response.status == 200
            assert await response.json() == {"status": "ok"}


async def test_updates_arriving_together_are_stored_together_and_each_handled_once(
    sim, settings, clock
):
    users = [sim.create_user(first_name=f"P{i}") for i in range(10)]
    async with webhook_bot(settings, clock) as (app, url), aiohttp.ClientSession() as session:

        async def post(update: dict) -> int:
            headers = {SECRET_HEADER: SECRET}
            async with session.post(url, json=update, headers=headers) as response:
                return response.status

        updates = [start_update(10_000 + i, u.id) for i, u in enumerate(users)]
        statuses = await asyncio.gather(*(post(u) for u in updates * 3))  # each one thrice
        assert set(statuses) == {200}
        for i in range(10):
            await processed_of(app).wait(10_000 + i)
        for user in users:  # a later update of each chat runs after any duplicate
            await Chat(sim, processed_of(app), user).say("/help")
        for user in users:
            texts = [m.text for m in sim.bot_messages(user.id)]
            assert sum("alumnibot van" in t for t in texts) == 1
        assert len(await rows(app, InboundUpdate)) == 20  # 10 webhook + 10 polling-free /help


async def test_an_update_whose_handling_fails_is_not_replayed_at_every_start(
    sim, settings, clock, monkeypatch
):
    from handlers.telegram.webhook import replay_unprocessed

    user = sim.create_user(first_name="Piet")

    async def broken(*_args, **_kwargs):
        raise RuntimeError("a bug in a handler")

    async with webhook_bot(settings, clock) as (app, url):
        monkeypatch.setattr(app.bot_data.graph.router, "_route", broken)
        async with aiohttp.ClientSession() as session:
            async with session.post(
                url, json=start_update(8100, user.id), headers={SECRET_HEADER: SECRET}
            ) as response:
                assert response.status == 200
        await processed_of(app).wait(8100)
        [apology] = sim.bot_messages(user.id)
        assert apology.text == app.bot_data.graph.deps.renderer.text("common.error", "nl")
        # The failed handling is rolled back, but the update counts as handled: no payload
        # is kept, and the person is not sent the same apology after every restart.
        [row] = await rows(app, InboundUpdate)
        assert row.claimed_at is not None and row.payload is None
    monkeypatch.undo()
    async with webhook_bot(settings, clock) as (app, _url):
        assert await replay_unprocessed(app) == 0
    assert len(sim.bot_messages(user.id)) == 1
