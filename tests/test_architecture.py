"""Rules of the layout that import-linter cannot see: SQL stays in storage/.

``lint-imports`` forbids bot/ to import sqlalchemy or sqlmodel, but a transaction's raw
session (``Tx.session``) reaches the ORM without importing anything. Only storage/'s
repositories may use it.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# An attribute named ``session`` that is read, not called: ``tx.session``, ``turn.tx.session``.
# (``auth.session(token)`` is a method of the console's auth service, not a database session.)
SESSION = re.compile(r"\.session\b(?!\s*\()")

ALLOWED: set[str] = set()  # nothing outside storage/ reads a transaction's session


def session_uses(folder: str) -> dict[str, list[int]]:
    """Return the lines of every file under ``folder`` that read a ``.session`` attribute."""
    found: dict[str, list[int]] = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        lines = path.read_text(encoding="utf-8").splitlines()
        hits = [number for number, line in enumerate(lines, 1) if SESSION.search(line)]
        if hits:
            found[name] = hits
    return found


def test_no_database_session_outside_storage():
    used = {**session_uses("bot"), **session_uses("handlers")}
    wrong = {name: lines for name, lines in used.items() if name not in ALLOWED}
    assert wrong == {}, (
        "SQL and the ORM live in storage/: add a repository method instead of using "
        f"Tx.session in {wrong}"
    )


def test_the_allow_list_holds_only_files_that_need_it():
    used = {**session_uses("bot"), **session_uses("handlers")}
    assert set(used) >= ALLOWED, "remove the files that no longer use Tx.session from ALLOWED"


def test_the_guard_sees_a_session():
    assert SESSION.search("alumnus = await tx.session.get(Alumnus, 1)")
    assert SESSION.search("repository = Repo(turn.tx.session)")
    assert not SESSION.search("principal = await console.auth.session(token)")
    assert not SESSION.search("self._session = session")


def test_console_routes_read_forms_only_through_the_input_check():
    """``form_of(request)`` is the form check_input read and checked; ``request.post()`` is
    the raw one. Three offer routes once read the raw form (the middleware had refused bad
    input before, so it was one way too many rather than a hole)."""
    raw = re.compile(r"request\.post\(\)")
    found = {
        path.relative_to(ROOT).as_posix(): n
        for path in sorted((ROOT / "handlers" / "web").glob("*.py"))
        if path.name != "security.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if raw.search(line)
    }
    assert found == {}
