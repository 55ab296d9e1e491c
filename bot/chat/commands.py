"""The command menu: Dutch names first, English aliases for English-speaking alumni."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """A command: its Dutch name, its English alias, and the label block describing it."""

    nl: str
    en: str
    key: str


COMMANDS: tuple[Command, ...] = (
    Command("start", "start", "start"),
    Command("vraag", "question", "question"),
    Command("profiel", "profile", "profile"),
    Command("privacy", "privacy", "privacy"),
    Command("mijngegevens", "mydata", "mydata"),
    Command("verwijderen", "delete", "delete"),
    Command("stop", "stop", "stop"),
    Command("taal", "language", "language"),
    Command("help", "help", "help"),
)


def names(key: str) -> list[str]:
    """Return the command names (Dutch and English, once each) for a command key."""
    command = next(c for c in COMMANDS if c.key == key)
    return list(dict.fromkeys((command.nl, command.en)))
