"""No log line ever holds the bot token."""

from __future__ import annotations

import logging

from bot.core.logs import RedactingFilter, install_redaction
from tests.chat import onboard_nl
from tests.harness import TOKEN


def test_filter_redacts_tokens_in_messages_and_arguments():
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "POST %s failed", (f"https://host/bot{TOKEN}/getMe",), None
    )
    RedactingFilter().filter(record)
    assert TOKEN not in record.getMessage()
    assert "<redacted-token>" in record.getMessage()


async def test_a_whole_session_logs_no_token(app, new_chat, caplog):
    caplog.set_level(logging.DEBUG)
    install_redaction()
    for name in ("handlers.telegram.request", "telegram", "telegram.ext"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    chat = new_chat()
    await onboard_nl(chat)
    await chat.say("/mijngegevens")
    assert caplog.records, "expected debug logging from the HTTP client"
    assert any("<redacted-token>" in r.getMessage() for r in caplog.records)
    assert TOKEN not in caplog.text
    assert TOKEN.split(":")[1] not in caplog.text
    # Message bodies stay out of our own logs.
    ours = [r.getMessage() for r in caplog.records if r.name.split(".")[0] in ("bot", "handlers")]
    assert not any("Sanne" in line or "verpleeg" in line for line in ours)
