"""Building and classifying Bot API objects: updates, members, media, web views."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.simulator.models import SimChat, SimMessage, SimUser, StoredFile

JSON = dict[str, Any]
ChatRef = int | SimUser | SimChat

# Update types delivered when the bot never chose allowed_updates (or chose []).
DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)


def chat_id_of(chat: ChatRef) -> int:
    """Return the chat id for a chat id, SimUser (their private chat) or SimChat."""
    return chat if isinstance(chat, int) else chat.id


def update_kind(update: JSON) -> str:
    """Return the update's type, the one key besides update_id."""
    for key in update:
        if key != "update_id":
            return key
    return ""


def update_chat_id(update: JSON) -> int:
    """Return the chat an update belongs to (for per-chat ordering), or 0."""
    payload = update.get(update_kind(update))
    if not isinstance(payload, dict):
        return 0
    chat = payload.get("chat") or (payload.get("message") or {}).get("chat")
    if isinstance(chat, dict) and isinstance(chat.get("id"), int):
        return int(chat["id"])
    sender = payload.get("from")
    if isinstance(sender, dict) and isinstance(sender.get("id"), int):
        return int(sender["id"])
    return 0


def chat_member(user: SimUser, status: str) -> JSON:
    """Return a ChatMember object for user with the given status."""
    member: JSON = {"user": user.to_dict(), "status": status}
    if status == "administrator":
        member.update(
            can_be_edited=False,
            is_anonymous=False,
            can_manage_chat=True,
            can_delete_messages=True,
            can_manage_video_chats=True,
            can_restrict_members=True,
            can_promote_members=False,
            can_change_info=True,
            can_invite_users=True,
            can_post_stories=False,
            can_edit_stories=False,
            can_delete_stories=False,
            can_manage_topics=True,
            can_pin_messages=True,
        )
    elif status == "kicked":
        member["until_date"] = 0
    return member


def media_content(
    user: SimUser, kind: str, new_file: Callable[[bytes, str | None, str | None], StoredFile]
) -> JSON:
    """Return the Message fields for a user sending media of the given kind."""
    if kind == "location":
        return {"location": {"latitude": 52.0907, "longitude": 5.1214}}
    if kind == "contact":
        return {
            "contact": {
                "phone_number": "+31612345678",
                "first_name": user.first_name,
                "user_id": user.id,
            }
        }
    specs: dict[str, tuple[bytes, str | None, str | None]] = {
        "sticker": (b"RIFF-sticker", None, "image/webp"),
        "photo": (b"\xff\xd8\xff-photo", None, "image/jpeg"),
        "voice": (b"OggS-voice", None, "audio/ogg"),
        "document": (b"%PDF-1.4 cv", "cv.pdf", "application/pdf"),
    }
    if kind not in specs:
        raise ValueError(f"unsupported media kind {kind!r}")
    data, file_name, mime_type = specs[kind]
    stored = new_file(data, file_name, mime_type)
    ref: JSON = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(data),
    }
    if kind == "sticker":
        return {
            "sticker": {
                **ref,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": "👍",
            }
        }
    if kind == "photo":
        return {"photo": [{**ref, "width": 320, "height": 240}]}
    if kind == "voice":
        return {"voice": {**ref, "duration": 2, "mime_type": mime_type}}
    return {"document": {**ref, "file_name": file_name, "mime_type": mime_type}}


def message_view(message: SimMessage) -> JSON:
    """Return the JSON the web chat renders for a message."""
    return {
        "message_id": message.message_id,
        "side": "bot" if message.from_bot else "user",
        "edited": message.edited,
        "keyboard": message.reply_markup,
        "message": message.raw,
    }
