"""The test suite's own layout: no test module imports another; shared helpers have a home."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """Return (line, module) for every import in ``tree``, nested ones included."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            # `from tests import test_x` imports a test module too.
            if node.module == "tests":
                found += [(node.lineno, f"tests.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            # Relative: `from .test_x import y` or `from . import test_x`.
            names = [node.module] if node.module else [a.name for a in node.names]
            found += [(node.lineno, f"tests.{name}") for name in names]
    return found


def imports_of_test_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        f"{path.name}:{line} imports {module}"
        for line, module in imported_modules(tree)
        if module.startswith(("tests.test_", "test_"))
    ]


def test_the_check_sees_every_form_of_importing_a_test_module():
    source = """
from tests.test_inbox import ask
import tests.test_cli
from tests import test_onboarding
from .test_campaigns import add_alumnus
def later():
    from tests.test_web_inbox import post
from tests.chat import ask
"""
    modules = [m for _, m in imported_modules(ast.parse(source))]
    assert [m for m in modules if m.startswith("tests.test_")] == [
        "tests.test_inbox",
        "tests.test_cli",
        "tests.test_onboarding",
        "tests.test_campaigns",
        "tests.test_web_inbox",
    ]


def test_no_test_module_imports_another_test_module():
    modules = sorted(TESTS.glob("test_*.py"))
    assert len(modules) > 30
    offences = [offence for path in modules for offence in imports_of_test_modules(path)]
    assert offences == [], "move shared helpers to a helper module:\n" + "\n".join(offences)
