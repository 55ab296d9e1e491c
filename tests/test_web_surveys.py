"""The console's surveys page: the list, a segment, the confirmation with its count, the send.

Console over HTTP on a real database (SQLite or PostgreSQL), as the campaign tests do.
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlmodel import col

from bot.surveys.console import shown_totals
from handlers.graph import build_graph
from handlers.web import console_app
from storage.models import (
    Alumnus,
    ConsentEvent,
    OutboxMessage,
    SurveyMark,
    SurveyResponse,
    SurveySend,
)
from tests.console_fixtures import (
    PASSWORD,
    csrf_in,
    log_in,
    people_deps,  # noqa: F401  (the deps fixture)
    signed_in,
)
from tests.offers_fixtures import audit_rows, field_errors, polite, words

CODE = "tevredenheid"
PATH = f"/surveys/{CODE}"
EXPECTED = re.compile(r'name="expected" value="(\d+)"')
FORM_KEY = re.compile(r'name="form_key" value="([^"]+)"')
# The segment of the tests: programme 25180, level 4, Utrecht, graduated 2020 to 2024.
SEGMENT = {
    "crebos": "25180",
    "levels": "4",
    "regions": "UT",
    "cohort_from": "2020",
    "cohort_to": "2024",
}


async def add_person(deps, chat_id: int, consents=(("surveys", True),), **profile) -> Alumnus:
    """An onboarded alumnus with these consent events, in order (the latest one counts)."""
    now = deps.clock.now()
    values = {"crebo": "25180", "level": 4, "region": "UT", "graduation_year": 2024, **profile}
    async with deps.storage.transaction() as tx:
        alumnus = await tx.alumni.create(chat_id, now)
        alumnus.onboarded_at = now
        alumnus.locale = "nl"
        for name, value in values.items():
            setattr(alumnus, name, value)
        tx.alumni.save(alumnus, now)
        await tx.session.flush()
        for purpose, granted in consents:
            tx.session.add(
                ConsentEvent(
                    alumnus_id=alumnus.id,
                    purpose=purpose,
                    granted=granted,
                    text_version="test",
                    locale="nl",
                    source="privacy",
                    occurred_at=now,
                )
            )
    return alumnus


async def the_school(deps) -> dict[str, Alumnus]:
    """Two alumni in the segment who may be asked, and seven who may not, each for a reason."""
    people = {
        "in": await add_person(deps, 2001),
        "in_2023": await add_person(deps, 2002, graduation_year=2023),
        "no_consent": await add_person(deps, 2003, consents=(("llo", True),)),
        "withdrew": await add_person(deps, 2004, consents=(("surveys", True), ("surveys", False))),
        "other_programme": await add_person(deps, 2005, crebo="25491"),
        "level_3": await add_person(deps, 2006, level=3),
        "other_region": await add_person(deps, 2007, region="NH"),
        "graduated_2019": await add_person(deps, 2008, graduation_year=2019),
        "responded": await add_person(deps, 2009),
    }
    responded = people["responded"].id
    assert responded is not None
    async with deps.storage.transaction() as tx:
        tx.session.add(SurveyMark(alumnus_id=responded, survey=CODE, responded_in="2026-05"))
    return people


async def outbox(deps) -> list[OutboxMessage]:
    async with deps.storage.transaction() as tx:
        result = await tx.session.execute(select(OutboxMessage).order_by(col(OutboxMessage.id)))
        return list(result.scalars())


async def sends(deps) -> list[SurveySend]:
    async with deps.storage.transaction() as tx:
        return list((await tx.session.execute(select(SurveySend))).scalars())


async def nothing_queued(deps) -> bool:
    return await outbox(deps) == [] and await sends(deps) == []


async def token_of(client: TestClient, path: str = "/surveys") -> str:
    async with client.get(path) as page:
        assert page.status == 200
        return csrf_in(await page.text())


async def post_survey(
    client: TestClient, path: str = PATH, **fields: str
) -> tuple[int, str, str | None]:
    async with client.post(path, data=fields, allow_redirects=False) as response:
        return response.status, await response.text(), response.headers.get("Location")


async def confirmation(client: TestClient, token: str, **segment: str) -> dict[str, str]:
    """Post the segment; return the confirmation page's form as its button would post it."""
    status, page, _ = await post_survey(client, csrf_token=token, **segment)
    assert status == 200 and 'id="confirm"' in page
    [expected] = EXPECTED.findall(page)
    [form_key] = FORM_KEY.findall(page)
    return {
        "csrf_token": token,
        **segment,
        "confirm": "yes",
        "expected": expected,
        "form_key": form_key,
    }


def count_on(page: str) -> int:
    match = re.search(r'<strong id="confirm-count">(\d+)</strong>', page)
    assert match, "no count on the confirmation page"
    return int(match.group(1))


def text_of(page: str) -> str:
    return html.unescape(page)


# ---------------------------------------------------------------------------- the list


async def test_the_menu_leads_to_the_list_in_dutch(deps):
    async with signed_in(deps) as client:
        async with client.get("/inbox") as inbox:
            assert '<a href="/surveys">Vragenlijsten</a>' in await inbox.text()
        async with client.get("/surveys") as response:
            page = text_of(await response.text())
    assert response.status == 200
    assert '<a href="/surveys" aria-current="page">Vragenlijsten</a>' in page
    assert '<h1 id="surveys-heading">Vragenlijsten</h1>' in page
    assert '<h2 class="survey-title">Hoe kijk je terug op je opleiding?</h2>' in page
    assert '<dd class="survey-questions">5</dd>' in page
    assert f'href="/surveys/{CODE}">Kies doelgroep en verstuur</a>' in page


async def test_the_list_and_the_form_speak_english(deps):
    async with signed_in(deps) as client:
        client.session.cookie_jar.update_cookies({"alumnibot_lang": "en"})
        async with client.get("/surveys") as response:
            listing = text_of(await response.text())
        async with client.get(PATH) as response:
            form = text_of(await response.text())
    assert '<a href="/surveys" aria-current="page">Surveys</a>' in listing
    assert "Looking back on your programme" in listing
    assert "Choose audience and send" in listing
    assert '<h1 id="survey-heading">Looking back on your programme</h1>' in form
    assert "How well did your programme prepare you" in form  # the questions, in English
    assert "Programme (crebo)" in form and "Check and send" in form
    # The menu marks the list's entry on a survey's own page too.
    assert '<a href="/surveys" aria-current="page">Surveys</a>' in form


def test_counts_that_would_tell_about_a_few_people_are_hidden():
    k = 5
    assert shown_totals(0, 0, k) == (0, 0)
    assert shown_totals(3, 0, k) == (None, None)  # a group below k: nothing at all
    assert shown_totals(6, 0, k) == (6, 0)
    assert shown_totals(6, 2, k) == (6, None)  # two responded
    assert shown_totals(9, 5, k) == (9, None)  # four did not: 5 would tell that
    assert shown_totals(10, 5, k) == (10, 5)
    assert shown_totals(10, 10, k) == (10, 10)


async def test_the_list_shows_totals_only_for_groups_of_at_least_k(deps):
    now = deps.clock.now()

    async def shown() -> tuple[str, str]:
        async with signed_in(deps) as client, client.get("/surveys") as response:
            page = await response.text()
        invited = re.search(r'<dd class="survey-invited">(.*?)</dd>', page, re.S)
        responded = re.search(r'<dd class="survey-responded">(.*?)</dd>', page, re.S)
        assert invited and responded
        return re.sub(r"<[^>]+>", "", invited.group(1)), re.sub(r"<[^>]+>", "", responded.group(1))

    async def add(send_targeted: int = 0, responses: int = 0) -> None:
        async with deps.storage.transaction() as tx:
            if send_targeted:
                tx.session.add(
                    SurveySend(survey=CODE, segment={}, targeted=send_targeted, created_at=now)
                )
            for _ in range(responses):
                tx.session.add(
                    SurveyResponse(
                        id=secrets.token_hex(16),
                        survey=CODE,
                        answers={},
                        submitted_in="2026-06",
                    )
                )

    assert await shown() == ("0", "0")
    await add(send_targeted=3)
    assert await shown() == ("verborgen", "verborgen")
    await add(send_targeted=4)  # 7 invited, none responded
    assert await shown() == ("7", "0")
    await add(responses=2)
    assert await shown() == ("7", "verborgen")
    await add(send_targeted=3, responses=3)  # 10 invited, 5 responded
    assert await shown() == ("10", "5")


# ---------------------------------------------------------------------------- sending


async def test_the_confirmation_counts_and_the_send_queues_exactly_the_segment(deps):
    people = await the_school(deps)
    async with signed_in(deps) as client:
        token = await token_of(client, PATH)
        status, page, _ = await post_survey(client, csrf_token=token, **SEGMENT)
        # Choosing never sends: the confirmation names the number and what was chosen.
        assert status == 200 and count_on(page) == 2
        shown = text_of(page)
        assert "Ja, verstuur naar 2 oud-studenten" in shown
        assert "Er is nog niets verstuurd" in shown
        assert "<dd>Kok (25180)</dd>" in shown and "<dd>4</dd>" in shown
        assert "<dd>Utrecht</dd>" in shown
        assert "<dd>2020</dd>" in shown and "<dd>2024</dd>" in shown
        assert await nothing_queued(deps)

        data = await confirmation(client, token, **SEGMENT)
        status, _, location = await post_survey(client, **data)
        assert status == 303 and location
        [send] = await sends(deps)
        assert location == f"{PATH}?sent={send.id}"
        async with client.get(location) as response:
            result = text_of(await response.text())
        assert "Verstuurd naar 2 oud-studenten." in result
        assert 'id="survey-sent" role="status"' in result
    rows = await outbox(deps)
    assert {r.alumnus_id for r in rows} == {people["in"].id, people["in_2023"].id}
    assert len(rows) == 2
    assert {r.purpose for r in rows} == {"surveys"}
    assert {r.dedupe_key for r in rows} == {
        f"survey:{CODE}:{people['in'].id}",
        f"survey:{CODE}:{people['in_2023'].id}",
    }
    assert all(r.payload == {"kind": "survey", "send": send.id} for r in rows)
    assert send.targeted == 2 and send.form_key == data["form_key"]
    assert ("send:survey", str(send.id)) in await audit_rows(deps)


async def test_the_result_uses_the_right_plural_in_both_languages(deps):
    await add_person(deps, 3001)
    async with signed_in(deps) as client:
        client.session.cookie_jar.update_cookies({"alumnibot_lang": "en"})
        token = await token_of(client, PATH)
        data = await confirmation(client, token)
        _, _, location = await post_survey(client, **data)
        assert location
        async with client.get(location) as response:
            assert "Sent to 1 alumnus." in text_of(await response.text())
        client.session.cookie_jar.update_cookies({"alumnibot_lang": "nl"})
        async with client.get(location) as response:
            assert "Verstuurd naar 1 oud-student." in text_of(await response.text())


async def test_the_same_confirmed_form_posted_twice_sends_once(deps):
    await the_school(deps)
    async with signed_in(deps) as client:
        token = await token_of(client, PATH)
        data = await confirmation(client, token, **SEGMENT)
        first = await post_survey(client, **data)
        again = await post_survey(client, **data)  # a reload, or the back button and again
        assert first[0] == again[0] == 303 and first[2] == again[2]
        # A double click: two posts of one form at the same moment.
        data = await confirmation(client, token)
        both = await asyncio.gather(post_survey(client, **data), post_survey(client, **data))
        assert [b[0] for b in both] == [303, 303] and both[0][2] == both[1][2]
    all_sends = await sends(deps)
    assert len(all_sends) == 2
    # Everyone once: the second form reached those the first left out, nobody twice.
    keys = [r.dedupe_key for r in await outbox(deps)]
    assert len(keys) == len(set(keys)) == 6
    assert sorted(s.targeted for s in all_sends) == [2, 4]
    assert [a for a, _ in await audit_rows(deps) if a == "send:survey"] == ["send:survey"] * 2


async def test_whom_the_survey_reached_is_not_counted_again(deps):
    await the_school(deps)
    async with signed_in(deps) as client:
        token = await token_of(client, PATH)
        data = await confirmation(client, token, **SEGMENT)
        await post_survey(client, **data)
        # The same segment again: nobody left, and no button to send to nobody.
        status, page, _ = await post_survey(client, csrf_token=token, **SEGMENT)
        assert status == 200 and count_on(page) == 0
        assert 'id="confirm-nobody"' in page and 'id="confirm-send"' not in page
        # A confirmed "0" (a tampered or old form) sends nothing either.
        fresh = {**data, "expected": "0", "form_key": "A" * 22}
        status, page, _ = await post_survey(client, **fresh)
        assert status == 200 and 'id="confirm-nobody"' in page
    assert len(await sends(deps)) == 1


async def test_a_changed_number_shows_the_confirmation_again(deps):
    await the_school(deps)
    async with signed_in(deps) as client:
        token = await token_of(client, PATH)
        data = await confirmation(client, token, **SEGMENT)
        await add_person(deps, 2100, graduation_year=2021)  # joins the segment meanwhile
        status, page, _ = await post_survey(client, **data)
        assert status == 200 and 'id="confirm-changed"' in page and count_on(page) == 3
        assert await nothing_queued(deps)
        # The shown page carries the new number: confirmed, it sends.
        [expected] = EXPECTED.findall(page)
        status, _, _ = await post_survey(client, **{**data, "expected": expected})
        assert status == 303
    assert len(await outbox(deps)) == 3


async def test_back_returns_to_the_form_with_the_segment_as_chosen(deps):
    async with signed_in(deps) as client:
        token = await token_of(client, PATH)
        data = await confirmation(client, token, **SEGMENT)
        del data["confirm"]
        status, page, _ = await post_survey(client, **data, back="1")
    assert status == 200 and 'id="survey-form"' in page
    assert '<option value="25180" selected>' in page
    assert '<input type="checkbox" name="levels" value="4" checked>' in page
    assert '<option value="UT" selected>' in page
    assert 'value="2020"' in page and 'value="2024"' in page
    assert await nothing_queued(deps)


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"crebos": "99999"}, "crebos", "web.filter_error_crebos"),
        ({"crebos": "25180, <b>x</b>"}, "crebos", "web.filter_error_crebos"),
        ({"regions": "Atlantis"}, "regions", "web.filter_error_regions"),
        ({"levels": "7"}, "levels", "web.filter_error_levels"),
        ({"levels": "vier"}, "levels", "web.filter_error_levels"),
        (
            {"cohort_from": "2025", "cohort_to": "2020"},
            "cohort_to",
            "web.filter_error_cohort_order",
        ),
        ({"cohort_from": "twintig"}, "cohort_from", "web.filter_error_cohort"),
        ({"cohort_to": "1800"}, "cohort_to", "web.filter_error_cohort"),
    ],
)
async def test_a_wrong_segment_is_named_at_its_field_and_nothing_is_sent(
    deps, fields, field, reason
):
    await the_school(deps)
    async with signed_in(deps) as client:
        token = await token_of(client, PATH)
        for step in ({}, {"confirm": "yes", "expected": "2", "form_key": "B" * 22}):
            status, page, _ = await post_survey(client, csrf_token=token, **fields, **step)
            assert status == 422
            assert 'id="survey-errors" role="alert"' in page
            assert field_errors(page)[field] == polite(reason)
            assert "<b>x</b>" not in page
    assert await nothing_queued(deps)


async def test_the_wrong_segment_is_named_in_english_too(deps):
    async with signed_in(deps) as client:
        client.session.cookie_jar.update_cookies({"alumnibot_lang": "en"})
        token = await token_of(client, PATH)
        status, page, _ = await post_survey(client, csrf_token=token, regions="XX")
    assert status == 422
    assert words.label("web.survey_not_sent", "en") in text_of(page)
    assert field_errors(page)["regions"] == polite("web.filter_error_regions", "en")


async def test_an_unknown_survey_gets_the_list_with_a_message(deps):
    await the_school(deps)
    async with signed_in(deps) as client:
        token = await token_of(client)
        for method, path in (("GET", "/surveys/onbekend"), ("POST", "/surveys/onbekend")):
            data = {"csrf_token": token, "confirm": "yes", "expected": "2", **SEGMENT}
            async with client.request(method, path, data=data if method == "POST" else None) as r:
                page = text_of(await r.text())
            assert r.status == 404, method
            assert 'id="survey-unknown" role="alert"' in page
            assert words.label("web.survey_unknown", "nl") in page
            assert 'id="surveys"' in page  # the list to choose from
        client.session.cookie_jar.update_cookies({"alumnibot_lang": "en"})
        async with client.get("/surveys/onbekend") as r:
            assert words.label("web.survey_unknown", "en") in text_of(await r.text())
        # Not even a survey's address: the console's own "not found" page.
        async with client.get("/surveys/..%2Fetc") as r:
            assert r.status == 404
    assert await nothing_queued(deps)


@pytest.mark.parametrize(
    "tamper",
    [
        {"form_key": None},  # the one-time key left out
        {"form_key": "x"},
        {"form_key": "<script>alert(1)</script>"},
        {"form_key": "C" * 23},
    ],
)
async def test_a_tampered_confirmation_sends_nothing(deps, tamper):
    await the_school(deps)
    async with signed_in(deps) as client:
        token = await token_of(client, PATH)
        data = await confirmation(client, token, **SEGMENT)
        for name, value in tamper.items():
            if value is None:
                del data[name]
            else:
                data[name] = value
        status, page, _ = await post_survey(client, **data)
    assert status == 422
    assert 'id="survey-stale" role="alert"' in page
    assert words.label("web.survey_stale", "nl") in text_of(page)
    assert "<script>alert" not in page
    assert await nothing_queued(deps)


async def test_a_key_of_another_surveys_send_is_refused(deps):
    await the_school(deps)
    async with deps.storage.transaction() as tx:
        tx.session.add(
            SurveySend(survey="other", segment={}, created_at=deps.clock.now(), form_key="D" * 22)
        )
    async with signed_in(deps) as client:
        token = await token_of(client, PATH)
        data = {**await confirmation(client, token, **SEGMENT), "form_key": "D" * 22}
        status, page, _ = await post_survey(client, **data)
    assert status == 422 and 'id="survey-stale"' in page
    assert await outbox(deps) == []


async def test_a_changed_expected_number_only_shows_the_confirmation(deps):
    await the_school(deps)
    async with signed_in(deps) as client:
        token = await token_of(client, PATH)
        data = {**await confirmation(client, token, **SEGMENT), "expected": "two"}
        status, page, _ = await post_survey(client, **data)
    assert status == 200 and 'id="confirm-changed"' in page
    assert await nothing_queued(deps)


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
async def test_without_the_csrf_token_nothing_is_sent(deps, token):
    await the_school(deps)
    async with signed_in(deps) as client:
        data = await confirmation(client, await token_of(client, PATH), **SEGMENT)
        if token is None:
            del data["csrf_token"]
        else:
            data["csrf_token"] = token
        status, page, _ = await post_survey(client, **data)
    assert status == 403
    assert words.label("web.forbidden_text", "nl") in text_of(page)
    assert await nothing_queued(deps)


async def test_signed_out_visitors_go_to_the_login_form(deps):
    async with signed_in(deps) as client:
        await client.post("/inbox/logout", data={"csrf_token": await token_of(client)})
        for path in ("/surveys", PATH):
            async with client.get(path, allow_redirects=False) as response:
                assert response.status == 303
                assert response.headers["Location"] == "/inbox/login"


# ---------------------------------------------------------------------------- who may send


@asynccontextmanager
async def console_with_team(deps, team: str | None) -> AsyncIterator[TestClient]:
    """A console whose survey names ``team`` (as ``team:`` in its file would)."""
    graph = build_graph(deps)
    surveys = graph.surveys.surveys
    surveys[CODE] = dataclasses.replace(surveys[CODE], team=team)
    async with TestClient(TestServer(console_app(graph))) as client:
        yield client


async def test_a_coordinator_sends_only_a_survey_of_their_own_team(deps):
    await the_school(deps)
    async with console_with_team(deps, None) as client:
        assert (await log_in(client, "cor@school.example", PASSWORD)).status == 303
        async with client.get("/surveys") as response:
            listing = text_of(await response.text())
        assert "Alleen een beheerder kan deze vragenlijst versturen." in listing
        assert "Kies doelgroep en verstuur" not in listing
        async with client.get(PATH) as response:
            page = text_of(await response.text())
        assert 'id="survey-not-yours"' in page and 'id="survey-form"' not in page
        token = csrf_in(page)
        data = {"csrf_token": token, **SEGMENT, "confirm": "yes", "expected": "2"}
        status, forbidden, _ = await post_survey(client, **data, form_key="E" * 22)
        assert status == 403 and "Geen toegang" in forbidden
    assert await nothing_queued(deps)
    assert ("refused:survey", CODE) in await audit_rows(deps)

    async with console_with_team(deps, "nazorg") as client:
        assert (await log_in(client, "cor@school.example", PASSWORD)).status == 303
        token = await token_of(client, PATH)
        data = await confirmation(client, token, **SEGMENT)
        status, _, location = await post_survey(client, **data)
        assert status == 303 and location
    assert len(await outbox(deps)) == 2

    async with console_with_team(deps, "llo") as client:  # Ann's team, not Cor's
        assert (await log_in(client, "cor@school.example", PASSWORD)).status == 303
        async with client.get("/surveys") as response:
            listing = text_of(await response.text())
        assert "Alleen een beheerder of een coördinator van team llo" in listing


async def test_an_admin_sends_every_survey(deps):
    await the_school(deps)
    async with console_with_team(deps, "nazorg") as client:  # not one of Ann's teams
        assert (await log_in(client, "ann@school.example", PASSWORD)).status == 303
        token = await token_of(client, PATH)
        data = await confirmation(client, token, **SEGMENT)
        status, _, _ = await post_survey(client, **data)
    assert status == 303
    async with deps.storage.transaction() as tx:
        count = await tx.session.execute(select(func.count()).select_from(OutboxMessage))
        assert count.scalar_one() == 2
