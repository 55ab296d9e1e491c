"""Profile questions: one step per question, shared by onboarding and ``/profiel`` edits.

A step renders its prompt and validates an answer into draft fields. Steps are pure: they
never touch the database, so a bad answer can never leave a half-saved profile.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bot.core.callbacks import CALLBACKS, parts
from bot.core.catalogue import Catalogue, Item
from bot.core.messenger import Button, Outgoing, rows
from bot.core.render import Renderer
from storage.models import OfferFrequency, Situation

NAME_MAX = 64
TEXT_MAX = 200  # longest free-text answer a step reads (a search, a year, a postcode)
BACK, SKIP, DONE = "_back", "_skip", "_done"


@dataclass
class StepContext:
    """What a step may read: locale, the draft answers so far and the catalogues."""

    locale: str
    draft: dict[str, Any]
    catalogue: Catalogue
    renderer: Renderer
    this_year: int
    suggested_name: str | None = None
    can_go_back: bool = False

    def text(self, template: str, **ctx: Any) -> str:
        """Render a message in the alumnus' locale."""
        return self.renderer.text(template, self.locale, **ctx)

    def label(self, template: str, **ctx: Any) -> str:
        """Render a button label in the alumnus' locale."""
        return self.renderer.label(template, self.locale, **ctx)


@dataclass(frozen=True)
class Accept:
    """A valid answer: these draft fields change; ``echo`` is shown as confirmation."""

    updates: dict[str, Any]
    echo: str | None = None


@dataclass(frozen=True)
class Reject:
    """An invalid answer: explain with this template block, then ask again."""

    reason: str
    ctx: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Refine:
    """Stay on this step with new information (search results, a toggled choice)."""

    updates: dict[str, Any]
    context: dict[str, Any] = field(default_factory=dict)


Outcome = Accept | Reject | Refine


def _parse_answer(payload: str) -> tuple[str, str] | None:
    found = parts(payload, 2)
    return None if found is None else (found[0], found[1])


# An answer in a flow: ``f:<step>:<value>``. Only the open flow's current step accepts it.
ANSWER = CALLBACKS.declare("f", _parse_answer, longest="offer_frequency:" + "x" * 40)


def callback(step: str, value: str) -> str:
    """Build the callback data of a step button: ``f:<step>:<value>``."""
    return ANSWER.build(step, value)


def clean_text(text: str) -> str:
    """Drop control and invisible format characters, keep letters of every script."""
    kept = [
        ch
        for ch in text
        if ch in " \t" or unicodedata.category(ch) not in ("Cc", "Cf", "Co", "Cs")
    ]
    return re.sub(r"\s+", " ", "".join(kept)).strip()


def _fold(text: str) -> str:
    return "".join(
        ch
        for ch in unicodedata.normalize("NFKD", text.casefold())
        if not unicodedata.combining(ch)
    ).strip()


def _match_item(items: Sequence[Item], text: str) -> Item | None:
    needle = _fold(text)
    for item in items:
        if needle == item.code.casefold() or any(needle == _fold(v) for v in item.labels.values()):
            return item
    return None


class Step:
    """One question. Subclasses set ``name`` and ``fields`` and override what they need."""

    name: ClassVar[str]
    fields: ClassVar[tuple[str, ...]]
    skippable: ClassVar[bool] = True

    def applies(self, draft: dict[str, Any], catalogue: Catalogue) -> bool:
        """Return whether this question is asked, given earlier answers."""
        return True

    def prompt(self, ctx: StepContext, **extra: Any) -> Outgoing:
        """Return the question with its buttons and the back/skip row."""
        return Outgoing(
            text=ctx.text(f"steps.ask_{self.name}", **self.prompt_context(ctx), **extra),
            buttons=[*self.buttons(ctx, **extra), *self.nav(ctx)],
        )

    def prompt_context(self, ctx: StepContext) -> dict[str, Any]:
        """Return template variables for the question."""
        return {}

    def buttons(self, ctx: StepContext, **extra: Any) -> list[list[Button]]:
        """Return the answer buttons."""
        return []

    def nav(self, ctx: StepContext) -> list[list[Button]]:
        """Return the back/skip row."""
        row = []
        if ctx.can_go_back:
            row.append(Button(ctx.label("labels.back"), callback(self.name, BACK)))
        if self.skippable:
            row.append(Button(ctx.label("labels.skip"), callback(self.name, SKIP)))
        return [row] if row else []

    def on_text(self, ctx: StepContext, text: str) -> Outcome:
        """Validate a typed answer; by default ask to use the buttons."""
        return Reject("steps.use_buttons")

    def on_choice(self, ctx: StepContext, value: str) -> Outcome:
        """Validate a pressed button; by default no button is valid."""
        return Reject("common.stale_button")

    def skip(self) -> Accept:
        """Return the answer that "skip" stands for: every field of this step empty."""
        return Accept({name: None for name in self.fields})


class ChoiceStep(Step):
    """A question answered by one of a catalogue's items (typed label also accepted)."""

    catalogue_name: ClassVar[str]
    per_row: ClassVar[int] = 2

    def items(self, ctx: StepContext) -> Sequence[Item]:
        """Return the items to choose from."""
        return list(getattr(ctx.catalogue, self.catalogue_name))

    def buttons(self, ctx: StepContext, **extra: Any) -> list[list[Button]]:
        """One button per item."""
        items = self.items(ctx)
        return rows(
            [Button(i.label(ctx.locale), callback(self.name, i.code)) for i in items], self.per_row
        )

    def on_choice(self, ctx: StepContext, value: str) -> Outcome:
        """Accept a listed item."""
        item = next((i for i in self.items(ctx) if i.code == value), None)
        if item is None:
            return Reject("common.stale_button")
        return Accept({self.fields[0]: item.code}, item.label(ctx.locale))

    def on_text(self, ctx: StepContext, text: str) -> Outcome:
        """Accept a typed label or code, else point at the buttons."""
        item = _match_item(self.items(ctx), text)
        if item is None:
            return Reject("steps.use_buttons")
        return Accept({self.fields[0]: item.code}, item.label(ctx.locale))


class NameStep(Step):
    """First name: suggested from Telegram, editable."""

    name = "name"
    fields = ("first_name",)

    def prompt_context(self, ctx: StepContext) -> dict[str, Any]:
        """Offer the Telegram first name."""
        return {"suggestion": self._suggestion(ctx)}

    def buttons(self, ctx: StepContext, **extra: Any) -> list[list[Button]]:
        """A button that takes the suggested name."""
        suggestion = self._suggestion(ctx)
        if not suggestion:
            return []
        label = ctx.label("labels.use_name", first_name=suggestion)
        return [[Button(label, callback(self.name, "suggested"))]]

    @staticmethod
    def _suggestion(ctx: StepContext) -> str | None:
        name = clean_text(ctx.suggested_name or "")
        return name[:NAME_MAX] if name and any(ch.isalpha() for ch in name) else None

    def on_choice(self, ctx: StepContext, value: str) -> Outcome:
        """Take the suggestion."""
        suggestion = self._suggestion(ctx)
        if value != "suggested" or suggestion is None:
            return Reject("common.stale_button")
        return Accept({"first_name": suggestion}, suggestion)

    def on_text(self, ctx: StepContext, text: str) -> Outcome:
        """Accept 1-64 characters with at least one letter, any script."""
        name = clean_text(text)
        if len(name) > NAME_MAX:
            return Reject("steps.name_too_long", {"max": NAME_MAX})
        if not any(ch.isalpha() for ch in name):
            return Reject("steps.name_invalid")
        return Accept({"first_name": name}, name)


class LocationStep(ChoiceStep):
    """The school location the alumnus studied at."""

    name = "location"
    fields = ("location",)
    catalogue_name = "locations"


class ProgrammeStep(Step):
    """The programme: found by typing part of its name or its crebo code."""

    name = "programme"
    fields = ("crebo", "level")

    def prompt(self, ctx: StepContext, **extra: Any) -> Outgoing:
        """Ask, or show the matches of a search."""
        matches = extra.get("matches")
        if matches is None:
            return super().prompt(ctx)
        return Outgoing(
            text=ctx.text("steps.programme_matches", query=extra["query"], count=len(matches)),
            buttons=[
                *[
                    [
                        Button(
                            ctx.label("labels.programme", p=p),
                            callback(self.name, p.code),
                        )
                    ]
                    for p in matches
                ],
                *self.nav(ctx),
            ],
        )

    def on_text(self, ctx: StepContext, text: str) -> Outcome:
        """Search the catalogue; an exact crebo code is taken at once."""
        query = clean_text(text)[:TEXT_MAX]
        if len(query) < 2:
            return Reject("steps.programme_too_short")
        exact = ctx.catalogue.programme(query)
        if exact is not None:
            return self._accept(ctx, exact.code)
        matches = ctx.catalogue.search_programmes(query)
        if not matches:
            return Reject("steps.programme_not_found", {"query": query})
        return Refine({}, {"matches": matches, "query": query})

    def on_choice(self, ctx: StepContext, value: str) -> Outcome:
        """Take a programme from the search results."""
        if ctx.catalogue.programme(value) is None:
            return Reject("common.stale_button")
        return self._accept(ctx, value)

    @staticmethod
    def _accept(ctx: StepContext, crebo: str) -> Accept:
        programme = ctx.catalogue.programme(crebo)
        assert programme is not None
        level = programme.levels[0] if len(programme.levels) == 1 else None
        return Accept({"crebo": crebo, "level": level}, programme.label(ctx.locale))


class LevelStep(Step):
    """The level, asked only when the programme exists at several levels."""

    name = "level"
    fields = ("level",)

    def applies(self, draft: dict[str, Any], catalogue: Catalogue) -> bool:
        """Ask only for a multi-level programme."""
        programme = catalogue.programme(draft.get("crebo"))
        return programme is not None and len(programme.levels) > 1

    def _levels(self, ctx: StepContext) -> tuple[int, ...]:
        programme = ctx.catalogue.programme(ctx.draft.get("crebo"))
        return programme.levels if programme else ()

    def buttons(self, ctx: StepContext, **extra: Any) -> list[list[Button]]:
        """One button per level offered."""
        return [
            [
                Button(ctx.label("labels.level", level=level), callback(self.name, str(level)))
                for level in self._levels(ctx)
            ]
        ]

    def on_choice(self, ctx: StepContext, value: str) -> Outcome:
        """Accept an offered level."""
        if not value.isdigit() or int(value) not in self._levels(ctx):
            return Reject("common.stale_button")
        return Accept({"level": int(value)}, ctx.label("labels.level", level=int(value)))

    def on_text(self, ctx: StepContext, text: str) -> Outcome:
        """Accept a typed level number."""
        digits = clean_text(text).removeprefix("niveau").strip()
        return self.on_choice(ctx, digits) if digits.isdigit() else Reject("steps.use_buttons")


class TrackStep(Step):
    """BOL (mostly at school) or BBL (working and learning)."""

    name = "track"
    fields = ("track",)
    TRACKS: ClassVar[tuple[str, ...]] = ("BOL", "BBL")

    def buttons(self, ctx: StepContext, **extra: Any) -> list[list[Button]]:
        """BOL and BBL."""
        return [
            [
                Button(ctx.label(f"labels.track_{t.lower()}"), callback(self.name, t))
                for t in self.TRACKS
            ]
        ]

    def on_choice(self, ctx: StepContext, value: str) -> Outcome:
        """Accept BOL or BBL."""
        if value not in self.TRACKS:
            return Reject("common.stale_button")
        return Accept({"track": value}, value)

    def on_text(self, ctx: StepContext, text: str) -> Outcome:
        """Accept "bol" or "bbl" typed."""
        return self.on_choice(ctx, clean_text(text).upper())


class GraduationStep(Step):
    """Graduation year, or "still studying"."""

    name = "graduation"
    fields = ("graduation_year", "graduation_month", "still_studying")
    FIRST_YEAR = 1960

    def _years(self, ctx: StepContext) -> list[int]:
        return list(range(ctx.this_year + 1, ctx.this_year - 8, -1))

    def buttons(self, ctx: StepContext, **extra: Any) -> list[list[Button]]:
        """Recent years, and "still studying"."""
        years = [Button(str(y), callback(self.name, str(y))) for y in self._years(ctx)]
        return [
            *rows(years, 3),
            [Button(ctx.label("labels.still_studying"), callback(self.name, "studying"))],
        ]

    def on_choice(self, ctx: StepContext, value: str) -> Outcome:
        """Accept a listed year or "still studying"."""
        if value == "studying":
            return Accept(
                {"still_studying": True, "graduation_year": None, "graduation_month": None},
                ctx.label("labels.still_studying"),
            )
        if not value.isdigit() or int(value) not in self._years(ctx):
            return Reject("common.stale_button")
        return self._year(int(value))

    def on_text(self, ctx: StepContext, text: str) -> Outcome:
        """Accept any plausible four-digit year."""
        value = clean_text(text)
        if not (value.isdigit() and len(value) == 4):
            return Reject("steps.year_invalid")
        year = int(value)
        if not self.FIRST_YEAR <= year <= ctx.this_year + 4:
            return Reject(
                "steps.year_out_of_range", {"first": self.FIRST_YEAR, "last": ctx.this_year + 4}
            )
        return self._year(year)

    @staticmethod
    def _year(year: int) -> Accept:
        return Accept({"graduation_year": year, "still_studying": False}, str(year))

    def skip(self) -> Accept:
        """Skipping keeps "still studying" a plain no."""
        return Accept({"graduation_year": None, "graduation_month": None, "still_studying": False})


class MonthStep(Step):
    """Graduation month, asked after a year."""

    name = "month"
    fields = ("graduation_month",)

    def applies(self, draft: dict[str, Any], catalogue: Catalogue) -> bool:
        """Ask only after a graduation year."""
        return bool(draft.get("graduation_year")) and not draft.get("still_studying")

    def buttons(self, ctx: StepContext, **extra: Any) -> list[list[Button]]:
        """Twelve months, four per row."""
        months = [
            Button(ctx.label("labels.month", n=n), callback(self.name, str(n)))
            for n in range(1, 13)
        ]
        return rows(months, 4)

    def on_choice(self, ctx: StepContext, value: str) -> Outcome:
        """Accept 1-12."""
        if not value.isdigit() or not 1 <= int(value) <= 12:
            return Reject("common.stale_button")
        month = int(value)
        return Accept({"graduation_month": month}, ctx.label("labels.month", n=month))

    def on_text(self, ctx: StepContext, text: str) -> Outcome:
        """Accept a month number or a month name in the alumnus' language."""
        value = _fold(clean_text(text))
        if value.isdigit():
            return (
                self.on_choice(ctx, value)
                if 1 <= int(value) <= 12
                else Reject("steps.month_invalid")
            )
        for n in range(1, 13):
            name = _fold(ctx.label("labels.month", n=n))
            if len(value) >= 3 and name.startswith(value):
                return self.on_choice(ctx, str(n))
        return Reject("steps.month_invalid")


class SituationStep(Step):
    """What the alumnus does now."""

    name = "situation"
    fields = ("situation",)

    def buttons(self, ctx: StepContext, **extra: Any) -> list[list[Button]]:
        """One button per situation."""
        return rows(
            [
                Button(ctx.label(f"labels.situation_{s.value}"), callback(self.name, s.value))
                for s in Situation
            ],
            2,
        )

    def on_choice(self, ctx: StepContext, value: str) -> Outcome:
        """Accept a listed situation."""
        if value not in {s.value for s in Situation}:
            return Reject("common.stale_button")
        return Accept({"situation": value}, ctx.label(f"labels.situation_{value}"))


class SectorStep(ChoiceStep):
    """The sector someone works in, asked only when working."""

    name = "sector"
    fields = ("sector",)
    catalogue_name = "sectors"

    def applies(self, draft: dict[str, Any], catalogue: Catalogue) -> bool:
        """Ask only when working."""
        return draft.get("situation") == Situation.WORKING.value


class RegionStep(ChoiceStep):
    """Province, or the first two digits of the postcode (never an address)."""

    name = "region"
    fields = ("region",)
    catalogue_name = "regions"
    per_row = 3

    def on_text(self, ctx: StepContext, text: str) -> Outcome:
        """Accept a province name or a two-digit postcode area."""
        value = clean_text(text)[:TEXT_MAX]
        if ctx.catalogue.is_postcode_area(value):
            return Accept({"region": value}, value)
        if value[:2].isdigit():
            return Reject("steps.postcode_invalid")
        result = super().on_text(ctx, value)
        return Reject("steps.region_invalid") if isinstance(result, Reject) else result


class InterestsStep(Step):
    """LLO topics: several, toggled on and off, then "done"."""

    name = "interests"
    fields = ("interests",)

    def buttons(self, ctx: StepContext, **extra: Any) -> list[list[Button]]:
        """A toggle per topic and a "done" button."""
        chosen = set(ctx.draft.get("interests") or [])
        toggles = [
            Button(
                ctx.label("labels.toggle", on=item.code in chosen, text=item.label(ctx.locale)),
                callback(self.name, item.code),
            )
            for item in ctx.catalogue.interests
        ]
        return [*rows(toggles, 2), [Button(ctx.label("labels.done"), callback(self.name, DONE))]]

    def on_choice(self, ctx: StepContext, value: str) -> Outcome:
        """Toggle a topic, or finish."""
        chosen = list(ctx.draft.get("interests") or [])
        if value == DONE:
            labels = [ctx.catalogue.item("interest", c) for c in chosen]
            return Accept(
                {"interests": chosen}, ", ".join(i.label(ctx.locale) for i in labels if i)
            )
        if ctx.catalogue.item("interest", value) is None:
            return Reject("common.stale_button")
        chosen = [c for c in chosen if c != value] if value in chosen else [*chosen, value]
        return Refine({"interests": chosen})

    def on_text(self, ctx: StepContext, text: str) -> Outcome:
        """Toggle a topic typed by name."""
        item = _match_item(ctx.catalogue.interests, text)
        return self.on_choice(ctx, item.code) if item else Reject("steps.use_buttons")

    def skip(self) -> Accept:
        """Skipping means no interests."""
        return Accept({"interests": []})


class FrequencyStep(Step):
    """How often new matching offers reach someone with interests (personal matching)."""

    name = "frequency"
    fields = ("offer_frequency",)

    def applies(self, draft: dict[str, Any], catalogue: Catalogue) -> bool:
        """Ask only someone who chose interests."""
        return bool(draft.get("interests"))

    def buttons(self, ctx: StepContext, **extra: Any) -> list[list[Button]]:
        """One button per frequency."""
        return rows(
            [
                Button(ctx.label(f"labels.frequency_{f.value}"), callback(self.name, f.value))
                for f in OfferFrequency
            ],
            2,
        )

    def on_choice(self, ctx: StepContext, value: str) -> Outcome:
        """Accept a listed frequency."""
        if value not in {f.value for f in OfferFrequency}:
            return Reject("common.stale_button")
        return Accept({"offer_frequency": value}, ctx.label(f"labels.frequency_{value}"))

    def on_text(self, ctx: StepContext, text: str) -> Outcome:
        """Accept a typed label."""
        typed = _fold(clean_text(text))
        for f in OfferFrequency:
            if typed and typed == _fold(ctx.label(f"labels.frequency_{f.value}")):
                return self.on_choice(ctx, f.value)
        return Reject("steps.use_buttons")


STEPS: dict[str, Step] = {
    step.name: step
    for step in (
        NameStep(),
        LocationStep(),
        ProgrammeStep(),
        LevelStep(),
        TrackStep(),
        GraduationStep(),
        MonthStep(),
        SituationStep(),
        SectorStep(),
        RegionStep(),
        InterestsStep(),
        FrequencyStep(),
    )
}

# The profile in the order asked; /profiel edits one group at a time.
PROFILE_GROUPS: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "location": ("location",),
    "programme": ("programme", "level", "track"),
    "graduation": ("graduation", "month"),
    "situation": ("situation", "sector"),
    "region": ("region",),
    "interests": ("interests", "frequency"),
}
PROFILE_STEPS: tuple[str, ...] = tuple(s for group in PROFILE_GROUPS.values() for s in group)
PROFILE_FIELDS: tuple[str, ...] = tuple(f for s in PROFILE_STEPS for f in STEPS[s].fields)
