"""The check-in questions, after the national school-leaver surveys (ROA, CBS).

Pure data and logic: which question comes next given the answers so far; a question that
does not apply is skipped (no contract question for someone who is studying).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

WORKING, STUDYING, BOTH, LOOKING, OTHER = "working", "studying", "both", "looking", "other"
SKIP = "-"  # a typed question left open


@dataclass(frozen=True)
class Question:
    """One question: its code, the values of its buttons (none: typed), and who gets it."""

    code: str
    values: tuple[str, ...] = ()
    when: tuple[str, ...] = ()  # the situations it applies to; empty: everyone
    per_row: int = 1

    @property
    def typed(self) -> bool:
        """Return whether the answer is typed (with a button to skip it)."""
        return not self.values

    def applies(self, answers: Mapping[str, str | None]) -> bool:
        """Return whether this question is asked given the answers so far."""
        return not self.when or answers.get("situation") in self.when


WORK = (WORKING, BOTH)
STUDY = (STUDYING, BOTH)

QUESTIONS: tuple[Question, ...] = (
    Question("situation", (WORKING, STUDYING, BOTH, LOOKING, OTHER)),
    Question("other_what", when=(OTHER,)),
    # Working: in the field of the programme, at the level, the contract, hours, satisfaction.
    Question("field", ("own", "related", "other"), WORK),
    Question("level", ("above", "same", "below"), WORK),
    Question("contract", ("permanent", "temporary", "flex", "self"), WORK),
    Question("hours", ("lt12", "12to24", "24to32", "32plus"), WORK, per_row=2),
    Question("satisfied", ("1", "2", "3", "4", "5"), WORK, per_row=5),
    # Studying further: which level, and which programme (typed).
    Question("study_level", ("hbo", "mbo", "other"), STUDY),
    Question("study_name", when=STUDY),
    # Everyone.
    Question("again", ("yes", "programme", "school", "neither")),
    Question("help", ("yes", "no"), per_row=2),
)
BY_CODE = {q.code: q for q in QUESTIONS}


def next_question(answers: Mapping[str, str | None]) -> Question | None:
    """Return the first question that applies and is not answered yet, or None (done)."""
    for question in QUESTIONS:
        if question.code not in answers and question.applies(answers):
            return question
    return None


def situation_of(answer: str) -> str:
    """Map the check-in's situation onto the profile's (working and studying: working)."""
    return WORKING if answer == BOTH else answer
