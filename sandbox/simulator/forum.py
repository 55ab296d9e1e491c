"""Bot API methods for forum topics: create, edit, close, reopen and delete.

A topic's message_thread_id is the message_id of its forum_topic_created service message.
The bot's own topic actions leave service messages in the topic (no update, as Telegram does
not send bots their own messages) that ``chat_messages`` shows and ``bot_messages`` leaves out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.simulator.methods import (
    api_method,
    bot_can_create_topics,
    bot_is_admin,
    check_can_send,
    resolve_chat,
)
from sandbox.simulator.models import JSON, TOPIC_COLORS, SimChat, SimTopic, bad_request
from sandbox.simulator.params import Params

if TYPE_CHECKING:
    from sandbox.simulator.state import SimState

MAX_TOPIC_NAME = 128


def _forum(sim: SimState, p: Params) -> SimChat:
    chat = resolve_chat(sim, p)
    if chat.id in sim.migrated:
        check_can_send(sim, chat)  # the Bot API checks chat access first: "upgraded"
    if not chat.is_forum:
        raise bad_request("the chat is not a forum")
    check_can_send(sim, chat)
    return chat


def _topic(sim: SimState, chat: SimChat, p: Params) -> SimTopic:
    thread_id = p.integer("message_thread_id", required=True)
    topic = sim.topic(chat, thread_id or 0)
    if topic is None:
        raise bad_request("TOPIC_ID_INVALID")
    return topic


def _name(raw: str | None) -> str:
    name = (raw or "").strip()
    if not 1 <= len(name) <= MAX_TOPIC_NAME:
        raise bad_request("TOPIC_NAME_INVALID")
    return name


def _service(sim: SimState, chat: SimChat, topic: SimTopic, content: JSON) -> None:
    sim.service_message(chat, sim.bot_user.to_dict(), content, topic.message_thread_id)


@api_method("createForumTopic")
async def create_forum_topic(sim: SimState, p: Params) -> JSON:
    """Create a topic in a forum supergroup and return its ForumTopic."""
    chat = _forum(sim, p)
    if not bot_can_create_topics(sim, chat):
        # Telegram's answer when the bot may not create topics (tdlib ForumTopicManager).
        raise bad_request("not enough rights to create a topic")
    name = _name(p.string("name"))
    color = p.integer("icon_color")
    if color is None:
        color = TOPIC_COLORS[0]
    elif color not in TOPIC_COLORS:
        raise bad_request("invalid icon color specified")
    topic, _ = sim.open_topic(
        chat,
        name,
        sim.bot_user.to_dict(),
        icon_color=color,
        icon_custom_emoji_id=p.string("icon_custom_emoji_id"),
    )
    return topic.to_dict()


@api_method("editForumTopic")
async def edit_forum_topic(sim: SimState, p: Params) -> bool:
    """Rename a topic and/or change its custom emoji icon."""
    chat = _forum(sim, p)
    topic = _topic(sim, chat, p)
    edited: JSON = {}
    if "name" in p:
        name = _name(p.string("name"))
        if name != topic.name:
            edited["name"] = name
    if "icon_custom_emoji_id" in p:
        emoji = p.string("icon_custom_emoji_id") or ""
        if emoji != (topic.icon_custom_emoji_id or ""):
            edited["icon_custom_emoji_id"] = emoji
    if not edited:
        raise bad_request("TOPIC_NOT_MODIFIED")
    topic.name = edited.get("name", topic.name)
    if "icon_custom_emoji_id" in edited:
        topic.icon_custom_emoji_id = edited["icon_custom_emoji_id"] or None
    _service(sim, chat, topic, {"forum_topic_edited": edited})
    return True


async def _set_closed(sim: SimState, p: Params, closed: bool) -> bool:
    chat = _forum(sim, p)
    topic = _topic(sim, chat, p)
    if topic.is_closed == closed:
        raise bad_request("TOPIC_NOT_MODIFIED")
    topic.is_closed = closed
    _service(sim, chat, topic, {"forum_topic_closed" if closed else "forum_topic_reopened": {}})
    return True


@api_method("closeForumTopic")
async def close_forum_topic(sim: SimState, p: Params) -> bool:
    """Close a topic: only admins may post in it until it is reopened."""
    return await _set_closed(sim, p, True)


@api_method("reopenForumTopic")
async def reopen_forum_topic(sim: SimState, p: Params) -> bool:
    """Reopen a closed topic."""
    return await _set_closed(sim, p, False)


@api_method("deleteForumTopic")
async def delete_forum_topic(sim: SimState, p: Params) -> bool:
    """Delete a topic with all its messages (the bot must be an administrator)."""
    chat = _forum(sim, p)
    topic = _topic(sim, chat, p)
    if not bot_is_admin(sim, chat):
        raise bad_request("CHAT_ADMIN_REQUIRED")
    sim.delete_topic(chat, topic.message_thread_id)
    return True
