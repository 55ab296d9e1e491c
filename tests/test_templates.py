"""Every text exists in Dutch and English, renders, and is valid Telegram HTML."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.core.catalogue import Catalogue
from bot.core.render import LOCALES, Renderer
from bot.core.settings import CONTENT_DIR
from sandbox.simulator.tghtml import parse_html
from storage.models import InboxMessage, Offer

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)

FEATURES = sorted(p.stem for p in (CONTENT_DIR / "nl").glob("*.j2") if not p.stem.startswith("_"))
renderer = Renderer(CONTENT_DIR)
catalogue = Catalogue(CONTENT_DIR / "catalogue")

SAMPLE = {
    "school": "Testcollege <&>",
    "contact": "privacy@example.org",
    "first_name": "Zoë <b>",
    "member": "Ann <Admin> & co",
    "onboarded": False,
    "echo": "Software & <i>",
    "suggestion": "Zoë",
    "query": "<script>",
    "count": 2,
    "max": 64,
    "first": 1960,
    "last": 2030,
    "purposes": [("llo", True), ("jobs", False)],
    "rows": [("Naam", "Zoë"), ("Regio", None)],
    "profile": [("Locatie", "Zorgcampus <x>")],
    "held": ["Je vragen aan de school: 1"],
    "purpose": "Nazorg",
    "granted": True,
    "withdrawn": ["Nazorg"],
    "granted_purposes": ["Nazorg", "Cursussen"],
    "p": catalogue.programmes[0],
    "level": 4,
    "track": "BBL",
    "year": 2025,
    "month": 7,
    "n": 3,
    "on": True,
    "text": "Digitaal",
    "offer": Offer(
        kind="llo",
        title="Excel <voor> beginners",
        body="Leer & oefen",
        provider="ROC <X>",
        link="https://example.org",
        starts_on=date(2026, 9, 1),
        deadline=date(2026, 8, 15),
        cost="€ 95",
    ),
    "programme": "Kok",
    "cohort": 2024,
    "row": 3,
    "field": "kind",
    "reason": "soort <fout>",
    "value": "<x>",
    "kind": "llo",
    "weekday": 0,
    "time": "09:00",
    "score": 4,
    "staff": "Coördinator <i>",
    "to": "Ann",
    "team": "Nazorg",
    "title": "Enquête <x>",
    "topic": "work",
    "context": {"source": "offer", "title": "Excel <b>"},
    "studying": False,
    "situation": "looking",
    "region": "Utrecht",
    "history": [
        InboxMessage(conversation_id=1, direction="in", text="<script>x</script>", created_at=NOW),
        InboxMessage(conversation_id=1, direction="out", kind="photo", created_at=NOW),
    ],
    "moved_from": "LLO",
    "names": ["bedankt", "llo"],
    "hours": 8,
    # The registry's import report, printed cards and console (content/*/registry.j2).
    "k": 5,
    "until": "15-09-2026",
    "code": "25998-4-202607",
    "date": "2026-06-15",
    "new": 3,
    "updated": 1,
    "unchanged": 20,
    "missing": 2,
    "suppressed": 1,
    "encoding": "windows-1252",
    "delimiter": ";",
    "delimiter_name": "puntkomma",
    "columns": "Studentnummer, Voornaam <b>",
    "headers": "Klas <x>",
    "student_number": "123456",
    "fields": "crebo, niveau",
    "limit": 100000,
    "option": "Kopje<",
    "path": "/tmp/<x>.pdf",
    "paths": "a.pdf, a.csv",
    "link": "https://t.me/bot?start=g-abc",
    "days": 730,
    "file_name": "export <1>.csv",
}


def test_every_feature_has_the_same_blocks_in_every_language():
    shared = {p.stem for p in (CONTENT_DIR / "en").glob("_*.j2")}  # macros, imported by blocks
    assert set(FEATURES) == {p.stem for p in (CONTENT_DIR / "en").glob("*.j2")} - shared
    for feature in FEATURES:
        assert set(renderer.blocks(feature, "nl")) == set(renderer.blocks(feature, "en")), feature


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("feature", FEATURES)
def test_every_block_renders_to_valid_telegram_html(feature, locale):
    for block in renderer.blocks(feature, locale):
        text = renderer.text(f"{feature}.{block}", locale, **SAMPLE)
        assert text.strip(), f"{locale}/{feature}.{block} is empty"
        if feature != "labels":
            parse_html(text)  # raises on anything Telegram would refuse
            assert "<script>" not in text and "<&>" not in text  # user values are escaped


def test_labels_are_plain_text():
    assert renderer.label("labels.use_name", "nl", first_name="A&B") == "Noem me A&B"


def test_consent_text_version_depends_on_text_and_language():
    nl = renderer.version("privacy.purpose_llo", "nl", school="X")
    assert nl == renderer.version("privacy.purpose_llo", "nl", school="X")
    assert nl != renderer.version("privacy.purpose_llo", "en", school="X")
    assert nl != renderer.version("privacy.purpose_jobs", "nl", school="X")


def test_catalogue_files_are_complete(tmp_path: Path):
    assert len({p.code for p in catalogue.programmes}) == len(catalogue.programmes)
    assert all(p.code.isdigit() and len(p.code) == 5 for p in catalogue.programmes)
    assert all(set(p.levels) <= {1, 2, 3, 4} for p in catalogue.programmes)
    sectors = {s.code for s in catalogue.sectors}
    assert all(p.sector in sectors for p in catalogue.programmes)
    assert len(catalogue.regions) == 12


def test_a_summary_names_a_message_kind_in_words():
    """A recreated topic's summary listed a photo as "[photo]": Telegram's word, not ours."""
    from types import SimpleNamespace

    history = [SimpleNamespace(direction="in", text=None, kind=k) for k in ("photo", "poll")]
    card = {"first_name": "Ada", "programme": "Kok", "cohort": 2024, "moved_from": None}
    nl = renderer.text("inbox.summary", "nl", history=history, **card)
    en = renderer.text("inbox.summary", "en", history=history, **card)
    assert "[foto]" in nl and "[peiling]" in nl and "[photo]" not in nl
    assert "[photo]" in en and "[poll]" in en
