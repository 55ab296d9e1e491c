"""The registry in the console: upload, check, confirm; class figures; downloads; matches."""

from __future__ import annotations

import io
import re

import pytest
from aiohttp import FormData
from openpyxl import load_workbook
from playwright.async_api import expect
from sqlalchemy import select

from bot.registry.service import ClassKey
from storage.models import AuditEvent, ConsentEvent, Graduate
from tests.browser import served
from tests.console_fixtures import (
    PASSWORD,
    add_people,
    console_deps,
    console_settings,
    csrf_in,
    signed_in,
)
from tests.registry_helpers import csv_bytes, person

BOT = "alumnibot_test_bot"
CLASS = ClassKey("25998", 4, 2025, 7)


@pytest.fixture
async def deps(database_url, clock):
    async with console_deps(console_settings(database_url, bot_username=BOT), clock) as built:
        await add_people(built)
        yield built


def upload(token: str, data: bytes, name: str = "export.csv", mapping: str = "") -> FormData:
    form = FormData()
    form.add_field("csrf_token", token)
    form.add_field("map", mapping)
    form.add_field("file", data, filename=name, content_type="text/csv")
    return form


async def page_token(client, path: str = "/registry") -> tuple[str, str]:
    async with client.get(path) as response:
        assert response.status == 200
        html = await response.text()
    return html, csrf_in(html)


async def graduates(deps) -> list[Graduate]:
    async with deps.storage.transaction() as tx:
        return list((await tx.session.execute(select(Graduate))).scalars())


async def test_upload_check_confirm_and_the_class_figures(deps):
    people = [person(n, date="2025-07-04") for n in range(6)]
    async with signed_in(deps, "cor@school.example") as client:
        html, token = await page_token(client)
        assert 'id="no-classes"' in html
        async with client.post(
            "/registry/check", data=upload(token, csv_bytes(people))
        ) as checked:
            assert checked.status == 200
            report = await checked.text()
        assert "Proefimport: er is niets veranderd." in report
        assert "6 rijen: 6 nieuw, 0 gewijzigd, 0 ongewijzigd" in report
        assert await graduates(deps) == []
        upload_id = re.search(r'name="upload" value="([^"]+)"', report)
        assert upload_id
        confirmed = await client.post(
            "/registry/import",
            data={"csrf_token": token, "upload": upload_id.group(1)},
            allow_redirects=False,
        )
        assert confirmed.status == 303 and confirmed.headers["Location"] == "/registry?imported=1"
        assert len(await graduates(deps)) == 6
        again = await client.post(
            "/registry/import", data={"csrf_token": token, "upload": upload_id.group(1)}
        )
        assert again.status == 409  # a checked upload is imported once

        # Invite the class: cards (PDF) and links (CSV); then link and consent two people.
        async with client.post(
            f"/registry/classes/{CLASS.code}/cards", data={"csrf_token": token}
        ) as cards:
            assert cards.status == 200 and cards.content_type == "application/pdf"
            assert (await cards.read()).startswith(b"%PDF")
        async with client.post(
            f"/registry/classes/{CLASS.code}/links", data={"csrf_token": token}
        ) as links:
            assert links.status == 200
            assert (await links.read()).decode("utf-8-sig").count("https://t.me/") == 6
        async with client.get(f"/registry/classes/{CLASS.code}/class-link.pdf") as sheet:
            assert sheet.status == 200 and (await sheet.read()).startswith(b"%PDF")
        now = deps.clock.now()
        async with deps.storage.transaction() as tx:
            for n, graduate in enumerate((await tx.registry.all())[:5]):
                alumnus = await tx.alumni.create(1000 + n, now)
                assert graduate.id and alumnus.id
                await tx.registry.link(graduate.id, alumnus.id, now)
                for purpose in ("aftercare", "llo") if n < 5 else ():
                    granted = purpose == "aftercare" or n < 2
                    tx.consents.record(
                        ConsentEvent(
                            alumnus_id=alumnus.id,
                            purpose=purpose,
                            granted=granted,
                            text_version="x",
                            locale="nl",
                            source="onboarding",
                            occurred_at=now,
                        )
                    )
        html, _ = await page_token(client)
        row = html[html.index(f'id="class-{CLASS.code}"') :]
        row = row[: row.index("</tr>")]
        assert '<td class="size">6</td>' in row and '<td class="invited">6</td>' in row
        assert '<td class="linked">5</td>' in row
        assert '<td class="consent-aftercare">5</td>' in row
        assert '<td class="consent-llo">&lt; 5</td>' in row  # small groups are not shown

        async with client.get("/registry/export.xlsx") as exported:
            assert exported.status == 200
            book = load_workbook(io.BytesIO(await exported.read())).active
            assert book is not None and book.max_row == 7
    async with deps.storage.transaction() as tx:
        actions = {e.action for e in (await tx.session.execute(select(AuditEvent))).scalars()}
    assert {"check:registry", "import:registry", "invite:cards", "invite:links"} <= actions
    assert "export:registry" in actions


async def test_a_broken_upload_lists_every_error_and_offers_no_import(deps):
    rows = [person(1, crebo="99999"), person(2, date="30-02-2026"), person(2)]
    async with signed_in(deps) as client:
        _, token = await page_token(client)
        async with client.post("/registry/check", data=upload(token, csv_bytes(rows))) as checked:
            assert checked.status == 422
            html = await checked.text()
    assert "Er is niets geïmporteerd: het bestand heeft 3 fouten." in html
    assert "Rij 2, crebo: crebo 99999 staat niet in de catalogus" in html
    assert "Rij 3, diplomadatum: geen bestaande datum (30-02-2026)" in html
    assert "Rij 4, studentnummer: dit studentnummer staat ook al in rij 3" in html
    assert 'id="confirm-form"' not in html
    assert await graduates(deps) == []


async def test_unreadable_files_missing_files_and_large_forms(deps):
    async with signed_in(deps) as client:
        _, token = await page_token(client)
        async with client.post("/registry/check", data=upload(token, b"%PDF", "x.pdf")) as refused:
            assert refused.status == 422
            assert "Gebruik .xlsx of .csv" in await refused.text()
        form = FormData({"csrf_token": token, "map": ""})
        async with client.post("/registry/check", data=form) as missing:
            assert missing.status == 422 and "Kies eerst een bestand" in await missing.text()
        big = csv_bytes([person(n) for n in range(2000)])
        assert len(big) > 64 * 1024
        async with client.post("/registry/check", data=upload(token, big)) as large:
            assert large.status == 200  # the upload may be as large as an export
        async with client.post(
            "/offers", data={"csrf_token": token, "title": "x" * 70_000}
        ) as other:
            assert other.status == 413  # every other form keeps its small limit
        forged = await client.post("/registry/check", data=upload("wrong", csv_bytes([person(1)])))
        assert forged.status == 403
    async with console_client_signed_out(deps) as anonymous:
        response = await anonymous.get("/registry", allow_redirects=False)
        assert response.status == 303 and response.headers["Location"] == "/inbox/login"


def console_client_signed_out(deps):
    from tests.console_fixtures import console_client

    return console_client(deps)


async def test_a_coordinator_decides_a_likely_match(deps):
    now = deps.clock.now()
    async with deps.storage.transaction() as tx:
        alumnus = await tx.alumni.create(77, now)
        alumnus.first_name, alumnus.crebo, alumnus.level = "Sanne1", "25998", 4
        alumnus.graduation_year, alumnus.onboarded_at = 2025, now
        tx.alumni.save(alumnus, now)
    async with signed_in(deps, "cor@school.example") as client:
        _, token = await page_token(client)
        rows = [person(1, date="2025-07-04")]
        async with client.post("/registry/check", data=upload(token, csv_bytes(rows))) as checked:
            upload_id = re.search(r'name="upload" value="([^"]+)"', await checked.text())
        assert upload_id
        await client.post(
            "/registry/import", data={"csrf_token": token, "upload": upload_id.group(1)}
        )
        html, _ = await page_token(client)
        assert "Sanne1 Jansen1 (100001)" in html
        graduate = re.search(r'name="graduate" value="(\d+)"', html)
        person_id = re.search(r'name="alumnus" value="(\d+)"', html)
        assert graduate and person_id
        bad = await client.post("/registry/matches", data={"csrf_token": token, "decision": "x"})
        assert bad.status == 400
        done = await client.post(
            "/registry/matches",
            data={
                "csrf_token": token,
                "graduate": graduate.group(1),
                "alumnus": person_id.group(1),
                "decision": "same",
            },
            allow_redirects=False,
        )
        assert done.status == 303
        html, _ = await page_token(client)
        assert 'id="no-matches"' in html
    [linked] = await graduates(deps)
    assert linked.alumnus_id == int(person_id.group(1))


async def test_upload_and_import_in_a_real_browser(deps, page, tmp_path):
    from handlers.graph import build_graph
    from handlers.web import console_app

    export = tmp_path / "export.csv"
    people = [person(n, first=f"Zoë{n}", date="2025-07-04") for n in range(4)]
    export.write_bytes(csv_bytes(people, encoding="cp1252"))
    async with served(console_app(build_graph(deps))) as url:
        await page.goto(url + "/inbox/login")
        await page.fill("#email", "ann@school.example")
        await page.fill("#password", PASSWORD)
        await page.click("button[type=submit]")
        await page.click("nav >> text=Register")
        await expect(page).to_have_url(url + "/registry")
        await expect(page.locator("#no-classes")).to_be_visible()
        await page.set_input_files("#file", str(export))
        await page.click("#check")
        await expect(page.locator("#report-summary")).to_have_text(
            "Proefimport: er is niets veranderd."
        )
        await expect(page.locator("#report-counts")).to_contain_text("4 nieuw")
        await expect(page.locator("#report-file")).to_contain_text("windows-1252")
        await expect(page.locator("#new li")).to_have_count(4)
        await page.click("#confirm")
        await expect(page.locator("#registry-imported")).to_be_visible()
        row = page.locator(f"#class-{CLASS.code}")
        await expect(row.locator(".size")).to_have_text("4")
        await expect(row.locator(".invited")).to_have_text("0")
        async with page.expect_download() as download_info:
            await row.locator("button.cards").click()
        download = await download_info.value
        assert download.suggested_filename == f"uitnodigingen-{CLASS.code}.pdf"
        await page.goto(url + "/registry")
        await expect(page.locator(f"#class-{CLASS.code} .invited")).to_have_text("4")
        await page.screenshot(path="/tmp/registry.png", full_page=True)
    assert len(await graduates(deps)) == 4
