"""Which new passwords the console accepts (OWASP ASVS 2.1.1, 2.1.2 and 2.1.7).

At least 12 and at most 128 characters, no control characters, not one of the common and
breached passwords shipped in ``content/passwords/``, and none of the patterns those lists
are full of: a repeated piece (``passwordpassword``), a run along the keyboard or the
alphabet (``qwertyuiopas``, ``123456789012``), or the member's own e-mail address or name.
:func:`password_problem` names the first rule broken; the words for it are the
``web.password_<reason>`` blocks in ``content/<locale>/web.j2``.
"""

from __future__ import annotations

import gzip
import itertools
import re
from functools import lru_cache
from pathlib import Path

from bot.core.settings import CONTENT_DIR
from bot.core.text import is_clean

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
COMMON_PASSWORDS = CONTENT_DIR / "passwords" / "common-passwords.txt.gz"

# Keys next to each other: rows of QWERTY and AZERTY, the digits, the alphabet, the columns.
_RUNS = (
    "abcdefghijklmnopqrstuvwxyz",
    "01234567890",
    "qwertyuiopasdfghjklzxcvbnm",
    "azertyuiopqsdfghjklmwxcvbn",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "!@#$%^&*()_+",
)
_NEIGHBOURS = frozenset(
    pair for run in _RUNS for a, b in itertools.pairwise(run) for pair in ((a, b), (b, a))
)
_SERVICE_WORDS = ("alumnibot",)


@lru_cache(maxsize=4)
def common_passwords(path: Path = COMMON_PASSWORDS) -> frozenset[str]:
    """Return the shipped list of common and breached passwords, lower case (read once)."""
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip())


def _mostly_runs(password: str) -> bool:
    """Return whether two thirds or more of the characters lie in runs of 3+ neighbours."""
    covered, run = 0, 1
    for previous, current in itertools.pairwise(password):
        if (previous, current) in _NEIGHBOURS:
            run += 1
            continue
        covered += run if run >= 3 else 0
        run = 1
    covered += run if run >= 3 else 0
    return covered * 3 >= len(password) * 2


def _personal_words(email: str, name: str) -> list[str]:
    local = email.lower().partition("@")[0]
    parts = [*re.split(r"[^\w]+", f"{local} {name.lower()}"), local]
    return [part for part in parts if len(part) >= 4] + list(_SERVICE_WORDS)


def password_problem(password: str, *, email: str = "", name: str = "") -> str | None:
    """Return why a new password is refused, or None when it is fine.

    Reasons: ``too_short``, ``too_long``, ``characters``, ``common``, ``repeats``,
    ``sequence``, ``personal``.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return "too_short"
    if len(password) > MAX_PASSWORD_LENGTH:
        return "too_long"
    if not is_clean(password):
        return "characters"
    lower = password.lower()
    common = common_passwords()
    if lower in common or lower.rstrip("0123456789!?.,;:-_+*#@$%&/ ") in common:
        return "common"
    repeated = re.fullmatch(r"(.+?)\1+", lower, re.S)
    if len(set(lower)) <= 3 or repeated:
        return "repeats"
    if _mostly_runs(lower):
        return "sequence"
    if any(word in lower for word in _personal_words(email, name)):
        return "personal"
    return None
