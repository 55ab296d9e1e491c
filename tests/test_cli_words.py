"""Every CLI text exists in Dutch and English and renders as plain text.

The CLI's words are plain text for a terminal, not Telegram HTML, so they live in
content/<locale>/cli/ and are checked here (tests/test_templates.py checks the rest).
"""

from __future__ import annotations

import pytest

from bot.core.render import LOCALES, Renderer
from bot.core.settings import CONTENT_DIR

GROUPS = sorted(p.stem for p in (CONTENT_DIR / "nl" / "cli").glob("*.j2"))
renderer = Renderer(CONTENT_DIR)

SAMPLE = {
    "problems": [("--crebo", ["99999"], None), ("--cohort-to", ["2020"], "te vroeg")],
    "reason": "Je tekst bevat onzichtbare tekens.",
    "campaign": 7,
    "offer": 3,
    "count": 2,
    "chat": -1001234567890,
    "user": 4242,
    "email": "ann@school.nl",
    "emails": ["ann@school.nl"],
    "code": "nazorg",
    "codes": ["llo", "nazorg"],
    "team": "demo",
    "team_name": "Nazorg <en> hulp",
    "teams": ["llo", "nazorg"],
    "role": "admin",
    "active": True,
    "default": True,
    "status": "paused",
    "state": "gepauzeerd",
    "key": "targeted",
    "kind": "llo",
    "at": "2027-09-01 10:00 CEST",
    "value": "morgen & <later>",
    "path": "aanbod.yaml",
    "url": "http://127.0.0.1:8081/inbox",
    "chat_url": "http://127.0.0.1:8080",
    "console_url": "http://127.0.0.1:8081/inbox",
    "password": "demo-secret",
    "detail": "send_rate: not a number",
    "min": 12,
    "days": 730,
    "maybe": 1,
    "fields": "student_number, first_name",
    "link": "https://t.me/alumnibot_test_bot?start=k-25998-4-202507",
    "paths": "uitnodigingen-25998-4-202507.pdf, uitnodigingen-25998-4-202507.csv",
    "p": {
        "sent": 1,
        "in_digest": 0,
        "failed": 0,
        "dead": 0,
        "unknown": 0,
        "cancelled": 0,
    },
}


def test_every_group_has_the_same_blocks_in_both_languages():
    assert sorted(p.stem for p in (CONTENT_DIR / "en" / "cli").glob("*.j2")) == GROUPS
    for group in GROUPS:
        nl = set(renderer.blocks(f"cli/{group}", "nl"))
        assert nl == set(renderer.blocks(f"cli/{group}", "en")), group


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("group", GROUPS)
def test_every_block_renders_as_plain_text(group, locale):
    for block in renderer.blocks(f"cli/{group}", locale):
        text = renderer.label(f"cli/{group}.{block}", locale, **SAMPLE)
        assert text.strip(), f"{locale}/cli/{group}.{block} is empty"
        assert "&amp;" not in text and "&lt;" not in text  # plain text, not escaped HTML


def test_values_appear_as_given():
    text = renderer.label("cli/campaigns.bad_time", "nl", value="morgen & <later>")
    assert 'Ik kan "morgen & <later>" niet lezen als tijd.' in text
