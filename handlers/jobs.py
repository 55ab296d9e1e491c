"""Scheduled jobs, run by PTB's JobQueue (APScheduler)."""

from __future__ import annotations

from datetime import timedelta

from telegram.ext import JobQueue

from bot.privacy.retention import purge_expired
from handlers.telegram.context import AlumniContext

PURGE_INTERVAL = timedelta(hours=1)
REAP_INTERVAL = timedelta(seconds=30)
CAMPAIGN_INTERVAL = timedelta(seconds=30)
DIGEST_INTERVAL = timedelta(minutes=10)
REMINDER_INTERVAL = timedelta(minutes=5)
AFTERCARE_INTERVAL = timedelta(minutes=1)


async def purge_retention(context: AlumniContext) -> None:
    """Enforce the retention periods (update ids, digest items, unlinked registry records)."""
    await purge_expired(context.deps)
    await context.graph.registry.purge()


async def reap_outbox(context: AlumniContext) -> None:
    """Expired send leases become ``unknown`` (a process died mid-send)."""
    await context.graph.dispatcher.reap()


async def remind_unanswered(context: AlumniContext) -> None:
    """Remind teams, in the topic, of conversations unanswered for too many business hours."""
    if await context.graph.inbox.remind_unanswered():
        context.graph.dispatcher.wake()


async def launch_campaigns(context: AlumniContext) -> None:
    """Launch scheduled campaigns whose time has come (once, even with several processes)."""
    await context.graph.campaigns.launch_due()


async def send_digests(context: AlumniContext) -> None:
    """Queue the digests that are due (held pushes, weekly and monthly matching offers)."""
    await context.graph.campaigns.send_digests()


async def tick_aftercare(context: AlumniContext) -> None:
    """Plan check-ins, queue the due ones and the reminders (rows in the database)."""
    if (await context.graph.aftercare.tick()).queued:
        context.graph.dispatcher.wake()


def reap_interval(lease_seconds: float) -> timedelta:
    """Reap every 30 s, or every half lease when leases are shorter (rows wait less)."""
    return min(REAP_INTERVAL, timedelta(seconds=max(0.5, lease_seconds / 2)))


def schedule(job_queue: JobQueue[AlumniContext]) -> None:
    """Register every recurring job."""
    lease = job_queue.application.bot_data.graph.deps.settings.outbox_lease_seconds
    interval = reap_interval(lease)
    job_queue.run_repeating(reap_outbox, interval=interval, first=interval, name="reaper")
    job_queue.run_repeating(
        purge_retention, interval=PURGE_INTERVAL, first=timedelta(minutes=1), name="retention"
    )
    job_queue.run_repeating(
        launch_campaigns, interval=CAMPAIGN_INTERVAL, first=CAMPAIGN_INTERVAL, name="campaigns"
    )
    job_queue.run_repeating(
        send_digests, interval=DIGEST_INTERVAL, first=timedelta(minutes=1), name="digests"
    )
    job_queue.run_repeating(
        tick_aftercare, interval=AFTERCARE_INTERVAL, first=AFTERCARE_INTERVAL, name="aftercare"
    )
    job_queue.run_repeating(
        remind_unanswered,
        interval=REMINDER_INTERVAL,
        first=REMINDER_INTERVAL,
        name="inbox_reminders",
    )
