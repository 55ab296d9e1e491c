"""The catalogues a school edits in ``content/catalogue/``: programmes, locations, regions..."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.core.render import DEFAULT_LOCALE, LOCALES

POSTCODE_AREA = re.compile(r"^[1-9][0-9]$")


@dataclass(frozen=True)
class Item:
    """A catalogue entry with a stable code and a label per language."""

    code: str
    labels: dict[str, str]

    def label(self, locale: str) -> str:
        """Return the label in ``locale``, falling back to the default language (Dutch)."""
        return self.labels.get(locale) or self.labels[DEFAULT_LOCALE]


@dataclass(frozen=True)
class Programme(Item):
    """An mbo qualification: crebo code (the ``code``), levels offered and its sector."""

    levels: tuple[int, ...]
    sector: str


def _fold(text: str) -> str:
    """Lower-case and strip accents so "coordinator" finds "Coördinator"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


class Catalogue:
    """All catalogues, loaded once at start-up."""

    def __init__(self, directory: Path) -> None:
        self.programmes = [
            Programme(
                code=str(row["crebo"]),
                labels={locale: row[locale] for locale in LOCALES},
                levels=tuple(row["levels"]),
                sector=row["sector"],
            )
            for row in self._load(directory / "programmes.yaml")
        ]
        self.locations = self._items(directory / "locations.yaml")
        self.regions = self._items(directory / "regions.yaml")
        # The first two digits of a postcode, each named: "postcodegebied 35 (Utrecht)".
        self.postcode_areas = self._items(directory / "postcode_areas.yaml")
        self.sectors = self._items(directory / "sectors.yaml")
        self.interests = self._items(directory / "interests.yaml")
        self._programmes = {p.code: p for p in self.programmes}
        self._index = {
            name: {item.code: item for item in items}
            for name, items in (
                ("location", self.locations),
                ("region", self.regions),
                ("postcode_area", self.postcode_areas),
                ("sector", self.sectors),
                ("interest", self.interests),
            )
        }

    @staticmethod
    def _load(path: Path) -> list[dict[str, Any]]:
        rows = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        if not isinstance(rows, list):
            raise ValueError(f"{path} must hold a list")
        return rows

    @classmethod
    def _items(cls, path: Path) -> list[Item]:
        return [
            Item(code=str(row["code"]), labels={locale: row[locale] for locale in LOCALES})
            for row in cls._load(path)
        ]

    def programme(self, crebo: str | None) -> Programme | None:
        """Return the programme with this crebo code."""
        return self._programmes.get(crebo or "")

    def item(self, kind: str, code: str | None) -> Item | None:
        """Return the location, region, postcode area, sector or interest with this code."""
        return self._index[kind].get(code or "")

    def search_programmes(self, query: str, limit: int = 8) -> list[Programme]:
        """Find programmes by (part of) the crebo code or of the name in either language."""
        needle = _fold(query.strip())
        if not needle:
            return []
        if needle.isdigit():
            return [p for p in self.programmes if p.code.startswith(needle)][:limit]
        words = needle.split()
        scored: list[tuple[int, str, Programme]] = []
        for programme in self.programmes:
            names = [_fold(label) for label in programme.labels.values()]
            if all(any(word in name for name in names) for word in words):
                starts = any(name.startswith(needle) for name in names)
                scored.append((0 if starts else 1, programme.labels[DEFAULT_LOCALE], programme))
        scored.sort(key=lambda row: (row[0], row[1]))
        return [programme for _, _, programme in scored][:limit]

    def region_label(self, code: str | None, locale: str) -> str | None:
        """Return a readable region: a province's or a postcode area's name, else the code."""
        if not code:
            return None
        item = self.item("region", code) or self.item("postcode_area", code)
        return item.label(locale) if item else code

    def is_region(self, code: str) -> bool:
        """Return whether ``code`` is a province code or a postcode area of the catalogue."""
        return (
            self.item("region", code) is not None or self.item("postcode_area", code) is not None
        )

    @staticmethod
    def is_postcode_area(text: str) -> bool:
        """Return whether ``text`` is the first two digits of a Dutch postcode."""
        return bool(POSTCODE_AREA.match(text.strip()))
