"""Small-cell suppression for tables of counts: primary (n < k) and secondary (derivable).

A table is cells of counts with row and column totals shown. Primary: every cell with
0 < n < k is hidden, and a whole row whose total is below k (its total too). Secondary: a
row or column with exactly one hidden cell would give it away (total minus the others), so
the smallest other non-zero cell there is hidden as well, until no line has exactly one.
"""

from __future__ import annotations

from collections.abc import Sequence


def suppress(cells: Sequence[Sequence[int]], k: int) -> tuple[list[list[bool]], list[bool]]:
    """Return (hidden cells, hidden row totals) for a table of counts.

    Column totals are assumed shown when at least k (the caller hides those below k with
    :func:`hidden_total`); they make a column with one hidden cell derivable too.
    """
    hidden = [[0 < n < k for n in row] for row in cells]
    totals_hidden = [sum(row) < k for row in cells]
    for r, row in enumerate(cells):
        if totals_hidden[r]:
            hidden[r] = [True] * len(row)
    columns = len(cells[0]) if cells else 0
    changed = True
    while changed:
        changed = False
        lines = [[(r, c) for c in range(columns)] for r in range(len(cells))]
        lines += [[(r, c) for r in range(len(cells))] for c in range(columns)]
        for line in lines:
            if not line:
                continue
            concealed = [(r, c) for r, c in line if hidden[r][c]]
            open_ = [(r, c) for r, c in line if not hidden[r][c]]
            # A line with one hidden non-zero cell: total minus the rest would reveal it.
            if len(concealed) == 1 and open_ and cells[concealed[0][0]][concealed[0][1]] > 0:
                candidates = [p for p in open_ if cells[p[0]][p[1]] > 0] or open_
                r, c = min(candidates, key=lambda p: (cells[p[0]][p[1]], p))
                hidden[r][c] = True
                changed = True
    return hidden, totals_hidden


def hidden_total(total: int, k: int) -> bool:
    """Return whether a total (a column's, the grand total) is too small to show."""
    return 0 < total < k
