"""Profile steps: validation of typed and tapped answers, without Telegram or a database."""

from __future__ import annotations

import pytest

from bot.core.catalogue import Catalogue
from bot.core.render import Renderer
from bot.core.settings import CONTENT_DIR
from bot.profile.steps import (
    STEPS,
    Accept,
    GraduationStep,
    InterestsStep,
    LevelStep,
    MonthStep,
    NameStep,
    ProgrammeStep,
    Refine,
    RegionStep,
    Reject,
    StepContext,
    callback,
    clean_text,
)

catalogue = Catalogue(CONTENT_DIR / "catalogue")
renderer = Renderer(CONTENT_DIR)


def ctx(locale: str = "nl", **draft) -> StepContext:
    return StepContext(locale, dict(draft), catalogue, renderer, this_year=2026)


def test_clean_text_keeps_scripts_and_drops_invisible_characters():
    assert clean_text("  Zoë\u200b  van\tDijk \u202e") == "Zoë van Dijk"
    assert clean_text("محمد") == "محمد"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Jan", "Jan"), ("  anne  marie ", "anne marie"), ("O'Neill", "O'Neill"), ("李", "李")],
)
def test_name_accepts_names(text, expected):
    assert NameStep().on_text(ctx(), text) == Accept({"first_name": expected}, expected)


@pytest.mark.parametrize(
    ("text", "reason"), [("x" * 65, "steps.name_too_long"), ("42", "steps.name_invalid")]
)
def test_name_rejects(text, reason):
    result = NameStep().on_text(ctx(), text)
    assert isinstance(result, Reject) and result.reason == reason


def test_programme_search_by_name_by_code_and_not_found():
    step = ProgrammeStep()
    found = step.on_text(ctx(), "timmerman")
    assert isinstance(found, Refine)
    assert [p.code for p in found.context["matches"]] == ["25356", "25357"]  # prefix first
    assert step.on_text(ctx(), "25655") == Accept(
        {"crebo": "25655", "level": 4}, "Mbo-Verpleegkundige"
    )
    assert isinstance(step.on_text(ctx(), "astronaut"), Reject)
    assert isinstance(step.on_text(ctx(), "k"), Reject)
    assert isinstance(step.on_choice(ctx(), "99999"), Reject)


def test_level_only_for_multi_level_programmes():
    assert LevelStep().applies({"crebo": "25405"}, catalogue)
    assert not LevelStep().applies({"crebo": "25655"}, catalogue)
    assert not LevelStep().applies({}, catalogue)
    assert isinstance(LevelStep().on_choice(ctx(crebo="25405"), "4"), Reject)


def test_graduation_year_bounds_and_still_studying():
    step = GraduationStep()
    assert step.on_text(ctx(), "2024") == Accept(
        {"graduation_year": 2024, "still_studying": False}, "2024"
    )
    assert isinstance(step.on_text(ctx(), "2031"), Reject)
    assert isinstance(step.on_text(ctx(), "24"), Reject)
    studying = step.on_choice(ctx(), "studying")
    assert isinstance(studying, Accept) and studying.updates["still_studying"] is True
    assert not MonthStep().applies({"still_studying": True, "graduation_year": None}, catalogue)


@pytest.mark.parametrize(("text", "month"), [("7", 7), ("juli", 7), ("Sep", 9), ("december", 12)])
def test_month_by_number_or_name(text, month):
    result = MonthStep().on_text(ctx(), text)
    assert isinstance(result, Accept) and result.updates == {"graduation_month": month}


def test_month_names_in_english():
    result = MonthStep().on_text(ctx("en"), "march")
    assert isinstance(result, Accept) and result.updates == {"graduation_month": 3}


@pytest.mark.parametrize(
    ("text", "region"), [("35", "35"), ("Utrecht", "UT"), ("fryslan", None), ("09", None)]
)
def test_region_postcode_area_or_province(text, region):
    result = RegionStep().on_text(ctx(), text)
    if region is None:
        assert isinstance(result, Reject)
    else:
        assert isinstance(result, Accept) and result.updates == {"region": region}


def test_interests_toggle_and_finish():
    step = InterestsStep()
    first = step.on_choice(ctx(), "ai")
    assert first == Refine({"interests": ["ai"]})
    assert step.on_choice(ctx(interests=["ai"]), "ai") == Refine({"interests": []})
    done = step.on_choice(ctx(interests=["ai", "taal"]), "_done")
    assert isinstance(done, Accept) and done.updates == {"interests": ["ai", "taal"]}
    assert isinstance(step.on_choice(ctx(), "hacking"), Reject)


def test_every_button_fits_telegrams_64_bytes():
    for step in STEPS.values():
        prompt = step.prompt(ctx(crebo="25405", interests=["ai"]))
        for row in prompt.buttons:
            assert len(row) <= 8
            for button in row:
                assert button.data and 1 <= len(button.data.encode()) <= 64
    with pytest.raises(ValueError):
        callback("programme", "x" * 60)
