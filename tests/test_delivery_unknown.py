"""Pushes of unknown delivery: counted as "maybe", and sent again only when a coordinator says so.

The service, the `alumnibot delivery` commands (in process, Typer's CliRunner),
`alumnibot campaigns create` (a real process) and the console's "N onbekend — opnieuw
sturen" with its confirmation. The rows are made `unknown` directly: how a crash produces
them is tests/test_reliability.py's subject.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select, update
from sqlmodel import col

from handlers.cli.common import EXIT_OK, EXIT_REFUSED
from handlers.graph import build_graph
from storage.models import AuditEvent, Campaign, OutboxMessage
from tests.cli import alumnibot, clean_env, in_process
from tests.console_fixtures import people_deps, signed_in  # noqa: F401  (the deps fixture)
from tests.offers_fixtures import add_alumni, add_offer, page_token


async def campaign_with_one_unknown(deps) -> tuple[int, int, OutboxMessage]:
    """Three LLO alumni get campaign 1 of an offer; one push ends `unknown`, two `sent`."""
    await add_alumni(deps)
    offer = await add_offer(deps, contact_team="llo")
    assert offer.id is not None
    campaigns = build_graph(deps).campaigns
    first = await campaigns.create(offer.id)
    assert first.id is not None
    assert await campaigns.launch(first.id) == 3
    now = deps.clock.now()
    async with deps.storage.transaction() as tx:
        rows = list(
            (
                await tx.session.execute(select(OutboxMessage).order_by(col(OutboxMessage.id)))
            ).scalars()
        )
        await tx.session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == rows[0].id)
            .values(status="unknown", handed_at=now, last_error="lease expired after hand-over")
        )
        await tx.session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id).in_([r.id for r in rows[1:]]))
            .values(status="sent", handed_at=now, telegram_message_id=7)
        )
    return offer.id, first.id, rows[0]


async def outbox(deps) -> list[OutboxMessage]:
    async with deps.storage.transaction() as tx:
        result = await tx.session.execute(select(OutboxMessage).order_by(col(OutboxMessage.id)))
        return list(result.scalars())


async def audit(deps) -> list[tuple[int | None, str, str | None]]:
    async with deps.storage.transaction() as tx:
        result = await tx.session.execute(select(AuditEvent).order_by(col(AuditEvent.id)))
        return [(e.staff_id, e.action, e.subject) for e in result.scalars()]


async def test_a_second_campaign_queues_what_it_promised_and_says_who_is_maybe_reached(deps):
    offer_id, first_id, unknown = await campaign_with_one_unknown(deps)
    campaigns = build_graph(deps).campaigns
    second = await campaigns.create(offer_id)
    assert second.id is not None
    promised = await campaigns.reach(campaigns.segment_of(second), offer_id)
    assert promised == (0, 3, 1)  # nobody new; three had it, one of them maybe
    assert await campaigns.launch(second.id) == promised[0]
    stats = await campaigns.stats(second.id)
    assert (stats["targeted"], stats["already"], stats["maybe"]) == (0, 3, 1)

    # The coordinator sends campaign 1 again to the one of unknown delivery: a new row.
    assert await campaigns.unknown(first_id) == [
        (
            unknown.id,
            deps.clock.now().strftime("%Y-%m-%d %H:%M:%S"),
            "lease expired after hand-over",
        )
    ]
    assert await campaigns.resend_unknown(first_id, staff_id=None, via="test") == 1
    assert await campaigns.resend_unknown(first_id, staff_id=None, via="test") == 0
    rows = await outbox(deps)
    old = next(r for r in rows if r.id == unknown.id)
    [again] = [r for r in rows if r.dedupe_key.endswith(f":again:{unknown.id}")]
    assert old.status == "resent"
    assert (again.status, again.chat_id, again.campaign_id) == (
        "pending",
        unknown.chat_id,
        first_id,
    )
    assert (again.payload, again.purpose) == (unknown.payload, unknown.purpose)
    progress = await campaigns.progress(first_id)
    assert progress["total"] == 3 and progress["resent"] == 1 and progress["unknown"] == 0
    assert (await campaigns.reach(campaigns.segment_of(second), offer_id))[2] == 0
    assert (None, "resend:campaign", f"{first_id}: 1 via test") in await audit(deps)
    assert (None, "resend:campaign", f"{first_id}: 0 via test") in await audit(deps)


async def test_campaigns_create_promises_only_those_the_launch_will_queue(deps, tmp_path):
    offer_id, _, _ = await campaign_with_one_unknown(deps)
    env = clean_env(ALUMNIBOT_DATABASE_URL=deps.settings.database_url, ALUMNIBOT_CLI_LOCALE="en")
    code, out, err = await alumnibot(env, tmp_path, "campaigns", "create", str(offer_id))
    assert code == 0, err
    assert "Campaign 2: reaches 0 alumni now" in out
    assert "3 others already had this offer" in out and "1 of them maybe" in out


def invoke(deps, *args: str, answer: str | None = None, locale: str = "en"):
    """Run `alumnibot --lang LOCALE delivery ARGS...` against the test database."""
    return in_process(deps.settings, "delivery", *args, locale=locale, answer=answer)


async def test_the_delivery_commands_list_and_resend_after_a_confirmation(deps):
    _, first_id, unknown = await campaign_with_one_unknown(deps)
    listed = await asyncio.to_thread(invoke, deps, "unknown", str(first_id))
    assert listed.exit_code == EXIT_OK, listed.output
    # In a pipe: only the rows, tab-separated (row id, handed over, why).
    [row] = listed.stdout.splitlines()
    assert row.startswith(f"{unknown.id}\t") and row.endswith("\tlease expired after hand-over")
    table = await asyncio.to_thread(
        invoke, deps, "unknown", str(first_id), "--format", "table", locale="nl"
    )
    assert f"Campagne {first_id}: 1 bericht met onbekende bezorging." in table.stdout
    assert "Aan Telegram gegeven (UTC)" in table.stdout and "lease expired" in table.stdout
    assert f"Opnieuw sturen: alumnibot delivery resend {first_id}" in table.stdout

    declined = await asyncio.to_thread(invoke, deps, "resend", str(first_id), answer="n\n")
    assert declined.exit_code == EXIT_REFUSED
    assert (
        f"Send campaign {first_id}'s push again to the 1 alumnus whose delivery is unknown?"
        in declined.stdout
    )
    assert "Nothing was sent again." in declined.stderr
    no_answer = await asyncio.to_thread(invoke, deps, "resend", str(first_id), locale="nl")
    assert no_answer.exit_code == EXIT_REFUSED  # no terminal, no answer: nothing is sent
    assert "Er is niets opnieuw gestuurd." in no_answer.stderr
    assert [r.status for r in await outbox(deps)].count("unknown") == 1  # nothing changed

    done = await asyncio.to_thread(invoke, deps, "resend", str(first_id), "--yes")
    assert done.exit_code == EXIT_OK, done.output
    assert f"Campaign {first_id}: 1 push queued again" in done.stdout
    assert (None, "resend:campaign", f"{first_id}: 1 via cli") in await audit(deps)
    again = await asyncio.to_thread(invoke, deps, "resend", str(first_id), "--yes")
    assert again.exit_code == EXIT_OK
    assert "no pushes of unknown delivery. Nothing was sent again." in again.stdout
    none = await asyncio.to_thread(
        invoke, deps, "unknown", str(first_id), "--format", "table", locale="nl"
    )
    assert none.exit_code == EXIT_OK and "er zijn geen berichten met onbekende" in none.stdout
    assert (await asyncio.to_thread(invoke, deps, "unknown", str(first_id))).stdout == ""
    missing = await asyncio.to_thread(invoke, deps, "unknown", "99", locale="nl")
    assert missing.exit_code == EXIT_REFUSED and "Er is geen campagne 99." in missing.stderr
    missing = await asyncio.to_thread(invoke, deps, "resend", "99", "--yes")
    assert missing.exit_code == EXIT_REFUSED and "There is no campaign 99." in missing.stderr


async def test_a_cancelled_campaign_is_not_sent_again(deps):
    _, first_id, _ = await campaign_with_one_unknown(deps)
    async with deps.storage.transaction() as tx:  # finished by now: cancelled before
        await tx.session.execute(
            update(Campaign).where(col(Campaign.id) == first_id).values(status="cancelled")
        )
    refused = await asyncio.to_thread(invoke, deps, "resend", str(first_id), "--yes", locale="nl")
    assert refused.exit_code == EXIT_REFUSED
    assert f"Campagne {first_id} is geannuleerd: er wordt niets opnieuw gestuurd." in (
        refused.stderr
    )
    assert [r.status for r in await outbox(deps)].count("unknown") == 1


async def test_the_campaign_page_offers_send_again_with_a_confirmation(deps):
    _, first_id, unknown = await campaign_with_one_unknown(deps)
    page_url = f"/campaigns/{first_id}"
    async with signed_in(deps, "cor@school.example") as client:  # another team: no button
        async with client.get(page_url) as page:
            assert 'id="campaign-resend"' not in await page.text()
    async with signed_in(deps) as client:
        token = await page_token(client)
        async with client.get(page_url) as page:
            shown = await page.text()
        assert "1 onbekend — opnieuw sturen" in shown
        assert f'href="{page_url}?confirm=resend"' in shown
        assert 'id="campaign-resend-confirm"' not in shown  # one click does not send
        async with client.get(f"{page_url}?confirm=resend") as page:
            shown = await page.text()
        assert "Ja, stuur opnieuw naar deze 1" in shown
        assert f'action="{page_url}/resend"' in shown
        async with client.post(f"{page_url}/resend", data={}, allow_redirects=False) as response:
            assert response.status == 403  # no CSRF token
        async with client.post(
            f"{page_url}/resend", data={"csrf_token": token}, allow_redirects=False
        ) as response:
            assert response.status == 303
            assert response.headers["Location"] == f"{page_url}?resent=1"
        async with client.get(f"{page_url}?resent=1") as page:
            shown = await page.text()
        assert "1 berichten staan opnieuw klaar" in shown
        assert 'id="campaign-resend"' not in shown  # nothing unknown is left
    statuses = {r.dedupe_key: r.status for r in await outbox(deps)}
    assert statuses[unknown.dedupe_key] == "resent"
    assert statuses[f"{unknown.dedupe_key}:again:{unknown.id}"] == "pending"
    staff = [a for a in await audit(deps) if a[1] == "resend:campaign"]
    assert (
        len(staff) == 1 and staff[0][0] is not None and staff[0][2] == f"{first_id}: 1 via console"
    )
