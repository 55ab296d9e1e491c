"""The weekly push cap, the digest, and personal matching of new offers, end to end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.campaigns.digest import next_digest
from bot.privacy.retention import DIGEST_ITEM_RETENTION, purge_expired
from storage.models import Alumnus, ConsentEvent, DigestItem, OfferResponse, OutboxMessage
from tests.chat import Chat, buttons
from tests.factories import add_alumnus, add_team, new_offer, staff_team
from tests.harness import polling_app, processed_of, rows

NEXT_MONDAY = datetime(2026, 6, 22, 8, 0, tzinfo=UTC)  # 10:00 in Amsterdam (summer time)
FIRST_MONDAY_OF_JULY = datetime(2026, 7, 6, 8, 0, tzinfo=UTC)


def test_digests_go_out_weekly_or_on_the_first_digest_day_of_the_month(settings):
    now = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)  # a Monday, 12:00 in Amsterdam
    assert next_digest(now, "weekly", settings) == NEXT_MONDAY
    assert next_digest(now, None, settings) == NEXT_MONDAY  # the cap's overflow: weekly
    assert next_digest(now, "monthly", settings) == FIRST_MONDAY_OF_JULY
    early = datetime(2026, 6, 15, 7, 0, tzinfo=UTC)  # 09:00 that Monday: today's slot
    assert next_digest(early, "weekly", settings) == datetime(2026, 6, 15, 8, 0, tzinfo=UTC)
    winter = datetime(2026, 10, 27, 12, 0, tzinfo=UTC)  # after the clocks went back
    assert next_digest(winter, "weekly", settings) == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


async def test_pushes_over_the_weekly_cap_wait_for_the_digest(app, sim, clock):
    await staff_team(app, sim, code="llo", default=False)
    await add_team(app, "nazorg")
    campaigns = app.bot_data.graph.campaigns
    dispatcher = app.bot_data.graph.dispatcher
    user = sim.create_user(first_name="Ada")
    await add_alumnus(app, user.id, first_name="Ada")
    ids = []
    for title in ("Excel", "Word", "Python"):
        campaign = await campaigns.create(await new_offer(app, title))
        await campaigns.launch(campaign.id)
        ids.append(campaign.id)
    dispatcher.wake()
    await sim.wait_for_bot_messages(user.id, 2)
    await dispatcher.idle()
    pushes = sim.bot_messages(user.id)
    assert len(pushes) == 2  # the default cap: 2 a week
    assert [(await campaigns.stats(i))["digest"] for i in ids] == [0, 0, 1]
    [held] = [r for r in await rows(app, OutboxMessage) if r.status == "digest"]
    [item] = await rows(app, DigestItem)
    assert (item.campaign_id, item.reason, item.due_at) == (held.campaign_id, "cap", NEXT_MONDAY)
    assert await campaigns.send_digests() == 0  # not due yet

    clock.advance(NEXT_MONDAY - clock.now())
    [job] = app.job_queue.get_jobs_by_name("digests")
    await job.run(app)
    dispatcher.wake()
    [*_, digest] = await sim.wait_for_bot_messages(user.id, 3)
    held_title = (
        {"Excel", "Word", "Python"} - {p.text.split(": ")[1].split("\n")[0] for p in pushes}
    ).pop()
    assert "📬 Je overzicht: 1 aanbod voor jou" in digest.text
    assert f"1. 📚 Cursus: {held_title}" in digest.text
    assert [t for t, _ in buttons(digest)] == [
        "🙋 1. Interesse",
        "ℹ️ 1. Meer info",
        "🔕 Hier niet meer over",
    ]
    assert "Tik op 🔕 Hier niet meer over" in digest.text
    assert await campaigns.send_digests() == 0  # sent once
    chat = Chat(sim, processed_of(app), user)
    reply = await chat.tap("1. Interesse", message=digest)
    assert "Fijn dat je interesse hebt" in reply[-1].text
    [response] = await rows(app, OfferResponse)
    assert response.campaign_id == held.campaign_id
    assert (await campaigns.stats(held.campaign_id or 0))["interest"] == 1


async def test_a_new_offer_reaches_matching_alumni_as_often_as_they_chose(
    app, sim, clock, tmp_path
):
    campaigns = app.bot_data.graph.campaigns
    dispatcher = app.bot_data.graph.dispatcher
    people = {}
    for name, frequency, interests, crebo in (
        ("direct", "immediately", ["ai"], None),
        ("week", "weekly", ["ai"], None),
        ("maand", "monthly", ["ai", "taal"], None),
        ("nooit", "never", ["ai"], None),
        ("anders", "immediately", ["taal"], None),
        ("zorg", "immediately", ["taal"], "25655"),
    ):
        user = sim.create_user(first_name=name)
        await add_alumnus(
            app, user.id, interests=interests, offer_frequency=frequency, crebo=crebo
        )
        people[name] = user.id
    path = tmp_path / "offers.yaml"
    path.write_text(
        "- {kind: llo, title: Data-analyse met AI, text: Zes avonden., interests: [ai]}\n"
        "- {kind: llo, title: Wondzorg, text: Een dag bijscholing., crebos: '25655'}\n"
        "- {kind: llo, title: Open dag, text: Voor iedereen.}\n",
        encoding="utf-8",
    )
    await campaigns.import_file(path)
    dispatcher.wake()
    [push] = await sim.wait_for_bot_messages(people["direct"], 1)
    [care] = await sim.wait_for_bot_messages(people["zorg"], 1)
    await dispatcher.idle()
    assert "Data-analyse met AI" in push.text and "Wondzorg" in care.text
    for name in ("week", "maand", "nooit", "anders"):
        assert sim.bot_messages(people[name]) == [], name
    items = await rows(app, DigestItem)
    assert sorted((i.reason, i.due_at) for i in items) == [
        ("monthly", FIRST_MONDAY_OF_JULY),
        ("weekly", NEXT_MONDAY),
    ]

    clock.advance(NEXT_MONDAY - clock.now())
    assert await campaigns.send_digests() == 1
    dispatcher.wake()
    [weekly] = await sim.wait_for_bot_messages(people["week"], 1)
    assert "1. 📚 Cursus: Data-analyse met AI" in weekly.text
    await dispatcher.idle()
    assert sim.bot_messages(people["maand"]) == []
    clock.advance(FIRST_MONDAY_OF_JULY - clock.now())
    assert await campaigns.send_digests() == 1
    dispatcher.wake()
    [monthly] = await sim.wait_for_bot_messages(people["maand"], 1)
    assert "Data-analyse met AI" in monthly.text
    assert sim.bot_messages(people["nooit"]) == [] and sim.bot_messages(people["anders"]) == []


async def test_the_frequency_is_asked_after_interests_and_editable_in_profiel(app, sim):
    user = sim.create_user(first_name="Ada")
    await add_alumnus(app, user.id, first_name="Ada", interests=["ai"])
    chat = Chat(sim, processed_of(app), user)
    view = await chat.say("/profiel")
    assert "Nieuw aanbod: –" in view[-1].text
    await chat.tap("Interesses")
    await chat.tap("Klaar")
    question = chat.last
    assert "Hoe vaak wil je horen over nieuw aanbod" in question.text
    assert [t for t, _ in buttons(question)][:4] == [
        "Meteen",
        "Eens per week",
        "Eens per maand",
        "Liever niet",
    ]
    reply = await chat.tap("Eens per maand")
    assert "Nieuw aanbod: Eens per maand" in reply[-1].text
    [alumnus] = await rows(app, Alumnus)
    assert alumnus.offer_frequency == "monthly"
    # Without interests the question is not asked, and the choice is emptied.
    await chat.tap("Interesses")
    await chat.tap("AI en data")
    await chat.tap("Klaar")
    [alumnus] = await rows(app, Alumnus)
    assert alumnus.interests == [] and alumnus.offer_frequency is None


async def test_stop_cancels_a_digest_waiting_for_the_end_of_the_quiet_hours(settings, clock, sim):
    # Digests at 07:00 school time, inside the quiet hours (until 08:00).
    early = settings.model_copy(update={"digest_hour": 7})
    async with polling_app(early, clock) as app:
        campaigns = app.bot_data.graph.campaigns
        user = sim.create_user(first_name="Ada")
        await add_alumnus(app, user.id, interests=["ai"], offer_frequency="weekly")
        await campaigns.match(await new_offer(app, "Data-analyse", interests=["ai"]))
        [item] = await rows(app, DigestItem)
        monday_0750 = datetime(2026, 6, 22, 5, 50, tzinfo=UTC)  # 07:50 in Amsterdam
        assert item.due_at < monday_0750
        clock.advance(monday_0750 - clock.now())
        assert await campaigns.send_digests() == 1
        [queued] = [
            r for r in await rows(app, OutboxMessage) if r.dedupe_key.startswith("digest:")
        ]
        assert queued.purpose == "llo"
        assert queued.not_before == datetime(2026, 6, 22, 6, 0, tzinfo=UTC)  # 08:00

        clock.advance(timedelta(minutes=5))  # 07:55: the alumnus stops everything
        chat = Chat(sim, processed_of(app), user)
        await chat.say("/stop")
        clock.advance(timedelta(minutes=5))  # 08:00: the quiet hours are over
        app.bot_data.graph.dispatcher.wake()
        await app.bot_data.graph.dispatcher.idle()
        assert not [m for m in sim.bot_messages(user.id) if "Je overzicht" in m.text]
        [digest] = [
            r for r in await rows(app, OutboxMessage) if r.dedupe_key.startswith("digest:")
        ]
        assert (digest.status, digest.last_error) == ("cancelled", "consent withdrawn")


async def test_each_purpose_gets_its_own_digest_with_its_own_one_tap_opt_out(app, sim, clock):
    campaigns = app.bot_data.graph.campaigns
    dispatcher = app.bot_data.graph.dispatcher
    user = sim.create_user(first_name="Ada")
    await add_alumnus(
        app, user.id, purposes=("llo", "jobs"), interests=["ai"], offer_frequency="weekly"
    )
    await campaigns.match(await new_offer(app, "Data-analyse", interests=["ai"]))
    await campaigns.match(await new_offer(app, "Data-analist", kind="job", interests=["ai"]))
    clock.advance(NEXT_MONDAY - clock.now())
    assert await campaigns.send_digests() == 2
    queued = [r for r in await rows(app, OutboxMessage) if r.dedupe_key.startswith("digest:")]
    assert sorted(r.purpose for r in queued) == ["jobs", "llo"]
    dispatcher.wake()
    digests = await sim.wait_for_bot_messages(user.id, 2)
    [course] = [d for d in digests if "📚 Cursus: Data-analyse" in d.text]
    [job] = [d for d in digests if "💼 Vacature: Data-analist" in d.text]
    assert "Data-analist" not in course.text
    assert [t for t, _ in buttons(job)][-1] == "🔕 Hier niet meer over"

    chat = Chat(sim, processed_of(app), user)
    reply = await chat.tap("Hier niet meer over", message=job)
    assert "je krijgt hier geen berichten meer over" in reply[-1].text
    async with app.bot_data.graph.deps.storage.transaction() as tx:
        [alumnus] = await rows(app, Alumnus)
        assert await tx.consents.current(alumnus.id) == {"llo": True, "jobs": False}
    [event] = [e for e in await rows(app, ConsentEvent) if not e.granted]
    assert (event.purpose, event.source) == ("jobs", "push")
    [response] = await rows(app, OfferResponse)
    assert response.kind == "optout"


async def test_digest_items_already_sent_are_purged_after_the_retention_period(app, sim, clock):
    campaigns = app.bot_data.graph.campaigns
    for name, frequency in (("week", "weekly"), ("maand", "monthly")):
        user = sim.create_user(first_name=name)
        await add_alumnus(app, user.id, interests=["ai"], offer_frequency=frequency)
    await campaigns.match(await new_offer(app, "Data-analyse", interests=["ai"]))
    clock.advance(NEXT_MONDAY - clock.now())
    assert await campaigns.send_digests() == 1  # the weekly one; the monthly one waits
    deps = app.bot_data.graph.deps
    clock.advance(DIGEST_ITEM_RETENTION - timedelta(days=1))
    assert await purge_expired(deps) == 0  # sent, but not long enough ago
    clock.advance(timedelta(days=2))
    assert await purge_expired(deps) == 1
    [waiting] = await rows(app, DigestItem)
    assert waiting.reason == "monthly"  # never purged while it waits for its digest
