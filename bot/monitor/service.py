"""The alumni monitor: counts of groups over time, with small cells hidden.

Per programme x cohort x moment: situation, works in own field, at own level or higher, would
choose again, check-in response rates; survey results; inbox satisfaction per team; graduates
helped from check-ins; LLO demand against offers sent and interest drawn. Every table hides
cells below k and cells derivable from totals (``bot.monitor.suppression``); words are looked
up by the page (``web.monitor_*``), so a table here carries keys and numbers only.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.aftercare.schedule import Schedule
from bot.core.deps import Deps
from bot.core.text import csv_cell
from bot.monitor.suppression import hidden_total, suppress
from bot.surveys.definition import Survey, load_surveys
from storage.repositories import Tx

SITUATIONS = ("working", "studying", "both", "looking", "other")
# One colour per situation, from the Okabe-Ito palette (told apart also with the common kinds
# of colour blindness); "other" is grey. pygal's default gives red and orange to the first
# and the fifth series, which read as one.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#8C8C8C")
# One page view asks for the page, two charts and maybe the CSV: they share one report, and
# the monitor is not a live view (check-ins and surveys change by the day).
CACHE = timedelta(seconds=60)
ASKED = ("asked", "answering", "reminded", "answered", "no_response")
Cell = int | float | str | None  # None: hidden (fewer than k, or derivable)


@dataclass
class Table:
    """One table of the monitor: header keys, rows of cells, an optional totals row."""

    key: str
    headers: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    totals: list[Cell] | None = None
    texts: dict[str, list[str]] = field(default_factory=dict)  # free text of large groups
    names: dict[str, str] = field(default_factory=dict)  # headers that are labels already
    title: str | None = None  # a title of its own (a survey's), else the key's words

    def header(self, key: str, words: Any) -> str:
        """A column's heading in the page's language."""
        return self.names.get(key) or words(f"monitor_h_{key}")


@dataclass
class Report:
    """Every table of the monitor, and the k it was made with."""

    k: int
    tables: dict[str, Table]


def _pct(part: int, whole: int, k: int) -> Cell:
    return round(100.0 * part / whole, 1) if whole >= k else None


class MonitorService:
    """Builds the monitor from counts; renders its charts and CSV."""

    def __init__(self, deps: Deps, schedule: Schedule) -> None:
        self.deps = deps
        self.moments = [m.code for m in schedule.moments]
        self.months = {m.code: m.months for m in schedule.moments}
        self.surveys: dict[str, Survey] = load_surveys(deps.settings.content_dir / "surveys")
        self._cache: dict[str, tuple[datetime, Report]] = {}

    @property
    def k(self) -> int:
        """The minimum group size."""
        return self.deps.settings.report_min_group

    def programme(self, crebo: str | None, locale: str) -> str:
        """A programme's name (its crebo code if the catalogue does not know it)."""
        found = self.deps.catalogue.programme(crebo)
        return found.label(locale) if found else (crebo or "?")

    def when(self, moment: str) -> Cell:
        """A moment as months after graduation (its code if the schedule no longer has it)."""
        return self.months.get(moment, moment)

    def _order(self, moment: str) -> int:
        return self.moments.index(moment) if moment in self.moments else len(self.moments)

    async def report(self, locale: str = "nl", *, fresh: bool = False) -> Report:
        """Every table; built at most once a minute per language (``fresh``: now)."""
        now = self.deps.clock.now()
        cached = self._cache.get(locale)
        if cached is not None and cached[0] > now and not fresh:
            return cached[1]
        report = await self._build(locale)
        self._cache[locale] = (now + CACHE, report)
        return report

    async def _build(self, locale: str) -> Report:
        """Build every table: one query per table, at once where the database can."""
        codes = [i.code for i in self.deps.catalogue.interests]
        queries: list[Callable[[Tx], Awaitable[Any]]] = [
            lambda tx: tx.monitor.answers(["situation", "field", "level", "again"]),
            lambda tx: tx.monitor.checkins(),
            lambda tx: tx.monitor.helped(),
            lambda tx: tx.monitor.team_ratings(),
            lambda tx: tx.monitor.interests(codes),
            lambda tx: tx.monitor.offers_reach(),
            lambda tx: tx.monitor.survey_responses(),
        ]
        storage = self.deps.storage

        async def run(query: Callable[[Tx], Awaitable[Any]]) -> Any:
            async with storage.transaction() as tx:
                return await query(tx)

        if storage.engine.dialect.name == "postgresql":
            # Independent counts: on their own connections they run side by side.
            found = await asyncio.gather(*(run(q) for q in queries))
        else:  # SQLite: one connection
            async with storage.transaction() as tx:
                found = [await q(tx) for q in queries]
        answers, checkins, helped, teams, interests, offers, responses = found
        tables = [
            *self._situations(answers, locale),
            self._outcomes(answers, locale),
            self._responses(checkins, locale),
            self._helped(helped, locale),
            self._teams(teams),
            *self._surveys(responses, locale),
            *self._demand(interests, offers, locale),
        ]
        return Report(self.k, {t.key: t for t in tables})

    # ------------------------------------------------------------------ check-ins

    def _situations(self, answers: Iterable[tuple[Any, ...]], locale: str) -> list[Table]:
        """Situation per programme x cohort x moment, and per moment (the chart's table)."""
        k = self.k
        by_group: dict[tuple[str, int, str], list[int]] = defaultdict(lambda: [0] * 5)
        by_moment: dict[str, list[int]] = defaultdict(lambda: [0] * 5)
        for crebo, year, moment, question, value, n in answers:
            if question == "situation" and value in SITUATIONS:
                by_group[(crebo or "", year or 0, moment)][SITUATIONS.index(value)] += n
                by_moment[moment][SITUATIONS.index(value)] += n
        tables = []
        for key, groups, labels in (
            (
                "situation",
                sorted(by_group.items(), key=lambda i: (i[0][0], i[0][1], self._order(i[0][2]))),
                ["programme", "cohort", "moment"],
            ),
            (
                "situation_by_moment",
                sorted(by_moment.items(), key=lambda i: self._order(i[0])),
                ["moment"],
            ),
        ):
            keys = [g for g, _ in groups]
            cells = [c for _, c in groups]
            table = Table(key, [*labels, *SITUATIONS, "total"])
            hidden, totals_hidden = suppress(cells, k) if cells else ([], [])
            for r, (group, counts) in enumerate(zip(keys, cells, strict=True)):
                shown: list[Cell] = [None if hidden[r][c] else n for c, n in enumerate(counts)]
                names: list[Cell] = (
                    [self.programme(group[0], locale), group[1] or None, self.when(group[2])]
                    if isinstance(group, tuple)
                    else [self.when(group)]
                )
                table.rows.append([*names, *shown, None if totals_hidden[r] else sum(counts)])
            column = [sum(c[i] for c in cells) for i in range(5)]
            grand = sum(column)
            table.totals = [
                *(["total"] + [None] * (len(labels) - 1)),
                *(None if hidden_total(n, k) else n for n in column),
                None if hidden_total(grand, k) else grand,
            ]
            tables.append(table)
        return tables

    def _outcomes(self, answers: Iterable[tuple[Any, ...]], locale: str) -> Table:
        """Works in own field, at own level or higher, would choose again: as percentages."""
        k = self.k
        groups: dict[tuple[str, int, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for crebo, year, moment, question, value, n in answers:
            counts = groups[(crebo or "", year or 0, moment)]
            counts[f"{question}:{value}"] += n
            counts[question] += n
        table = Table(
            "outcomes",
            [
                "programme",
                "cohort",
                "moment",
                "working",
                "own_field",
                "own_level",
                "again_n",
                "again_yes",
            ],
        )
        for (crebo, year, moment), c in sorted(
            groups.items(), key=lambda i: (i[0][0], i[0][1], self._order(i[0][2]))
        ):
            working = c["field"]
            table.rows.append(
                [
                    self.programme(crebo, locale),
                    year or None,
                    self.when(moment),
                    working if working >= k else None,
                    _pct(c["field:own"], working, k),
                    _pct(c["level:above"] + c["level:same"], c["level"], k),
                    c["again"] if c["again"] >= k else None,
                    _pct(c["again:yes"], c["again"], k),
                ]
            )
        return table

    def _responses(self, checkins: Iterable[tuple[Any, ...]], locale: str) -> Table:
        """Check-ins asked, answered, no response, and the response rate."""
        k = self.k
        groups: dict[tuple[str, int, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for crebo, year, moment, status, n in checkins:
            if status in ASKED:
                groups[(crebo or "", year or 0, moment)][status] += n
        table = Table(
            "response",
            ["programme", "cohort", "moment", "asked", "answered", "no_response", "rate"],
        )
        for (crebo, year, moment), c in sorted(
            groups.items(), key=lambda i: (i[0][0], i[0][1], self._order(i[0][2]))
        ):
            asked = sum(c.values())
            closed = c["answered"] + c["no_response"]
            visible = asked >= k
            answered, silent = c["answered"], c["no_response"]
            # Two parts of a total: hide both if either is small (the other is derivable).
            parts_ok = visible and not (0 < answered < k or 0 < silent < k)
            table.rows.append(
                [
                    self.programme(crebo, locale),
                    year or None,
                    self.when(moment),
                    asked if visible else None,
                    answered if parts_ok else None,
                    silent if parts_ok else None,
                    _pct(answered, closed, k) if visible else None,
                ]
            )
        return table

    def _helped(self, helped: Iterable[tuple[Any, ...]], locale: str) -> Table:
        """Conversations opened from check-ins per programme: closed, rated, mean rating."""
        k = self.k
        groups: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for crebo, status, rated, total, n in helped:
            g = groups[crebo or ""]
            g[0] += n
            g[1] += n if status == "closed" else 0
            g[2] += rated
            g[3] += total
        table = Table("helped", ["programme", "opened", "closed", "rated", "rating"])
        for crebo, (opened, closed, rated, total) in sorted(groups.items()):
            ok = opened >= k
            table.rows.append(
                [
                    self.programme(crebo, locale),
                    opened if ok else None,
                    closed if ok and not 0 < opened - closed < k else None,
                    rated if rated >= k else None,
                    round(total / rated, 2) if rated >= k else None,
                ]
            )
        return table

    def _teams(self, teams: Iterable[tuple[Any, ...]]) -> Table:
        """The one-tap satisfaction after a closed conversation, per team."""
        k = self.k
        table = Table("inbox", ["team", "closed", "rated", "rating"])
        for name, closed, rated, total in teams:
            table.rows.append(
                [
                    name,
                    closed if closed >= k else None,
                    rated if rated >= k else None,
                    round(total / rated, 2) if rated >= k else None,
                ]
            )
        return table

    # ------------------------------------------------------------------ surveys

    def _surveys(self, responses: Iterable[Any], locale: str) -> list[Table]:
        """Per survey and question: n, mean (scale), NPS, the most chosen option."""
        k = self.k
        by_survey: dict[str, list[Any]] = defaultdict(list)
        for response in responses:
            by_survey[response.survey].append(response)
        tables = []
        for code, found in sorted(by_survey.items()):
            survey = self.surveys.get(code)
            if survey is None:
                continue
            table = Table(
                f"survey:{code}",
                ["question", "group", "n", "result"],
                title=survey.titles.get(locale) or code,
            )
            groups: dict[str, list[Any]] = {"": found}
            for response in found:
                groups.setdefault(self.programme(response.crebo, locale), []).append(response)
            for q in survey.questions:
                for group, members in groups.items():
                    given = [
                        r.answers.get(q.id) for r in members if r.answers.get(q.id) is not None
                    ]
                    n = len(given)
                    result: Cell = None
                    if n >= k:
                        result = self._summary(q, given, locale)
                    if group and n < k:
                        continue  # a split too small is left out, not shown empty
                    table.rows.append(
                        [q.texts.get(locale) or q.id, group, n if n >= k else None, result]
                    )
                    if q.type == "text" and n >= k and not group:
                        table.texts[q.id] = sorted(str(t) for t in given)
            tables.append(table)
        return tables

    @staticmethod
    def _summary(q: Any, given: list[Any], locale: str) -> Cell:
        if q.type == "scale":
            return round(sum(int(v) for v in given) / len(given), 2)
        if q.type == "nps":
            promoters = sum(1 for v in given if int(v) >= 9)
            detractors = sum(1 for v in given if int(v) <= 6)
            return round(100.0 * (promoters - detractors) / len(given))
        if q.type in ("single", "multi"):
            counts: dict[str, int] = defaultdict(int)
            for value in given:
                for chosen in value if isinstance(value, list) else [value]:
                    counts[str(chosen)] += 1
            labels = {o.code: o.labels.get(locale) or o.code for o in q.options}
            return "; ".join(
                f"{labels.get(c, c)} {round(100.0 * n / len(given))}%"
                for c, n in sorted(counts.items(), key=lambda i: -i[1])
            )
        return len(given)

    # ------------------------------------------------------------------ LLO demand

    def _demand(
        self, interests: Iterable[tuple[str, Any, Any, int]], offers: Iterable[Any], locale: str
    ) -> list[Table]:
        """Interests per region (demand) and, per interest, LLO offers, sends and interest."""
        k = self.k
        catalogue = self.deps.catalogue
        regions = [r.code for r in catalogue.regions]
        matrix: dict[str, list[int]] = defaultdict(lambda: [0] * len(regions))
        by_sector: dict[tuple[str, str], int] = defaultdict(int)
        wanted: dict[str, int] = defaultdict(int)
        for interest, sector, region, n in interests:
            wanted[interest] += n
            by_sector[(interest, sector or "")] += n
            if region in regions:
                matrix[interest][regions.index(region)] += n
        names = sorted(matrix)
        cells = [matrix[i] for i in names]
        demand = Table(
            "demand",
            ["interest", *regions],
            names={r: catalogue.region_label(r, locale) or r for r in regions},
        )
        hidden, _totals_hidden = suppress(cells, k) if cells else ([], [])
        for r, interest in enumerate(names):
            item = catalogue.item("interest", interest)
            label = item.label(locale) if item else interest
            demand.rows.append(
                [label, *(None if hidden[r][c] else n for c, n in enumerate(cells[r]))]
            )
        supply: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for offer, sent, taps in offers:
            for interest in offer.interests or ["-"]:
                supply[interest][0] += 1
                supply[interest][1] += sent
                supply[interest][2] += taps
        llo = Table("llo", ["interest", "alumni", "offers", "sent", "interested"])
        for interest in sorted(set(wanted) | set(supply)):
            item = catalogue.item("interest", interest)
            offered, sent, taps = supply.get(interest, [0, 0, 0])
            llo.rows.append(
                [
                    item.label(locale) if item else interest,
                    wanted[interest] if wanted[interest] >= k else None,
                    offered,
                    sent if not 0 < sent < k else None,
                    taps if not 0 < taps < k else None,
                ]
            )
        return [demand, llo]

    # ------------------------------------------------------------------ output

    def csv(self, report: Report, words: Any) -> str:
        """Every table as CSV: table, row, column, value; hidden cells as "<k"."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["table", "row", "column", "value"])
        hidden = f"<{report.k}"
        for table in report.tables.values():
            lines = [*table.rows, *([table.totals] if table.totals else [])]
            for number, line in enumerate(lines, start=1):
                for header, cell in zip(table.headers, line, strict=True):
                    value = hidden if cell is None else cell
                    writer.writerow(
                        [table.key, number, csv_cell(table.header(header, words)), csv_cell(value)]
                    )
        return out.getvalue()

    def chart(self, report: Report, name: str, words: Any) -> str | None:
        """A chart as SVG (no scripts), drawn from the suppressed table it stands for."""
        pygal, Style = _pygal()  # noqa: N806 (a class)
        style = Style(
            font_family="system-ui, sans-serif",
            background="white",
            plot_background="white",
            no_data_font_size=28,  # the default (64) cuts off "Nog geen gegevens"
            colors=COLOURS,
        )
        config: dict[str, Any] = {
            "style": style,
            "js": [],  # no JavaScript from a CDN (or at all): a plain image
            "disable_xml_declaration": True,
            "width": 720,
            "height": 360,
            "print_values": False,
            "no_data_text": words("monitor_no_data"),  # pygal's own is English
        }
        if name == "situation":
            table = report.tables["situation_by_moment"]
            chart = pygal.StackedBar(**config, title=words("monitor_chart_situation"))
            chart.x_labels = [f"{r[0]} {words('monitor_months')}" for r in table.rows]
            for index, situation in enumerate(SITUATIONS, start=1):
                chart.add(words(f"monitor_h_{situation}"), [r[index] for r in table.rows])
            return _no_script(str(chart.render(is_unicode=True)))
        if name == "response":
            table = report.tables["response"]
            totals: dict[Any, list[int]] = defaultdict(lambda: [0, 0])
            for row in table.rows:
                if row[4] is not None and row[5] is not None:
                    totals[row[2]][0] += int(row[4])
                    totals[row[2]][1] += int(row[4]) + int(row[5])
            moments = sorted(totals, key=lambda m: (isinstance(m, str), str(m).zfill(4)))
            chart = pygal.Bar(
                **config,
                title=words("monitor_chart_response"),
                range=(0, 100),
                show_legend=False,  # one series: the title says what it is
            )
            chart.x_labels = [f"{m} {words('monitor_months')}" for m in moments]
            chart.add(
                words("monitor_h_rate"),
                [
                    round(100.0 * totals[m][0] / totals[m][1], 1)
                    if totals[m][1] >= self.k
                    else None
                    for m in moments
                ],
            )
            return _no_script(str(chart.render(is_unicode=True)))
        return None


def _pygal() -> tuple[Any, Any]:
    """Import pygal on first use, without the import hook it installs.

    pygal adds a legacy ``sys.meta_path`` finder for its map plugins (unused here); every later
    import then raises Python's ImportWarning about ``find_module``. It is taken out again.
    """
    import sys

    import pygal
    from pygal.style import Style

    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]
    return pygal, Style


def _no_script(svg: str) -> str:
    """Drop the config script pygal writes even without JavaScript files: a plain picture."""
    return re.sub(r"<script\b.*?</script>", "", svg, flags=re.S)
