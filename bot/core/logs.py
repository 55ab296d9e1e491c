"""Logging set-up: never a bot token in a log line, and quiet HTTP client logs."""

from __future__ import annotations

import logging
import re

TOKEN_PATTERN = re.compile(r"(bot)?\d{3,}:[\w-]{20,}|bot\d+:[\w-]+")


class RedactingFilter(logging.Filter):
    """Replace anything that looks like a bot token, in the message and its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place; never drop a record."""
        message = record.getMessage()
        redacted = TOKEN_PATTERN.sub("<redacted-token>", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure_logging(level: str = "INFO") -> None:
    """Log to stderr with token redaction on every handler."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    install_redaction()
    # httpx logs every request URL at INFO, and the URL holds the token.
    for noisy in ("httpx", "httpcore", "apscheduler", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def install_redaction() -> None:
    """Attach the redacting filter to every root handler (idempotent)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
