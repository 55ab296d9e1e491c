"""Documents of the registry: the .xlsx export, invitation CSV, printable PDF sheets.

QR codes come from segno and are drawn into the PDF as vector squares (sharp at any print
size, no image per card); the PDF from fpdf2; spreadsheets from openpyxl. The words are
rendered by the caller (``content/<locale>/registry.j2``) and handed in.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import segno
from fpdf import FPDF

from bot.core.text import csv_cell
from storage.models import Graduate
from storage.registry import FIELDS

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")  # Debian's fonts-dejavu-core (.ci/run)
EXPORT_COLUMNS = ("student_number", *FIELDS, "linked")
QUIET_ZONE = 4  # modules of white around a QR code, as the standard asks
MASK = 0


@dataclass(frozen=True)
class Card:
    """One printed invitation: who, what, and the link in the QR code."""

    name: str
    lines: Sequence[str]
    link: str


def export_xlsx(graduates: Sequence[Graduate], headers: Sequence[str]) -> bytes:
    """Return the registry as a workbook the school can open (and import again)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Registry")

    def cell(value: Any) -> Any:
        # openpyxl writes a text that starts with "=" as a formula: a name from an imported
        # file must stay a name (and import again unchanged), so every text is a text.
        written = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            written.data_type = "s"
        return written

    sheet.append([cell(h) for h in headers])
    for g in graduates:
        values: list[object] = [
            g.student_number,
            g.first_name,
            g.last_name,
            g.email or "",
            g.crebo,
            g.level,
            g.track,
            g.location,
            g.graduation_date,
            "x" if g.alumnus_id is not None else "",
        ]
        sheet.append([cell(v) for v in values])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def invitations_csv(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> bytes:
    """Return a CSV (UTF-8 with BOM, semicolons: what Dutch Excel opens without asking)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


class _Sheet(FPDF):
    def __init__(self) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.set_auto_page_break(auto=False)
        self.set_creator("alumnibot")
        regular, bold = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
        self.unicode = regular.exists() and bold.exists()
        if self.unicode:
            self.add_font("body", "", str(regular))
            self.add_font("body", "B", str(bold))
            self.family = "body"
        else:  # without the font: the built-in one, letters outside Latin-1 simplified
            self.family = "helvetica"

    def words(self, text: str) -> str:
        if self.unicode:
            return text
        simple = unicodedata.normalize("NFKD", text)
        return simple.encode("latin-1", "ignore").decode("latin-1")

    def qr(self, link: str, x: float, y: float, size: float) -> None:
        """Draw the QR code of ``link`` as filled rectangles (dark runs merged down rows)."""
        # The mask pattern is fixed: every one of the eight is valid and decodes the same,
        # and letting segno score all eight per code took 80% of a 500-card sheet's time.
        code = segno.make(link, error="m", micro=False, mask=MASK)
        matrix = code.matrix
        unit = size / (len(matrix) + 2 * QUIET_ZONE)
        self.set_fill_color(0, 0, 0)

        def draw(run: tuple[int, int], top: int, bottom: int) -> None:
            self.rect(
                x + (run[0] + QUIET_ZONE) * unit,
                y + (top + QUIET_ZONE) * unit,
                (run[1] - run[0]) * unit,
                (bottom - top) * unit,
                style="F",
            )

        open_runs: dict[tuple[int, int], int] = {}  # run (start, end) -> first row
        for r, row in enumerate(matrix):
            runs = set(_runs(row))
            for run in [run for run in open_runs if run not in runs]:
                draw(run, open_runs.pop(run), r)
            for run in runs:
                open_runs.setdefault(run, r)
        for run, top in open_runs.items():
            draw(run, top, len(matrix))


def _runs(row: Sequence[int]) -> list[tuple[int, int]]:
    """Return the dark runs of one row of modules as (start, end) columns."""
    runs, c, width = [], 0, len(row)
    while c < width:
        if row[c]:
            start = c
            while c < width and row[c]:
                c += 1
            runs.append((start, c))
        else:
            c += 1
    return runs


CARD_W, CARD_H = 95.0, 68.0
MARGIN_X, MARGIN_Y = 10.0, 12.0
PER_ROW, ROWS = 2, 4


def invitation_sheets(title: str, cards: Sequence[Card], footer: str) -> bytes:
    """Return a PDF of invitation cards, eight to an A4 page, to print and cut.

    Args:
        title: printed at the top of every page (the class).
        cards: one per graduate.
        footer: printed at the bottom of every page (what to do with the cards).
    """
    pdf = _Sheet()
    per_page = PER_ROW * ROWS
    for index, card in enumerate(cards):
        slot = index % per_page
        if slot == 0:
            pdf.add_page()
            pdf.set_font(pdf.family, "B", 11)
            pdf.text(MARGIN_X, 8, pdf.words(title))
            pdf.set_font(pdf.family, "", 8)
            pdf.text(MARGIN_X, 290, pdf.words(footer))
        x = MARGIN_X + (slot % PER_ROW) * CARD_W
        y = MARGIN_Y + (slot // PER_ROW) * CARD_H
        _card(pdf, card, x, y)
    if not cards:
        pdf.add_page()
        pdf.set_font(pdf.family, "B", 11)
        pdf.text(MARGIN_X, 8, pdf.words(title))
    return bytes(pdf.output())


def _card(pdf: _Sheet, card: Card, x: float, y: float) -> None:
    pdf.set_draw_color(170, 170, 170)
    pdf.set_dash_pattern(dash=1, gap=1)
    pdf.rect(x, y, CARD_W, CARD_H)
    pdf.set_dash_pattern()
    qr_size = 46.0
    pdf.qr(card.link, x + 2, y + (CARD_H - qr_size) / 2, qr_size)
    left, width = x + qr_size + 4, CARD_W - qr_size - 7
    pdf.set_xy(left, y + 8)
    pdf.set_font(pdf.family, "B", 12)
    pdf.multi_cell(width, 5.5, pdf.words(card.name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.family, "", 8.5)
    for line in card.lines:
        pdf.set_x(left)
        pdf.multi_cell(width, 4.2, pdf.words(line), new_x="LMARGIN", new_y="NEXT")
        pdf.set_y(pdf.get_y() + 1)


def class_sheet(title: str, lines: Sequence[str], link: str) -> bytes:
    """Return a one-page PDF with a class's reusable link as a large QR code."""
    pdf = _Sheet()
    pdf.add_page()
    pdf.set_font(pdf.family, "B", 20)
    pdf.set_xy(20, 20)
    pdf.multi_cell(170, 9, pdf.words(title), align="C")
    pdf.qr(link, 45, 60, 120)
    pdf.set_xy(20, 190)
    pdf.set_font(pdf.family, "", 12)
    for line in lines:
        pdf.multi_cell(170, 6.5, pdf.words(line), align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_x(20)
    pdf.set_font(pdf.family, "", 9)
    pdf.set_xy(20, 270)
    pdf.multi_cell(170, 5, link, align="C")
    return bytes(pdf.output())
