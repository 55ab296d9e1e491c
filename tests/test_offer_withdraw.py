"""A withdrawn offer is not sent any more: queued pushes and digest items are dropped at send
time by the campaigns' policy; an edit applies to later sends (end to end, the real bot)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.campaigns.service import OfferWithdrawnError
from handlers.telegram.app import AlumniApplication, build_application, running
from storage.models import DigestItem, OutboxMessage
from tests.factories import add_alumnus, new_offer
from tests.harness import rows


@pytest.fixture
async def bot(settings, clock) -> AsyncIterator[AlumniApplication]:
    """The app with its dispatcher driven by hand (run_once)."""
    application = build_application(settings, clock=clock)
    async with running(application, dispatch=False):
        yield application


async def test_queued_pushes_and_digest_items_of_a_withdrawn_offer_are_not_sent(bot, sim):
    campaigns = bot.bot_data.graph.campaigns
    dispatcher = bot.bot_data.graph.dispatcher
    now, weekly = sim.create_user(first_name="Nu"), sim.create_user(first_name="Week")
    await add_alumnus(bot, now.id, interests=["digitaal"], offer_frequency="immediately")
    await add_alumnus(bot, weekly.id, interests=["digitaal"], offer_frequency="weekly")
    offer = await new_offer(bot, "Werken met AI", interests=["digitaal"])
    assert await campaigns.match(offer) == 2  # one push, one digest item
    assert await campaigns.withdraw(offer) is True
    assert await campaigns.withdraw(offer) is False  # once
    await dispatcher.run_once()
    [push] = await rows(bot, OutboxMessage)
    assert (push.status, push.last_error) == ("cancelled", "offer withdrawn")
    assert sim.bot_messages(now.id) == []
    # The digest leaves it out, too.
    [item] = await rows(bot, DigestItem)
    async with bot.bot_data.graph.deps.storage.transaction() as tx:
        assert (
            await campaigns._digest(tx, item.alumnus_id, bot.bot_data.graph.deps.clock.now()) == 0
        )
    with pytest.raises(OfferWithdrawnError):
        await campaigns.create(offer)


async def test_an_edit_applies_to_later_sends_not_to_what_was_sent(bot, sim):
    campaigns = bot.bot_data.graph.campaigns
    dispatcher = bot.bot_data.graph.dispatcher
    user = sim.create_user(first_name="Sanne")
    await add_alumnus(bot, user.id)
    offer_id = await new_offer(bot, "Excel")
    first = await campaigns.create(offer_id)
    await campaigns.launch(first.id)
    await dispatcher.run_once()
    [sent] = sim.bot_messages(user.id)
    async with bot.bot_data.graph.deps.storage.transaction() as tx:
        offer = await tx.offers.offer(offer_id)
    changed = offer.model_copy(update={"title": "Excel voor gevorderden"})
    assert await campaigns.edit(offer_id, changed) is True
    assert "Excel" in sent.text and "gevorderden" not in sent.text  # a sent push stays
    async with bot.bot_data.graph.deps.storage.transaction() as tx:
        stored = await tx.offers.offer(offer_id)
    assert stored.title == "Excel voor gevorderden" and stored.updated_at is not None
    assert "gevorderden" in campaigns.push(stored, 2, "nl").text
