"""Building and classifying Bot API objects: updates, members, media, web views."""

from __future__ import annotations

from typing import Any, Protocol

from sandbox.simulator.models import SimChat, SimMessage, SimUser, StoredFile

JSON = dict[str, Any]
ChatRef = int | SimUser | SimChat

# The placeholder senders Telegram puts in "from" when the real sender is hidden behind a chat.
GROUP_ANONYMOUS_BOT: JSON = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}
CHANNEL_BOT: JSON = {
    "id": 136817688,
    "is_bot": True,
    "first_name": "Channel",
    "username": "Channel_Bot",
}
# Message fields that make a message copyable content (copyMessage keeps these).
COPYABLE_FIELDS = (
    "text",
    "entities",
    "link_preview_options",
    "photo",
    "document",
    "voice",
    "animation",
    "sticker",
    "location",
    "contact",
    "caption",
    "caption_entities",
)
MEDIA_FIELDS = (
    "photo",
    "document",
    "voice",
    "animation",
    "sticker",
    "location",
    "contact",
    "poll",
)


class NewFile(Protocol):
    """``BotApiSimulator.new_file``: store bytes and return the file record."""

    def __call__(
        self, data: bytes, file_name: str | None, mime_type: str | None, kind: str = ...
    ) -> StoredFile:
        """Store data and return its record."""
        ...


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


def chat_member(user: SimUser, status: str, rights: JSON | None = None) -> JSON:
    """Return a ChatMember object for user with the given status (rights: admin overrides)."""
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
        member.update(rights or {})
    elif status == "creator":
        member["is_anonymous"] = False
    elif status == "kicked":
        member["until_date"] = 0
    return member


def file_ref(stored: StoredFile) -> JSON:
    """Return the file_id, file_unique_id and file_size fields of a file object."""
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.data),
    }


def photo_sizes(
    new_file: NewFile, data: bytes, mime_type: str | None = "image/jpeg"
) -> list[JSON]:
    """Return a photo as Telegram does: PhotoSizes smallest first, each its own file."""
    sizes: list[JSON] = []
    for width, height in ((90, 68), (320, 240)):
        stored = new_file(data, None, mime_type, kind="photo")
        sizes.append({**file_ref(stored), "width": width, "height": height})
    return sizes


def voice_object(stored: StoredFile, duration: int = 2) -> JSON:
    """Return a Voice object for a stored file."""
    voice: JSON = {**file_ref(stored), "duration": duration}
    if stored.mime_type:
        voice["mime_type"] = stored.mime_type
    return voice


def document_object(stored: StoredFile) -> JSON:
    """Return a Document object for a stored file."""
    document = file_ref(stored)
    if stored.file_name:
        document["file_name"] = stored.file_name
    if stored.mime_type:
        document["mime_type"] = stored.mime_type
    return document


def media_content(user: SimUser, kind: str, new_file: NewFile) -> JSON:
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
    if kind == "quiz":
        # A quiz's correct answer is hidden from the bot, so it cannot copy it (Bot API
        # copyMessage: "a quiz poll can be copied only if ... correct_option_id is known").
        return {
            "poll": {
                "id": f"poll{user.id}",
                "question": "Welk niveau heeft deze opleiding?",
                # persistent_id is required since Bot API 9.6 (telegram-bot-api Client.cpp,
                # JsonPollOption); PTB 22.8 refuses an option without it.
                "options": [
                    {"persistent_id": str(i), "text": t, "voter_count": 0}
                    for i, t in enumerate(("2", "3", "4"))
                ],
                "total_voter_count": 0,
                "is_closed": False,
                "is_anonymous": False,
                "type": "quiz",
                "allows_multiple_answers": False,
                # Always sent since Bot API 9.6 / 10.0 (Client.cpp, JsonPoll).
                "allows_revoting": False,
                "members_only": False,
            }
        }
    specs: dict[str, tuple[bytes, str | None, str | None]] = {
        "sticker": (b"RIFF-sticker", None, "image/webp"),
        "photo": (b"\xff\xd8\xff-photo", None, "image/jpeg"),
        "voice": (b"OggS-voice", None, "audio/ogg"),
        "document": (b"%PDF-1.4 cv", "cv.pdf", "application/pdf"),
        "animation": (b"\x00\x00\x00\x18ftypmp4-gif", "giphy.mp4", "video/mp4"),
    }
    if kind not in specs:
        raise ValueError(f"unsupported media kind {kind!r}")
    data, file_name, mime_type = specs[kind]
    if kind == "photo":
        return {"photo": photo_sizes(new_file, data, mime_type)}
    stored = new_file(data, file_name, mime_type, kind=kind)
    ref = file_ref(stored)
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
    if kind == "voice":
        return {"voice": voice_object(stored)}
    if kind == "animation":
        # A GIF (sent by Telegram as a silent MP4): "for backward compatibility, when this
        # field is set, the document field will also be set" (Bot API docs, Message).
        animation = {**document_object(stored), "width": 320, "height": 240, "duration": 3}
        return {"animation": animation, "document": document_object(stored)}
    return {"document": document_object(stored)}


def message_view(message: SimMessage) -> JSON:
    """Return the JSON the web chat renders for a message."""
    return {
        "message_id": message.message_id,
        "side": "bot" if message.from_bot else "user",
        "edited": message.edited,
        "keyboard": message.reply_markup,
        "message": message.raw,
    }


def shallow(message: JSON) -> JSON:
    """Return a Message as Telegram nests it in reply_to_message (one level, no deeper reply)."""
    return {key: value for key, value in message.items() if key != "reply_to_message"}
