"""One *limit lifted* measurement of the delivery suite, as JSON lines, from any source tree.

``python -m bench.lifted LABEL`` (run from the tree whose code is to be measured: the
sending process imports the bot from there) sends a campaign to 5,000 recipients at
1000 msg/s on SQLite and on PostgreSQL, then the bare PTB baseline, exactly as
``python -m bench --suite delivery`` does, and prints one JSON line per run. Used to compare
two versions of the dispatcher on the same machine, runs interleaved (docs/benchmarks.md,
"Hand-over marker").
"""

from __future__ import annotations

import asyncio
import json
import sys

import bench  # noqa: F401  (sets PTB_TIMEDELTA before telegram is imported)
from bench.databases import POSTGRES, SQLITE
from bench.delivery import LIFTED, bare_run, campaign_run

RECIPIENTS = 5000


async def main(label: str) -> None:
    """Measure both databases and the baseline; print the figures."""
    push: tuple[str, object] = ("", None)
    out = sys.stdout
    for backend in (SQLITE, POSTGRES):
        run, push = await campaign_run(
            backend, RECIPIENTS, send_rate=LIFTED, paid=True, enforce=False
        )
        figures = {"code": label, "sender": "alumnibot", "backend": backend}
        out.write(json.dumps({**figures, "rate": run.rate, "cpu": run.cpu}) + "\n")
    bare = await bare_run(RECIPIENTS, push)
    out.write(json.dumps({"code": label, "sender": "bare", "rate": bare.rate, "cpu": bare.cpu}))
    out.write("\n")


if __name__ == "__main__":  # the sending process is spawned: guard the entry point
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "this"))
