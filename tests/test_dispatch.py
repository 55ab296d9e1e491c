"""The delivery engine: every outcome of DESIGN.md "Delivery", against the simulator."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.core.messenger import Button, Outgoing
from bot.delivery.dispatcher import Pacer, SharedPacer, enqueue, row
from handlers.telegram.app import AlumniApplication, build_application, running
from handlers.telegram.messenger import chat_interval, keyboard
from sandbox.simulator import Fault
from storage.models import Alumnus, OutboxMessage, OutboxStatus
from tests.harness import rows


@pytest.fixture
async def bot(settings, clock) -> AsyncIterator[AlumniApplication]:
    """The app with its dispatcher driven by hand (run_once), at a fast test rate."""
    fast = settings.model_copy(update={"send_rate": 1000.0, "paid_broadcast": True})
    application = build_application(fast, clock=clock)
    async with running(application, dispatch=False):
        yield application


async def queue(app, chat_id: int, key: str, text: str = "Hallo", **extra) -> None:
    deps = app.bot_data.graph.deps
    async with deps.storage.transaction() as tx:
        item = row(deps.clock.now(), key=key, chat_id=chat_id, message=Outgoing(text), **extra)
        await enqueue(tx, item)


async def status_of(app, key: str) -> OutboxMessage:
    async with app.bot_data.graph.deps.storage.transaction() as tx:
        found = await tx.outbox.get(key)
    assert found is not None
    return found


async def new_alumnus(app, chat_id: int) -> Alumnus:
    deps = app.bot_data.graph.deps
    async with deps.storage.transaction() as tx:
        return await tx.alumni.create(chat_id, deps.clock.now())


async def test_queued_messages_are_sent_once_with_their_message_id(bot, sim):
    users = [sim.create_user(first_name=f"A{i}") for i in range(3)]
    for user in users:
        await queue(bot, user.id, f"test:{user.id}", text=f"<b>Hoi</b> {user.first_name}")
    assert await bot.bot_data.graph.dispatcher.run_once() == 3
    assert await bot.bot_data.graph.dispatcher.run_once() == 0
    for user in users:
        [message] = sim.bot_messages(user.id)
        row = await status_of(bot, f"test:{user.id}")
        assert row.status == "sent" and row.telegram_message_id == message.message_id
        assert message.html == f"<b>Hoi</b> {user.first_name}"


async def test_the_same_key_is_queued_once(bot, sim):
    user = sim.create_user()
    await queue(bot, user.id, "once")
    await queue(bot, user.id, "once", text="anders")
    await bot.bot_data.graph.dispatcher.run_once()
    assert [m.text for m in sim.bot_messages(user.id)] == ["Hallo"]


async def test_429_returns_to_pending_at_retry_after_without_using_an_attempt(bot, sim, clock):
    user = sim.create_user()
    sim.faults.add(Fault(method="sendMessage", kind="429", retry_after=7, count=1))
    await queue(bot, user.id, "k")
    await bot.bot_data.graph.dispatcher.run_once()
    row = await status_of(bot, "k")
    assert row.status == "pending" and row.attempts == 0
    assert row.not_before == clock.now() + timedelta(seconds=7)
    assert await bot.bot_data.graph.dispatcher.run_once() == 0  # not due yet
    clock.advance(timedelta(seconds=7))
    await bot.bot_data.graph.dispatcher.run_once()
    assert (await status_of(bot, "k")).status == "sent"
    assert len(sim.bot_messages(user.id)) == 1


async def test_5xx_is_retried_with_backoff_then_dead_after_max_attempts(bot, sim, clock):
    user = sim.create_user()
    sim.faults.add(Fault(method="sendMessage", kind="5xx"))
    await queue(bot, user.id, "k")
    delays = []
    for _ in range(bot.bot_data.graph.deps.settings.outbox_max_attempts):
        await bot.bot_data.graph.dispatcher.run_once()
        row = await status_of(bot, "k")
        if row.status == "dead":
            break
        assert row.status == "pending"
        delays.append((row.not_before - clock.now()).total_seconds())
        clock.advance(timedelta(seconds=400))
    assert (
        row.status == "dead"
        and row.attempts == bot.bot_data.graph.deps.settings.outbox_max_attempts
    )
    assert delays[0] < delays[-1]  # exponential backoff
    assert sim.bot_messages(user.id) == []


async def test_connection_refused_is_retried_not_lost(bot, sim):
    user = sim.create_user()
    await queue(bot, user.id, "k")
    await sim.stop()  # the Bot API server is gone: connections are refused
    await bot.bot_data.graph.dispatcher.run_once()
    row = await status_of(bot, "k")
    assert row.status == "pending" and row.attempts == 1
    assert "ClientConnectorError" in (row.last_error or "")


async def test_a_dropped_connection_after_accept_is_unknown_and_never_resent(bot, sim, clock):
    user = sim.create_user()
    sim.faults.add(Fault(method="sendMessage", kind="drop_after_accept", count=1))
    await queue(bot, user.id, "k")
    await bot.bot_data.graph.dispatcher.run_once()
    row = await status_of(bot, "k")
    assert row.status == "unknown"
    clock.advance(timedelta(hours=1))
    await bot.bot_data.graph.dispatcher.run_once()
    assert len(sim.bot_messages(user.id)) == 1  # Telegram had it; we did not send it again


async def test_a_blocked_person_fails_is_marked_and_is_left_out_next_time(bot, sim):
    user = sim.create_user()
    alumnus = await new_alumnus(bot, user.id)
    sim.block(user)
    await queue(bot, user.id, "first", alumnus_id=alumnus.id)
    await bot.bot_data.graph.dispatcher.run_once()
    assert (await status_of(bot, "first")).status == "failed"
    [stored] = await rows(bot, Alumnus)
    assert stored.unreachable_since is not None
    sim.unblock(user)
    await queue(bot, user.id, "second", alumnus_id=alumnus.id)
    await bot.bot_data.graph.dispatcher.run_once()
    second = await status_of(bot, "second")
    assert second.status == "failed" and second.last_error == "person blocked the bot"
    assert sim.bot_messages(user.id) == []


async def test_a_message_telegram_refuses_is_dead(bot, sim):
    user = sim.create_user()
    await queue(bot, user.id, "long", text="x" * 5000)
    await queue(bot, 999_999_999, "nobody")
    await bot.bot_data.graph.dispatcher.run_once()
    assert (await status_of(bot, "long")).status == "dead"
    nobody = await status_of(bot, "nobody")
    assert nobody.status == "dead" and "chat not found" in (nobody.last_error or "").lower()


async def test_consent_is_checked_again_at_send_time(bot, sim):
    with_consent, without = sim.create_user(), sim.create_user()
    a = await new_alumnus(bot, with_consent.id)
    b = await new_alumnus(bot, without.id)
    consent = bot.bot_data.graph.consent
    deps = bot.bot_data.graph.deps
    async with deps.storage.transaction() as tx:
        await consent.set(tx, a, "llo", True, "privacy", 1)
        await consent.set(tx, b, "llo", True, "privacy", 2)
    await queue(bot, with_consent.id, "a", purpose="llo", alumnus_id=a.id)
    await queue(bot, without.id, "b", purpose="llo", alumnus_id=b.id)
    async with deps.storage.transaction() as tx:
        await consent.set(tx, b, "llo", False, "privacy", 3)  # withdrawn while queued
    await bot.bot_data.graph.dispatcher.run_once()
    assert (await status_of(bot, "a")).status == "sent"
    withdrawn = await status_of(bot, "b")
    assert withdrawn.status == "cancelled" and withdrawn.last_error == "consent withdrawn"
    assert sim.bot_messages(without.id) == []


async def test_consent_never_given_means_not_sent(bot, sim):
    user = sim.create_user()
    alumnus = await new_alumnus(bot, user.id)
    await queue(bot, user.id, "k", purpose="jobs", alumnus_id=alumnus.id)
    await bot.bot_data.graph.dispatcher.run_once()
    row = await status_of(bot, "k")
    assert row.status == "cancelled" and row.last_error == "no consent at send time"


async def test_an_expired_lease_after_the_hand_over_is_reaped_to_unknown(bot, sim, clock):
    user = sim.create_user()
    await queue(bot, user.id, "k")
    deps = bot.bot_data.graph.deps
    async with deps.storage.transaction() as tx:  # a process claims, hands over, then dies
        lease = clock.now() + timedelta(seconds=60)
        [claimed] = await tx.outbox.claim_due(clock.now(), lease, 10)
    async with deps.storage.transaction() as tx:
        assert await tx.outbox.hand_over([(claimed.id, lease)], clock.now()) == {claimed.id}
    assert await bot.bot_data.graph.dispatcher.reap() == 0
    clock.advance(timedelta(seconds=61))
    assert await bot.bot_data.graph.dispatcher.reap() == 1
    row = await status_of(bot, "k")
    assert (row.status, row.last_error) == ("unknown", "lease expired after hand-over")
    assert await bot.bot_data.graph.dispatcher.run_once() == 0
    assert sim.bot_messages(user.id) == []


async def test_an_expired_lease_before_the_hand_over_goes_back_and_is_sent_once(bot, sim, clock):
    user = sim.create_user()
    await queue(bot, user.id, "k")
    deps = bot.bot_data.graph.deps
    dispatcher = bot.bot_data.graph.dispatcher
    async with deps.storage.transaction() as tx:  # a process claims, then dies before sending
        lease = clock.now() + timedelta(seconds=60)
        [stale] = await tx.outbox.claim_due(clock.now(), lease, 10)
    clock.advance(timedelta(seconds=61))
    assert await dispatcher.reap() == 0  # none became unknown
    row = await status_of(bot, "k")
    assert (row.status, row.attempts, row.handed_at) == ("pending", 0, None)
    assert row.last_error == "lease expired before hand-over"
    # The slow process wakes up and tries to hand its stale claim over: refused.
    async with deps.storage.transaction() as tx:
        assert await tx.outbox.hand_over([(stale.id, lease)], clock.now()) == set()
    assert await dispatcher.run_once() == 1
    row = await status_of(bot, "k")
    assert (row.status, row.attempts) == ("sent", 1) and row.handed_at is not None
    assert len(sim.bot_messages(user.id)) == 1


async def test_a_row_reaped_while_its_process_stalled_is_not_sent_by_that_process(bot, sim, clock):
    user = sim.create_user()
    await queue(bot, user.id, "k")
    deps = bot.bot_data.graph.deps
    dispatcher = bot.bot_data.graph.dispatcher
    async with deps.storage.transaction() as tx:
        [stale] = await tx.outbox.claim_due(clock.now(), clock.now() + timedelta(seconds=60), 1)
    clock.advance(timedelta(seconds=61))
    await dispatcher.reap()
    async with deps.storage.transaction() as tx:  # another process claims it again
        await tx.outbox.claim_due(clock.now(), clock.now() + timedelta(seconds=60), 1)
    outcome = await dispatcher._send(stale, [])  # the stalled one goes on with its old claim
    assert outcome["status"] == "lost"
    assert sim.bot_messages(user.id) == []
    assert (await status_of(bot, "k")).status == "sending"  # still the other claim's


async def test_with_10_percent_faults_every_row_ends_once_and_nobody_gets_two(bot, sim, clock):
    sim.faults.seed(7)
    sim.faults.add(Fault(method="sendMessage", kind="429", probability=0.10, retry_after=2))
    sim.faults.add(Fault(method="sendMessage", kind="5xx", probability=0.05))
    sim.faults.add(Fault(method="sendMessage", kind="drop_after_accept", probability=0.02))
    users = [sim.create_user(first_name=f"U{i}") for i in range(200)]
    for user in users:
        await queue(bot, user.id, f"mix:{user.id}")
    for _ in range(30):
        await bot.bot_data.graph.dispatcher.run_once()
        async with bot.bot_data.graph.deps.storage.transaction() as tx:
            counts = await tx.outbox.counts("mix:")
        if not counts.get("pending") and not counts.get("sending"):
            break
        clock.advance(timedelta(seconds=400))
    assert set(counts) <= {"sent", "unknown"}, counts
    assert sum(counts.values()) == 200
    assert counts.get("unknown", 0) >= 1  # the drops happened and were not resent
    per_chat = Counter(m.chat_id for u in users for m in sim.bot_messages(u.id))
    assert max(per_chat.values()) == 1  # nobody received anything twice
    for stored in await rows(bot, OutboxMessage):
        got = sim.bot_messages(stored.chat_id)
        if stored.status == "sent":
            assert [m.message_id for m in got] == [stored.telegram_message_id]
        else:
            assert len(got) <= 1


async def test_the_background_loop_sends_without_being_asked(settings, clock, sim):
    user = sim.create_user()
    application = build_application(settings, clock=clock)
    async with running(application):
        await queue(application, user.id, "bg")
        application.bot_data.graph.dispatcher.wake()
        await sim.wait_for_bot_messages(user.id, 1, timeout=5)
    assert (await status_of_after(settings, "bg")) == "sent"


async def status_of_after(settings, key: str) -> str:
    from storage.db import make_engine
    from storage.repositories import Storage

    storage = Storage(make_engine(settings.database_url))
    try:
        async with storage.transaction() as tx:
            row = await tx.outbox.get(key)
        assert row is not None
        return row.status
    finally:
        await storage.dispose()


async def test_pacer_keeps_the_global_rate_and_spaces_each_chat():
    now = [0.0]

    async def fake_sleep(seconds: float) -> None:
        now[0] += seconds

    pacer = Pacer(25.0, chat_interval, clock=lambda: now[0], sleep=fake_sleep)
    for _ in range(100):
        await pacer.acquire()
    # 100 sends at 25/s: the bucket's 2.5 tokens of slack save 0.1 s at most.
    assert now[0] == pytest.approx((100 - pacer.capacity) / 25, abs=0.05)
    assert pacer.reserve_chat(42) == 0
    assert pacer.reserve_chat(42) == pytest.approx(1.0)
    assert pacer.reserve_chat(42) == pytest.approx(2.0)
    assert pacer.reserve_chat(-100) == 0
    assert pacer.reserve_chat(-100) == pytest.approx(3.0)  # 20 a minute for groups
    assert OutboxStatus.SENT.value == "sent"


async def test_shared_slots_are_used_when_the_budget_gave_them_not_a_round_trip_late():
    """Slots of the shared rate are placed on the database's timeline.

    Were they counted from when the answer came back, a process with a slow round trip would
    use its block late, on top of the block the next process reserved: a burst over the rate.
    """
    now, budget = [0.0], [0.0]
    given: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        now[0] += seconds

    async def reserve(tokens: int, rate: float) -> float:
        now[0] += 0.04  # the request on its way to the database
        at = now[0]
        start = max(budget[0], at)
        budget[0] = start + tokens / rate
        given.extend(start + i / rate for i in range(tokens))
        now[0] += 0.04  # the answer on its way back
        return start - at

    pacer = SharedPacer(25.0, chat_interval, reserve, clock=lambda: now[0], sleep=fake_sleep)
    used = []
    for _ in range(30):
        await pacer.acquire()
        used.append(now[0])
    assert len(given) >= len(used)
    # Each slot is used when the budget gave it. Only a block reserved after idling starts
    # "now" on the database's clock, which is already half a round trip ago when the answer
    # is back; that first slot is used at once.
    late = [u - g for u, g in zip(used, given, strict=False)]
    assert min(late) >= -1e-9
    assert sorted(late)[len(late) // 2] == pytest.approx(0.0, abs=1e-9)
    assert max(late) <= 0.04 + 1e-9


async def test_a_failed_rate_reservation_gives_the_row_back_instead_of_unknown(bot, sim, clock):
    dispatcher = bot.bot_data.graph.dispatcher
    pacer = dispatcher.pacer
    failures = [ConnectionResetError("rate_budget round trip failed")]

    class FailingOnce(Pacer):
        async def acquire(self) -> None:
            if failures:
                raise failures.pop()
            await pacer.acquire()

    dispatcher.pacer = FailingOnce(pacer.rate, chat_interval)
    user = sim.create_user()
    await queue(bot, user.id, "k")
    assert await dispatcher.run_once() == 1
    row = await status_of(bot, "k")
    assert (row.status, row.attempts, row.lease_until) == ("pending", 0, None)
    assert "rate budget" in (row.last_error or "")
    assert sim.bot_messages(user.id) == []  # nothing went out
    clock.advance(timedelta(seconds=61))
    assert await dispatcher.reap() == 0  # nothing left in "sending" to become unknown
    await dispatcher.run_once()
    row = await status_of(bot, "k")
    assert (row.status, row.attempts) == ("sent", 1)
    assert len(sim.bot_messages(user.id)) == 1


async def test_the_reaper_job_is_scheduled(bot):
    [job] = bot.job_queue.get_jobs_by_name("reaper")
    assert job.job.trigger.interval == timedelta(seconds=30)
    await asyncio.sleep(0)


def test_one_keyboard_serves_every_push_with_the_same_buttons():
    buttons = [[Button("Ik heb interesse", "o:i:1")], [Button("Meer info", url="https://x.nl")]]
    first = keyboard(buttons)
    assert first is not None
    assert keyboard([list(row) for row in buttons]) is first
    assert [[b.text for b in row] for row in first.inline_keyboard] == [
        ["Ik heb interesse"],
        ["Meer info"],
    ]
    assert first.inline_keyboard[1][0].url == "https://x.nl"
    assert keyboard([]) is None and keyboard([[]]) is None
    assert keyboard([[Button("Ander", "o:i:2")]]) is not first


async def test_an_outcome_for_a_row_erased_mid_send_does_not_lose_the_batch(bot, sim):
    # An erasure deletes a person's rows, also one being sent; the others' outcomes stand.
    user = sim.create_user()
    await queue(bot, user.id, "k")
    row = await status_of(bot, "k")
    deps = bot.bot_data.graph.deps
    async with deps.storage.transaction() as tx:
        await tx.outbox.record(
            [
                {"id": row.id, "status": "sent", "telegram_message_id": 5},
                {"id": 999_999, "status": "sent", "telegram_message_id": 6},
            ]
        )
    row = await status_of(bot, "k")
    assert (row.status, row.telegram_message_id) == ("sent", 5)
