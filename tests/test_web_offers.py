"""Console offers and campaigns: the offer form and its preview, the composer, saved segments,
the campaign page, roles, CSRF and escaping (aiohttp test client, real database).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from markupsafe import escape
from sqlalchemy import select, update
from sqlmodel import col

from storage.models import (
    Campaign,
    OutboxMessage,
    SavedSegment,
    StaffMember,
)
from tests.console_fixtures import (
    console_client,
    csrf_in,
    people_deps,  # noqa: F401  (the deps fixture)
    signed_in,
)
from tests.offers_fixtures import (
    GOOD,
    XSS,
    add_alumni,
    add_offer,
    audit_rows,
    campaign_status,
    confirmed,
    console_of_client,
    field_errors,
    launched,
    offer_rows,
    page_token,
    polite,
    post_offer,
    words,
)

# ---------------------------------------------------------------------------- offers


async def test_an_admin_creates_an_offer_and_sees_it_listed(deps):
    async with signed_in(deps) as client:
        status, _, location = await post_offer(client, await page_token(client))
        assert status == 303 and location and location.startswith("/offers?created=")
        [offer] = await offer_rows(deps)
        assert (offer.kind, offer.title, offer.contact_team) == ("llo", GOOD["title"], "llo")
        assert offer.regions == ["UT", "NH"] and str(offer.deadline) == "2026-08-15"
        async with client.get(location) as page:
            listed = await page.text()
        assert 'id="offer-created"' in listed
        assert f'id="offer-{offer.id}"' in listed and "Excel voor beginners" in listed
        assert f'href="/campaigns/new?offer={offer.id}"' in listed
    assert ("create:offer", str(offer.id)) in await audit_rows(deps)


async def test_wrong_fields_are_named_with_the_import_reasons_and_nothing_is_saved(deps):
    async with signed_in(deps) as client:
        status, page, _ = await post_offer(
            client,
            await page_token(client),
            kind="cursus",
            title="",
            link="ftp://example.org",
            regions="XX",
            deadline="1 augustus",
            levels="7",
        )
    assert status == 422
    assert await offer_rows(deps) == []
    assert 'id="offer-errors"' in page
    # The same reasons the file import gives (CampaignService.validate), one per field.
    assert field_errors(page) == {
        "kind": polite("offers.error_kind"),
        "title": polite("offers.error_title"),
        "link": polite("offers.error_link"),
        "regions": polite("offers.error_region"),
        "deadline": polite("offers.error_date"),
        "levels": polite("offers.error_level"),
    }
    # What was typed is kept, so nothing has to be typed again.
    assert 'value="ftp://example.org"' in page and "In vier avonden" in page


async def test_an_english_page_shows_the_reasons_in_english(deps):
    async with signed_in(deps) as client:
        client.session.cookie_jar.update_cookies({"alumnibot_lang": "en"})
        _, page, _ = await post_offer(client, await page_token(client), title="")
    assert field_errors(page) == {"title": polite("offers.error_title", "en")}


async def test_a_coordinator_creates_offers_only_for_their_own_team(deps):
    async with signed_in(deps, "cor@school.example") as client:
        token = await page_token(client)
        status, page, _ = await post_offer(client, token, contact_team="llo")
        assert status == 422
        assert field_errors(page) == {"contact_team": polite("web.offer_team_not_yours")}
        status, page, _ = await post_offer(client, token, contact_team="")
        assert field_errors(page) == {"contact_team": polite("web.offer_team_required")}
        assert await offer_rows(deps) == []
        status, _, _ = await post_offer(client, token, contact_team="nazorg")
        assert status == 303
    [offer] = await offer_rows(deps)
    assert offer.contact_team == "nazorg"


async def test_the_preview_is_the_push_the_dispatcher_sends(deps):
    async with signed_in(deps) as client:
        data = {"csrf_token": await page_token(client), **GOOD, "preview_locale": "nl"}
        async with client.post("/offers/preview", data=data) as response:
            assert response.status == 200
            preview = await response.json()
    text = "".join(run["text"] for run in preview["runs"])
    assert text.startswith("📚 Cursus: Excel voor beginners")
    assert preview["runs"][0]["styles"] == ["b"]  # the title line is bold, as in Telegram
    assert "ROC Voorbeeld" in text and "Kosten: € 95" in text
    assert "Reageren kan tot 15-08-2026" in text
    assert preview["buttons"] == [
        [{"text": words.label("labels.offer_interest", "nl"), "url": None}],
        [{"text": words.label("labels.offer_more_info", "nl"), "url": GOOD["link"]}],
        [{"text": words.label("labels.offer_optout", "nl", kind="llo"), "url": None}],
    ]
    assert preview["chars"] == len(text)


async def test_the_preview_follows_a_half_filled_form_and_the_chosen_language(deps):
    async with signed_in(deps) as client:
        data = {
            "csrf_token": await page_token(client),
            "kind": "job",
            "title": "Kok gezocht",
            "link": "not a link",
            "preview_locale": "en",
        }
        async with client.post("/offers/preview", data=data) as response:
            preview = await response.json()
    text = "".join(run["text"] for run in preview["runs"])
    assert "Kok gezocht" in text
    # A link that would be refused gives no "More info" button.
    assert [row[0]["text"] for row in preview["buttons"]] == [
        words.label("labels.offer_interest", "en"),
        words.label("labels.offer_optout", "en", kind="job"),
    ]


async def test_a_script_in_a_title_stays_text_in_list_form_and_preview(deps):
    async with signed_in(deps) as client:
        token = await page_token(client)
        status, _, _ = await post_offer(client, token, title=XSS)
        assert status == 303
        # Shown again in the form after an error elsewhere, and in its preview.
        status, form_page, _ = await post_offer(client, token, title=XSS, link="javascript:x")
        assert status == 422
        async with client.get("/offers") as page:
            listed = await page.text()
        data = {"csrf_token": token, **GOOD, "title": XSS}
        async with client.post("/offers/preview", data=data) as response:
            preview = await response.json()
        async with client.get("/campaigns/new") as page:
            composer = await page.text()
    assert XSS not in composer and f"Cursus (LLO): {escape(XSS)}</option>" in composer
    escaped = str(escape(XSS))
    for shown in (listed, form_page):
        assert XSS not in shown
        assert "<script>alert" not in shown
    assert f'<td class="offer-title">{escaped}</td>' in listed
    assert f'value="{escaped}"' in form_page
    assert f"Cursus: {escaped}" in form_page  # the server-drawn preview
    # The preview carries the title as text (the script sets it with textContent).
    assert preview["runs"][0]["text"] == f"📚 Cursus: {XSS}"


# ---------------------------------------------------------------------------- composer


async def count(client, token: str, offer_id: int | None, **filters) -> dict:
    data = {"csrf_token": token, "offer": str(offer_id), **filters}
    async with client.post("/campaigns/count", data=data) as response:
        assert response.status == 200
        return await response.json()


async def test_the_audience_count_follows_the_filters_and_the_fixed_purpose(deps):
    await add_alumni(deps)
    llo = await add_offer(deps)
    job = await add_offer(deps, kind="job", title="Vacature")
    async with signed_in(deps) as client:
        async with client.get(f"/campaigns/new?offer={llo.id}") as page:
            composer = await page.text()
        token = csrf_in(composer)
        assert '<strong id="audience-count">3</strong>' in composer
        assert words.label("web.purpose_llo", "nl") in composer
        assert (await count(client, token, llo.id))["count"] == 3
        assert (await count(client, token, llo.id))["already"] == 0
        assert 'id="audience-already" class="hint" aria-live="polite" hidden' in composer
        assert (await count(client, token, llo.id, crebos="25998"))["count"] == 1
        assert (await count(client, token, llo.id, levels="3"))["count"] == 1
        assert (await count(client, token, llo.id, regions="ut, 35"))["count"] == 2
        assert (await count(client, token, llo.id, cohort_from="2024"))["count"] == 2
        both = await count(client, token, llo.id, cohort_from="2024", cohort_to="2024")
        assert both["count"] == 1
        jobs = await count(client, token, job.id)
        assert (jobs["count"], jobs["purpose"]) == (2, "jobs")
        assert jobs["purpose_label"] == words.label("web.purpose_jobs", "nl")
        wrong = await count(client, token, llo.id, regions="XX", cohort_from="soon")
        assert wrong["errors"] == {
            "regions": words.label("web.filter_error_regions", "nl"),
            "cohort_from": words.label("web.filter_error_cohort", "nl"),
        }
        assert wrong["count"] is None  # no count that looks right without the wrong values


async def test_the_offers_own_targeting_applies_when_no_filter_is_chosen(deps):
    await add_alumni(deps)
    offer = await add_offer(deps, regions=["NH"])
    async with signed_in(deps) as client:
        token = await page_token(client)
        assert (await count(client, token, offer.id))["count"] == 1
        assert (await count(client, token, offer.id, regions="UT"))["count"] == 1


async def test_a_coordinator_cannot_use_another_teams_offer(deps):
    await add_alumni(deps)
    offer = await add_offer(deps, contact_team="llo")
    async with signed_in(deps, "cor@school.example") as client:
        token = await page_token(client)
        data = {"csrf_token": token, "offer": str(offer.id)}
        async with client.post("/campaigns/count", data=data) as response:
            assert response.status == 403
        async with client.post("/campaigns", data=data, allow_redirects=False) as response:
            assert response.status == 403
        async with client.get("/campaigns/new") as page:
            assert 'id="no-usable-offers"' in await page.text()
    async with deps.storage.transaction() as tx:
        assert (await tx.session.execute(select(Campaign))).first() is None
    assert ("refused:offer", str(offer.id)) in await audit_rows(deps)


async def test_every_post_needs_the_csrf_token(deps):
    offer = await add_offer(deps)
    async with signed_in(deps) as client:
        for path, data in (
            ("/offers", GOOD),
            ("/offers/preview", GOOD),
            ("/campaigns/count", {"offer": str(offer.id)}),
            ("/campaigns", {"offer": str(offer.id)}),
            ("/campaigns/segments", {"offer": str(offer.id), "segment_name": "x"}),
        ):
            for token in (None, "wrong"):
                body = dict(data) if token is None else {**data, "csrf_token": token}
                async with client.post(path, data=body, allow_redirects=False) as response:
                    assert response.status == 403, path
    assert [o.id for o in await offer_rows(deps)] == [offer.id]
    async with deps.storage.transaction() as tx:
        assert (await tx.session.execute(select(Campaign))).first() is None
        assert (await tx.session.execute(select(SavedSegment))).first() is None


async def test_signed_out_visitors_go_to_the_login_form(deps):
    async with console_client(deps) as client:
        for path in ("/offers", "/campaigns", "/campaigns/new", "/campaigns/1"):
            async with client.get(path, allow_redirects=False) as response:
                assert response.status == 303 and response.headers["Location"] == "/inbox/login"


# ---------------------------------------------------------------------------- saved segments


async def test_a_segment_is_saved_loaded_and_replaced_by_name(deps):
    await add_alumni(deps)
    offer = await add_offer(deps)
    async with signed_in(deps) as client:
        token = await page_token(client)
        data = {
            "csrf_token": token,
            "offer": str(offer.id),
            "crebos": "25998",
            "levels": "4",
            "regions": "UT",
            "cohort_from": "2020",
            "active_days": "90",
            "segment_name": "ICT <oud> 2020+",
        }
        async with client.post("/campaigns/segments", data=data, allow_redirects=False) as r:
            assert r.status == 303
            location = r.headers["Location"]
        async with deps.storage.transaction() as tx:
            [saved] = (await tx.session.execute(select(SavedSegment))).scalars().all()
        assert location == f"/campaigns/new?offer={offer.id}&segment={saved.id}"
        assert saved.filters == {
            "crebos": ["25998"],
            "levels": [4],
            "locations": [],
            "regions": ["UT"],
            "situations": [],
            "sectors": [],
            "interests": [],
            "cohort_from": 2020,
            "cohort_to": None,
            "active_days": 90,
        }
        async with client.get(location) as page:
            loaded = await page.text()
        assert '<option value="25998" selected>' in loaded
        assert 'name="levels" value="4" checked' in loaded
        assert 'id="cohort_from" name="cohort_from" min="1950" max="2100" value="2020"' in loaded
        assert '<option value="90" selected>' in loaded
        assert '<strong id="audience-count">1</strong>' in loaded
        assert "ICT &lt;oud&gt; 2020+" in loaded
        # Saving under the same name replaces the filters.
        data.update(crebos="25491", levels="3")
        async with client.post("/campaigns/segments", data=data, allow_redirects=False) as r:
            assert r.status == 303
        data["segment_name"] = " "
        async with client.post("/campaigns/segments", data=data, allow_redirects=False) as r:
            assert r.status == 422
            assert field_errors(await r.text()) == {
                "segment_name": polite("web.segment_name_invalid")
            }
        async with client.get("/campaigns/new?segment=999") as page:
            assert page.status == 404
    async with deps.storage.transaction() as tx:
        [saved] = (await tx.session.execute(select(SavedSegment))).scalars().all()
    assert saved.filters["crebos"] == ["25491"] and saved.filters["levels"] == [3]
    assert [a for a in await audit_rows(deps) if a[0] == "save:segment"] == [
        ("save:segment", str(saved.id)),
        ("save:segment", str(saved.id)),
    ]


# ---------------------------------------------------------------------------- campaigns


async def test_sending_queues_one_push_per_recipient_and_shows_progress(deps):
    await add_alumni(deps)
    offer = await add_offer(deps, link="https://example.org/excel")
    async with signed_in(deps) as client:
        token = await page_token(client)
        data = {"csrf_token": token, "offer": str(offer.id), "levels": "3", "when": "now"}
        data["regions"] = "NH"
        data = await confirmed(client, data)
        async with client.post("/campaigns", data=data, allow_redirects=False) as response:
            assert response.status == 303
            location = response.headers["Location"]
        campaign_id = int(location.rsplit("/", 1)[1])
        await launched(deps, campaign_id)
        async with deps.storage.transaction() as tx:
            campaign = await tx.offers.campaign(campaign_id)
            rows = (await tx.session.execute(select(OutboxMessage))).scalars().all()
        assert campaign.targeted == 1 and campaign.send_at is None
        assert [r.dedupe_key for r in rows] == [f"campaign:{campaign_id}:2"]
        assert rows[0].purpose == "llo"
        async with client.get(location) as page:
            shown = await page.text()
        assert '<dd id="stat-targeted">1</dd>' in shown
        assert '<dd id="stat-pending">1</dd>' in shown
        assert 'id="progress-bar" max="100" value="0"' in shown
        async with client.get(f"{location}/progress") as response:
            progress = await response.json()
        assert progress["stats"]["targeted"] == 1 and progress["percent"] == 0
        async with deps.storage.transaction() as tx:  # as the dispatcher records a 200
            await tx.session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == rows[0].id)
                .values(status="sent", telegram_message_id=77)
            )
        async with client.get(f"{location}/progress") as response:
            progress = await response.json()
        assert progress["stats"]["sent"] == 1 and progress["percent"] == 100
        async with client.get("/campaigns") as page:
            assert f'<a href="/campaigns/{campaign_id}">' in await page.text()
        # The same offer again: whom it already reached is counted apart and left out.
        reach = await count(client, token, offer.id)
        assert (reach["count"], reach["already"]) == (2, 1)
        async with client.get(f"/campaigns/new?offer={offer.id}") as page:
            composer = await page.text()
        assert '<strong id="audience-count">2</strong>' in composer
        assert '<strong id="audience-already-count">1</strong>' in composer
        assert words.label("web.audience_already_suffix", "nl", count=1) in composer
        data = await confirmed(
            client, {"csrf_token": token, "offer": str(offer.id), "when": "now"}
        )
        async with client.post("/campaigns", data=data, allow_redirects=False) as response:
            again = response.headers["Location"]
        await launched(deps, int(again.rsplit("/", 1)[1]))
        async with client.get(again) as page:
            shown = await page.text()
        assert '<dd id="stat-targeted">2</dd>' in shown
        assert '<dd id="stat-already">1</dd>' in shown
    assert ("send:campaign", str(campaign_id)) in await audit_rows(deps)


async def test_a_campaign_at_a_time_is_held_until_then_in_school_time(deps):
    await add_alumni(deps)
    offer = await add_offer(deps)
    async with signed_in(deps) as client:
        token = await page_token(client)
        data = {"csrf_token": token, "offer": str(offer.id), "when": "later"}
        for send_at, reason in (
            ("", "web.send_at_invalid"),
            ("2026-06-15T11:59", "web.send_at_past"),  # 09:59 UTC: before the clock
            ("2027-12-01T10:00", "web.send_at_far"),
        ):
            async with client.post("/campaigns", data={**data, "send_at": send_at}) as r:
                assert r.status == 422
                assert field_errors(await r.text()) == {"send_at": polite(reason)}
        data = await confirmed(client, {**data, "send_at": "2026-06-16T14:30"})
        async with client.post("/campaigns", data=data, allow_redirects=False) as response:
            assert response.status == 303
    async with deps.storage.transaction() as tx:
        [campaign] = (await tx.session.execute(select(Campaign))).scalars().all()
        rows = (await tx.session.execute(select(OutboxMessage))).scalars().all()
    expected = datetime(2026, 6, 16, 12, 30, tzinfo=UTC)  # CEST is UTC+2
    assert (campaign.status, campaign.send_at, rows) == ("scheduled", expected, [])
    # At that moment the scheduler job launches it, once.
    deps.clock.advance(expected - deps.clock.now())
    assert await console_of_client(client).studio.campaigns.launch_due() == [campaign.id]
    assert await console_of_client(client).studio.campaigns.launch_due() == []
    async with deps.storage.transaction() as tx:
        rows = (await tx.session.execute(select(OutboxMessage))).scalars().all()
    assert len(rows) == 3 and {r.not_before for r in rows} == {expected}


async def test_the_campaign_page_shows_numbers_to_every_member(deps):
    offer = await add_offer(deps, contact_team="llo", title=XSS)
    assert offer.id is not None
    async with deps.storage.transaction() as tx:
        campaign = await tx.offers.add_campaign(
            Campaign(
                offer_id=offer.id,
                segment={"purpose": "llo"},
                created_at=deps.clock.now() - timedelta(hours=1),
            )
        )
    async with signed_in(deps, "cor@school.example") as client:
        async with client.get(f"/campaigns/{campaign.id}") as page:
            shown = await page.text()
            assert page.status == 200
        async with client.get("/campaigns/999") as page:
            assert page.status == 404
    assert XSS not in shown and str(escape(XSS)) in shown
    assert 'id="campaign-status">Concept<' in shown
    assert '<dd id="stat-targeted">0</dd>' in shown and '<dd id="stat-sent">0</dd>' in shown
    assert "campaign-pause" not in shown  # not this coordinator's team: no controls


async def test_pause_resume_and_cancel_from_the_campaign_page(deps):
    await add_alumni(deps)
    offer = await add_offer(deps, contact_team="llo")
    async with signed_in(deps) as client:
        token = await page_token(client)
        data = await confirmed(
            client, {"csrf_token": token, "offer": str(offer.id), "when": "now"}
        )
        async with client.post("/campaigns", data=data, allow_redirects=False) as response:
            page_url = response.headers["Location"]
        campaign_id = int(page_url.rsplit("/", 1)[1])
        await launched(deps, campaign_id)
        async with client.get(page_url) as page:
            shown = await page.text()
        assert 'id="campaign-pause" data-control="pause" class="plain">' in shown
        assert 'id="campaign-resume" data-control="resume" class="plain" hidden>' in shown

        async def press(action: str) -> str:
            async with client.post(
                f"{page_url}/{action}", data={"csrf_token": token}, allow_redirects=False
            ) as response:
                assert response.status == 303
                return response.headers["Location"]

        assert await press("pause") == page_url
        assert await campaign_status(deps, campaign_id) == "paused"
        async with client.get(f"{page_url}/progress") as response:
            progress = await response.json()
        assert progress["status"] == "paused" and progress["controls"] == ["resume", "cancel"]
        assert progress["status_label"] == words.label("web.campaign_status_paused", "nl")
        assert await press("resume") == page_url
        assert await campaign_status(deps, campaign_id) == "sending"
        assert await press("cancel") == page_url
        assert await campaign_status(deps, campaign_id) == "cancelled"
        async with client.get(f"{page_url}/progress") as response:
            progress = await response.json()
        assert progress["stats"]["cancelled"] == 3 and progress["stats"]["pending"] == 0
        # Pausing a cancelled campaign is refused politely, and nothing changes.
        refused = await press("pause")
        assert refused == f"{page_url}?refused=pause"
        async with client.get(refused) as page:
            assert 'id="control-refused"' in await page.text()
        assert await campaign_status(deps, campaign_id) == "cancelled"
        async with client.post(f"{page_url}/pause", data={}, allow_redirects=False) as response:
            assert response.status == 403  # no CSRF token
    actions = [a for a in await audit_rows(deps) if a[0].endswith(":campaign")]
    assert actions == [
        ("send:campaign", str(campaign_id)),
        ("pause:campaign", str(campaign_id)),
        ("resume:campaign", str(campaign_id)),
        ("cancel:campaign", str(campaign_id)),
    ]


async def test_a_coordinator_cannot_control_another_teams_campaign(deps):
    await add_alumni(deps)
    offer = await add_offer(deps, contact_team="llo")
    async with signed_in(deps) as client:
        token = await page_token(client)
        data = await confirmed(
            client, {"csrf_token": token, "offer": str(offer.id), "when": "now"}
        )
        async with client.post("/campaigns", data=data, allow_redirects=False) as response:
            page_url = response.headers["Location"]
    campaign_id = int(page_url.rsplit("/", 1)[1])
    await launched(deps, campaign_id)
    async with signed_in(deps, "cor@school.example") as client:
        token = await page_token(client)
        async with client.post(
            f"{page_url}/cancel", data={"csrf_token": token}, allow_redirects=False
        ) as response:
            assert response.status == 403
    assert await campaign_status(deps, campaign_id) == "sending"
    assert ("refused:campaign", str(campaign_id)) in await audit_rows(deps)


async def test_a_preview_goes_to_the_members_own_telegram_chat_once_linked(deps):
    offer = await add_offer(deps)
    async with signed_in(deps) as client:
        token = await page_token(client)
        data = {"csrf_token": token, "offer": str(offer.id), "preview_locale": "nl"}
        async with client.post("/campaigns/preview", data=data, allow_redirects=False) as r:
            assert r.headers["Location"] == f"/campaigns/new?offer={offer.id}&preview=unlinked"
        async with client.get(r.headers["Location"]) as page:
            assert 'id="preview-unlinked"' in await page.text()
        async with deps.storage.transaction() as tx:
            await tx.session.execute(
                update(StaffMember)
                .where(col(StaffMember.email) == "ann@school.example")
                .values(telegram_user_id=4242)
            )
        async with client.post("/campaigns/preview", data=data, allow_redirects=False) as r:
            assert r.headers["Location"] == f"/campaigns/new?offer={offer.id}&preview=sent"
    async with deps.storage.transaction() as tx:
        [row] = (await tx.session.execute(select(OutboxMessage))).scalars().all()
    assert row.chat_id == 4242 and row.dedupe_key.startswith("preview:")
    assert ("preview:offer", str(offer.id)) in await audit_rows(deps)


async def test_the_language_choice_returns_to_the_offers_page(deps):
    async with signed_in(deps) as client:
        token = await page_token(client)
        data = {"csrf_token": token, "locale": "en", "next": "/offers"}
        async with client.post("/inbox/language", data=data, allow_redirects=False) as r:
            assert r.headers["Location"] == "/offers"
        async with client.get("/offers") as page:
            assert words.label("web.new_offer_heading", "en") in await page.text()
        data["next"] = "//evil.example/offers"
        async with client.post("/inbox/language", data=data, allow_redirects=False) as r:
            assert r.headers["Location"] == "/inbox"
