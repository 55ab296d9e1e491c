"""What each feature stores about a person: the registry /mijngegevens and /verwijderen read.

Every feature that keeps rows about an alumnus declares them here, from the composition root
(``handlers/graph.py``), one line per feature: the tables, a provider that returns the
person's rows of those tables, and, when erasure needs more than the database's cascade, a
``forget`` step (the inbox deletes the person's forum topics). The export is generated from
the registry, so a feature that is not declared is not in it; ``tests/test_privacy_export.py``
fails when a table that refers to an alumnus is in no declaration, and compares the export
with every row that refers to the person.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from storage.models import Alumnus
from storage.repositories import Tx

Rows = dict[str, list[dict[str, Any]]]  # table name -> the person's rows, as plain data
Provider = Callable[[Tx, Alumnus], Awaitable[Rows]]
Forget = Callable[[Tx, Alumnus], Awaitable[Any]]
Describe = Callable[[Alumnus, str], Sequence[tuple[str, str | None]]]

# Tables with a column that looks like a person's but is not: the reason is the declaration.
NOT_ABOUT_A_PERSON = {
    "team": "chat_id is the team's staff group, not a person",
}


@dataclass(frozen=True)
class Holding:
    """One feature's declaration: which tables hold rows about a person, and how to get them."""

    feature: str
    tables: tuple[str, ...]
    provider: Provider
    forget: Forget | None = None


class PersonalData:
    """The registry of everything the bot holds about a person, filled by the features."""

    def __init__(self) -> None:
        self._holdings: list[Holding] = []
        self._describe: Describe | None = None

    def declare(
        self,
        feature: str,
        tables: Sequence[str],
        provider: Provider,
        *,
        forget: Forget | None = None,
    ) -> None:
        """Declare that ``feature`` keeps rows about a person in ``tables``.

        Args:
            feature: the feature's name (``inbox``).
            tables: the tables it keeps them in; no other feature may declare them.
            provider: returns the person's rows of exactly those tables.
            forget: what erasure must do besides deleting the rows (the database cascades
                from ``alumnus``), in the erasure's transaction.
        """
        taken = self.tables() & set(tables)
        if taken:
            raise ValueError(f"tables declared twice: {sorted(taken)}")
        self._holdings.append(Holding(feature, tuple(tables), provider, forget))

    def describe_with(self, describe: Describe) -> None:
        """Use ``describe`` for the readable profile in the summary (names, not codes)."""
        self._describe = describe

    @property
    def holdings(self) -> tuple[Holding, ...]:
        """Every declaration, in the order made."""
        return tuple(self._holdings)

    def tables(self) -> set[str]:
        """Every table declared to hold rows about a person."""
        return {table for holding in self._holdings for table in holding.tables}

    async def export(self, tx: Tx, alumnus: Alumnus) -> Rows:
        """Return every declared table's rows about ``alumnus`` (empty lists included)."""
        found: Rows = {}
        for holding in self._holdings:
            rows = await holding.provider(tx, alumnus)
            if set(rows) != set(holding.tables):
                raise ValueError(
                    f"{holding.feature} declared {sorted(holding.tables)}, gave {sorted(rows)}"
                )
            found.update(rows)
        return found

    def describe(self, alumnus: Alumnus, locale: str) -> list[tuple[str, str]]:
        """The profile in words (programme and place names, not their codes); filled rows."""
        if self._describe is None:
            return []
        return [(label, value) for label, value in self._describe(alumnus, locale) if value]

    async def forget(self, tx: Tx, alumnus: Alumnus) -> None:
        """Run every feature's erasure step (before the person's rows are deleted)."""
        for holding in self._holdings:
            if holding.forget is not None:
                await holding.forget(tx, alumnus)
