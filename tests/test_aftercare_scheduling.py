"""Aftercare scheduling: several processes, the send-time policy, a changed schedule."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlmodel import col

from bot.aftercare.schedule import Moment
from bot.core.messenger import QueueOnlyMessenger
from handlers.graph import build_graph, make_deps
from storage.models import Checkin, OutboxMessage
from tests.aftercare import DIPLOMA, checkins, graduate, to
from tests.harness import rows


async def test_two_processes_ticking_at_once_queue_each_check_in_once(app, sim, clock, settings):
    people = [await graduate(app, sim) for _ in range(40)]
    await app.bot_data.graph.aftercare.tick()
    await to(clock, DIPLOMA)
    graphs, all_deps = [], []
    for name in ("one", "two", "three"):
        deps = make_deps(settings, messenger=QueueOnlyMessenger(name), clock=clock)
        all_deps.append(deps)
        graphs.append(build_graph(deps))
    try:
        for graph in graphs:  # small batches: the processes interleave their claims
            graph.aftercare.schedule = dataclasses.replace(graph.aftercare.schedule, batch_size=7)
        for _ in range(8):
            results = await asyncio.gather(*(g.aftercare.tick() for g in graphs))
            if not any(r.asked for r in results):
                break
    finally:
        for deps in all_deps:
            await deps.storage.dispose()
    asks = [r for r in await rows(app, OutboxMessage) if r.dedupe_key.endswith(":ask")]
    assert len(asks) == len({r.dedupe_key for r in asks}) == len(people)
    async with app.bot_data.graph.deps.storage.transaction() as tx:
        diploma = (
            await tx.session.execute(select(Checkin).where(col(Checkin.moment) == "diploma"))
        ).scalars()
        statuses = [c.status for c in diploma]
    assert statuses == ["asked"] * len(people)


async def test_never_two_moments_in_one_week(app, sim, clock):
    alumnus, chat = await graduate(app, sim)
    graph = app.bot_data.graph
    await graph.aftercare.tick()
    now = clock.now()
    async with graph.deps.storage.transaction() as tx:
        # Another moment was asked three days ago (an older schedule, a manual send).
        tx.session.add(
            Checkin(
                alumnus_id=alumnus.id,
                moment="extra",
                due_at=now - timedelta(days=3),
                status="asked",
                asked_at=now - timedelta(days=3),
                created_at=now,
                updated_at=now,
            )
        )
    await to(clock, DIPLOMA)
    await tick(graph)
    found = await checkins(app, alumnus.id)
    diploma = found["diploma"]
    assert (diploma.status, diploma.outcome) == ("asked", None)  # more than a week later
    async with graph.deps.storage.transaction() as tx:
        await tx.aftercare.set(diploma.id, status="scheduled", asked_at=None)
        await tx.aftercare.set(found["extra"].id, asked_at=clock.now() - timedelta(days=2))
        for row in (await tx.session.execute(select(OutboxMessage))).scalars():
            await tx.session.delete(row)
    await tick(graph)
    found = await checkins(app, alumnus.id)
    assert (found["diploma"].status, found["diploma"].outcome) == ("skipped", "week")
    [ask] = [r for r in await rows(app, OutboxMessage) if r.dedupe_key.endswith(":ask")]
    assert (ask.status, ask.last_error) == ("cancelled", "another check-in this week")
    assert len([m for m in chat.messages if "Gefeliciteerd" in m.text]) == 1


async def tick(graph):
    await graph.aftercare.tick()
    graph.dispatcher.wake()
    await graph.dispatcher.idle()


async def test_a_changed_schedule_applies_to_moments_ahead_without_duplicates(app, sim, clock):
    alumnus, chat = await graduate(app, sim)
    graph = app.bot_data.graph
    await graph.aftercare.tick()
    await to(clock, DIPLOMA)
    await tick(graph)
    await chat.tap("Ik werk")
    service = graph.aftercare
    old = service.schedule
    service.schedule = dataclasses.replace(
        old,
        moments=(
            Moment("diploma", 0),
            Moment("m3", 4),  # moved
            Moment("m9", 9),  # new
            Moment("m12", 12),
        ),  # m6 and m24 gone
    )
    result = await service.tick()
    assert result.planned == 1
    found = await checkins(app, alumnus.id)
    assert {m: c.status for m, c in found.items()} == {
        "diploma": "answering",  # asked before the change: kept, answered as it was
        "m3": "scheduled",
        "m6": "cancelled",
        "m9": "scheduled",
        "m12": "scheduled",
        "m24": "cancelled",
    }
    assert found["m3"].due_at == datetime(2026, 11, 15, 9, 0, tzinfo=UTC)
    assert (await service.tick()).planned == 0
    assert len(found) == 6
