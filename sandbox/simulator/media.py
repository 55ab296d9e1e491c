"""Bot API methods that send media or copy messages: sendPhoto, sendVoice, copyMessage."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.simulator.methods import (
    MAX_CAPTION,
    api_method,
    bot_message,
    charge_send,
    check_can_send,
    check_thread,
    parse_text,
    resolve_chat,
    validate_markup,
)
from sandbox.simulator.models import JSON, SimChat, StoredFile, bad_request
from sandbox.simulator.params import Params
from sandbox.simulator.tghtml import ParsedText
from sandbox.simulator.updates import COPYABLE_FIELDS, file_ref, photo_sizes, voice_object

if TYPE_CHECKING:
    from sandbox.simulator.state import SimState


def _input_file(
    sim: SimState, p: Params, field: str, kind: str
) -> tuple[bytes, str | None, str | None] | StoredFile:
    """Return an upload's (data, filename, content type) or the stored file a file_id names."""
    upload = p.files.get(field)
    reference = p.string(field)
    if upload is None and reference and reference.startswith("attach://"):
        upload = p.files.get(reference.removeprefix("attach://"))
    if upload is not None:
        if not upload.data:
            raise bad_request("file must be non-empty")
        return upload.data, upload.filename, upload.content_type
    if not reference:
        raise bad_request(f"there is no {field} in the request")
    if reference.lower().startswith(("http://", "https://")):
        raise bad_request("failed to get HTTP URL content")  # the simulator is offline
    stored = sim.files.get(reference)
    if stored is None:
        raise bad_request("wrong file identifier/HTTP URL specified")
    if stored.kind != kind:
        raise bad_request(f"can't use file of type {stored.kind.title()} as {kind.title()}")
    return stored


def _caption(sim: SimState, p: Params) -> ParsedText:
    parsed = parse_text(sim, p, "caption", "caption_entities")
    if len(parsed.text) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    return parsed


def _with_caption(content: JSON, parsed: ParsedText) -> JSON:
    if parsed.text:
        content["caption"] = parsed.text
        if parsed.entities:
            content["caption_entities"] = parsed.entities
    return content


def _prepare(sim: SimState, p: Params, chat: SimChat) -> tuple[ParsedText, JSON | None]:
    """Validate caption, markup and topic, then take a rate-limit token."""
    parsed = _caption(sim, p)
    markup = validate_markup(p.json("reply_markup"))
    check_thread(sim, chat, p)
    charge_send(sim, chat)
    return parsed, markup


@api_method("sendPhoto", sends=True)
async def send_photo(sim: SimState, p: Params) -> JSON:
    """Send a photo: a multipart upload or the file_id of a photo."""
    chat = resolve_chat(sim, p)
    check_can_send(sim, chat)
    source = _input_file(sim, p, "photo", "photo")
    parsed, markup = _prepare(sim, p, chat)
    if isinstance(source, StoredFile):
        sizes = [{**file_ref(source), "width": 320, "height": 240}]
    else:
        data, _, content_type = source
        sizes = photo_sizes(sim.new_file, data, content_type or "image/jpeg")
    content = _with_caption({"photo": sizes}, parsed)
    if p.flag("has_spoiler"):
        content["has_media_spoiler"] = True
    if p.flag("show_caption_above_media"):
        content["show_caption_above_media"] = True
    message = bot_message(
        sim, chat, p, content, kind="photo", parsed=parsed, html=p.string("caption"), markup=markup
    )
    return message.raw


@api_method("sendVoice", sends=True)
async def send_voice(sim: SimState, p: Params) -> JSON:
    """Send a voice note: a multipart upload or the file_id of a voice note."""
    chat = resolve_chat(sim, p)
    check_can_send(sim, chat)
    source = _input_file(sim, p, "voice", "voice")
    parsed, markup = _prepare(sim, p, chat)
    if isinstance(source, StoredFile):
        stored = source
    else:
        data, file_name, content_type = source
        stored = sim.new_file(data, file_name, content_type or "audio/ogg", kind="voice")
    voice = voice_object(stored, duration=max(0, p.integer("duration") or 1))
    content = _with_caption({"voice": voice}, parsed)
    message = bot_message(
        sim, chat, p, content, kind="voice", parsed=parsed, html=p.string("caption"), markup=markup
    )
    return message.raw


@api_method("copyMessage", sends=True)
async def copy_message(sim: SimState, p: Params) -> JSON:
    """Copy a message (text, media, caption) into a chat as a new bot message; return its id."""
    chat = resolve_chat(sim, p)
    source_chat = resolve_chat(sim, p, "from_chat_id")
    message_id = p.integer("message_id", required=True) or 0
    check_can_send(sim, chat)
    source = sim.get_message(source_chat.id, message_id)
    if source is None or (source_chat.is_group and source_chat.id not in sim.bot_groups):
        raise bad_request("message to copy not found")
    content: JSON = {key: source.raw[key] for key in COPYABLE_FIELDS if key in source.raw}
    if source.kind == "service" or not content:
        # tdlib MessagesManager::forward_message: "The message can't be copied"; the Bot API
        # server lowers the first letter (Client.cpp, fail_query_with_error).
        raise bad_request("the message can't be copied")
    is_text = "text" in content
    html = source.html
    if is_text:
        parsed = ParsedText(content["text"], list(content.get("entities", [])))
    elif "caption" in p:
        parsed = _caption(sim, p)
        html = p.string("caption")
        content.pop("caption", None)
        content.pop("caption_entities", None)
        _with_caption(content, parsed)
    else:
        parsed = ParsedText(content.get("caption", ""), list(content.get("caption_entities", [])))
    markup = validate_markup(p.json("reply_markup"))
    check_thread(sim, chat, p)
    charge_send(sim, chat)
    message = bot_message(
        sim,
        chat,
        p,
        content,
        kind=source.kind,
        parsed=parsed,
        html=html,
        markup=markup,
        document=content.get("document"),
    )
    return {"message_id": message.message_id}
