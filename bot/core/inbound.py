"""What a person did, in messenger-neutral terms."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Inbound:
    """One thing a person did in a private chat: typed, pressed a button or sent media.

    ``message_id`` is the pressed message for a button, else the person's own message;
    ``text`` is the caption for media.
    """

    chat_id: int
    update_id: int
    text: str | None = None
    data: str | None = None
    message_id: int | None = None
    media: str | None = None
    file_id: str | None = None
    first_name: str | None = None
    language_code: str | None = None


@dataclass(frozen=True)
class StaffInbound:
    """A message in a team's staff group."""

    chat_id: int
    update_id: int
    message_id: int
    thread_id: int | None
    user_id: int | None
    sender_chat_id: int | None
    text: str | None = None
    media: str | None = None
    file_id: str | None = None
