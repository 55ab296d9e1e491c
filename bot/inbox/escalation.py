"""Words that need a person soon (content/escalation.yaml), in anything an alumnus types.

A match marks the person's conversation in the coordinator inbox urgent: it leads the inbox
until it is closed. Check-ins, surveys and the inbox's own messages all read the same list.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


def _plain(text: str) -> str:
    """Lower case without accents (suïcide, suicide and SUÏCIDE match alike)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass(frozen=True)
class Escalation:
    """content/escalation.yaml: words in a typed answer that need a person soon."""

    pattern: re.Pattern[str] | None

    @classmethod
    def load(cls, path: Path) -> Escalation:
        """Read the words of every language into one whole-word pattern."""
        data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        words = sorted(
            {_plain(str(w)).strip() for ws in (data.get("words") or {}).values() for w in ws}
            - {""},
            key=len,
            reverse=True,
        )
        if not words:
            return cls(None)
        alternatives = "|".join(r"\s+".join(map(re.escape, w.split())) for w in words)
        return cls(re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)"))

    def matches(self, text: str) -> bool:
        """Return whether ``text`` holds one of the words."""
        return self.pattern is not None and self.pattern.search(_plain(text)) is not None
