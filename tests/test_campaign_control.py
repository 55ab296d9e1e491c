"""Campaign control: pause, resume, cancel, scheduling, preview and progress, end to end."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.campaigns.service import CampaignStateError, PreviewError
from bot.delivery.dispatcher import row
from bot.staff.service import StaffService
from handlers.cli.main import progress_line, watch
from handlers.telegram.app import AlumniApplication, build_application, running
from sandbox.simulator import Fault
from storage.models import Alumnus, InboxConversation, OfferResponse, OutboxMessage
from tests.chat import Chat, buttons
from tests.factories import add_alumnus, new_offer
from tests.harness import processed_of, rows


@pytest.fixture
async def bot(settings, clock) -> AsyncIterator[AlumniApplication]:
    """The app with its dispatcher driven by hand (run_once), 2 messages a second."""
    slow = settings.model_copy(update={"send_rate": 2.0})
    application = build_application(slow, clock=clock)
    async with running(application, dispatch=False):
        yield application


async def audience(app, sim, n: int) -> list[int]:
    users = [sim.create_user(first_name=f"A{i}") for i in range(n)]
    for user in users:
        await add_alumnus(app, user.id)
    return [u.id for u in users]


async def test_pause_holds_queued_pushes_lets_in_flight_ones_finish_and_resume_sends_them(
    bot, sim
):
    campaigns = bot.bot_data.graph.campaigns
    dispatcher = bot.bot_data.graph.dispatcher
    chats = await audience(bot, sim, 4)
    campaign = await campaigns.create(await new_offer(bot))
    assert await campaigns.launch(campaign.id) == 4
    sim.faults.add(Fault(method="sendMessage", kind="slow", delay=0.3))
    batch = asyncio.create_task(dispatcher.run_once())  # claims 2 (one second at 2/s)
    await sim.wait_for(lambda s: s.stats.calls["sendMessage"] >= 1, 10)
    assert await campaigns.pause(campaign.id) == "paused"
    assert await batch == 2  # the two in flight finished
    assert await dispatcher.run_once() == 0  # the rest is held
    held = await campaigns.stats(campaign.id)
    assert (held["sent"], held["pending"]) == (2, 2)
    assert sum(len(sim.bot_messages(c)) for c in chats) == 2
    with pytest.raises(CampaignStateError, match="nothing to pause"):
        await campaigns.pause(campaign.id)

    assert await campaigns.resume(campaign.id) == "sending"
    assert await dispatcher.run_once() == 2
    assert all(len(sim.bot_messages(c)) == 1 for c in chats)
    stats = await campaigns.stats(campaign.id)
    assert (stats["sent"], stats["pending"]) == (4, 0)
    assert (await campaigns.progress(campaign.id))["finished"] is True
    with pytest.raises(CampaignStateError, match="finished: nothing to pause"):
        await campaigns.pause(campaign.id)
    with pytest.raises(CampaignStateError, match="not paused"):
        await campaigns.resume(campaign.id)


async def test_cancel_ends_queued_pushes_as_cancelled_and_counts_them(bot, sim):
    campaigns = bot.bot_data.graph.campaigns
    chats = await audience(bot, sim, 3)
    campaign = await campaigns.create(await new_offer(bot))
    await campaigns.launch(campaign.id)
    await campaigns.pause(campaign.id)
    assert await campaigns.cancel(campaign.id) == 3  # a paused campaign can be cancelled
    assert await bot.bot_data.graph.dispatcher.run_once() == 0
    assert all(sim.bot_messages(c) == [] for c in chats)
    stats = await campaigns.stats(campaign.id)
    assert (stats["targeted"], stats["cancelled"], stats["sent"]) == (3, 3, 0)
    assert {r.status for r in await rows(bot, OutboxMessage)} == {"cancelled"}
    for action in (campaigns.cancel, campaigns.pause, campaigns.launch):
        with pytest.raises(CampaignStateError, match="cancelled"):
            await action(campaign.id)
    with pytest.raises(LookupError):
        await campaigns.cancel(999)


async def test_a_push_queued_after_the_cancel_is_cancelled_at_send_time(bot, sim):
    campaigns = bot.bot_data.graph.campaigns
    chats = await audience(bot, sim, 2)
    campaign = await campaigns.create(await new_offer(bot))
    await campaigns.launch(campaign.id)
    # A launch racing the cancel: the status is cancelled but these rows were still pending.
    async with bot.bot_data.graph.deps.storage.transaction() as tx:
        await tx.offers.move_campaign(campaign.id, ["sending"], "cancelled")
    assert await bot.bot_data.graph.dispatcher.run_once() == 2
    assert all(sim.bot_messages(c) == [] for c in chats)
    assert {r.last_error for r in await rows(bot, OutboxMessage)} == {"campaign cancelled"}
    assert (await campaigns.stats(campaign.id))["cancelled"] == 2


async def test_a_scheduled_campaign_is_launched_once_by_the_job_at_its_time(app, sim, clock):
    campaigns = app.bot_data.graph.campaigns
    chats = await audience(app, sim, 2)
    at = clock.now() + timedelta(hours=2)
    campaign = await campaigns.create(await new_offer(app), send_at=at)
    assert campaign.status == "scheduled"
    [job] = app.job_queue.get_jobs_by_name("campaigns")
    await job.run(app)  # too early
    assert await rows(app, OutboxMessage) == []
    clock.advance(timedelta(hours=2))
    await job.run(app)  # its time: the job launches it
    assert len(await rows(app, OutboxMessage)) == 2
    assert await campaigns.launch_due() == []  # once
    # Two schedulers at once (two processes): the status compare-and-set lets one launch.
    other = await campaigns.create(
        await new_offer(app, "Python"), send_at=clock.now() + timedelta(minutes=1)
    )
    clock.advance(timedelta(minutes=1))
    first, second = await asyncio.gather(campaigns.launch_due(), campaigns.launch_due())
    assert sorted(first + second) == [other.id]
    app.bot_data.graph.dispatcher.wake()
    for chat in chats:
        await sim.wait_for_bot_messages(chat, 2)
    await app.bot_data.graph.dispatcher.idle()
    assert len(await rows(app, OutboxMessage)) == 4
    assert all(len(sim.bot_messages(c)) == 2 for c in chats)
    progress = await campaigns.progress(campaign.id)
    assert (progress["status"], progress["finished"], progress["sent"]) == ("sending", True, 2)


async def test_scheduling_refuses_bad_and_past_times_and_pause_keeps_it_unlaunched(
    app, sim, clock
):
    campaigns = app.bot_data.graph.campaigns
    await audience(app, sim, 1)
    with pytest.raises(ValueError, match="cannot read 'morgen'"):
        campaigns.parse_moment("morgen")
    with pytest.raises(ValueError, match="has passed"):
        campaigns.parse_moment("2026-06-15 11:59")  # 09:59 UTC, the clock says 10:00
    moment = campaigns.parse_moment("2026-12-01 10:00")  # winter time: UTC+1
    assert moment.isoformat() == "2026-12-01T09:00:00+00:00"
    campaign = await campaigns.create(await new_offer(app))
    scheduled = await campaigns.schedule(campaign.id, moment)
    assert (scheduled.status, scheduled.send_at) == ("scheduled", moment)
    assert await campaigns.pause(campaign.id) == "paused"
    clock.advance(timedelta(days=200))
    assert await campaigns.launch_due() == []  # paused: not launched at its time
    assert await campaigns.resume(campaign.id) == "scheduled"  # never launched: back to waiting
    assert await campaigns.launch_due() == [campaign.id]


async def test_progress_is_shown_until_the_campaign_is_finished(app, sim):
    campaigns = app.bot_data.graph.campaigns
    await audience(app, sim, 3)
    campaign = await campaigns.create(await new_offer(app))
    await campaigns.launch(campaign.id)
    app.bot_data.graph.dispatcher.wake()
    out = io.StringIO()  # not a terminal: a line per change, no redraws
    final = await asyncio.wait_for(watch(campaigns, campaign.id, out, interval=0.05), 20)
    lines = out.getvalue().splitlines()
    assert final["finished"] and final["sent"] == 3
    assert lines[-1].startswith("campaign 1 [" + "#" * 30 + "] 3/3 100%")
    assert lines[-1].endswith("(finished)") and "\r" not in out.getvalue()
    assert len(lines) == len(set(lines))  # only changes are written
    stats = await campaigns.stats(campaign.id)
    assert {k: stats[k] for k in ("targeted", "sent", "blocked", "failed", "cancelled")} == {
        "targeted": 3,
        "sent": 3,
        "blocked": 0,
        "failed": 0,
        "cancelled": 0,
    }


def test_the_progress_bar_is_plain_text():
    progress = {
        "campaign_id": 7,
        "status": "paused",
        "total": 4,
        "done": 1,
        "finished": False,
        "sent": 1,
        "in_digest": 0,
        "failed": 0,
        "dead": 0,
        "unknown": 0,
        "cancelled": 0,
    }
    line = progress_line(progress)
    assert line.startswith("campaign 7 [" + "#" * 8 + "." * 22 + "] 1/4  25%")
    assert line.endswith("(paused)")


async def test_a_preview_reaches_only_the_staff_members_chat_and_counts_nowhere(app, sim):
    campaigns = app.bot_data.graph.campaigns
    deps = app.bot_data.graph.deps
    [alumnus_chat] = await audience(app, sim, 1)
    staff_user = sim.create_user(first_name="Coördinator")
    service = StaffService(deps.storage, deps.clock)
    await service.add_staff(
        "c@school.example", "Coördinator", "coordinator", "plenty of words here", []
    )
    await service.link_telegram("c@school.example", staff_user.id)
    campaign = await campaigns.create(await new_offer(app, cost="€ 95"))

    with pytest.raises(PreviewError, match="not a linked staff member"):
        await campaigns.preview(alumnus_chat, campaign_id=campaign.id)
    await campaigns.preview(staff_user.id, campaign_id=campaign.id)
    app.bot_data.graph.dispatcher.wake()
    [preview] = await sim.wait_for_bot_messages(staff_user.id, 1)
    assert preview.text.startswith("👀 Voorbeeld: zo krijgen alumni dit bericht.")
    assert "📚 Cursus: Excel" in preview.text and "Kosten: € 95" in preview.text
    assert [t for t, _ in buttons(preview)] == [
        "🙋 Ik heb interesse",
        "ℹ️ Meer info",
        "🔕 Hier niet meer over",
    ]
    chat = Chat(sim, processed_of(app), staff_user)
    await chat.tap("Ik heb interesse", message=preview)
    assert sim.callback_answers[-1]["text"] == "Dit is een voorbeeld: de knop doet hier niets."
    await chat.tap("Hier niet meer over", message=preview)
    await app.bot_data.graph.dispatcher.idle()
    assert await rows(app, OfferResponse) == [] and await rows(app, InboxConversation) == []
    assert sim.bot_messages(alumnus_chat) == []
    stats = await campaigns.stats(campaign.id)
    assert stats["targeted"] == stats["sent"] == stats["interest"] == stats["optout"] == 0
    assert (await campaigns.progress(campaign.id))["status"] == "draft"  # not launched


async def test_resume_after_a_launch_that_died_while_paused_queues_the_rest(bot, sim, clock):
    campaigns = bot.bot_data.graph.campaigns
    dispatcher = bot.bot_data.graph.dispatcher
    deps = bot.bot_data.graph.deps
    chats = await audience(bot, sim, 3)
    campaign = await campaigns.create(
        await new_offer(bot), send_at=clock.now() + timedelta(days=1)
    )
    clock.advance(timedelta(days=1))
    # A process claims the launch as launch_due does, queues the first push, is paused
    # by a coordinator, and dies before it has queued the rest.
    async with deps.storage.transaction() as tx:
        assert await tx.offers.move_campaign(
            campaign.id, ["scheduled"], "launching", launched_at=clock.now()
        )
    first_alumnus = min(await rows(bot, Alumnus), key=lambda a: a.id or 0)
    async with deps.storage.transaction() as tx:
        stored = await tx.offers.offer(campaign.offer_id)
        await tx.outbox.enqueue(
            [
                row(
                    clock.now(),
                    key=f"campaign:{campaign.id}:{first_alumnus.id}",
                    chat_id=first_alumnus.chat_id,
                    message=campaigns.push(stored, campaign.id, "nl"),
                    purpose="llo",
                    alumnus_id=first_alumnus.id,
                    campaign_id=campaign.id,
                )
            ]
        )
    assert await campaigns.pause(campaign.id) == "paused"

    # Not finished launching: back to launching, which launch_due takes over once stale.
    assert await campaigns.resume(campaign.id) == "launching"
    assert await campaigns.launch_due() == []  # the launch might still be running
    clock.advance(timedelta(minutes=11))
    assert await campaigns.launch_due() == [campaign.id]
    while await dispatcher.run_once():
        clock.advance(timedelta(seconds=2))
    assert all(len(sim.bot_messages(c)) == 1 for c in chats)  # everyone, nobody twice
    progress = await campaigns.progress(campaign.id)
    assert (progress["status"], progress["targeted"], progress["sent"]) == ("sending", 3, 3)
    assert progress["finished"] is True


async def test_resume_after_a_second_launch_that_died_while_paused_queues_the_rest(
    bot, sim, clock
):
    campaigns = bot.bot_data.graph.campaigns
    dispatcher = bot.bot_data.graph.dispatcher
    deps = bot.bot_data.graph.deps
    chats = await audience(bot, sim, 2)
    campaign = await campaigns.create(await new_offer(bot))
    assert await campaigns.launch(campaign.id) == 2  # the first launch finished
    late = await audience(bot, sim, 1)  # joins the segment afterwards
    # A second launch (``campaigns send`` again, for newcomers) is claimed, paused by a
    # coordinator, and its process dies before it queued anything.
    async with deps.storage.transaction() as tx:
        assert await tx.offers.move_campaign(
            campaign.id, ["sending"], "launching", launched_at=clock.now(), launch_done_at=None
        )
    assert await campaigns.pause(campaign.id) == "paused"

    # Before, the targeted count of the first launch made this "sending": the rest was lost.
    assert await campaigns.resume(campaign.id) == "launching"
    clock.advance(timedelta(minutes=11))
    assert await campaigns.launch_due() == [campaign.id]
    while await dispatcher.run_once():
        clock.advance(timedelta(seconds=2))
    assert all(len(sim.bot_messages(c)) == 1 for c in chats + late)
    progress = await campaigns.progress(campaign.id)
    assert (progress["status"], progress["targeted"], progress["sent"]) == ("sending", 3, 3)


async def test_nobody_hears_about_one_offer_twice_from_two_campaigns(bot, sim, clock):
    campaigns = bot.bot_data.graph.campaigns
    dispatcher = bot.bot_data.graph.dispatcher
    first = await audience(bot, sim, 2)
    offer = await new_offer(bot)
    earlier = await campaigns.create(offer)
    assert await campaigns.launch(earlier.id) == 2
    later = await audience(bot, sim, 1)

    again = await campaigns.create(offer)  # the same offer, the same (grown) segment
    assert await campaigns.launch(again.id) == 1  # only the newcomer
    assert await campaigns.launch(again.id) == 0  # a relaunch stays idempotent
    while await dispatcher.run_once():
        clock.advance(timedelta(seconds=2))
    assert all(len(sim.bot_messages(c)) == 1 for c in first + later)
    stats = await campaigns.stats(again.id)
    assert (stats["targeted"], stats["already"], stats["sent"]) == (1, 2, 1)
    assert (await campaigns.stats(earlier.id))["already"] == 0
    # Another offer is news to everyone.
    other = await campaigns.create(await new_offer(bot, "Python"))
    assert await campaigns.launch(other.id) == 3


async def test_a_cancelled_campaign_does_not_count_as_having_brought_the_offer(bot, sim):
    campaigns = bot.bot_data.graph.campaigns
    chats = await audience(bot, sim, 2)
    offer = await new_offer(bot)
    cancelled = await campaigns.create(offer)
    await campaigns.launch(cancelled.id)
    await campaigns.cancel(cancelled.id)  # nothing went out
    retry = await campaigns.create(offer)
    assert await campaigns.launch(retry.id) == 2
    while await bot.bot_data.graph.dispatcher.run_once():
        pass
    assert all(len(sim.bot_messages(c)) == 1 for c in chats)
    assert (await campaigns.stats(retry.id))["already"] == 0


async def test_an_offer_waiting_in_a_digest_is_not_pushed_again_by_a_campaign(bot, sim):
    campaigns = bot.bot_data.graph.campaigns
    weekly, now = sim.create_user(first_name="Wes"), sim.create_user(first_name="Nora")
    await add_alumnus(bot, weekly.id, interests=["ai"], offer_frequency="weekly")
    await add_alumnus(bot, now.id, interests=["ai"], offer_frequency="immediately")
    offer = await new_offer(bot, "Data-analyse", interests=["ai"])
    assert await campaigns.match(offer) == 2  # one push, one digest item
    manual = await campaigns.create(offer)
    assert await campaigns.launch(manual.id) == 0
    stats = await campaigns.stats(manual.id)
    assert (stats["targeted"], stats["already"]) == (0, 2)
    while await bot.bot_data.graph.dispatcher.run_once():
        pass
    assert len(sim.bot_messages(now.id)) == 1 and sim.bot_messages(weekly.id) == []
