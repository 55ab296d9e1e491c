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


def reap_interval(lease_seconds: float) -> timedelta:
    """Reap every 30 s, or every half lease when leases are shorter (rows wait less)."""
    return min(REAP_INTERVAL, timedelta(seconds=max(0.5, lease_seconds / 2)))


def schedule(job_queue: JobQueue[AlumniContext]) -> None:
    """Register every recurring job."""
    lease = job_queue.application.bot_data.deps.settings.outbox_lease_seconds
    interval = reap_interval(lease)
    job_queue.run_repeating(reap_outbox, interval=interval, first=interval, name="reaper")
    job_queue.run_repeating(
        purge_retention, interval=PURGE_INTERVAL, first=timedelta(minutes=1), name="retention"
    )
