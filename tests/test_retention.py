"""The retention job forgets processed update ids after the configured period."""

from __future__ import annotations

from datetime import timedelta

from bot.privacy.retention import purge_expired
from storage.models import InboundUpdate
from tests.harness import rows


async def test_old_processed_update_ids_are_purged_and_unprocessed_ones_kept(app, clock):
    deps = app.bot_data.graph.deps
    async with deps.storage.transaction() as tx:
        await tx.updates.claim(1, clock.now() - timedelta(days=8))
        # Received but never processed: kept for replay, whatever its age.
        await tx.updates.receive_many([(2, {"update_id": 2})], clock.now() - timedelta(days=8))
        await tx.updates.claim(3, clock.now() - timedelta(days=1))
    assert await purge_expired(deps) == 1
    assert sorted(r.update_id for r in await rows(app, InboundUpdate)) == [2, 3]


async def test_the_purge_job_is_scheduled(app):
    [job] = app.job_queue.get_jobs_by_name("retention")
    assert job.job.trigger.interval == timedelta(hours=1)
