"""Invitation sheets: the QR code printed in the PDF decodes to the link that was issued."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pypdfium2 as pdfium  # type: ignore[import-untyped]
import pytest
import zxingcpp
from sqlalchemy import select

from bot.registry.service import ClassKey, token_hash
from handlers.cli.common import EXIT_OK, EXIT_REFUSED, EXIT_USAGE
from storage.models import Invitation
from tests.cli import in_process
from tests.registry_helpers import csv_bytes, person, registry_graph, registry_settings

BOT = "alumnibot_test_bot"
CLASS = ClassKey("25998", 4, 2025, 7)


@pytest.fixture
async def graph(database_url, clock):
    async with registry_graph(registry_settings(database_url), clock) as built:
        yield built


def decoded_pages(pdf: bytes) -> list[list[str]]:
    """Render every page to pixels and read every QR code on it."""
    document = pdfium.PdfDocument(pdf)
    try:
        pages = []
        for page in document:
            image = page.render(scale=3).to_pil()
            pages.append([code.text for code in zxingcpp.read_barcodes(image)])
        return pages
    finally:
        document.close()


def page_text(pdf: bytes) -> str:
    document = pdfium.PdfDocument(pdf)
    try:
        text = " ".join(page.get_textpage().get_text_range() for page in document)
        return " ".join(text.split())  # lines wrap where the card is narrow
    finally:
        document.close()


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # Excel opens UTF-8 with a BOM without asking
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


async def import_class(graph, size: int) -> None:
    people = [person(n, date="2025-07-04") for n in range(size)]
    people[0] = person(0, first="Łukasz", last="Öztürk", date="2025-07-04")
    report = await graph.registry.import_file("klas.csv", csv_bytes(people), dry_run=False)
    assert report.ok


async def test_a_class_of_thirty_renders_and_every_qr_code_decodes_to_its_link(graph):
    await import_class(graph, 30)
    pack = await graph.registry.invitation_pack(BOT, CLASS, "nl")
    assert pack.count == 30

    [header, *links] = csv_rows(pack.csv)
    assert header[:3] == ["studentnummer", "voornaam", "achternaam"] and header[-2] == "link"
    assert len(links) == 30
    issued = {row[0]: row[-2] for row in links}
    assert all(link.startswith(f"https://t.me/{BOT}?start=g-") for link in issued.values())

    pages = decoded_pages(pack.pdf)
    assert [len(codes) for codes in pages] == [8, 8, 8, 6]  # eight cards to an A4 page
    decoded = [link for codes in pages for link in codes]
    assert sorted(decoded) == sorted(issued.values())  # every card holds its own link

    text = page_text(pack.pdf)
    assert "Łukasz Öztürk" in text  # names in any script print (DejaVu, not Latin-1)
    assert "Software developer, niveau 4" in text and "Diploma: juli 2025" in text

    async with graph.deps.storage.transaction() as tx:
        stored = {i.token_hash for i in (await tx.session.execute(select(Invitation))).scalars()}
    tokens = {link.split("start=")[1] for link in issued.values()}
    assert stored == {token_hash(t) for t in tokens}  # only hashes are kept
    assert all(len(t) <= 64 for t in tokens)


async def test_new_sheets_make_the_earlier_unused_cards_invalid(graph):
    await import_class(graph, 3)
    first = await graph.registry.invite(BOT, CLASS)
    second = await graph.registry.invite(BOT, CLASS)
    async with graph.deps.storage.transaction() as tx:
        assert (await graph.registry.claim(tx, first[0].token, 999)).status == "unknown"
        assert (await graph.registry.claim(tx, second[0].token, 999)).status == "ok"


async def test_current_students_are_invited_unless_left_out(graph):
    people = [person(1, date="2025-07-04"), person(2, date="2025-07-30")]
    people.append(person(3, date="2026-07-01"))  # still a student on 15 June 2026
    await graph.registry.import_file("x.csv", csv_bytes(people), dry_run=False)
    assert len(await graph.registry.invite(BOT, CLASS)) == 2
    students = ClassKey("25998", 4, 2026, 7)
    assert len(await graph.registry.invite(BOT, students)) == 1
    assert len(await graph.registry.invite(BOT, students, students=False)) == 0


async def test_the_class_link_sheet_holds_no_personal_data(graph):
    await import_class(graph, 3)
    link = graph.registry.class_link(BOT, CLASS)
    assert link == f"https://t.me/{BOT}?start=k-25998-4-202507"
    pdf = graph.registry.class_sheet(BOT, CLASS, "en")
    assert decoded_pages(pdf) == [[link]]
    text = page_text(pdf)
    assert "Software developer – level 4 – July 2025" in text
    assert "Sanne" not in text and "Łukasz" not in text


def test_cli_invite_writes_cards_links_and_the_class_link(database_url, tmp_path: Path):
    settings = registry_settings(database_url, bot_username=None)

    def graduates(*args: str, locale: str = "nl"):
        return in_process(settings, "graduates", *args, locale=locale)

    export = tmp_path / "klas.csv"
    export.write_bytes(csv_bytes([person(n, date="2025-07-04") for n in range(3)]))
    assert graduates("import", str(export)).exit_code == EXIT_OK
    no_bot = graduates("invite", "--all")
    assert no_bot.exit_code == EXIT_USAGE and "ALUMNIBOT_BOT_USERNAME" in no_bot.stderr
    settings = registry_settings(database_url, bot_username=BOT)
    out = tmp_path / "sheets"
    done = graduates("invite", "--class", CLASS.code, "--out", str(out))
    assert done.exit_code == EXIT_OK, done.output
    assert "Klas 25998-4-202507: 3 uitnodigingen gemaakt" in done.stdout
    pdf = (out / "uitnodigingen-25998-4-202507.pdf").read_bytes()
    links = [
        row[-2] for row in csv_rows((out / "uitnodigingen-25998-4-202507.csv").read_bytes())[1:]
    ]
    assert sorted(decoded_pages(pdf)[0]) == sorted(links)

    class_link = graduates("invite", "--class", CLASS.code, "--class-link", "--out", str(out))
    assert class_link.exit_code == EXIT_OK and "?start=k-25998-4-202507" in class_link.stdout
    assert (out / "klaslink-25998-4-202507.pdf").is_file()
    english = graduates("invite", "--all", "--class-link", "--out", str(out), locale="en")
    assert english.exit_code == EXIT_OK and "Class link 25998-4-202507:" in english.stdout
    assert (out / "class-link-25998-4-202507.pdf").is_file()
    unknown = graduates("invite", "--class", "25998-4-203001")
    assert unknown.exit_code == EXIT_REFUSED
    assert "Klas 25998-4-203001 bestaat niet" in unknown.stderr
    wrong = graduates("invite", "--class", "software")
    assert wrong.exit_code == EXIT_USAGE and '"software" is geen klascode' in wrong.stderr
    both = graduates("invite", "--class", CLASS.code, "--all")
    assert both.exit_code == EXIT_USAGE and "Kies --class CODE of --all" in both.stderr
    neither = graduates("invite")
    assert neither.exit_code == EXIT_USAGE and "Kies --class CODE of --all" in neither.stderr
