"""Saving never sends; sending is a confirmed step that names how many it reaches (issue:
first use at a school). Console over HTTP on a real database.
"""

from __future__ import annotations

import re

from sqlalchemy import select, update

from storage.models import Alumnus, Campaign, DigestItem, OutboxMessage
from tests.console_fixtures import people_deps, signed_in  # noqa: F401  (the deps fixture)
from tests.offers_fixtures import (
    GOOD,
    add_alumni,
    add_offer,
    audit_rows,
    confirmed,
    console_of_client,
    launched,
    offer_rows,
    page_token,
    post_offer,
    words,
)

EXPECTED = re.compile(r'name="expected" value="(\d+)"')


async def queued(deps) -> tuple[list[Campaign], list[OutboxMessage], list[DigestItem]]:
    async with deps.storage.transaction() as tx:
        campaigns = (await tx.session.execute(select(Campaign))).scalars().all()
        rows = (await tx.session.execute(select(OutboxMessage))).scalars().all()
        items = (await tx.session.execute(select(DigestItem))).scalars().all()
    return list(campaigns), list(rows), list(items)


async def interested(deps) -> None:
    """The alumni of ``add_alumni``, all interested in "digitaal", two at once, one weekly."""
    await add_alumni(deps)
    async with deps.storage.transaction() as tx:
        for alumnus in (await tx.session.execute(select(Alumnus))).scalars():
            alumnus.interests = ["digitaal"]
            alumnus.offer_frequency = "weekly" if alumnus.id == 2 else "immediately"


async def test_saving_an_offer_with_interests_sends_nothing(deps):
    await interested(deps)
    async with signed_in(deps) as client:
        token = await page_token(client)
        status, _, location = await post_offer(
            client, token, regions="", interests="digitaal", crebos="25998"
        )
        assert status == 303 and location
        async with client.get(location) as page:
            shown = await page.text()
    assert await queued(deps) == ([], [], [])
    [offer] = await offer_rows(deps)
    assert "Er is nog niets verstuurd" in shown
    assert f'href="/offers/{offer.id}/match"' in shown


async def test_personal_matching_is_sent_only_after_a_confirmation_with_the_numbers(deps):
    await interested(deps)
    offer = await add_offer(deps, interests=["digitaal"], contact_team="llo")
    async with signed_in(deps) as client:
        async with client.get(f"/offers/{offer.id}/match") as page:
            assert page.status == 200
            shown = await page.text()
        # Alumni 1 and 3 consent to LLO and want offers at once; 2 weekly.
        assert '<strong id="confirm-count">2</strong> oud-studenten krijgen het meteen' in shown
        assert '<strong id="confirm-digest-count">1</strong> oud-student krijgt het' in shown
        assert "Ja, verstuur naar 3 oud-studenten" in shown
        assert await queued(deps) == ([], [], [])
        token = await page_token(client)
        path = f"/offers/{offer.id}/match"
        # A stale number (the audience changed) shows the page again; nothing is sent.
        data = {"csrf_token": token, "confirm": "yes", "expected": "7"}
        async with client.post(path, data=data, allow_redirects=False) as response:
            assert response.status == 303
            assert response.headers["Location"] == f"{path}?changed=1"
        assert await queued(deps) == ([], [], [])
        data["expected"] = "3"
        async with client.post(path, data=data, allow_redirects=False) as response:
            assert response.status == 303
            campaign_id = int(response.headers["Location"].rsplit("/", 1)[1])
        await launched(deps, campaign_id)
    [campaign], rows, items = await queued(deps)
    assert campaign.kind == "match" and len(rows) == 2 and len(items) == 1
    assert ("send:campaign", str(campaign_id)) in await audit_rows(deps)


async def test_a_coordinator_cannot_match_another_teams_offer(deps):
    await interested(deps)
    offer = await add_offer(deps, interests=["digitaal"], contact_team="llo")
    async with signed_in(deps, "cor@school.example") as client:
        async with client.get(f"/offers/{offer.id}/match") as page:
            assert page.status == 403
    assert ("refused:offer", str(offer.id)) in await audit_rows(deps)


async def test_the_composer_sends_only_after_the_confirmation_page(deps):
    await add_alumni(deps)
    offer = await add_offer(deps)
    async with signed_in(deps) as client:
        token = await page_token(client)
        data = {"csrf_token": token, "offer": str(offer.id), "levels": "3", "when": "now"}
        async with client.post("/campaigns", data=data, allow_redirects=False) as response:
            assert response.status == 200
            shown = await response.text()
        assert await queued(deps) == ([], [], [])
        assert '<strong id="confirm-count">1</strong> oud-student krijgt dit bericht.' in shown
        assert "Ja, verstuur naar 1 oud-student" in shown
        assert '<input type="hidden" name="levels" value="3">' in shown
        [expected] = EXPECTED.findall(shown)
        # Back: the composer with the filters as they were.
        async with client.post("/campaigns", data={**data, "back": "1"}) as response:
            assert response.status == 200
            composer = await response.text()
        assert 'value="3" checked' in composer and await queued(deps) == ([], [], [])
        confirmed = {**data, "confirm": "yes", "expected": expected}
        async with client.post("/campaigns", data=confirmed, allow_redirects=False) as response:
            assert response.status == 303
            campaign_id = int(response.headers["Location"].rsplit("/", 1)[1])
        await launched(deps, campaign_id)
    [campaign], rows, _ = await queued(deps)
    assert campaign.targeted == 1 and len(rows) == 1


async def test_a_schedule_is_confirmed_too_and_nobody_cannot_be_sent_now(deps):
    await add_alumni(deps)
    offer = await add_offer(deps)
    async with signed_in(deps) as client:
        token = await page_token(client)
        data = {"csrf_token": token, "offer": str(offer.id), "when": "later"}
        data["send_at"] = "2026-06-16T14:30"
        async with client.post("/campaigns", data=data) as response:
            shown = await response.text()
        assert "2026-06-16 14:30" in shown and "Ja, plan de campagne in" in shown
        assert await queued(deps) == ([], [], [])
        nobody = {"csrf_token": token, "offer": str(offer.id), "when": "now", "levels": "1"}
        async with client.post("/campaigns", data=nobody) as response:
            shown = await response.text()
        assert 'id="confirm-nobody"' in shown and 'id="confirm-send"' not in shown


async def test_the_audience_count_speaks_in_singular_and_plural(deps):
    await add_alumni(deps)
    offer = await add_offer(deps)
    async with signed_in(deps) as client:
        token = await page_token(client)
        for levels, words in (("3", "oud-student krijgt"), ("", "oud-studenten krijgen")):
            data = {"csrf_token": token, "offer": str(offer.id), "levels": levels}
            async with client.post("/campaigns/count", data=data) as response:
                answer = await response.json()
            assert answer["count_suffix"].startswith(words), answer
        async with client.get(f"/campaigns/new?offer={offer.id}") as page:
            assert 'id="audience-suffix">oud-studenten krijgen' in await page.text()


# ---------------------------------------------------------------------------- regions, form kept


async def test_regions_are_catalogue_choices_and_a_wrong_one_gives_no_count(deps):
    await add_alumni(deps)
    offer = await add_offer(deps)
    async with signed_in(deps) as client:
        async with client.get(f"/campaigns/new?offer={offer.id}") as page:
            shown = await page.text()
        assert '<option value="35">postcodegebied 35 (Utrecht)</option>' in shown
        assert '<option value="NH">Noord-Holland</option>' in shown
        token = await page_token(client)
        data = {"csrf_token": token, "offer": str(offer.id), "regions": "UT"}
        async with client.post("/campaigns/count", data=data) as response:
            right = await response.json()
        async with client.post("/campaigns/count", data={**data, "regions": "UT,XX"}) as response:
            wrong = await response.json()
    assert right["count"] == 1 and right["errors"] == {}
    assert wrong["count"] is None and set(wrong["errors"]) == {"regions"}
    assert "kijk de velden" in wrong["count_suffix"]


async def test_a_wrong_field_keeps_what_was_chosen_and_typed(deps):
    await add_alumni(deps)
    offer = await add_offer(deps)
    async with signed_in(deps) as client:
        token = await page_token(client)
        data = {
            "csrf_token": token,
            "offer": str(offer.id),
            "regions": "UT,XX",
            "cohort_from": "20x4",
            "when": "now",
        }
        async with client.post("/campaigns", data=data) as response:
            assert response.status == 422
            shown = await response.text()
    assert '<option value="UT" selected>Utrecht</option>' in shown
    assert 'id="cohort_from" name="cohort_from" min="1950" max="2100" value="20x4"' in shown
    assert 'id="regions-error"' in shown and 'id="cohort_from-error"' in shown


async def test_a_preview_without_a_linked_account_keeps_the_filters(deps):
    await add_alumni(deps)
    offer = await add_offer(deps)
    async with signed_in(deps) as client:
        token = await page_token(client)
        data = {
            "csrf_token": token,
            "offer": str(offer.id),
            "regions": "35",
            "levels": "2",
            "when": "later",
            "send_at": "2026-07-01T10:00",
        }
        async with client.post("/campaigns/preview", data=data, allow_redirects=False) as r:
            location = r.headers["Location"]
        assert "csrf_token" not in location
        async with client.get(location) as page:
            shown = await page.text()
    assert 'id="preview-unlinked"' in shown
    assert '<option value="35" selected>postcodegebied 35 (Utrecht)</option>' in shown
    assert 'name="levels" value="2" checked' in shown
    assert 'value="later" id="when-later" checked' in shown and 'value="2026-07-01T10:00"' in shown


# ---------------------------------------------------------------------------- words


async def test_the_list_and_the_page_use_one_status_vocabulary(deps):
    await add_alumni(deps)
    offer = await add_offer(deps)
    async with signed_in(deps) as client:
        token = await page_token(client)
        data = {"csrf_token": token, "offer": str(offer.id), "when": "now", "levels": "3"}
        data = await confirmed(client, data)
        async with client.post("/campaigns", data=data, allow_redirects=False) as response:
            location = response.headers["Location"]
        campaign_id = int(location.rsplit("/", 1)[1])
        await launched(deps, campaign_id)
        async with deps.storage.transaction() as tx:  # as the dispatcher records a 200
            await tx.session.execute(update(OutboxMessage).values(status="sent"))
        async with client.get(location) as page:
            shown = await page.text()
        async with client.get("/campaigns") as page:
            listed = await page.text()
    assert 'id="campaign-status">Klaar<' in shown
    assert '<span class="state">Klaar</span>' in listed and "Wordt verstuurd" not in listed


async def test_a_cancelled_campaign_reads_cancelled_not_done(deps):
    await add_alumni(deps)
    offer = await add_offer(deps, contact_team="llo")
    async with signed_in(deps) as client:
        token = await page_token(client)
        data = await confirmed(
            client, {"csrf_token": token, "offer": str(offer.id), "when": "now"}
        )
        async with client.post("/campaigns", data=data, allow_redirects=False) as response:
            location = response.headers["Location"]
        await launched(deps, int(location.rsplit("/", 1)[1]))
        async with client.post(f"{location}/cancel", data={"csrf_token": token}) as response:
            shown = await response.text()
        async with client.get("/campaigns") as page:
            listed = await page.text()
    assert 'id="campaign-status">Geannuleerd<' in shown
    assert '<span class="state">Geannuleerd</span>' in listed


async def test_an_offer_has_a_language_and_the_push_says_so_to_other_readers(deps):
    async with signed_in(deps) as client:
        token = await page_token(client)
        status, _, _ = await post_offer(client, token, language="en", title="Welding course")
        assert status == 303
        status, shown, _ = await post_offer(client, token, language="fr")
        assert status == 422 and 'id="language-error"' in shown
        for reader in ("nl", "en"):
            data = {"csrf_token": token, **GOOD, "language": "nl", "preview_locale": reader}
            async with client.post("/offers/preview", data=data) as response:
                runs = "".join(run["text"] for run in (await response.json())["runs"])
            assert ("This offer is in Dutch." in runs) == (reader == "en"), reader
    [offer] = await offer_rows(deps)
    assert offer.language == "en"
    push = console_of_client(client).studio.campaigns.push(offer, 1, "nl").text
    assert "Dit aanbod is in het Engels." in push
    assert (
        "Dit aanbod is in het"
        not in console_of_client(client)
        .studio.campaigns.push(offer.model_copy(update={"language": "nl"}), 1, "nl")
        .text
    )


def test_counts_in_bot_texts_have_their_singular_too():
    assert "1 werkuur op antwoord" in words.text(
        "inbox.reminder", "nl", hours=1, weekday=0, time="09:00", to=None
    )


# ---------------------------------------------------------------------------- edit, withdraw


async def test_an_offer_is_edited_with_the_same_checks_and_audited(deps):
    offer = await add_offer(deps, contact_team="llo", regions=["UT"], language="en")
    async with signed_in(deps) as client:
        async with client.get(f"/offers/{offer.id}/edit") as page:
            shown = await page.text()
        assert 'value="Excel voor beginners"' in shown
        assert '<option value="UT" selected>Utrecht</option>' in shown
        assert '<option value="en" selected>English</option>' in shown
        token = await page_token(client)
        data = {"csrf_token": token, **GOOD, "title": "Excel voor gevorderden", "link": "ftp://x"}
        async with client.post(f"/offers/{offer.id}", data=data) as response:
            assert response.status == 422
            shown = await response.text()
        assert 'value="Excel voor gevorderden"' in shown and 'id="link-error"' in shown
        data["link"] = "https://example.org/excel"
        async with client.post(f"/offers/{offer.id}", data=data, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"].startswith("/offers?updated=")
    [stored] = await offer_rows(deps)
    assert stored.title == "Excel voor gevorderden" and stored.regions == ["UT", "NH"]
    assert ("edit:offer", str(offer.id)) in await audit_rows(deps)
    async with signed_in(deps, "cor@school.example") as client:
        async with client.get(f"/offers/{offer.id}/edit") as page:
            assert page.status == 403


async def test_a_withdrawn_offer_is_not_sent_edited_or_matched_any_more(deps):
    await interested(deps)
    offer = await add_offer(deps, contact_team="llo", interests=["digitaal"])
    async with signed_in(deps) as client:
        token = await page_token(client)
        path = f"/offers/{offer.id}/withdraw"
        async with client.post(path, data={"csrf_token": token}) as response:
            assert response.status == 422
            assert 'id="withdraw-error"' in await response.text()
        assert (await offer_rows(deps))[0].withdrawn_at is None
        data = {"csrf_token": token, "confirm": "yes"}
        async with client.post(path, data=data, allow_redirects=False) as response:
            assert response.status == 303
        async with client.get("/offers") as page:
            listed = await page.text()
        assert f'id="offer-{offer.id}-withdrawn">Ingetrokken<' in listed
        assert f"/campaigns/new?offer={offer.id}" not in listed
        for method, url in (
            ("GET", f"/offers/{offer.id}/edit"),
            ("GET", f"/offers/{offer.id}/match"),
        ):
            async with client.request(method, url) as response:
                assert response.status == 404, url
        send = {"csrf_token": token, "offer": str(offer.id), "confirm": "yes", "expected": "2"}
        async with client.post("/campaigns", data=send) as response:
            assert response.status == 404
        async with client.get("/campaigns/new") as page:
            assert 'id="no-usable-offers"' in await page.text()
    assert await queued(deps) == ([], [], [])
    assert ("withdraw:offer", str(offer.id)) in await audit_rows(deps)
