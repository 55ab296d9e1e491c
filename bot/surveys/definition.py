"""Survey definitions from content/surveys/*.yaml: questions, options and skip logic."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TYPES = ("scale", "nps", "single", "multi", "text")
# A survey's code names it in the console's addresses and the outbox's keys.
CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,47}")


@dataclass(frozen=True)
class Option:
    """A choice of a single or multiple choice question."""

    code: str
    labels: dict[str, str]


@dataclass(frozen=True)
class SurveyQuestion:
    """One question of a survey."""

    id: str
    type: str
    texts: dict[str, str]
    options: tuple[Option, ...] = ()
    show_if: tuple[str, tuple[str, ...]] | None = None

    def values(self) -> list[str]:
        """Return the values a button of this question can carry."""
        if self.type == "scale":
            return [str(n) for n in range(1, 6)]
        if self.type == "nps":
            return [str(n) for n in range(11)]
        return [o.code for o in self.options]

    def applies(self, answers: Mapping[str, Any]) -> bool:
        """Return whether the skip logic asks this question after ``answers``."""
        if self.show_if is None:
            return True
        question, allowed = self.show_if
        given = answers.get(question)
        chosen = given if isinstance(given, list) else [given]
        return any(str(value) in allowed for value in chosen if value is not None)


@dataclass(frozen=True)
class Survey:
    """A survey: title and intro per language, questions in order.

    ``team``: the code of the team whose coordinators may send it from the console, as an
    offer's contact team lets them send its campaigns; without one only admins may.
    """

    code: str
    titles: dict[str, str]
    intros: dict[str, str]
    questions: tuple[SurveyQuestion, ...]
    team: str | None = None

    def title(self, locale: str) -> str:
        """Return the title in ``locale``, else in Dutch, else the code."""
        return self.titles.get(locale) or self.titles.get("nl") or self.code

    def next_step(self, answers: Mapping[str, Any], after: int = -1) -> int | None:
        """Return the index of the next question that applies, or None when complete."""
        for index in range(after + 1, len(self.questions)):
            if self.questions[index].applies(answers):
                return index
        return None

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Survey:
        """Build a survey from its YAML mapping, checking what the chat relies on."""
        code = str(data["code"])
        if not CODE.fullmatch(code):
            raise ValueError(
                f"survey {code!r}: a code is 1 to 48 of a-z, 0-9, '-' and '_', starting with "
                "a letter or digit"
            )
        questions = []
        seen: set[str] = set()
        for raw in data.get("questions") or []:
            kind = str(raw["type"])
            if kind not in TYPES:
                raise ValueError(f"survey {code}: unknown question type {kind!r}")
            options = tuple(
                Option(str(o["code"]), {k: str(v) for k, v in o.items() if k != "code"})
                for o in raw.get("options") or []
            )
            if kind in ("single", "multi") and not options:
                raise ValueError(f"survey {code}: {raw['id']} needs options")
            show_if = raw.get("show_if")
            condition = None
            if show_if:
                if str(show_if["question"]) not in seen:
                    raise ValueError(f"survey {code}: show_if must name an earlier question")
                condition = (str(show_if["question"]), tuple(str(v) for v in show_if["in"]))
            question_id = str(raw["id"])
            if len(question_id) > 12 or any(len(o.code) > 12 for o in options):
                raise ValueError(f"survey {code}: ids and option codes are at most 12 letters")
            seen.add(question_id)
            questions.append(
                SurveyQuestion(
                    question_id,
                    kind,
                    {k: str(v) for k, v in (raw.get("text") or {}).items()},
                    options,
                    condition,
                )
            )
        return cls(
            code=code,
            titles={k: str(v) for k, v in (data.get("title") or {}).items()},
            intros={k: str(v) for k, v in (data.get("intro") or {}).items()},
            questions=tuple(questions),
            team=str(data["team"]) if data.get("team") else None,
        )


def load_surveys(directory: Path) -> dict[str, Survey]:
    """Read every survey of content/surveys/."""
    surveys = {}
    for path in sorted(directory.glob("*.yaml")):
        survey = Survey.parse(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        surveys[survey.code] = survey
    return surveys
