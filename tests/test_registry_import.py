"""Importing the school's export: all or nothing, every error listed, re-imports diffed."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.registry.importer import ImportFileError
from handlers import jobs
from handlers.cli.common import EXIT_OK, EXIT_REFUSED
from storage.models import Graduate
from tests.cli import in_process
from tests.registry_helpers import (
    ENGLISH_HEADERS,
    csv_bytes,
    person,
    registry_graph,
    registry_settings,
    xlsx_bytes,
)


@pytest.fixture
async def graph(database_url, clock):
    async with registry_graph(registry_settings(database_url), clock) as built:
        yield built


async def count(graph) -> int:
    async with graph.deps.storage.transaction() as tx:
        return int(
            (await tx.session.execute(select(func.count()).select_from(Graduate))).scalar_one()
        )


async def records(graph) -> dict[str, Graduate]:
    async with graph.deps.storage.transaction() as tx:
        return {g.student_number: g for g in await tx.registry.all()}


async def test_a_good_xlsx_imports_every_row_after_a_dry_run(graph):
    data = xlsx_bytes([person(1), person(2, infix="van der", date="03-07-2026"), person(3)])
    dry = await graph.registry.import_file("export.xlsx", data)
    assert dry.ok and not dry.applied and len(dry.new) == 3
    assert await count(graph) == 0

    report = await graph.registry.import_file("export.xlsx", data, dry_run=False)
    assert report.applied and len(report.new) == 3
    stored = await records(graph)
    second = stored["100002"]
    assert (second.first_name, second.last_name) == ("Sanne2", "van der Jansen2")
    assert (second.crebo, second.level, second.track) == ("25998", 4, "BOL")
    assert second.location == "centrum"
    assert second.graduation_date == date(2026, 7, 3)
    assert second.alumnus_id is None


async def test_a_csv_in_english_with_commas_imports(graph):
    rows = [person(1, level="niveau 4", track="bbl", location="centrum"), person(2)]
    data = csv_bytes(rows, headers=ENGLISH_HEADERS, delimiter=",")
    report = await graph.registry.import_file("export.csv", data, dry_run=False)
    assert report.ok and report.delimiter == "," and report.encoding == "utf-8"
    assert (await records(graph))["100001"].track == "BBL"


@pytest.mark.parametrize(
    ("delimiter", "encoding", "bom"),
    [(";", "cp1252", False), ("\t", "utf-8", True), ("|", "utf-8", False), (",", "cp1252", False)],
)
async def test_odd_encodings_and_delimiters_are_detected(graph, delimiter, encoding, bom):
    rows = [person(1, first="Zoë", last="Çelik"), person(2, first="Daniël", infix="’t")]
    data = csv_bytes(rows, delimiter=delimiter, encoding=encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    report = await graph.registry.import_file("export.csv", data, dry_run=False)
    assert report.ok, report.errors
    assert report.delimiter == delimiter
    assert report.encoding == ("windows-1252" if encoding == "cp1252" else "utf-8")
    stored = await records(graph)
    assert stored["100001"].first_name == "Zoë"
    assert stored["100001"].last_name == "Çelik"
    assert stored["100002"].last_name == "’t Jansen2"


async def test_a_broken_file_imports_nothing_and_lists_every_error(graph):
    rows = [
        person(1),
        person(2, crebo="99999"),  # unknown crebo
        person(3, date="31-02-2026"),  # impossible date
        person(4, level="7", track="deeltijd"),  # two bad fields in one row
        person(5, location="Maan"),
        person(6, email="geen-mail"),
        person(7, first=""),
        person(8, date="1899-01-01"),
        person(1),  # duplicate of row 2
    ]
    rows[6][0] = ""  # no student number
    report = await graph.registry.import_file("export.csv", csv_bytes(rows), dry_run=False)
    assert not report.ok and not report.applied
    found = {(e.row, e.field, e.reason) for e in report.errors}
    assert found == {
        (3, "crebo", "crebo_unknown"),
        (4, "graduation_date", "date_invalid"),
        (5, "level", "level_invalid"),
        (5, "track", "track_invalid"),
        (6, "location", "location_unknown"),
        (7, "email", "email_invalid"),
        (8, "student_number", "missing"),
        (8, "first_name", "missing"),
        (9, "graduation_date", "date_out_of_range"),
        (10, "student_number", "duplicate"),
    }
    duplicate = next(e for e in report.errors if e.reason == "duplicate")
    assert duplicate.value == "2"  # the row it repeats
    assert await count(graph) == 0


async def test_a_level_the_programme_does_not_offer_is_an_error(graph):
    report = await graph.registry.import_file("x.csv", csv_bytes([person(1, level="2")]))
    assert [(e.field, e.reason) for e in report.errors] == [("level", "level_not_offered")]


async def test_missing_columns_and_the_map_option(graph):
    headers = [
        "Stamnummer",
        "Roepnaam",
        "Achternaam",
        "Crebo",
        "Niveau",
        "Leerweg",
        "Locatie",
        "Einde",
    ]
    row = ["777", "Noor", "Bakker", "25998", "4", "BOL", "noord", "2025-06-30"]
    data = csv_bytes([row], headers=headers)
    with pytest.raises(ImportFileError) as missing:
        await graph.registry.import_file("x.csv", data)
    assert missing.value.reason == "columns_missing"
    assert "student_number" in str(missing.value.ctx["fields"])
    report = await graph.registry.import_file(
        "x.csv",
        data,
        mapping={"Stamnummer": "student_number", "Einde": "graduation_date"},
        dry_run=False,
    )
    assert report.ok and (await records(graph))["777"].location == "noord"
    with pytest.raises(ImportFileError) as unknown:
        await graph.registry.import_file("x.csv", data, mapping={"Stamnummer": "studentnummer"})
    assert unknown.value.reason == "map_unknown_field"


async def test_unreadable_files_are_refused_whole(graph):
    for name, data, reason in [
        ("x.pdf", b"%PDF-1.4", "file_kind"),
        ("x.xlsx", b"PK\x03\x04 not really a zip", "file_unreadable"),
        ("x.csv", b"", "file_empty"),
        ("x.csv", b"Studentnummer;Voornaam\n", "columns_missing"),
    ]:
        with pytest.raises(ImportFileError) as refused:
            await graph.registry.import_file(name, data)
        assert refused.value.reason == reason, name


async def test_a_reimport_reports_new_updated_unchanged_and_no_longer_present(graph, clock):
    first = [person(1), person(2), person(3)]
    await graph.registry.import_file("june.xlsx", xlsx_bytes(first), dry_run=False)
    clock.advance(timedelta(days=30))
    second = [person(1), person(2, crebo="25604", date="2026-08-01"), person(4)]
    dry = await graph.registry.import_file("july.xlsx", xlsx_bytes(second))
    assert [r.student_number for r in dry.new] == ["100004"]
    assert [(r.student_number, f) for r, f in dry.updated] == [
        ("100002", ["crebo", "graduation_date"])
    ]
    assert dry.unchanged == 1 and dry.missing == ["100003"]
    assert (await records(graph))["100002"].crebo == "25998"  # a dry run changes nothing

    report = await graph.registry.import_file("july.xlsx", xlsx_bytes(second), dry_run=False)
    assert report.applied
    stored = await records(graph)
    assert stored["100002"].crebo == "25604"
    assert stored["100003"].seen_at < stored["100001"].seen_at  # kept, but not seen again
    again = await graph.registry.import_file("july.xlsx", xlsx_bytes(second))
    assert again.unchanged == 3 and not again.new and not again.updated


async def test_twenty_thousand_rows(graph):
    rows = [person(n) for n in range(20_000)]
    started = time.perf_counter()
    report = await graph.registry.import_file("big.csv", csv_bytes(rows), dry_run=False)
    elapsed = time.perf_counter() - started
    assert report.ok and len(report.new) == 20_000
    assert await count(graph) == 20_000
    assert elapsed < 60  # the benchmark holds the real bar (10 s); this only catches a blow-up
    again = await graph.registry.import_file("big.csv", csv_bytes(rows), dry_run=False)
    assert again.unchanged == 20_000


async def test_unlinked_records_are_purged_after_the_retention_period(graph, clock):
    await graph.registry.import_file("x.csv", csv_bytes([person(1), person(2)]), dry_run=False)
    clock.advance(timedelta(days=700))
    await graph.registry.import_file("x.csv", csv_bytes([person(2)]), dry_run=False)
    assert await graph.registry.purge() == 0
    clock.advance(timedelta(days=40))  # person 1 last seen 740 days ago
    assert await graph.registry.purge() == 1
    assert set(await records(graph)) == {"100002"}


async def test_the_hourly_retention_job_purges_the_registry_too(graph, clock):
    """The purge is not only a command: the bot's retention job runs it."""
    await graph.registry.import_file("x.csv", csv_bytes([person(1)]), dry_run=False)
    clock.advance(timedelta(days=740))
    await jobs.purge_retention(SimpleNamespace(deps=graph.deps, graph=graph))  # type: ignore[arg-type]
    assert not await records(graph)


# ---------------------------------------------------------------------------- the CLI


def cli(database_url: str, *args: str, locale: str = "nl"):
    """Run `alumnibot graduates ARGS...` against the test database."""
    return in_process(registry_settings(database_url), "graduates", *args, locale=locale)


def test_cli_import_dry_run_import_export_and_purge(database_url, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    export = tmp_path / "export.csv"
    export.write_bytes(csv_bytes([person(1, first="Zoë"), person(2)], encoding="cp1252"))
    dry = cli(database_url, "import", str(export), "--dry-run")
    assert dry.exit_code == EXIT_OK, dry.output
    assert "Proefimport: er is niets veranderd." in dry.stdout
    assert (
        "2 rijen: 2 nieuw, 0 gewijzigd, 0 ongewijzigd, 0 niet meer in het bestand." in dry.stdout
    )
    assert "windows-1252, scheidingsteken puntkomma" in dry.stdout
    assert "Nieuw\n  100001 Zoë" in dry.stdout

    done = cli(database_url, "import", str(export), locale="en")  # alumnibot --lang en ...
    assert done.exit_code == EXIT_OK and "Import done: the changes are saved." in done.stdout
    assert "2 rows: 0 new, 0 updated, 2 unchanged" not in done.stdout  # the dry run saved none

    target = tmp_path / "registry.xlsx"
    exported = cli(database_url, "export", str(target))
    assert exported.exit_code == EXIT_OK
    assert f"2 records geschreven naar {target}." in exported.stdout
    sheet = load_workbook(target).active
    assert sheet is not None
    assert [c.value for c in sheet[1]][:3] == ["studentnummer", "voornaam", "achternaam"]
    again = cli(database_url, "import", str(target), "--dry-run")
    assert "0 nieuw, 0 gewijzigd, 2 ongewijzigd" in again.stdout, again.output

    purged = cli(database_url, "purge")
    assert purged.exit_code == EXIT_OK and "0 records verwijderd" in purged.stdout
    assert "langer dan 730 dagen" in purged.stdout
    english = cli(database_url, "purge", locale="en")
    assert "0 records deleted that nobody linked" in english.stdout


def test_cli_refuses_a_broken_file_with_exit_code_1(database_url, tmp_path: Path):
    export = tmp_path / "export.csv"
    export.write_bytes(csv_bytes([person(1, crebo="12345"), person(1)]))
    result = cli(database_url, "import", str(export))
    assert result.exit_code == EXIT_REFUSED
    assert "Rij 2, crebo: crebo 12345 staat niet in de catalogus" in result.stdout
    assert "Rij 3, studentnummer: dit studentnummer staat ook al in rij 2" in result.stdout
    assert "Er is niets geïmporteerd: het bestand heeft 2 fouten." in result.stderr
    missing = tmp_path / "kolommen.csv"
    missing.write_bytes(b"Naam;Klas\nA;B\n")
    refused = cli(database_url, "import", str(missing), "--map", "Naam=voornaam")
    assert refused.exit_code == EXIT_REFUSED
    assert "Onbekend veld in --map: voornaam." in refused.stderr
    english = cli(database_url, "import", str(missing), "--map", "Naam", locale="en")
    assert english.exit_code == EXIT_REFUSED
    assert 'Write --map as "Header=field", not "Naam".' in english.stderr
    absent = cli(database_url, "import", str(tmp_path / "nergens.csv"))
    assert absent.exit_code == EXIT_REFUSED
    assert f"Het bestand {tmp_path / 'nergens.csv'} bestaat niet." in absent.stderr


def test_cli_counts_one_row_in_the_singular(database_url, tmp_path: Path):
    export = tmp_path / "een.csv"
    export.write_bytes(csv_bytes([person(1)]))
    assert "\n1 rij: 1 nieuw," in cli(database_url, "import", str(export), "--dry-run").stdout
    english = cli(database_url, "import", str(export), "--dry-run", locale="en")
    assert "\n1 row: 1 new," in english.stdout


def test_cli_help_is_in_the_chosen_language(database_url):
    dutch = cli(database_url, "import", "--help")
    assert dutch.exit_code == EXIT_OK and "Elke rij wordt gecontroleerd" in dutch.stdout
    assert "student_number, first_name" in dutch.stdout  # the fields --map can name
    english = cli(database_url, "--help", locale="en")
    assert "The graduate registry" in english.stdout and "invite" in english.stdout


async def test_an_xlsx_with_number_and_date_cells_as_spreadsheets_hold_them(graph):
    from datetime import datetime as moment

    rows = [
        [
            100001,
            "Sanne",
            "",
            "Jansen",
            None,
            "Software developer",
            25998,
            4,
            "BOL",
            "Noord",
            moment(2025, 7, 4),  # noqa: DTZ001 (a spreadsheet cell has no time zone)
        ],
        [
            100002,
            "Daan",
            "de",
            "Vries",
            "",
            None,
            "25998",
            4.0,
            "bbl",
            "centrum",
            date(2026, 1, 31),
        ],
    ]
    report = await graph.registry.import_file("export.xlsx", xlsx_bytes(rows), dry_run=False)
    assert report.ok, report.errors
    stored = await records(graph)
    assert stored["100001"].graduation_date == date(2025, 7, 4)
    assert stored["100002"].last_name == "de Vries" and stored["100002"].level == 4


async def test_a_name_that_looks_like_a_formula_stays_text_in_every_export(graph):
    """A spreadsheet runs a cell starting with = + - @ as a formula (CSV injection)."""
    from io import BytesIO

    from bot.core.text import csv_cell
    from bot.registry.documents import invitations_csv

    formula = '=HYPERLINK("http://evil.example","klik")'
    rows = [person(1, first=formula, last="@SUM(A1)"), person(2)]
    report = await graph.registry.import_file("export.csv", csv_bytes(rows), dry_run=False)
    assert report.applied, report
    stored = await records(graph)
    assert stored["100001"].first_name == formula  # kept as given

    data = await graph.registry.export_xlsx("nl")
    sheet = load_workbook(BytesIO(data)).active
    assert sheet is not None
    cells = [c for row in sheet.iter_rows() for c in row if c.value == formula]
    assert cells and all(c.data_type == "s" for c in cells)  # text, not a formula
    again = await graph.registry.import_file("export.xlsx", data)
    assert again.ok and again.unchanged == 2  # and it imports back unchanged

    text = invitations_csv([[formula, "@SUM(A1)", "-1", "https://t.me/x"]], ["a", "b", "c", "d"])
    line = text.decode("utf-8-sig").splitlines()[1]
    assert line.startswith("\"'=HYPERLINK") and ";'@SUM(A1);'-1;https://t.me/x" in line
    assert csv_cell(5) == 5 and csv_cell("Kok") == "Kok"
