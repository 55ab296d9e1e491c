"""What a person did, in messenger-neutral terms."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Inbound:
    """One thing a person did in a private chat: typed, pressed a button or sent media."""

    chat_id: int
    update_id: int
    text: str | None = None
    data: str | None = None
    message_id: int | None = None
    media: str | None = None
    first_name: str | None = None
    language_code: str | None = None
