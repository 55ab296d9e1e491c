"""Bot API methods: one async function per method, registered in ``METHODS``.

To add a method, write ``@api_method("copyMessage", sends=True)`` above an
``async def copy_message(sim, p) -> result`` that raises ``ApiError`` for Telegram's errors.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sandbox.simulator.models import JSON, ApiError, SimChat, SimMessage, bad_request
from sandbox.simulator.params import Params
from sandbox.simulator.tghtml import HtmlParseError, ParsedText, parse_html, plain_text
from sandbox.simulator.updates import chat_member, shallow

if TYPE_CHECKING:
    from sandbox.simulator.state import SimState

Handler = Callable[["SimState", Params], Awaitable[Any]]

# Counted in characters (code points) of the text after entity parsing, as Telegram does
# (Bot API docs: "1-4096 characters after entities parsing"); tags and UTF-16 do not count.
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_BUTTONS = 100
MAX_ROW = 8
MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile serves files up to 20 MB
GENERAL_TOPIC_ID = 1
WEBHOOK_PORTS = frozenset({80, 88, 443, 8443})
# What a send into a deleted topic can answer (see ``BotApiSimulator.delete_topic``).
TOPIC_GONE_ANSWERS = ("message thread not found", "TOPIC_DELETED", "TOPIC_ID_INVALID")
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_URL_RE = re.compile(r"^(https?|tg)://\S+$", re.IGNORECASE)
_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


@dataclass(frozen=True, slots=True)
class ApiMethod:
    """A registered Bot API method; ``sends`` marks methods counted by the rate limits."""

    name: str
    func: Handler
    sends: bool


METHODS: dict[str, ApiMethod] = {}


def api_method(name: str, *, sends: bool = False) -> Callable[[Handler], Handler]:
    """Register a function as the handler of a Bot API method (names are case-insensitive)."""

    def register(func: Handler) -> Handler:
        METHODS[name.lower()] = ApiMethod(name, func, sends)
        return func

    return register


# ------------------------------------------------------------------- helpers


def resolve_chat(sim: SimState, p: Params, name: str = "chat_id") -> SimChat:
    """Return the chat named by a chat_id parameter (id or @username) or raise 400."""
    raw = p.raw(name)
    if raw is None or raw == "":
        raise bad_request("chat_id is empty")
    if isinstance(raw, str) and raw.startswith("@"):
        wanted = raw[1:].lower()
        for chat in sim.chats.values():
            if chat.username and chat.username.lower() == wanted:
                return chat
        raise bad_request("chat not found")
    chat_id = p.integer(name, required=True)
    found = sim.chats.get(chat_id) if chat_id is not None else None
    if found is None:
        raise bad_request("chat not found")
    return found


def check_can_send(sim: SimState, chat: SimChat) -> None:
    """Raise 403 when the bot may not post in the chat, 400 when the group moved.

    A group upgraded to a supergroup answers 400 with parameters.migrate_to_chat_id
    (telegram-bot-api Client.cpp, check_chat_access); PTB raises ChatMigrated for it.
    """
    moved_to = sim.migrated.get(chat.id)
    if moved_to is not None:
        raise ApiError(
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            migrate_to_chat_id=moved_to,
        )
    if chat.type == "private":
        if chat.id in sim.deactivated:
            raise ApiError(403, "Forbidden: user is deactivated")
        if chat.id in sim.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat.id in sim.not_started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
    elif chat.id not in sim.bot_groups:
        kind = chat.type if chat.type in ("supergroup", "channel") else "group"
        raise ApiError(403, f"Forbidden: bot is not a member of the {kind} chat")


def bot_is_admin(sim: SimState, chat: SimChat) -> bool:
    """Return whether the bot is an administrator of a group."""
    return sim.member_status(chat, sim.bot_id) in ("administrator", "creator")


def bot_can_manage_topics(sim: SimState, chat: SimChat) -> bool:
    """Return whether the bot holds can_manage_topics (post in closed topics, create them).

    The creator does; an administrator unless that right was taken away (tdlib
    DialogParticipantStatus::can_manage_topics).
    """
    status = sim.member_status(chat, sim.bot_id)
    if status == "creator":
        return True
    return status == "administrator" and bool(
        sim.bot_rights.get(chat.id, {}).get("can_manage_topics", True)
    )


def bot_can_create_topics(sim: SimState, chat: SimChat) -> bool:
    """Return whether the bot may create topics.

    With the admin right, or as a member where the group lets members create topics (tdlib
    DialogParticipantStatus::can_create_topics).
    """
    if bot_can_manage_topics(sim, chat):
        return True
    return sim.member_status(chat, sim.bot_id) == "member" and chat.members_can_manage_topics


def check_thread(sim: SimState, chat: SimChat, p: Params) -> int | None:
    """Validate message_thread_id for a send into a forum; return it (or None).

    A deleted or never created topic, and the General topic (id 1), answer 400 "message
    thread not found" like Telegram; a closed topic accepts posts only from admins.
    """
    thread_id = p.integer("message_thread_id")
    if thread_id is None or not chat.is_forum:
        return None
    topic = sim.topic(chat, thread_id)
    if topic is None or thread_id == GENERAL_TOPIC_ID:
        answer = sim.deleted_topics.get(chat.id, {}).get(thread_id, "message thread not found")
        raise bad_request(answer)
    if topic.is_closed and not bot_can_manage_topics(sim, chat):
        raise bad_request("TOPIC_CLOSED")
    return thread_id


def charge_send(sim: SimState, chat: SimChat) -> None:
    """Take a rate-limit token for a send, raising 429 when Telegram would."""
    if sim.enforce_rate_limits:
        retry_after = sim.rate_limiter.acquire(chat.id, chat.is_group)
        if retry_after:
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)


def parse_text(sim: SimState, p: Params, field: str, entities_field: str) -> ParsedText:
    """Parse text or caption per parse_mode (HTML is validated; others are taken as sent)."""
    text = p.string(field) or ""
    mode = (p.string("parse_mode") or "").lower()
    if mode == "html":
        try:
            return parse_html(text, strict=sim.strict_html)
        except HtmlParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
    parsed = plain_text(text)
    entities = p.json(entities_field)
    if isinstance(entities, list) and not mode:
        return ParsedText(parsed.text, entities)
    return parsed


def validate_markup(markup: Any) -> JSON | None:
    """Validate a reply_markup object like Telegram and return it."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
            )
        if sum(len(row) for row in rows) > MAX_BUTTONS or any(len(r) > MAX_ROW for r in rows):
            raise bad_request("too many buttons")
        for row in rows:
            for button in row:
                _validate_inline_button(button)
        return markup
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request(
                'field "keyboard" of the ReplyKeyboardMarkup should be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                text = button.get("text") if isinstance(button, dict) else button
                if not isinstance(text, str) or not text:
                    raise bad_request("keyboard button text is empty")
        return markup
    if markup.get("remove_keyboard") or markup.get("force_reply"):
        return markup
    raise bad_request("can't parse reply keyboard markup JSON object")


def _validate_inline_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request("can't parse inline keyboard button: Text must be a String")
    if not button["text"]:
        raise bad_request("inline keyboard button text is empty")
    actions = [key for key in _INLINE_ACTIONS if key in button]
    if len(actions) != 1:
        raise bad_request("text buttons are unallowed in the inline keyboard")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not _URL_RE.match(url):
            raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


def bot_message(
    sim: SimState,
    chat: SimChat,
    p: Params,
    content: JSON,
    *,
    kind: str,
    parsed: ParsedText | None,
    html: str | None,
    markup: JSON | None,
    document: JSON | None = None,
) -> SimMessage:
    """Store a message sent by the bot and return it."""
    message_id = sim.next_message_id(chat.id)
    date = int(time.time())
    raw: JSON = {
        "message_id": message_id,
        "from": sim.bot_user.to_dict(),
        "chat": chat.to_dict(),
        "date": date,
    }
    thread_id = p.integer("message_thread_id") if chat.is_forum else None
    reply = p.json("reply_parameters")
    reply_to = reply.get("message_id") if isinstance(reply, dict) else None
    reply_to = reply_to or p.integer("reply_to_message_id")
    replied: SimMessage | None = None
    if reply_to is not None:
        replied = sim.get_message(chat.id, int(reply_to))
        if replied is None and not (
            isinstance(reply, dict) and reply.get("allow_sending_without_reply")
        ):
            raise bad_request("message to be replied not found")
        if replied is not None and thread_id is None and chat.is_forum:
            thread_id = replied.message_thread_id  # a reply lands in the replied topic
    if thread_id is not None:
        raw["message_thread_id"] = thread_id
        raw["is_topic_message"] = True
        if replied is None:
            replied = sim.get_message(chat.id, thread_id)  # the forum_topic_created message
    if replied is not None:
        raw["reply_to_message"] = shallow(replied.raw)
    raw.update(content)
    if markup is not None and "inline_keyboard" in markup:
        raw["reply_markup"] = markup
    is_text = kind == "text"
    message = SimMessage(
        message_id=message_id,
        chat_id=chat.id,
        date=date,
        raw=raw,
        text=parsed.text if parsed is not None and is_text else None,
        caption=parsed.text if parsed is not None and not is_text and parsed.text else None,
        html=html,
        parse_mode=p.string("parse_mode"),
        entities=parsed.entities if parsed is not None else [],
        reply_markup=markup,
        document=document,
        message_thread_id=raw.get("message_thread_id"),
        kind=kind,
    )
    return sim.store_message(message)


def _edit_target(sim: SimState, p: Params) -> SimMessage:
    if p.string("inline_message_id") is not None:
        raise bad_request("MESSAGE_ID_INVALID")
    chat = resolve_chat(sim, p)
    message_id = p.integer("message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    message = sim.get_message(chat.id, message_id)
    if message is None:
        raise bad_request("message to edit not found")
    if not message.from_bot:
        raise bad_request("message can't be edited")
    return message


_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)


def _same_markup(a: JSON | None, b: JSON | None) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _apply_edit(sim: SimState, message: SimMessage, markup: JSON | None) -> JSON:
    message.edited = True
    message.reply_markup = markup
    message.raw["edit_date"] = int(time.time())
    if markup is not None and "inline_keyboard" in markup:
        message.raw["reply_markup"] = markup
    else:
        message.raw.pop("reply_markup", None)
    sim.message_changed(message)
    return message.raw


# ------------------------------------------------------------------- methods


@api_method("getMe")
async def get_me(sim: SimState, p: Params) -> JSON:
    """Return the bot's User object."""
    return {
        **sim.bot_user.to_dict(),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


@api_method("getUpdates")
async def get_updates(sim: SimState, p: Params) -> list[JSON]:
    """Long-poll for updates: offset confirms, limit caps, timeout waits."""
    if sim.webhook is not None:
        raise ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    done = await sim.begin_poll()
    try:
        allowed = p.json("allowed_updates")
        if isinstance(allowed, list):
            sim.set_allowed_updates(str(kind) for kind in allowed)
        offset = p.integer("offset")
        if offset:
            sim.confirm_updates(offset)
        limit = max(1, min(100, p.integer("limit") or 100))
        timeout = max(0.0, p.number("timeout") or 0.0)
        if timeout:
            await sim.wait_for_updates(timeout)
        if sim.webhook is not None:
            return []
        pending = sim.pending_updates()
        return pending[:limit]
    finally:
        done.set()


@api_method("setWebhook")
async def set_webhook(sim: SimState, p: Params) -> bool:
    """Set (or with an empty url, remove) the webhook."""
    url = p.string("url") or ""
    if not url:
        return await delete_webhook(sim, p)
    if not re.match(r"^https?://[^/\s]+", url):
        raise bad_request("bad webhook: Failed to resolve host: Name or service not known")
    if not sim.local_mode:
        # telegram-bot-api WebhookActor.cpp (start_up); its --local mode lifts both rules.
        parsed = urlsplit(url)
        if parsed.scheme.lower() != "https":
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if (parsed.port or 443) not in WEBHOOK_PORTS:
            raise bad_request(
                "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
            )
    secret = p.string("secret_token")
    if secret is not None and not _SECRET_RE.match(secret):
        raise bad_request("secret token contains unallowed characters")
    max_connections = p.integer("max_connections") or 40
    if not 1 <= max_connections <= 100:
        raise bad_request("invalid max_connections specified")
    allowed = p.json("allowed_updates")
    if isinstance(allowed, list):
        sim.set_allowed_updates(str(kind) for kind in allowed)
    drop = p.flag("drop_pending_updates")
    backlog = [] if drop else sim.pending_updates()
    sim.drop_pending_updates()
    sim.webhook = {
        "url": url,
        "secret_token": secret,
        "allowed_updates": allowed if isinstance(allowed, list) else None,
        "drop_pending_updates": drop,
        "max_connections": max_connections,
    }
    sim.webhook_delivery.configure(max_connections)
    sim.wake_pollers()
    for update in backlog:
        sim.webhook_delivery.enqueue(update)
    sim.notify()
    return True


@api_method("deleteWebhook")
async def delete_webhook(sim: SimState, p: Params) -> bool:
    """Remove the webhook; undelivered updates go back to getUpdates unless dropped."""
    backlog = sim.webhook_delivery.take_backlog()
    sim.webhook = None
    if p.flag("drop_pending_updates"):
        sim.drop_pending_updates()
    elif backlog:
        sim.requeue_for_polling(backlog)
    sim.notify()
    return True


@api_method("getWebhookInfo")
async def get_webhook_info(sim: SimState, p: Params) -> JSON:
    """Describe the webhook and the number of pending updates."""
    webhook = sim.webhook
    if webhook is None:
        return {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(sim.pending_updates()),
        }
    info: JSON = {
        "url": webhook["url"],
        "has_custom_certificate": False,
        "pending_update_count": sim.webhook_delivery.pending_count,
        "max_connections": webhook["max_connections"],
    }
    if webhook["allowed_updates"] is not None:
        info["allowed_updates"] = webhook["allowed_updates"]
    if sim.webhook_delivery.last_error_date is not None:
        info["last_error_date"] = sim.webhook_delivery.last_error_date
        info["last_error_message"] = sim.webhook_delivery.last_error_message
    return info


@api_method("sendMessage", sends=True)
async def send_message(sim: SimState, p: Params) -> JSON:
    """Send a text message."""
    chat = resolve_chat(sim, p)
    check_can_send(sim, chat)
    source = p.string("text") or ""
    parsed = parse_text(sim, p, "text", "entities")
    if not parsed.text:
        raise bad_request("message text is empty")
    if len(parsed.text) > MAX_TEXT:
        raise bad_request("message is too long")
    markup = validate_markup(p.json("reply_markup"))
    check_thread(sim, chat, p)
    charge_send(sim, chat)
    content: JSON = {"text": parsed.text}
    if parsed.entities:
        content["entities"] = parsed.entities
    preview = p.json("link_preview_options")
    if isinstance(preview, dict) and preview:
        content["link_preview_options"] = preview
    message = bot_message(
        sim, chat, p, content, kind="text", parsed=parsed, html=source, markup=markup
    )
    return message.raw


@api_method("sendDocument", sends=True)
async def send_document(sim: SimState, p: Params) -> JSON:
    """Send a document: a multipart upload or an existing file_id."""
    chat = resolve_chat(sim, p)
    check_can_send(sim, chat)
    upload = p.files.get("document")
    reference = p.string("document")
    if upload is None and reference and reference.startswith("attach://"):
        upload = p.files.get(reference.removeprefix("attach://"))
    if upload is not None:
        stored = sim.new_file(upload.data, upload.filename, upload.content_type)
    elif reference and reference in sim.files:
        stored = sim.files[reference]
    elif reference:
        raise bad_request("wrong file identifier/HTTP URL specified")
    else:
        raise bad_request("there is no document in the request")
    parsed = parse_text(sim, p, "caption", "caption_entities")
    if len(parsed.text) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    markup = validate_markup(p.json("reply_markup"))
    check_thread(sim, chat, p)
    charge_send(sim, chat)
    document: JSON = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.data),
    }
    if stored.file_name:
        document["file_name"] = stored.file_name
    if stored.mime_type:
        document["mime_type"] = stored.mime_type
    content: JSON = {"document": document}
    if parsed.text:
        content["caption"] = parsed.text
        if parsed.entities:
            content["caption_entities"] = parsed.entities
    message = bot_message(
        sim,
        chat,
        p,
        content,
        kind="document",
        parsed=parsed,
        html=p.string("caption"),
        markup=markup,
        document=document,
    )
    return message.raw


@api_method("editMessageText")
async def edit_message_text(sim: SimState, p: Params) -> JSON:
    """Replace a bot message's text (and markup)."""
    message = _edit_target(sim, p)
    parsed = parse_text(sim, p, "text", "entities")
    if not parsed.text:
        raise bad_request("message text is empty")
    if len(parsed.text) > MAX_TEXT:
        raise bad_request("message is too long")
    if message.kind != "text":
        raise bad_request("there is no text in the message to edit")
    markup = validate_markup(p.json("reply_markup"))
    if (
        parsed.text == message.text
        and parsed.entities == message.entities
        and _same_markup(markup, message.reply_markup)
    ):
        raise bad_request(_NOT_MODIFIED)
    message.text = parsed.text
    message.html = p.string("text")
    message.parse_mode = p.string("parse_mode")
    message.entities = parsed.entities
    message.raw["text"] = parsed.text
    if parsed.entities:
        message.raw["entities"] = parsed.entities
    else:
        message.raw.pop("entities", None)
    return _apply_edit(sim, message, markup)


@api_method("editMessageReplyMarkup")
async def edit_message_reply_markup(sim: SimState, p: Params) -> JSON:
    """Replace (or remove) a bot message's inline keyboard."""
    message = _edit_target(sim, p)
    markup = validate_markup(p.json("reply_markup"))
    if markup is not None and "inline_keyboard" not in markup:
        raise bad_request("inline keyboard expected")
    if _same_markup(markup, message.reply_markup):
        raise bad_request(_NOT_MODIFIED)
    return _apply_edit(sim, message, markup)


@api_method("deleteMessage")
async def delete_message(sim: SimState, p: Params) -> bool:
    """Delete a message."""
    chat = resolve_chat(sim, p)
    message_id = p.integer("message_id", required=True)
    message = sim.get_message(chat.id, message_id or 0)
    if message is None:
        raise bad_request("message to delete not found")
    sim.remove_message(message)
    return True


@api_method("answerCallbackQuery")
async def answer_callback_query(sim: SimState, p: Params) -> bool:
    """Answer a callback query once."""
    query_id = p.string("callback_query_id", required=True) or ""
    state = sim.callbacks.get(query_id)
    expired = state is not None and time.monotonic() - state["pressed_at"] > sim.callback_query_ttl
    if state is None or state["answered"] or expired:
        # Telegram's QUERY_ID_INVALID, worded by telegram-bot-api Client.cpp.
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = p.string("text")
    if text is not None and len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    state["answered"] = True
    answer: JSON = {
        "callback_query_id": query_id,
        "text": text,
        "show_alert": p.flag("show_alert"),
        "url": p.string("url"),
        "cache_time": p.integer("cache_time"),
    }
    sim.callback_answers.append(answer)
    sim.publish(int(state["chat_id"]), {"event": "answer", "data": answer})
    sim.notify()
    return True


def _scope_key(p: Params) -> tuple[str, str]:
    scope = p.json("scope") or {"type": "default"}
    if not isinstance(scope, dict) or "type" not in scope:
        raise bad_request("can't parse BotCommandScope JSON object")
    return json.dumps(scope, sort_keys=True), p.string("language_code") or ""


@api_method("setMyCommands")
async def set_my_commands(sim: SimState, p: Params) -> bool:
    """Store the command list for a scope and language."""
    commands = p.json("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    for command in commands:
        if not isinstance(command, dict) or not _COMMAND_RE.match(str(command.get("command"))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description") or "")) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    key = _scope_key(p)
    if commands:
        sim.commands[key] = commands
    else:
        sim.commands.pop(key, None)
    sim.notify()
    return True


@api_method("getMyCommands")
async def get_my_commands(sim: SimState, p: Params) -> list[JSON]:
    """Return the command list for a scope and language."""
    return sim.commands.get(_scope_key(p), [])


@api_method("deleteMyCommands")
async def delete_my_commands(sim: SimState, p: Params) -> bool:
    """Delete the command list for a scope and language."""
    sim.commands.pop(_scope_key(p), None)
    sim.notify()
    return True


# The bot's description ("What can this bot do?", shown in an empty chat before /start) and
# short description (on its profile), per language: Bot API setMyDescription (0-512
# characters) and setMyShortDescription (0-120); an empty text removes it.
_DESCRIPTION_LIMITS = {"description": 512, "short_description": 120}


def _set_description(sim: SimState, p: Params, field: str) -> bool:
    text = p.string(field) or ""
    if len(text) > _DESCRIPTION_LIMITS[field]:
        raise bad_request(f"{field.upper()}_INVALID")
    language = p.string("language_code") or ""
    if text:
        sim.descriptions[(field, language)] = text
    else:
        sim.descriptions.pop((field, language), None)
    sim.notify()
    return True


def description_for(sim: SimState, field: str, language: str | None) -> str:
    """The text a user with this app language sees: their language's, else the default."""
    return sim.descriptions.get((field, language or ""), sim.descriptions.get((field, ""), ""))


@api_method("setMyDescription")
async def set_my_description(sim: SimState, p: Params) -> bool:
    """Store the bot's description for a language."""
    return _set_description(sim, p, "description")


@api_method("getMyDescription")
async def get_my_description(sim: SimState, p: Params) -> JSON:
    """Return the description for a language (BotDescription)."""
    return {
        "description": sim.descriptions.get(("description", p.string("language_code") or ""), "")
    }


@api_method("setMyShortDescription")
async def set_my_short_description(sim: SimState, p: Params) -> bool:
    """Store the bot's short description for a language."""
    return _set_description(sim, p, "short_description")


@api_method("getMyShortDescription")
async def get_my_short_description(sim: SimState, p: Params) -> JSON:
    """Return the short description for a language (BotShortDescription)."""
    key = ("short_description", p.string("language_code") or "")
    return {"short_description": sim.descriptions.get(key, "")}


@api_method("getChat")
async def get_chat(sim: SimState, p: Params) -> JSON:
    """Return a ChatFullInfo."""
    chat = resolve_chat(sim, p)
    if chat.is_group and chat.id not in sim.bot_groups:
        raise bad_request("chat not found")
    return {
        **chat.to_dict(),
        "accent_color_id": abs(chat.id) % 7,
        "max_reaction_count": 11,
        "accepted_gift_types": {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    }


@api_method("leaveChat")
async def leave_chat(sim: SimState, p: Params) -> bool:
    """Leave a group (a my_chat_member update with status "left" follows)."""
    chat = resolve_chat(sim, p)
    if not chat.is_group:
        raise bad_request("chat member status can't be changed in private chats")
    if chat.id not in sim.bot_groups:
        raise ApiError(403, "Forbidden: bot is not a member of the supergroup chat")
    sim.bot_groups.discard(chat.id)
    sim.members.setdefault(chat.id, {})[sim.bot_id] = "left"
    sim.emit(
        "my_chat_member",
        {
            "chat": chat.to_dict(),
            "from": sim.bot_user.to_dict(),
            "date": int(time.time()),
            "old_chat_member": {"user": sim.bot_user.to_dict(), "status": "member"},
            "new_chat_member": {"user": sim.bot_user.to_dict(), "status": "left"},
        },
    )
    return True


@api_method("sendChatAction")
async def send_chat_action(sim: SimState, p: Params) -> bool:
    """Show a chat action such as "typing"."""
    chat = resolve_chat(sim, p)
    check_can_send(sim, chat)
    action = p.string("action")
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    sim.chat_actions.append({"chat_id": chat.id, "action": action})
    sim.publish(chat.id, {"event": "action", "data": {"action": action}})
    return True


@api_method("getFile")
async def get_file(sim: SimState, p: Params) -> JSON:
    """Return a File with the path for the download URL."""
    stored = sim.files.get(p.string("file_id", required=True) or "")
    if stored is None:
        raise bad_request("invalid file_id")
    if len(stored.data) > MAX_DOWNLOAD:
        raise bad_request("file is too big")
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.data),
        "file_path": stored.file_path,
    }


@api_method("getChatMember")
async def get_chat_member(sim: SimState, p: Params) -> JSON:
    """Return a user's ChatMember in a group (or in the private chat with the bot)."""
    chat = resolve_chat(sim, p)
    user_id = p.integer("user_id", required=True) or 0
    if user_id == sim.bot_id:
        user = sim.bot_user
    else:
        found = sim.users.get(user_id)
        if found is None:
            raise bad_request("user not found")
        user = found
    if chat.type == "private":
        if user.id not in (chat.id, sim.bot_id):
            raise bad_request("user not found")
        return chat_member(user, "member")
    if chat.id not in sim.bot_groups:
        raise bad_request("chat not found")
    rights = sim.bot_rights.get(chat.id) if user.id == sim.bot_id else None
    return chat_member(user, sim.member_status(chat, user.id), rights)


@api_method("close")
async def close(sim: SimState, p: Params) -> bool:
    """Accept a close request."""
    return True


@api_method("logOut")
async def log_out(sim: SimState, p: Params) -> bool:
    """Accept a logOut request."""
    return True
