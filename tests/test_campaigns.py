"""Offers and campaigns: import, audience, pushes with their buttons, quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.campaigns.service import OfferImportError
from storage.campaigns import Segment
from storage.models import ConsentEvent, OfferResponse, OutboxMessage
from tests.chat import Chat, buttons
from tests.factories import add_alumnus, add_team, staff_team
from tests.harness import processed_of, rows

GOOD_YAML = """
- kind: llo
  title: Excel voor beginners
  text: In vier avonden leer je werken met Excel.
  provider: ROC Voorbeeld
  link: https://example.org/excel
  regions: [UT, NH]
  interests: []
  deadline: 2026-09-01
  cost: "€ 95"
  contact_team: llo
- kind: job
  title: Verzorgende-IG gezocht
  text: Zorgcentrum De Linde zoekt collega's.
  crebos: "25491"
  levels: "3"
"""

BAD_CSV = """kind,title,text,link,regions,crebos,levels,deadline,contact_team
llo,Goed,Prima tekst,https://example.org,NH,,,2026-01-01,
cursus,,Tekst,ftp://x,XX,12345,7,1 januari,geenteam
"""


@pytest.fixture
def campaigns(app):
    return app.bot_data.graph.campaigns


async def test_a_valid_yaml_file_is_imported(app, campaigns, tmp_path: Path):
    await add_team(app, "llo")
    path = tmp_path / "offers.yaml"
    path.write_text(GOOD_YAML, encoding="utf-8")
    offers = await campaigns.import_file(path)
    assert [(o.kind, o.title) for o in offers] == [
        ("llo", "Excel voor beginners"),
        ("job", "Verzorgende-IG gezocht"),
    ]
    assert offers[0].regions == ["UT", "NH"] and offers[0].deadline.isoformat() == "2026-09-01"
    assert offers[1].crebos == ["25491"] and offers[1].levels == [3]


async def test_a_file_with_errors_imports_nothing_and_names_every_row_and_field(
    app, campaigns, tmp_path
):
    path = tmp_path / "offers.csv"
    path.write_text(BAD_CSV, encoding="utf-8")
    with pytest.raises(OfferImportError) as raised:
        await campaigns.import_file(path)
    problems = {(e.row, e.field) for e in raised.value.errors}
    assert problems == {
        (2, "kind"),
        (2, "title"),
        (2, "link"),
        (2, "regions"),
        (2, "crebos"),
        (2, "levels"),
        (2, "deadline"),
        (2, "contact_team"),
    }
    async with app.bot_data.graph.deps.storage.transaction() as tx:
        assert await tx.offers.offers() == []  # row 1 was fine, yet nothing was imported
    rendered = app.bot_data.graph.deps.renderer.text("offers.error_kind", "nl")
    assert "llo, job, bpv, event of news" in rendered


async def test_the_audience_counts_only_consenting_onboarded_reachable_matches(
    app, campaigns, clock
):
    await add_alumnus(app, 1, crebo="25655", region="UT", graduation_year=2024, interests=["ai"])
    await add_alumnus(app, 2, crebo="25655", region="NH", graduation_year=2020, interests=["taal"])
    await add_alumnus(app, 3, purposes=("jobs",), crebo="25655", region="UT")
    await add_alumnus(app, 4, crebo="25180", region="UT", situation="working", sector="horeca")
    gone = await add_alumnus(app, 5, crebo="25655", region="UT", unreachable_since=clock.now())
    withdrawn = await add_alumnus(app, 6, crebo="25655", region="UT")
    async with app.bot_data.graph.deps.storage.transaction() as tx:
        await app.bot_data.graph.consent.set(tx, withdrawn, "llo", False, "privacy", 2)
        pending = await tx.alumni.create(7, clock.now())  # never finished onboarding
        await app.bot_data.graph.consent.set(tx, pending, "llo", True, "onboarding", 3)
    assert gone.id

    count = campaigns.count
    assert await count(Segment(purpose="llo")) == 3
    assert await count(Segment(purpose="jobs")) == 1
    assert await count(Segment(purpose="llo", crebos=["25655"])) == 2
    assert await count(Segment(purpose="llo", regions=["UT"])) == 2
    assert await count(Segment(purpose="llo", cohort_from=2022)) == 1
    assert await count(Segment(purpose="llo", interests=["ai", "leidinggeven"])) == 1
    assert await count(Segment(purpose="llo", sectors=["horeca"], situations=["working"])) == 1
    assert await count(Segment(purpose="surveys")) == 0


async def launch(app, campaigns, offer_title: str, **filters) -> int:
    async with app.bot_data.graph.deps.storage.transaction() as tx:
        [offer] = [o for o in await tx.offers.offers() if o.title == offer_title]
    campaign = await campaigns.create(offer.id, **filters)
    await campaigns.launch(campaign.id)
    app.bot_data.graph.dispatcher.wake()
    return campaign.id


async def imported(campaigns, tmp_path) -> None:
    path = tmp_path / "offers.yaml"
    path.write_text(GOOD_YAML, encoding="utf-8")
    await campaigns.import_file(path)


async def test_a_campaign_reaches_exactly_its_audience_with_three_buttons(
    app, sim, campaigns, tmp_path
):
    await add_team(app, "llo")
    await imported(campaigns, tmp_path)
    users = [sim.create_user(first_name=n) for n in ("Ada", "Bo", "Cas", "Dirk")]
    await add_alumnus(app, users[0].id, region="UT")
    await add_alumnus(app, users[1].id, region="NH", locale="en")
    await add_alumnus(app, users[2].id, region="ZH")  # outside the offer's regions
    await add_alumnus(app, users[3].id, purposes=(), region="UT")  # no consent
    campaign_id = await launch(app, campaigns, "Excel voor beginners")
    [push] = await sim.wait_for_bot_messages(users[0].id, 1)
    [english] = await sim.wait_for_bot_messages(users[1].id, 1)
    assert "📚 Cursus: Excel voor beginners" in push.text and "Kosten: € 95" in push.text
    assert "Course: Excel voor beginners" in english.text
    assert [t for t, _ in buttons(push)] == [
        "🙋 Ik heb interesse",
        "ℹ️ Meer info",
        "🔕 Hier niet meer over",
    ]
    assert push.reply_markup["inline_keyboard"][1][0]["url"] == "https://example.org/excel"
    await app.bot_data.graph.dispatcher.idle()
    assert sim.bot_messages(users[2].id) == [] and sim.bot_messages(users[3].id) == []
    stats = await campaigns.stats(campaign_id)
    assert stats["targeted"] == 2 and stats["sent"] == 2
    assert await campaigns.launch(campaign_id) == 0  # launching again queues nothing new


async def test_hier_niet_meer_over_withdraws_that_purpose_in_one_tap(
    app, sim, campaigns, tmp_path
):
    await add_team(app, "llo")
    await imported(campaigns, tmp_path)
    user = sim.create_user(first_name="Ada")
    alumnus = await add_alumnus(app, user.id, purposes=("llo", "jobs"), region="UT")
    campaign_id = await launch(app, campaigns, "Excel voor beginners")
    await sim.wait_for_bot_messages(user.id, 1)
    chat = Chat(sim, processed_of(app), user)
    reply = await chat.tap("Hier niet meer over")
    assert "je krijgt hier geen berichten meer over" in reply[-1].text
    await app.bot_data.graph.dispatcher.idle()
    async with app.bot_data.graph.deps.storage.transaction() as tx:
        assert await tx.consents.current(alumnus.id) == {"llo": False, "jobs": True}
    [event] = [e for e in await rows(app, ConsentEvent) if not e.granted]
    assert (event.purpose, event.source) == ("llo", "push")
    assert (await campaigns.stats(campaign_id))["optout"] == 1


async def test_interest_is_recorded_once_and_opens_a_routed_conversation(
    app, sim, campaigns, tmp_path
):
    from storage.models import InboxConversation

    group, _ = await staff_team(app, sim, code="llo", default=False)
    await add_team(app, "nazorg")
    await imported(campaigns, tmp_path)
    user = sim.create_user(first_name="Ada")
    await add_alumnus(
        app, user.id, region="UT", first_name="Ada", crebo="25655", graduation_year=2024
    )
    campaign_id = await launch(app, campaigns, "Excel voor beginners")
    [push] = await sim.wait_for_bot_messages(user.id, 1)
    chat = Chat(sim, processed_of(app), user)
    reply = await chat.tap("Ik heb interesse", message=push)
    assert "Iemand neemt contact met je op" in reply[-1].text
    await chat.tap("Ik heb interesse", message=push)
    app.bot_data.graph.dispatcher.wake()
    await app.bot_data.graph.dispatcher.idle()
    [conversation] = await rows(app, InboxConversation)
    assert conversation.topic == "courses"  # routed to the LLO team by content/inbox.yaml
    assert (
        conversation.context["source"] == "offer"
        and conversation.context["title"] == "Excel voor beginners"
    )
    [topic] = sim.topics(group).values()
    assert topic.name == "Ada - Mbo-Verpleegkundige - 2024"
    in_topic = [m.text for m in sim.bot_messages(group, thread_id=topic.message_thread_id)]
    assert any('Naar aanleiding van het aanbod "Excel voor beginners"' in t for t in in_topic)
    assert any("Interesse in het aanbod" in t for t in in_topic)
    assert len(await rows(app, OfferResponse)) == 1
    assert (await campaigns.stats(campaign_id))["interest"] == 1


async def test_a_forged_offer_button_from_a_non_recipient_changes_nothing(
    app, sim, campaigns, tmp_path
):
    await add_team(app, "llo")
    await imported(campaigns, tmp_path)
    recipient, outsider = sim.create_user(), sim.create_user()
    await add_alumnus(app, recipient.id, region="UT")
    await add_alumnus(app, outsider.id, region="ZH")
    campaign_id = await launch(app, campaigns, "Excel voor beginners")
    await sim.wait_for_bot_messages(recipient.id, 1)
    chat = Chat(sim, processed_of(app), outsider)
    await chat.say("/help")
    await chat.press(f"o:x:{campaign_id}")
    await chat.press("o:i:999999")
    assert "werkt niet meer" in sim.callback_answers[-1]["text"]
    assert await rows(app, OfferResponse) == []
    assert all(e.granted for e in await rows(app, ConsentEvent))


def test_quiet_hours_hold_pushes_until_morning(app, campaigns):
    evening = datetime(2026, 6, 15, 20, 30, tzinfo=UTC)  # 22:30 in Amsterdam
    assert campaigns.first_allowed(evening) == datetime(2026, 6, 16, 6, 0, tzinfo=UTC)
    early = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)  # 06:00 in Amsterdam, winter time
    assert campaigns.first_allowed(early) == datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    noon = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
    assert campaigns.first_allowed(noon) == noon


async def test_a_campaign_at_night_is_queued_for_the_morning(app, sim, campaigns, clock, tmp_path):
    await add_team(app, "llo")
    await imported(campaigns, tmp_path)
    user = sim.create_user()
    await add_alumnus(app, user.id, region="UT")
    async with app.bot_data.graph.deps.storage.transaction() as tx:
        [offer] = [o for o in await tx.offers.offers() if o.kind == "llo"]
    campaign = await campaigns.create(offer.id, send_at=datetime(2026, 6, 15, 21, 0, tzinfo=UTC))
    await campaigns.launch(campaign.id)
    [row] = await rows(app, OutboxMessage)
    assert row.not_before == datetime(2026, 6, 16, 6, 0, tzinfo=UTC)
    assert row.purpose == "llo"
