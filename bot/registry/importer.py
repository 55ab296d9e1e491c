"""Read a student-information-system export into checked graduate rows (no database here).

The school's export is an ``.xlsx`` or a ``.csv`` in whatever shape its system writes:
any delimiter, UTF-8 or Windows-1252, headers in Dutch or English. :func:`read_table`
turns the file into header and rows, :func:`map_headers` finds our fields among the
headers, :func:`check_rows` validates every row against the catalogue and reports every
bad field. A file with any error is imported not at all (DESIGN.md "Registry").
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from bot.core.catalogue import Catalogue
from storage.registry import FIELDS as RECORD_FIELDS

MAX_ROWS = 100_000
MAX_CELL = 254
FIELDS = (
    "student_number",
    "first_name",
    "last_name",
    "infix",
    "email",
    "programme",
    "crebo",
    "level",
    "track",
    "location",
    "graduation_date",
)
REQUIRED = ("student_number", "first_name", "last_name", "level", "track", "location")
# Our field for each header a school's export may use (folded: lower case, letters and
# digits only). ``--map "Header=field"`` adds others.
HEADERS: dict[str, str] = {
    **dict.fromkeys(
        (
            "studentnummer",
            "studentnr",
            "leerlingnummer",
            "leerlingnr",
            "deelnemernummer",
            "deelnemernr",
            "studentnumber",
            "studentno",
            "studentid",
        ),
        "student_number",
    ),
    **dict.fromkeys(("voornaam", "roepnaam", "firstname", "givenname"), "first_name"),
    **dict.fromkeys(("achternaam", "lastname", "surname", "familyname"), "last_name"),
    **dict.fromkeys(("tussenvoegsel", "tussenvoegsels", "infix", "prefix"), "infix"),
    **dict.fromkeys(
        ("email", "emailadres", "mail", "mailadres", "emailaddress", "privemail"), "email"
    ),
    **dict.fromkeys(
        ("opleiding", "opleidingsnaam", "programme", "program", "programmename", "course"),
        "programme",
    ),
    **dict.fromkeys(("crebo", "crebocode", "crebonummer", "crebonr", "crebono"), "crebo"),
    **dict.fromkeys(("niveau", "level", "mbolevel", "mboniveau"), "level"),
    **dict.fromkeys(
        ("leerweg", "bolbbl", "track", "learningpathway", "pathway", "bolofbbl"), "track"
    ),
    **dict.fromkeys(("locatie", "vestiging", "location", "site", "campus"), "location"),
    **dict.fromkeys(
        (
            "diplomadatum",
            "datumdiploma",
            "verwachtediplomadatum",
            "einddatum",
            "verwachteeinddatum",
            "examendatum",
            "graduationdate",
            "expectedgraduationdate",
            "expectedgraduation",
            "graduation",
            "dategraduated",
        ),
        "graduation_date",
    ),
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_STUDENT_NUMBER = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
_DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%y")
_DELIMITERS = ",;\t|"


class ImportFileError(ValueError):
    """The file cannot be read as a table at all (not an error of one row)."""

    def __init__(self, reason: str, **ctx: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.ctx = ctx


@dataclass(frozen=True)
class RowError:
    """One bad field of one row: the spreadsheet row number, our field, a reason code."""

    row: int
    field: str
    reason: str
    value: str = ""


@dataclass(frozen=True)
class GraduateRow:
    """A checked row, ready to upsert."""

    row: int
    student_number: str
    first_name: str
    last_name: str
    email: str | None
    crebo: str
    level: int
    track: str
    location: str
    graduation_date: date

    def values(self) -> dict[str, object]:
        """Return the stored fields (everything but the row number)."""
        return {name: getattr(self, name) for name in STORED}


# The stored fields an import compares and writes: the registry's own list.
STORED = RECORD_FIELDS


@dataclass
class Table:
    """A file read as text: its headers and the rows under them."""

    headers: list[str]
    rows: list[list[object]]
    encoding: str | None = None
    delimiter: str | None = None


@dataclass
class Checked:
    """The outcome of checking a file: good rows, every error, and the header mapping."""

    rows: list[GraduateRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # our field -> the file's header
    ignored: list[str] = field(default_factory=list)  # headers we do not read


def fold(text: str) -> str:
    """Fold a header or label: lower case, accents off, letters and digits only."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))


def read_table(name: str, data: bytes) -> Table:
    """Read an ``.xlsx`` or ``.csv`` file into a table of cells.

    Raises:
        ImportFileError: not a spreadsheet we can read, or no header row.
    """
    lowered = name.lower()
    if lowered.endswith((".xlsx", ".xlsm")) or data[:4] == b"PK\x03\x04":
        return _read_xlsx(data)
    if lowered.endswith((".csv", ".txt", ".tsv")) or not lowered:
        return _read_csv(data)
    raise ImportFileError("file_kind", file_name=name)


def _read_xlsx(data: bytes) -> Table:
    """Read the first sheet with python-calamine.

    Its Rust reader takes well under a second for 20,000 rows, where openpyxl's took 13 s on
    the benchmark machine (docs/benchmarks.md); openpyxl still writes the export.
    """
    from python_calamine import CalamineError, CalamineWorkbook, PasswordError, XmlError, ZipError

    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheet = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except (
        CalamineError,
        PasswordError,
        XmlError,
        ZipError,
        ValueError,
        OSError,
        IndexError,
    ) as error:
        raise ImportFileError("file_unreadable", detail=type(error).__name__) from error
    rows = iter(sheet)
    headers = _headers(next(rows, None))
    body = [list(row) for row in _bounded(rows) if any(_present(c) for c in row)]
    return Table(headers, body)


def _decode(data: bytes) -> tuple[str, str]:
    """Decode UTF-8 (with or without BOM), else Windows-1252 (what Excel writes in NL)."""
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError as error:  # five bytes cp1252 leaves undefined
        raise ImportFileError("file_encoding") from error


def _read_csv(data: bytes) -> Table:
    text, encoding = _decode(data)
    if "\x00" in text:
        raise ImportFileError("file_unreadable", detail="NUL")
    first_line = text.split("\n", 1)[0]
    delimiter = _delimiter(text[:65536], first_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    headers = _headers(next(reader, None))
    body: list[list[object]] = [
        list(row) for row in _bounded(reader) if any(_present(cell) for cell in row)
    ]
    return Table(headers, body, encoding, delimiter)


def _delimiter(sample: str, first_line: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        # One column, or a sample the sniffer finds ambiguous: the header line decides.
        counts = {d: first_line.count(d) for d in _DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _bounded(rows: Iterable[Sequence[object]]) -> Iterator[Sequence[object]]:
    for number, row in enumerate(rows, start=1):
        if number > MAX_ROWS:
            raise ImportFileError("file_too_long", limit=MAX_ROWS)
        yield row


def _headers(row: Sequence[object] | None) -> list[str]:
    if row is None or not any(_present(c) for c in row):
        raise ImportFileError("file_empty")
    return ["" if c is None else str(c).strip() for c in row]


def _present(cell: object) -> bool:
    return cell is not None and str(cell).strip() != ""


def map_headers(
    headers: Sequence[str], mapping: dict[str, str] | None = None
) -> tuple[dict[str, int], list[str]]:
    """Return our field -> column index, and the headers we do not read.

    Args:
        headers: the file's header row.
        mapping: the school's own headers (``--map``): header -> our field name.

    Raises:
        ImportFileError: a mapping names an unknown field, a field has two columns, or a
            required column is missing.
    """
    own = {fold(header): target for header, target in (mapping or {}).items()}
    unknown = sorted(set(own.values()) - set(FIELDS))
    if unknown:
        raise ImportFileError("map_unknown_field", fields=", ".join(unknown))
    found: dict[str, int] = {}
    ignored: list[str] = []
    for index, header in enumerate(headers):
        key = fold(header)
        target = own.get(key) or HEADERS.get(key)
        if target is None:
            if header:
                ignored.append(header)
            continue
        if target in found:
            raise ImportFileError("column_twice", field=target, headers=header)
        found[target] = index
    missing = [name for name in REQUIRED if name not in found]
    if "crebo" not in found and "programme" not in found:
        missing.append("crebo")
    if "graduation_date" not in found:
        missing.append("graduation_date")
    if missing:
        raise ImportFileError("columns_missing", fields=", ".join(missing))
    return found, ignored


def check_rows(
    table: Table,
    catalogue: Catalogue,
    today: date,
    mapping: dict[str, str] | None = None,
) -> Checked:
    """Validate every row; collect every error (a row may have several).

    Raises:
        ImportFileError: the header row lacks what we need (see :func:`map_headers`).
    """
    columns, ignored = map_headers(table.headers, mapping)
    checked = Checked(
        columns={name: table.headers[index] for name, index in columns.items()}, ignored=ignored
    )
    checker = _RowChecker(catalogue, today)
    first_row_of: dict[str, int] = {}
    for offset, cells in enumerate(table.rows):
        number = offset + 2  # the spreadsheet's own row number: the header is row 1
        raw = {
            name: _cell(cells[index] if index < len(cells) else None)
            for name, index in columns.items()
        }
        row, errors = checker.check(number, raw)
        # A repeated student number is an error even when the first row has errors too.
        key = str(raw.get("student_number") or "").strip().casefold()
        if key:
            earlier = first_row_of.get(key)
            if earlier is not None:
                errors.append(RowError(number, "student_number", "duplicate", str(earlier)))
            else:
                first_row_of[key] = number
        if errors:
            checked.errors.extend(errors)
        elif row is not None:
            checked.rows.append(row)
    if not table.rows:
        raise ImportFileError("file_no_rows")
    return checked


def _cell(value: object) -> object:
    if isinstance(value, str):
        return value.strip()
    return value


class _RowChecker:
    def __init__(self, catalogue: Catalogue, today: date) -> None:
        self.catalogue = catalogue
        self.today = today
        self.locations = {fold(item.code): item.code for item in catalogue.locations}
        for item in catalogue.locations:
            for label in item.labels.values():
                self.locations[fold(label)] = item.code
        self.programmes = {
            fold(label): p.code for p in catalogue.programmes for label in p.labels.values()
        }
        self.first_year = 1960
        self.last_year = today.year + 6

    def check(
        self, number: int, raw: dict[str, object]
    ) -> tuple[GraduateRow | None, list[RowError]]:
        errors: list[RowError] = []

        def fail(name: str, reason: str, value: object = "") -> None:
            shown = "" if value is None else str(value)
            errors.append(RowError(number, name, reason, shown[:80]))

        texts: dict[str, str] = {}
        for name, value in raw.items():
            if isinstance(value, (datetime, date)):
                continue
            text = "" if value is None else str(value)
            if isinstance(value, float) and value.is_integer():
                text = str(int(value))  # a number cell: 12345.0 -> "12345"
            if len(text) > MAX_CELL:
                fail(name, "too_long", text)
                text = ""
            elif any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
                fail(name, "control_characters", text.encode("unicode_escape").decode())
                text = ""
            texts[name] = text
        for name in REQUIRED:
            if not texts.get(name) and not any(e.field == name for e in errors):
                fail(name, "missing")

        student_number = texts.get("student_number", "")
        if student_number and not _STUDENT_NUMBER.match(student_number):
            fail("student_number", "student_number_invalid", student_number)
        first_name, last_name = texts.get("first_name", ""), texts.get("last_name", "")
        if len(first_name) > 64:
            fail("first_name", "too_long", first_name)
        infix = texts.get("infix", "")
        if infix and last_name:
            last_name = f"{infix} {last_name}"
        if len(last_name) > 128:
            fail("last_name", "too_long", last_name)
        email = texts.get("email") or None
        if email is not None and not _EMAIL.match(email):
            fail("email", "email_invalid", email)

        crebo = texts.get("crebo", "")
        programme_name = texts.get("programme", "")
        if not crebo and programme_name:
            crebo = self.programmes.get(fold(programme_name), "")
            if not crebo:
                fail("programme", "programme_unknown", programme_name)
        elif not crebo:
            fail("crebo", "missing")
        programme = self.catalogue.programme(crebo) if crebo else None
        if crebo and programme is None:
            fail("crebo", "crebo_unknown", crebo)

        level = None
        level_text = texts.get("level", "").lower().removeprefix("niveau").strip()
        if level_text:
            if level_text.isdigit() and 1 <= int(level_text) <= 4:
                level = int(level_text)
                if programme is not None and level not in programme.levels:
                    fail("level", "level_not_offered", level_text)
            else:
                fail("level", "level_invalid", texts.get("level"))

        track = texts.get("track", "").upper()
        if track and track not in ("BOL", "BBL"):
            fail("track", "track_invalid", texts.get("track"))

        location = ""
        if texts.get("location"):
            location = self.locations.get(fold(texts["location"]), "")
            if not location:
                fail("location", "location_unknown", texts["location"])

        graduation = self._date(raw.get("graduation_date"), fail)

        if errors:
            return None, errors
        assert level is not None and graduation is not None
        return (
            GraduateRow(
                row=number,
                student_number=student_number,
                first_name=first_name,
                last_name=last_name,
                email=email,
                crebo=crebo,
                level=level,
                track=track,
                location=location,
                graduation_date=graduation,
            ),
            [],
        )

    def _date(self, value: object, fail: Callable[..., None]) -> date | None:
        if value is None or (isinstance(value, str) and not value):
            fail("graduation_date", "missing")
            return None
        if isinstance(value, datetime):
            found: date | None = value.date()
        elif isinstance(value, date):
            found = value
        else:
            found = parse_date(str(value))
            if found is None:
                fail("graduation_date", "date_invalid", value)
                return None
        assert found is not None
        if not self.first_year <= found.year <= self.last_year:
            fail("graduation_date", "date_out_of_range", found.isoformat())
            return None
        return found


def parse_date(text: str) -> date | None:
    """Parse a date as Dutch and international exports write it; None if impossible."""
    text = text.strip().split(" ")[0].split("T")[0]
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()  # noqa: DTZ007 (a date, no time)
        except ValueError:
            continue
    return None


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """Turn ``"Header=field"`` options into a mapping.

    Raises:
        ImportFileError: an option without ``=``.
    """
    mapping: dict[str, str] = {}
    for pair in pairs:
        header, sep, target = pair.partition("=")
        if not sep or not header.strip() or not target.strip():
            raise ImportFileError("map_syntax", option=pair)
        mapping[header.strip()] = target.strip()
    return mapping
