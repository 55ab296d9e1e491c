"""The alumni monitor: small and derivable cells hidden, charts as SVG, the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from bot.monitor.suppression import suppress
from handlers.graph import build_graph
from handlers.web import console_app
from storage.models import Checkin, CheckinAnswer, InboxConversation, SurveyResponse, Team
from tests.browser import served, sign_in
from tests.console_fixtures import (
    PASSWORD,
    people_deps,  # noqa: F401  (the deps fixture)
    signed_in,
)

K = 5


def test_small_cells_are_hidden_and_so_is_what_totals_would_give_away():
    cells = [
        [10, 3, 7],  # 3 < k; alone in its row, so the next smallest (7) goes too
        [12, 6, 9],
        [2, 1, 1],  # the row total (4) is below k: the whole row
    ]
    hidden, totals = suppress(cells, K)
    assert totals == [False, False, True]
    assert hidden[0][1] and hidden[0][2]  # the 3, and the 7 that would give it away
    assert hidden[2] == [True, True, True]
    # Column 0: its total (24) less 12 would give the 2 away: the 10 is hidden as well.
    assert hidden[0][0] and not hidden[1][0]
    # Every line with a hidden cell has at least two hidden cells.
    for line in [*hidden, *zip(*hidden, strict=True)]:
        assert sum(line) != 1


def test_a_table_without_small_cells_is_shown_whole():
    hidden, totals = suppress([[10, 5], [6, 8]], K)
    assert hidden == [[False, False], [False, False]] and totals == [False, False]


async def seed(
    deps,
    people: int,
    crebo: str,
    year: int,
    situation: str,
    start: int = 0,
    moment: str = "diploma",
):
    """``people`` graduates who answered the ``moment`` check-in with ``situation``."""
    from storage.models import Alumnus

    now = deps.clock.now()
    async with deps.storage.transaction() as tx:
        for n in range(start, start + people):
            alumnus = Alumnus(
                chat_id=10_000 + n,
                crebo=crebo,
                level=4,
                graduation_year=year,
                graduation_month=7,
                created_at=now,
                updated_at=now,
                last_seen_at=now,
                onboarded_at=now,
            )
            tx.session.add(alumnus)
            await tx.session.flush()
            assert alumnus.id is not None
            checkin = Checkin(
                alumnus_id=alumnus.id,
                moment=moment,
                due_at=now - timedelta(days=30),
                status="answered",
                asked_at=now - timedelta(days=30),
                answered_at=now,
                created_at=now,
                updated_at=now,
            )
            tx.session.add(checkin)
            await tx.session.flush()
            assert checkin.id is not None
            for question, value in (("situation", situation), ("again", "yes")):
                tx.session.add(
                    CheckinAnswer(
                        checkin_id=checkin.id,
                        alumnus_id=alumnus.id,
                        moment=moment,
                        question=question,
                        value=value,
                        answered_at=now,
                    )
                )


async def test_the_monitor_hides_small_groups_and_exports_csv(deps):
    await seed(deps, 8, "25180", 2025, "working")
    await seed(deps, 6, "25180", 2025, "studying", start=100)
    await seed(deps, 2, "25180", 2025, "looking", start=200)  # 2 people: hidden
    await seed(deps, 3, "25491", 2025, "working", start=300)  # a programme of 3: hidden
    now = deps.clock.now()
    async with deps.storage.transaction() as tx:
        team = (await tx.session.get(Team, 1)) or None
        assert team is not None
        for n in range(6):
            tx.session.add(
                InboxConversation(
                    alumnus_id=1 + n,
                    team_id=team.id,
                    topic="aftercare",
                    status="closed",
                    closed_at=now,
                    rating=4 if n % 2 else 5,
                    created_at=now,
                    updated_at=now,
                )
            )
        for n in range(5):
            tx.session.add(
                SurveyResponse(
                    id=f"{n:032d}",
                    survey="tevredenheid",
                    crebo="25180",
                    level=4,
                    cohort="2025",
                    answers={"prepared": 4, "recommend": 9 if n else 3, "bpv_why": f"tekst {n}"},
                    submitted_in="2026-06",
                )
            )
    async with signed_in(deps) as client:
        async with client.get("/monitor") as page:
            assert page.status == 200
            html = await page.text()
        assert 'id="table-situation"' in html and "&lt;5" in html
        assert "/monitor/chart/situation.svg" in html
        async with client.get("/monitor/chart/situation.svg") as chart:
            assert chart.status == 200
            assert chart.headers["Content-Type"].startswith("image/svg+xml")
            svg = await chart.text()
        assert svg.startswith("<svg") and "<script" not in svg and "file://" not in svg
        async with client.get("/monitor/chart/nothing.svg") as missing:
            assert missing.status == 404
        async with client.get("/monitor.csv") as export:
            assert export.status == 200
            rows = list(csv.DictReader(io.StringIO(await export.text())))
    situation = [r for r in rows if r["table"] == "situation"]
    values = {(r["row"], r["column"]): r["value"] for r in situation}
    # Row 1: the programme of 8+6+2 (16 shown); row 2: the programme of 3 (all hidden).
    assert values[("1", "Totaal")] == "16" and values[("1", "Zoekt werk")] == "<5"
    assert values[("2", "Werkt")] == "<5" and values[("2", "Totaal")] == "<5"
    # The 2 would follow from 16 minus the others, and the 3 from the column total 11
    # minus the 8: so the 6 and the 8 are hidden too. No line hides exactly one cell.
    assert values[("3", "Werkt")] == "11"
    assert values[("1", "Studeert")] == "<5" and values[("1", "Werkt")] == "<5"
    situations = ["Werkt", "Studeert", "Werkt en leert", "Zoekt werk", "Anders"]
    for row in ("1", "2"):
        assert sum(values[(row, c)] == "<5" for c in situations) != 1
    teams = {r["column"]: r["value"] for r in rows if r["table"] == "inbox"}
    assert teams["Beoordeeld"] == "6" and teams["Gemiddeld cijfer (1-5)"] == "4.5"
    survey = [r for r in rows if r["table"] == "survey:tevredenheid"]
    assert any(r["value"] == "60" for r in survey)  # NPS of 4 promoters, 1 detractor
    assert "tekst 3" in html  # free text of a group of k, without attributes


async def test_the_monitor_over_a_coordinator_account_is_readable(deps):
    async with signed_in(deps, "cor@school.example") as client:
        async with client.get("/monitor") as page:
            assert page.status == 200
            assert "Alumnimonitor" in await page.text()


async def test_an_empty_monitor_says_so_in_the_page_language_also_in_its_charts(deps):
    """No check-ins yet: the charts said "No data" (pygal's English) on a Dutch page."""
    async with signed_in(deps) as client:
        async with client.get("/monitor") as page:
            html = await page.text()
        assert "Nog geen gegevens voor deze tabel." in html
        for name in ("situation", "response"):
            async with client.get(f"/monitor/chart/{name}.svg") as chart:
                assert chart.status == 200
                svg = await chart.text()
            assert "No data" not in svg and "Nog geen gegevens" in svg


async def test_the_monitor_reads_well_in_a_browser(deps, page):
    """Charts with a colour per situation that tells them apart, each with its table."""
    start = 0
    for moment, mix in (
        ("diploma", {"working": 10, "studying": 8, "both": 5, "looking": 6, "other": 5}),
        ("m6", {"working": 14, "studying": 7, "both": 5, "looking": 5, "other": 5}),
    ):
        for situation, people in mix.items():
            await seed(deps, people, "25180", 2025, situation, start=start, moment=moment)
            start += people
    async with served(console_app(build_graph(deps))) as base:
        await sign_in(page, base, "ann@school.example", PASSWORD)
        await page.goto(base + "/monitor")
        # Both charts load as images, and each says in words what it shows.
        for name in ("situation", "response"):
            chart = page.locator(f'img[src="/monitor/chart/{name}.svg"]')
            assert await chart.evaluate("i => i.complete && i.naturalWidth > 0")
            assert (await chart.get_attribute("alt") or "").strip()
        await page.screenshot(path="/tmp/monitor-desktop.png", full_page=True)
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.goto(base + "/monitor")
        await page.screenshot(path="/tmp/monitor-mobile.png", full_page=True)
        # Nothing is wider than a phone's screen but the tables, which scroll in their box.
        wide = await page.evaluate(
            "() => document.documentElement.scrollWidth <= window.innerWidth"
        )
        assert wide
        drawn = await (
            await page.context.request.get(base + "/monitor/chart/situation.svg")
        ).text()
    # The five situations get five colours far enough apart to tell apart.
    colours = _series_colours(drawn)
    assert len(set(colours[:5])) == 5
    for n, a in enumerate(colours[:5]):
        for b in colours[n + 1 : 5]:
            assert _distance(a, b) > 60, (a, b)


def _series_colours(svg: str) -> list[str]:
    """The colours pygal gives its series, in order (its style block: .color-N)."""
    import re

    found = dict(
        re.findall(r"\.color-(\d+)[^{]*\{[^}]*?(?:fill|stroke|color):\s*(#[0-9a-fA-F]{6})", svg)
    )
    return [found[k].lower() for k in sorted(found, key=int)]


def _distance(a: str, b: str) -> float:
    """Euclidean distance of two #rrggbb colours (0-441)."""
    x = [int(a[i : i + 2], 16) for i in (1, 3, 5)]
    y = [int(b[i : i + 2], 16) for i in (1, 3, 5)]
    return sum((p - q) ** 2 for p, q in zip(x, y, strict=True)) ** 0.5


def test_the_csv_never_holds_a_formula():
    """A team or survey label that starts with = + - @ is written as text (CSV injection)."""
    from bot.monitor.service import MonitorService, Report, Table

    table = Table("inbox", ["team", "closed"], rows=[["=cmd|' /C calc'!A0", 7], ["-Team", None]])
    written = MonitorService.csv(None, Report(5, {"inbox": table}), lambda key: key)  # type: ignore[arg-type]
    lines = written.splitlines()
    assert "'=cmd|' /C calc'!A0" in lines[1] and lines[2].endswith(",7")
    assert "'-Team" in lines[3] and lines[4].endswith(",<5")
