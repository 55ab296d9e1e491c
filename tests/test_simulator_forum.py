"""Simulator tests for forum topics, copyMessage, media, members and non-user senders.

Every Bot API method is driven through a real ``telegram.Bot`` over HTTP.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram import (
    Bot,
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
)
from telegram.error import BadRequest, Forbidden, RetryAfter

from sandbox.simulator import BotApiSimulator, SimChat, SimUser
from sandbox.simulator.ratelimit import RateLimiter

TOKEN = "123456:TEST-abc"
ANONYMOUS_BOT_ID = 1087968824


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without it PTB 22 warns inside RetryAfter, an error under filterwarnings=error.
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
async def sim() -> AsyncIterator[BotApiSimulator]:
    async with BotApiSimulator(token=TOKEN, local_mode=True) as simulator:
        yield simulator


@pytest.fixture
async def bot(sim: BotApiSimulator) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=sim.api_base_url, base_file_url=sim.file_base_url) as b:
        yield b


async def forum_with_bot(
    sim: BotApiSimulator, *, as_admin: bool = True
) -> tuple[SimChat, SimUser]:
    coordinator = sim.create_user("Coordinator")
    group = sim.create_group("Inbox LLO", supergroup=True, is_forum=True)
    sim.set_member_status(group, coordinator, "creator")
    await sim.add_bot_to_group(group, by=coordinator, as_admin=as_admin)
    return group, coordinator


async def messages_from_updates(bot: Bot) -> list[Message]:
    updates = await bot.get_updates(timeout=0)
    if updates:
        await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    return [u.message for u in updates if u.message is not None]


# ------------------------------------------------------------- forum topics


async def test_topic_lifecycle(sim: BotApiSimulator, bot: Bot) -> None:
    group, _ = await forum_with_bot(sim)
    topic = await bot.create_forum_topic(group.id, "Sanne de Vries", icon_color=0xFFD67E)
    thread = topic.message_thread_id
    assert thread > 1  # General is 1
    assert (topic.name, topic.icon_color) == ("Sanne de Vries", 0xFFD67E)
    assert list(sim.topics(group)) == [thread]
    created = sim.chat_messages(group)[-1]
    assert created.message_id == thread
    assert created.raw["forum_topic_created"] == {"name": "Sanne de Vries", "icon_color": 0xFFD67E}
    assert created.raw["is_topic_message"] is True

    sent = await bot.send_message(group.id, "Nieuwe vraag", message_thread_id=thread)
    assert sent.message_thread_id == thread and sent.is_topic_message
    assert sent.reply_to_message is not None
    assert sent.reply_to_message.forum_topic_created is not None
    in_general = await bot.send_message(group.id, "Algemeen")
    assert in_general.message_thread_id is None and not in_general.is_topic_message
    # service messages stay out of bot_messages; the thread filter picks the topic
    assert [m.text for m in sim.bot_messages(group)] == ["Nieuwe vraag", "Algemeen"]
    assert [m.text for m in sim.bot_messages(group, thread_id=thread)] == ["Nieuwe vraag"]

    assert await bot.edit_forum_topic(group.id, thread, name="Sanne (afgerond)")
    assert sim.topics(group)[thread].name == "Sanne (afgerond)"
    with pytest.raises(BadRequest, match=r"(?i)TOPIC_NOT_MODIFIED"):
        await bot.edit_forum_topic(group.id, thread, name="Sanne (afgerond)")
    assert await bot.close_forum_topic(group.id, thread)
    assert sim.topics(group)[thread].is_closed
    with pytest.raises(BadRequest, match=r"(?i)TOPIC_NOT_MODIFIED"):
        await bot.close_forum_topic(group.id, thread)
    await bot.send_message(
        group.id, "admins mogen in een gesloten topic", message_thread_id=thread
    )
    assert await bot.reopen_forum_topic(group.id, thread)
    kinds = [
        next(k for k in m.raw if k.startswith("forum_topic"))
        for m in sim.chat_messages(group)
        if m.kind == "service"
    ]
    assert kinds == [
        "forum_topic_created",
        "forum_topic_edited",
        "forum_topic_closed",
        "forum_topic_reopened",
    ]

    assert await bot.delete_forum_topic(group.id, thread)
    assert sim.topics(group) == {}
    assert [m.text for m in sim.chat_messages(group) if m.from_bot] == ["Algemeen"]
    with pytest.raises(BadRequest, match=r"(?i)^message thread not found$"):
        await bot.send_message(group.id, "weg", message_thread_id=thread)
    with pytest.raises(BadRequest, match=r"(?i)^message thread not found$"):
        await bot.copy_message(group.id, group.id, in_general.message_id, message_thread_id=thread)
    with pytest.raises(BadRequest, match=r"(?i)TOPIC_ID_INVALID"):
        await bot.close_forum_topic(group.id, thread)
    with pytest.raises(BadRequest, match=r"(?i)message thread not found"):
        await bot.send_message(group.id, "General", message_thread_id=1)


async def test_topic_errors(sim: BotApiSimulator, bot: Bot) -> None:
    group, owner = await forum_with_bot(sim, as_admin=False)
    plain = sim.create_group("Gewone groep")
    await sim.add_bot_to_group(plain, by=owner)
    with pytest.raises(BadRequest, match=r"(?i)^the chat is not a forum$"):
        await bot.create_forum_topic(plain.id, "Topic")
    user = sim.create_user("Sanne")
    with pytest.raises(BadRequest, match=r"(?i)not a forum"):
        await bot.create_forum_topic(user.id, "Topic")
    outside = sim.create_group("Zonder bot", is_forum=True)
    with pytest.raises(Forbidden, match=r"(?i)not a member"):
        await bot.create_forum_topic(outside.id, "Topic")
    # a member bot creates topics only where the group lets members do so
    with pytest.raises(BadRequest, match=r"(?i)^not enough rights to create a topic$"):
        await bot.create_forum_topic(group.id, "Topic")
    group.members_can_manage_topics = True
    for bad in ("   ", "x" * 129):
        with pytest.raises(BadRequest, match=r"(?i)TOPIC_NAME_INVALID"):
            await bot.create_forum_topic(group.id, bad)
    with pytest.raises(BadRequest, match=r"(?i)icon color"):
        await bot.create_forum_topic(group.id, "Kleur", icon_color=0x123456)
    topic = await bot.create_forum_topic(group.id, "x" * 128)
    thread = topic.message_thread_id
    # a bot that is only a member: no posting in closed topics, no deleting topics
    await bot.close_forum_topic(group.id, thread)
    with pytest.raises(BadRequest, match=r"(?i)TOPIC_CLOSED"):
        await bot.send_message(group.id, "dicht", message_thread_id=thread)
    with pytest.raises(BadRequest, match=r"(?i)CHAT_ADMIN_REQUIRED"):
        await bot.delete_forum_topic(group.id, thread)
    # message_thread_id in a non-forum group is a reply thread: not a topic message
    sent = await bot.send_message(plain.id, "hoi", message_thread_id=5)
    assert sent.message_thread_id is None and not sent.is_topic_message
    with pytest.raises(ValueError, match=r"(?i)supergroups"):
        sim.create_group("Oud", supergroup=False, is_forum=True)


# --------------------------------------------------------- user-side topics


async def test_users_post_in_topics(sim: BotApiSimulator, bot: Bot) -> None:
    group, coordinator = await forum_with_bot(sim)
    await messages_from_updates(bot)  # the bot joining
    topic = await sim.create_topic(group, "Vragen", by=coordinator)
    thread = topic.message_thread_id
    alumnus = sim.create_user("Sanne")
    await sim.user_sends(alumnus, "Hoe werkt het?", chat=group, message_thread_id=thread)
    photo = await sim.user_sends_media(
        alumnus, chat=group, message_thread_id=thread, kind="photo", caption="mijn diploma"
    )
    question = await sim.user_sends(alumnus, "Nog een vraag", chat=group, message_thread_id=thread)
    await sim.user_sends(
        coordinator,
        "Antwoord",
        chat=group,
        message_thread_id=thread,
        reply_to_message_id=question["message_id"],
    )
    created, text, media, _, answer = await messages_from_updates(bot)
    assert created.forum_topic_created is not None
    assert created.forum_topic_created.name == "Vragen"
    assert created.message_id == thread
    for message in (text, media, answer):
        assert message.message_thread_id == thread and message.is_topic_message
        assert message.reply_to_message is not None
    assert text.reply_to_message is not None
    assert text.reply_to_message.message_id == thread
    assert text.reply_to_message.forum_topic_created is not None
    assert media.photo and media.caption == "mijn diploma"
    assert photo["photo"][-1]["width"] > photo["photo"][0]["width"]
    assert answer.reply_to_message is not None
    assert answer.reply_to_message.message_id == question["message_id"]
    assert answer.reply_to_message.reply_to_message is None  # Telegram nests one level only
    for kind in ("document", "voice"):
        await sim.user_sends_media(alumnus, chat=group, message_thread_id=thread, kind=kind)
    assert sim.member_status(group, alumnus) == "member"

    # a reply to a topic message lands in that topic
    reply = await bot.send_message(group.id, "Zie boven", reply_to_message_id=text.message_id)
    assert reply.message_thread_id == thread

    sim.delete_topic(group, thread)
    assert sim.topics(group) == {}
    assert sim.chat_messages(group, after=thread - 1) == []
    with pytest.raises(KeyError):
        await sim.user_sends(alumnus, "te laat", chat=group, message_thread_id=thread)
    with pytest.raises(BadRequest, match=r"(?i)message thread not found"):
        await bot.send_message(group.id, "weg", message_thread_id=thread)


async def test_anonymous_admin_and_channel_senders(sim: BotApiSimulator, bot: Bot) -> None:
    group, _ = await forum_with_bot(sim)
    topic = await bot.create_forum_topic(group.id, "Mededelingen")
    await messages_from_updates(bot)
    await sim.anonymous_admin_sends(group, "Van de beheerder")
    await sim.anonymous_admin_sends(group, "/start", message_thread_id=topic.message_thread_id)
    await sim.channel_sends_in(group, "Alumni Nieuws", "Van het kanaal")
    await sim.channel_sends_in(group, "Alumni Nieuws", "Nog eens")
    anon, anon_topic, channel, again = await messages_from_updates(bot)
    assert anon.from_user is not None and anon.from_user.id == ANONYMOUS_BOT_ID
    assert anon.from_user.username == "GroupAnonymousBot" and anon.from_user.is_bot
    assert anon.sender_chat is not None and anon.sender_chat.id == group.id
    assert anon_topic.is_topic_message and anon_topic.entities[0].type == "bot_command"
    assert channel.sender_chat is not None and channel.sender_chat.type == "channel"
    assert channel.sender_chat.title == "Alumni Nieuws" and channel.sender_chat.id != group.id
    assert again.sender_chat is not None and again.sender_chat.id == channel.sender_chat.id
    assert channel.from_user is not None and channel.from_user.username == "Channel_Bot"
    with pytest.raises(ValueError):
        await sim.anonymous_admin_sends(sim.chats[sim.create_user("X").id], "prive")


# ------------------------------------------------------------- copyMessage


async def test_copy_message_kinds_and_errors(sim: BotApiSimulator, bot: Bot) -> None:
    group, _ = await forum_with_bot(sim)
    topic = await bot.create_forum_topic(group.id, "Sanne")
    thread = topic.message_thread_id
    user = sim.create_user("Sanne")
    sources = [await sim.user_sends(user, "/start hallo")]
    for kind in ("photo", "document", "voice", "sticker"):
        caption = f"{kind} bijschrift" if kind != "sticker" else None
        sources.append(await sim.user_sends_media(user, kind=kind, caption=caption))
    copies = []
    for source in sources:
        copied = await bot.copy_message(
            group.id, user.id, source["message_id"], message_thread_id=thread
        )
        copies.append(copied.message_id)
    in_topic = sim.bot_messages(group, thread_id=thread)
    assert [m.message_id for m in in_topic] == copies
    assert [m.kind for m in in_topic] == ["text", "photo", "document", "voice", "sticker"]
    text_copy = in_topic[0].raw
    assert text_copy["text"] == "/start hallo"
    assert text_copy["entities"][0]["type"] == "bot_command"
    assert text_copy["from"]["id"] == sim.bot_id and text_copy["is_topic_message"]
    assert in_topic[1].raw["photo"] == sources[1]["photo"]
    assert in_topic[1].caption == "photo bijschrift"
    assert in_topic[2].document == sources[2]["document"]
    assert in_topic[4].raw["sticker"] == sources[4]["sticker"]

    # caption override (HTML) and a keyboard; copy a bot message back into the private chat
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Open", callback_data="open")]])
    copied = await bot.copy_message(
        user.id,
        group.id,
        copies[2],
        caption="<b>Nieuw</b> bijschrift",
        parse_mode="HTML",
        reply_markup=markup,
    )
    [back] = sim.bot_messages(user)
    assert back.message_id == copied.message_id
    assert back.caption == "Nieuw bijschrift"
    assert back.raw["caption_entities"][0]["type"] == "bold"
    assert back.raw["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "open"
    assert back.document is not None

    with pytest.raises(BadRequest, match=r"(?i)^message to copy not found$"):
        await bot.copy_message(group.id, user.id, 999)
    with pytest.raises(BadRequest, match=r"(?i)can't be copied"):
        await bot.copy_message(user.id, group.id, thread)  # the forum_topic_created message
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.copy_message(group.id, -999, 1)
    sim.block(user)
    with pytest.raises(Forbidden, match=r"(?i)blocked"):
        await bot.copy_message(user.id, group.id, copies[0])


async def test_group_limit_counts_copies_and_photos(sim: BotApiSimulator, bot: Bot) -> None:
    sim.enforce_rate_limits = True
    now = [1000.0]
    sim.rate_limiter = RateLimiter(clock=lambda: now[0])
    group, _ = await forum_with_bot(sim)
    user = sim.create_user("Sanne")
    source = await sim.user_sends(user, "doorsturen")
    for i in range(10):
        await bot.send_message(group.id, f"bericht {i}")
    for _ in range(5):
        await bot.copy_message(group.id, user.id, source["message_id"])
    for _ in range(5):
        await bot.send_photo(group.id, InputFile(b"\xff\xd8\xffjpg", filename="a.jpg"))
    with pytest.raises(RetryAfter) as caught:
        await bot.copy_message(group.id, user.id, source["message_id"])
    assert caught.value.retry_after >= dt.timedelta(seconds=1)
    with pytest.raises(RetryAfter):
        await bot.send_photo(group.id, InputFile(b"\xff\xd8\xffjpg", filename="a.jpg"))
    assert len(sim.bot_messages(group)) == 20
    assert sim.stats.rate_limited == 2


# ------------------------------------------------------------------- media


async def test_send_photo_voice_and_download(sim: BotApiSimulator, bot: Bot) -> None:
    user = sim.create_user("Sanne")
    photo = await bot.send_photo(
        user.id,
        InputFile(b"\xff\xd8\xffJPEG", filename="diploma.jpg"),
        caption="<i>Top</i>",
        parse_mode="HTML",
    )
    assert len(photo.photo) == 2 and photo.caption == "Top"
    assert photo.caption_entities[0].type == "italic"
    again = await bot.send_photo(user.id, photo.photo[-1].file_id)
    assert again.photo[-1].file_id == photo.photo[-1].file_id
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await bot.send_photo(user.id, photo.photo[-1].file_id, caption="x" * 1025)
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_photo(user.id, "AgACAgIAAxkBAAIB-unknown")
    voice = await bot.send_voice(user.id, InputFile(b"OggS-bot", filename="v.ogg"), duration=3)
    assert voice.voice is not None and voice.voice.duration == dt.timedelta(seconds=3)
    with pytest.raises(BadRequest, match=r"(?i)can't use file of type Voice as Photo"):
        await bot.send_photo(user.id, voice.voice.file_id)
    assert [m.kind for m in sim.bot_messages(user)] == ["photo", "photo", "voice"]

    downloaded = await (await bot.get_file(photo.photo[-1].file_id)).download_as_bytearray()
    assert bytes(downloaded) == b"\xff\xd8\xffJPEG"

    sent = await sim.user_sends_media(user, kind="photo")
    document = await sim.user_sends_media(user, kind="document")
    voice_note = await sim.user_sends_media(user, kind="voice")
    for file_id, folder in (
        (sent["photo"][-1]["file_id"], "photos/"),
        (document["document"]["file_id"], "documents/"),
        (voice_note["voice"]["file_id"], "voice/"),
    ):
        file = await bot.get_file(file_id)
        assert file.file_path is not None and folder in file.file_path
        assert bytes(await file.download_as_bytearray()) == sim.file_bytes(file_id)
    with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
        await bot.get_file("nope")


# ----------------------------------------------------------------- members


async def test_get_chat_member(sim: BotApiSimulator, bot: Bot) -> None:
    group, coordinator = await forum_with_bot(sim)
    alumnus = sim.create_user("Sanne")
    stranger = sim.create_user("Piet")
    assert isinstance(await bot.get_chat_member(group.id, coordinator.id), ChatMemberOwner)
    assert isinstance(await bot.get_chat_member(group.id, sim.bot_id), ChatMemberAdministrator)
    assert isinstance(await bot.get_chat_member(group.id, alumnus.id), ChatMemberLeft)
    await sim.user_sends(alumnus, "hoi", chat=group)
    assert isinstance(await bot.get_chat_member(group.id, alumnus.id), ChatMemberMember)
    sim.set_member_status(group, alumnus, "administrator")
    assert isinstance(await bot.get_chat_member(group.id, alumnus.id), ChatMemberAdministrator)
    sim.set_member_status(group, stranger, "kicked")
    assert isinstance(await bot.get_chat_member(group.id, stranger.id), ChatMemberBanned)
    with pytest.raises(PermissionError):
        await sim.user_sends(stranger, "mag niet", chat=group)
    sim.set_member_status(group, alumnus, "left")
    assert (await bot.get_chat_member(group.id, alumnus.id)).status == "left"
    with pytest.raises(BadRequest, match=r"(?i)user not found"):
        await bot.get_chat_member(group.id, 42)
    private = await bot.get_chat_member(alumnus.id, alumnus.id)
    assert isinstance(private, ChatMemberMember)
    outside = sim.create_group("Zonder bot")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.get_chat_member(outside.id, alumnus.id)
    with pytest.raises(ValueError):
        sim.set_member_status(group, alumnus, "restricted")


async def test_web_api_posts_into_topics(sim: BotApiSimulator, bot: Bot) -> None:
    group, _ = await forum_with_bot(sim)
    topic = await bot.create_forum_topic(group.id, "Web")
    user = sim.create_user("Sanne")
    base = f"{sim.url}/sim/api/users/{user.id}"
    body = {"chat_id": group.id, "message_thread_id": topic.message_thread_id}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/messages", json={**body, "text": "hoi"}) as response:
            assert response.status == 201
            assert (await response.json())["is_topic_message"] is True
        async with http.post(f"{base}/media", json={**body, "kind": "voice"}) as response:
            voice = await response.json()
            assert voice["message_thread_id"] == topic.message_thread_id
        async with http.get(f"{sim.url}/sim/api/files/{voice['voice']['file_id']}") as response:
            assert await response.read() == b"OggS-voice"
        sim.delete_topic(group, topic.message_thread_id)
        async with http.post(f"{base}/messages", json={**body, "text": "weg"}) as response:
            assert response.status == 404
