"""Pushes of unknown delivery: counted as "maybe", and sent again only when a coordinator says so.

The service, the `alumnibot delivery` Typer commands (CliRunner), `alumnibot campaigns
create` (a real process) and the console's "N onbekend — opnieuw sturen" with its
confirmation. The rows are made `unknown` directly: how a crash produces them is
tests/test_reliability.py's subject.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select, update
from sqlmodel import col
from typer.testing import CliRunner

from handlers.cli.delivery import delivery_app
from handlers.graph import build_graph
from storage.models import AuditEvent, OutboxMessage
from tests.cli import alumnibot, clean_env
from tests.console_fixtures import page_token, people_deps, signed_in  # noqa: F401  (the deps fixture)
from tests.factories import add_alumni, add_offer


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


def invoke(database_url: str, *args: str, answer: str | None = None):
    return CliRunner().invoke(
        delivery_app,
        list(args),
        input=answer,
        env={"ALUMNIBOT_DATABASE_URL": database_url, "ALUMNIBOT_SECRET_KEY": "test-secret-key"},
    )


async def test_the_delivery_commands_list_and_resend_after_a_confirmation(deps):
    _, first_id, unknown = await campaign_with_one_unknown(deps)
    url = deps.settings.database_url
    listed = await asyncio.to_thread(invoke, url, "unknown", str(first_id))
    assert listed.exit_code == 0, listed.output
    assert f"campaign {first_id}: 1 pushes of unknown delivery" in listed.output
    assert (
        f"\n{unknown.id}\t" in listed.output and "lease expired after hand-over" in listed.output
    )

    declined = await asyncio.to_thread(invoke, url, "resend", str(first_id), answer="n\n")
    assert declined.exit_code == 1 and "these 1 alumni" in declined.output
    assert [r.status for r in await outbox(deps)].count("unknown") == 1  # nothing changed

    done = await asyncio.to_thread(invoke, url, "resend", str(first_id), "--yes")
    assert done.exit_code == 0, done.output
    assert f"campaign {first_id}: 1 pushes queued again" in done.output
    assert (None, "resend:campaign", f"{first_id}: 1 via cli") in await audit(deps)
    again = await asyncio.to_thread(invoke, url, "resend", str(first_id), "--yes")
    assert "no pushes of unknown delivery; nothing to send" in again.output
    missing = await asyncio.to_thread(invoke, url, "unknown", "99")
    assert missing.exit_code == 1 and "no campaign 99" in missing.output


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
