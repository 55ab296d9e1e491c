"""Scheduled jobs, run by PTB's JobQueue (APScheduler)."""

from __future__ import annotations

from datetime import timedelta

from telegram.ext import JobQueue

from bot.retention import purge_expired
from handlers.context import AlumniContext

PURGE_INTERVAL = timedelta(hours=1)
REAP_INTERVAL = timedelta(seconds=30)


async def purge_retention(context: AlumniContext) -> None:
    """Enforce the retention periods."""
    await purge_expired(context.deps)


async def reap_outbox(context: AlumniContext) -> None:
    """Expired send leases become ``unknown`` (a process died mid-send)."""
    await context.dispatcher.reap()


def schedule(job_queue: JobQueue[AlumniContext]) -> None:
    """Register every recurring job."""
    job_queue.run_repeating(
        reap_outbox, interval=REAP_INTERVAL, first=REAP_INTERVAL, name="reaper"
    )
    job_queue.run_repeating(
        purge_retention, interval=PURGE_INTERVAL, first=timedelta(minutes=1), name="retention"
    )
