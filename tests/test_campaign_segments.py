"""One reading of a segment choice, for a posted form and for command-line options alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from multidict import MultiDict

from bot.campaigns.segments import Filters, filters_of, parse_filters
from bot.core.catalogue import Catalogue
from bot.core.settings import CONTENT_DIR, Settings


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue(CONTENT_DIR / "catalogue")


def test_a_form_and_options_read_the_same(catalogue):
    form = MultiDict(
        [
            ("crebos", "25180"),
            ("crebos", "25655"),
            ("levels", "2"),
            ("regions", "ut, 35"),
            ("cohort_from", "2020"),
            ("active_days", "90"),
        ]
    )
    options = {
        "crebos": ["25180", "25655"],
        "levels": [2],
        "regions": ["UT", "35"],
        "cohort_from": 2020,
        "active_days": 90,
    }
    from_form, form_errors = parse_filters(form, catalogue)
    from_options, option_errors = parse_filters(options, catalogue)
    assert form_errors == option_errors == {}
    assert from_form == from_options
    assert from_form.regions == ["UT", "35"]
    assert from_form.levels == [2]


def test_wrong_values_are_left_out_and_named(catalogue):
    chosen, errors = parse_filters(
        {"crebos": ["99999"], "levels": ["7"], "cohort_from": "2024", "cohort_to": "2020"},
        catalogue,
    )
    assert chosen.crebos == [] and chosen.levels == []
    assert errors == {
        "crebos": "web.filter_error_crebos",
        "levels": "web.filter_error_levels",
        "cohort_to": "web.filter_error_cohort_order",
    }


def test_stored_filters_come_back_and_turn_into_service_filters(catalogue):
    chosen = Filters(crebos=["25180"], levels=[2], cohort_to=2025, active_days=30)
    assert filters_of(chosen.stored()) == chosen
    now = datetime(2026, 6, 1, tzinfo=UTC)
    given = chosen.for_service(now)
    assert given["active_since"] == now - timedelta(days=30)
    assert given["crebos"] == ["25180"] and given["cohort_to"] == 2025


def test_the_staff_locale_is_a_known_language():
    assert Settings().staff_locale == "nl"
    assert Settings(staff_locale="en").staff_locale == "en"
    with pytest.raises(ValueError, match="staff_locale"):
        Settings(staff_locale="de")


def test_a_chosen_segment_carried_on_as_form_fields_reads_back_the_same(catalogue):
    chosen, errors = parse_filters(
        {
            "crebos": ["25180"],
            "levels": ["4", "3"],
            "regions": "UT, 35",
            "cohort_from": "2022",
            "cohort_to": "2024",
            "active_days": "90",
        },
        catalogue,
    )
    assert errors == {}
    again, errors = parse_filters(MultiDict(chosen.as_form()), catalogue)
    assert errors == {} and again == chosen
