"""The one way a coordinator's segment choice is read: the console's composer and the CLI.

:class:`storage.campaigns.Segment` is the query (who a campaign reaches); :class:`Filters` is
what a coordinator chose (relative "active in the last N days" rather than a date, no
purpose: the offer's kind fixes it), and :func:`parse_filters` reads and checks it against
the catalogue, from a posted form or from command-line options alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.core.catalogue import Catalogue
from storage.campaigns import Segment
from storage.models import Situation

FILTER_LISTS = Segment.LISTS
SITUATIONS = tuple(s.value for s in Situation)
ACTIVE_DAYS = (0, 30, 90, 180, 365)  # "last activity" choices; 0 means any time
MAX_FIELD = 2000  # longer than any valid value: the validator then says what is wrong

# A posted form (a multidict: ``getall`` gives every value of a name) or a plain mapping of
# names to a value or a list of values (command-line options).
Form = Mapping[str, Any]


def values_of(form: Form, name: str) -> list[str]:
    """Every value of a multi-select, or a typed list ("NH, 35"), as strings."""
    getall = getattr(form, "getall", None)
    if getall is not None:
        raw = list(getall(name, []))
    else:
        given = form.get(name)
        raw = list(given) if isinstance(given, list | tuple) else [given]
    found: list[str] = []
    for value in raw:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str):
            found.extend(part.strip() for part in value.replace(";", ",").split(","))
    return [value[:64] for value in found if value][:100]


def text_of(form: Form, name: str) -> str:
    """Return one value of a form as text ("" when absent), cut at :data:`MAX_FIELD`."""
    value = form.get(name)
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value[:MAX_FIELD] if isinstance(value, str) else ""


def year_of(value: object) -> int | None:
    """Return a plausible graduation year, or None."""
    if isinstance(value, int) and 1950 <= value <= 2100:
        return value
    if isinstance(value, str) and value.strip().isdigit() and 1950 <= int(value) <= 2100:
        return int(value)
    return None


@dataclass
class Filters:
    """A coordinator's segment choice: what the composer shows, and what a campaign gets."""

    crebos: list[str] = field(default_factory=list)
    levels: list[int] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    situations: list[str] = field(default_factory=list)
    sectors: list[str] = field(default_factory=list)
    interests: list[str] = field(default_factory=list)
    cohort_from: int | None = None
    cohort_to: int | None = None
    active_days: int = 0

    def stored(self) -> dict[str, Any]:
        """Return the filters as JSON (a saved segment)."""
        return {
            **{name: list(getattr(self, name)) for name in FILTER_LISTS},
            "cohort_from": self.cohort_from,
            "cohort_to": self.cohort_to,
            "active_days": self.active_days,
        }

    def as_form(self) -> list[tuple[str, str]]:
        """Return the chosen values as form fields (a confirmation carries them on).

        :func:`parse_filters` reads them back to the same filters.
        """
        fields = [(name, str(v)) for name in FILTER_LISTS for v in getattr(self, name)]
        fields += [
            (name, str(year))
            for name, year in (("cohort_from", self.cohort_from), ("cohort_to", self.cohort_to))
            if year is not None
        ]
        if self.active_days:
            fields.append(("active_days", str(self.active_days)))
        return fields

    def for_service(self, now: datetime) -> dict[str, Any]:
        """Return the keyword filters of ``CampaignService.segment_for`` and ``create``."""
        return {
            **{name: list(getattr(self, name)) for name in FILTER_LISTS},
            "cohort_from": self.cohort_from,
            "cohort_to": self.cohort_to,
            "active_since": now - timedelta(days=self.active_days) if self.active_days else None,
        }


def parse_filters(form: Form, catalogue: Catalogue) -> tuple[Filters, dict[str, str]]:
    """Read a segment choice; return it and a reason block (``web.filter_error_*``) per field.

    Args:
        form: the names of :class:`Filters` (``crebos``, ``levels``, ... ``cohort_from``,
            ``cohort_to``, ``active_days``); a list may be given as several values or as one
            text separated by commas. A posted form or a plain mapping (command-line options).
        catalogue: what valid codes are. Wrong values are left out and reported.
    """
    errors: dict[str, str] = {}
    chosen = Filters()
    checks: dict[str, Callable[[str], bool]] = {
        "crebos": lambda v: catalogue.programme(v) is not None,
        "locations": lambda v: catalogue.item("location", v) is not None,
        "regions": catalogue.is_region,
        "situations": lambda v: v in SITUATIONS,
        "sectors": lambda v: catalogue.item("sector", v) is not None,
        "interests": lambda v: catalogue.item("interest", v) is not None,
    }
    for name, valid in checks.items():
        values = values_of(form, name)
        if name == "regions":
            values = [v if v.isdigit() else v.upper() for v in values]
        if any(not valid(v) for v in values):
            errors[name] = f"web.filter_error_{name}"
        setattr(chosen, name, [v for v in dict.fromkeys(values) if valid(v)])
    levels = values_of(form, "levels")
    if any(not (v.isdigit() and 1 <= int(v) <= 4) for v in levels):
        errors["levels"] = "web.filter_error_levels"
    chosen.levels = sorted({int(v) for v in levels if v.isdigit() and 1 <= int(v) <= 4})
    for name in ("cohort_from", "cohort_to"):
        raw = text_of(form, name).strip()
        year = year_of(raw)
        if raw and year is None:
            errors[name] = "web.filter_error_cohort"
        setattr(chosen, name, year)
    if chosen.cohort_from and chosen.cohort_to and chosen.cohort_from > chosen.cohort_to:
        errors["cohort_to"] = "web.filter_error_cohort_order"
    days = text_of(form, "active_days").strip() or "0"
    if not days.isdigit() or int(days) not in ACTIVE_DAYS:
        errors["active_days"] = "web.filter_error_active"
    else:
        chosen.active_days = int(days)
    return chosen, errors


def filters_of(data: Mapping[str, Any]) -> Filters:
    """Rebuild stored filters (a saved segment; values from an older catalogue kept)."""
    chosen = Filters()
    for name in FILTER_LISTS:
        values = data.get(name) or []
        setattr(chosen, name, [int(v) for v in values] if name == "levels" else values)
    chosen.cohort_from = year_of(data.get("cohort_from"))
    chosen.cohort_to = year_of(data.get("cohort_to"))
    days = data.get("active_days")
    chosen.active_days = days if isinstance(days, int) and days in ACTIVE_DAYS else 0
    return chosen
