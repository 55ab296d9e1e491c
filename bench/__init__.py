"""Benchmarks: Alumnibot against a bare PTB echo bot on the Bot API simulator (``make bench``)."""

import os

# PTB 22 warns on int retry_after unless opted in to timedelta; set before telegram is imported.
os.environ.setdefault("PTB_TIMEDELTA", "1")
