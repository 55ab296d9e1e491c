"""Tests for the local Bot API simulator, driven by real python-telegram-bot over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from sandbox.simulator import BotApiSimulator, Fault, HtmlParseError, parse_html
from sandbox.simulator.ratelimit import RateLimiter

TOKEN = "123456:TEST-abc"


# ---------------------------------------------------------------- fixtures


@pytest.fixture
async def sim() -> AsyncIterator[BotApiSimulator]:
    async with BotApiSimulator(token=TOKEN, local_mode=True) as simulator:
        simulator.webhook_retry_delays = (0.01, 0.02, 0.05, 0.1)
        yield simulator


@pytest.fixture
async def bot(sim: BotApiSimulator) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=sim.api_base_url, base_file_url=sim.file_base_url) as b:
        yield b


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d, callback_data=d) for d in data]])


async def start_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_html(
        "<b>Welkom</b> bij de alumnibot!", reply_markup=keyboard("ja", "nee")
    )


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(f"echo: {update.effective_message.text}")


async def choose(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer(f"gekozen: {query.data}")
    await query.edit_message_text(f"Je koos <i>{query.data}</i>", parse_mode="HTML")


@pytest.fixture
async def app(sim: BotApiSimulator) -> AsyncIterator[Application]:
    application = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(sim.api_base_url)
        .base_file_url(sim.file_base_url)
        .build()
    )
    application.add_handler(CommandHandler("start", start_command))
    application.add_handler(CallbackQueryHandler(choose))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0.0, timeout=5)
        yield application
        await application.updater.stop()
        await application.stop()


# ------------------------------------------------------------ round trips


async def test_get_me_and_send_message(sim: BotApiSimulator, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.username == "alumnibot_test_bot"
    assert me.is_bot
    user = sim.create_user("Sanne")
    sent = await bot.send_message(
        user.id, "<b>Hoi</b> &amp; welkom", parse_mode="HTML", reply_markup=keyboard("a")
    )
    assert sent.text == "Hoi & welkom"
    assert sent.entities[0].type == "bold"
    [stored] = sim.bot_messages(user.id)
    assert stored.message_id == sent.message_id
    assert stored.text == "Hoi & welkom"
    assert stored.html == "<b>Hoi</b> &amp; welkom"
    assert stored.parse_mode == "HTML"
    assert stored.reply_markup == {"inline_keyboard": [[{"text": "a", "callback_data": "a"}]]}
    assert sim.requests[-1][0] == "sendMessage"
    assert sim.stats.calls["sendMessage"] == 1


async def test_application_polling_round_trip(sim: BotApiSimulator, app: Application) -> None:
    user = sim.create_user("Sanne", language_code="nl")
    await sim.user_sends(user, "/start")
    [welcome] = await sim.wait_for_bot_messages(user, 1)
    assert welcome.text == "Welkom bij de alumnibot!"
    assert welcome.reply_markup is not None

    query_id = await sim.user_presses(user, welcome.message_id, "ja")
    await sim.wait_for(lambda s: s.bot_messages(user)[0].edited)
    [edited] = sim.bot_messages(user)
    assert edited.text == "Je koos ja"
    assert edited.reply_markup is None
    assert sim.callback_answers == [
        {
            "callback_query_id": query_id,
            "text": "gekozen: ja",
            "show_alert": False,
            "url": None,
            "cache_time": None,
        }
    ]

    await sim.user_sends(user, "hallo")
    messages = await sim.wait_for_bot_messages(user, 2)
    assert messages[-1].text == "echo: hallo"
    assert TOKEN not in json.dumps([params for _, params in sim.requests])


async def test_group_membership_and_updates(sim: BotApiSimulator, bot: Bot) -> None:
    user = sim.create_user("Coordinator")
    group = sim.create_group("Team LLO")
    assert group.id < 0
    with pytest.raises(Forbidden, match=r"(?i)not a member"):
        await bot.send_message(group.id, "hoi")
    await sim.user_sends(user, "de bot is er nog niet", chat=group)  # no update: bot not in it
    await sim.add_bot_to_group(group, by=user)
    await sim.user_sends(user, "/help@alumnibot_test_bot", chat=group)
    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [1, 2, 3]
    assert updates[0].my_chat_member is not None
    assert updates[0].my_chat_member.new_chat_member.status == "member"
    assert updates[1].message is not None and updates[1].message.new_chat_members
    assert updates[2].message is not None and (updates[2].message.text or "").startswith("/help")
    assert updates[2].message.entities[0].type == "bot_command"
    await bot.send_message(group.id, "hoi groep")
    assert sim.bot_messages(group)[0].text == "hoi groep"
    # offset confirms: nothing left afterwards
    assert await bot.get_updates(offset=4, timeout=0) == ()
    assert await bot.leave_chat(group.id)
    assert sim.last_update_id == 4


async def test_media_updates_and_duplicate_update_ids(sim: BotApiSimulator, bot: Bot) -> None:
    user = sim.create_user("Sanne")
    for kind in ("sticker", "photo", "voice", "document", "location", "contact"):
        await sim.user_sends_media(user, kind=kind)
    updates = await bot.get_updates(timeout=0)
    messages = [u.message for u in updates if u.message is not None]
    assert messages[0].sticker is not None
    assert messages[1].photo
    assert messages[2].voice is not None
    assert messages[3].document is not None
    assert messages[4].location is not None
    assert messages[5].contact is not None
    raw = {"update_id": 500, "message": updates[0].to_dict()["message"]}
    await sim.inject_raw_update(raw)
    await sim.inject_raw_update(raw)
    again = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    assert [u.update_id for u in again] == [500, 500]
    assert sim.last_update_id == 500


async def test_gifs_quizzes_and_edits_parse_in_ptb(sim: BotApiSimulator, bot: Bot) -> None:
    user = sim.create_user("Sanne")
    await sim.user_sends_media(user, kind="animation")
    await sim.user_sends_media(user, kind="quiz")
    said = await sim.user_sends(user, "Eerste versie")
    await sim.user_edits(user, said["message_id"], "Tweede versie")
    gif, quiz, text, edit = await bot.get_updates(timeout=0)
    assert gif.message is not None and gif.message.animation is not None
    assert gif.message.document is not None  # Telegram sends both (backward compatibility)
    assert quiz.message is not None and quiz.message.poll is not None
    assert quiz.message.poll.type == "quiz" and quiz.message.poll.options[0].persistent_id
    assert text.message is not None and text.message.text == "Eerste versie"
    assert edit.edited_message is not None and edit.edited_message.text == "Tweede versie"
    assert edit.edited_message.message_id == said["message_id"]
    assert edit.edited_message.edit_date is not None
    with pytest.raises(KeyError):  # only one's own messages
        await sim.user_edits(sim.create_user("Bob"), said["message_id"], "x", sim.chats[user.id])


async def test_long_poll_wakes_on_update(sim: BotApiSimulator, bot: Bot) -> None:
    user = sim.create_user("Sanne")
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)  # let the long poll reach the server before the update exists
    await sim.user_sends(user, "hallo")
    updates = await poll
    assert updates[0].message is not None and updates[0].message.text == "hallo"
    assert time.monotonic() - started < 2


async def test_second_get_updates_gets_conflict(sim: BotApiSimulator, bot: Bot) -> None:
    user = sim.create_user("Sanne")
    first = asyncio.create_task(bot.get_updates(timeout=3))
    await sim.wait_for(lambda s: s.stats.calls["getUpdates"] == 1)
    # A second bot instance (its own connection pool) polling at the same time.
    async with Bot(TOKEN, base_url=sim.api_base_url) as second:
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await second.get_updates(timeout=0)
    await sim.user_sends(user, "hoi")
    assert len(await first) == 1


# ------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("html", "visible"),
    [
        ("<b>vet</b> <strong>ook</strong> <i>i</i><em>e</em><u>u</u><ins>n</ins>", "vet ook ieun"),
        ("<s>s</s><strike>t</strike><del>d</del>", "std"),
        ('<span class="tg-spoiler">geheim</span> <tg-spoiler>ook</tg-spoiler>', "geheim ook"),
        ('<a href="https://example.nl/?a=1&amp;b=2">link</a>', "link"),
        ('<pre><code class="language-python">x = 1</code></pre> <code>y</code>', "x = 1 y"),
        ("<blockquote expandable>citaat</blockquote>", "citaat"),
        ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>', "👍"),
        ("a &lt; b &gt; c &amp; d &quot;e&quot; &#65;&#x42;", 'a < b > c & d "e" AB'),
        ("<B>hoofdletters</B>", "hoofdletters"),
    ],
)
def test_html_parser_accepts_telegram_subset(html: str, visible: str) -> None:
    assert parse_html(html).text == visible


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("1 < 2", "Empty tag name at byte offset 2"),
        ("<br>", 'Unsupported start tag "br" at byte offset 0'),
        ("<div>x</div>", 'Unsupported start tag "div"'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
        ("Tom & Jerry", "unescaped"),
        ("&nbsp;", "Unsupported HTML entity"),
        ('<a href="x>', "Unclosed end of attribute value"),
    ],
)
def test_html_parser_rejects_malformed(html: str, error: str) -> None:
    with pytest.raises(HtmlParseError, match=error.replace("(", r"\(")):
        parse_html(html)


def test_html_entities_use_utf16_offsets() -> None:
    parsed = parse_html("😀 <b>x</b>")
    assert parsed.entities == [{"type": "bold", "offset": 3, "length": 1}]


async def test_malformed_html_is_bad_request(sim: BotApiSimulator, bot: Bot) -> None:
    user = sim.create_user("Sanne")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities: Unsupported start tag"):
        await bot.send_message(user.id, "<script>alert(1)</script>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(user.id, "Naam: <Sanne>", parse_mode="HTML")
    # The same text without parse mode is fine.
    await bot.send_message(user.id, "Naam: <Sanne>")
    assert sim.bot_messages(user)[0].text == "Naam: <Sanne>"


async def test_send_validation_errors(sim: BotApiSimulator, bot: Bot) -> None:
    user = sim.create_user("Sanne")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(999, "hoi")
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(user.id, "   ")
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(user.id, "<b> </b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(user.id, "x" * 4097)
    # Length counts visible text: tags do not count.
    await bot.send_message(user.id, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
        await bot.send_document(user.id, b"data", filename="a.txt", caption="c" * 1025)
    assert len(sim.bot_messages(user)) == 1


async def test_forbidden_for_blocked_and_unstarted_users(sim: BotApiSimulator, bot: Bot) -> None:
    user = sim.create_user("Sanne")
    sim.block(user)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(user.id, "hoi")
    sim.unblock(user)
    await bot.send_message(user.id, "weer terug")
    updates = await bot.get_updates(timeout=0)
    statuses = [u.my_chat_member.new_chat_member.status for u in updates if u.my_chat_member]
    assert statuses == ["kicked", "member"]

    stranger = sim.create_user("Piet", started=False)
    with pytest.raises(Forbidden, match=r"(?i)can't initiate conversation"):
        await bot.send_message(stranger.id, "hoi")
    await sim.user_sends(stranger, "/start")
    await bot.send_message(stranger.id, "welkom")

    sim.deactivate(stranger)
    with pytest.raises(Forbidden, match=r"(?i)user is deactivated"):
        await bot.send_message(stranger.id, "hoi")


async def test_keyboard_validation(sim: BotApiSimulator, bot: Bot) -> None:
    user = sim.create_user("Sanne")
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(user.id, "kies", reply_markup=keyboard("é" * 33))
    with pytest.raises(BadRequest, match=r"(?i)too many buttons"):
        await bot.send_message(user.id, "kies", reply_markup=keyboard(*"abcdefghi"))
    too_many = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(f"{r}{c}", callback_data=f"{r}{c}") for c in range(8)]
            for r in range(13)
        ]
    )
    with pytest.raises(BadRequest, match=r"(?i)too many buttons"):
        await bot.send_message(user.id, "kies", reply_markup=too_many)
    await bot.send_message(user.id, "kies", reply_markup=keyboard("x" * 64))
    await bot.send_message(
        user.id, "kies", reply_markup=ReplyKeyboardMarkup([["Ja", "Nee"]], one_time_keyboard=True)
    )
    stored = sim.bot_messages(user)
    assert stored[1].reply_markup is not None and "keyboard" in stored[1].reply_markup
    assert "reply_markup" not in stored[1].raw  # Telegram only echoes inline keyboards


async def test_edit_and_callback_errors(sim: BotApiSimulator, bot: Bot) -> None:
    user = sim.create_user("Sanne")
    sent = await bot.send_message(user.id, "vraag", reply_markup=keyboard("a"))
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=user.id, message_id=sent.message_id + 10)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "vraag", chat_id=user.id, message_id=sent.message_id, reply_markup=keyboard("a")
        )
    await bot.edit_message_reply_markup(user.id, sent.message_id, reply_markup=keyboard("b"))
    assert sim.bot_messages(user)[0].reply_markup == keyboard("b").to_dict()
    await bot.edit_message_reply_markup(user.id, sent.message_id, reply_markup=None)
    assert sim.bot_messages(user)[0].reply_markup is None
    assert sim.bot_messages(user)[0].edited

    query_id = await sim.user_presses(user, sent.message_id, "vervalst" * 20)
    assert await bot.answer_callback_query(query_id, text="ok")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(BadRequest, match=r"(?i)query ID is invalid"):
        await bot.answer_callback_query("12345")
    updates = await bot.get_updates(timeout=0)
    assert updates[-1].callback_query is not None
    assert updates[-1].callback_query.data == "vervalst" * 20


async def test_send_document_round_trip(sim: BotApiSimulator, bot: Bot) -> None:
    user = sim.create_user("Sanne")
    payload = json.dumps({"naam": "Sanne"}).encode()
    sent = await bot.send_document(
        user.id,
        payload,
        filename="mijngegevens.json",
        caption="<b>Je gegevens</b>",
        parse_mode="HTML",
    )
    assert sent.document is not None and sent.caption == "Je gegevens"
    [stored] = sim.bot_messages(user)
    assert stored.document is not None
    assert stored.document["file_name"] == "mijngegevens.json"
    assert sim.file_bytes(stored.document["file_id"]) == payload
    # Re-send by file_id and download through getFile + the file URL.
    again = await bot.send_document(user.id, stored.document["file_id"])
    assert again.document is not None and again.document.file_id == stored.document["file_id"]
    file = await bot.get_file(stored.document["file_id"])
    assert bytes(await file.download_as_bytearray()) == payload


async def test_commands_and_misc_methods(sim: BotApiSimulator, bot: Bot) -> None:
    user = sim.create_user("Sanne")
    await bot.set_my_commands([("start", "Begin"), ("stop", "Stop alles")], language_code="nl")
    assert [c.command for c in await bot.get_my_commands(language_code="nl")] == ["start", "stop"]
    assert await bot.get_my_commands() == ()
    key = (json.dumps({"type": "default"}), "nl")
    assert sim.commands[key][0] == {"command": "start", "description": "Begin"}
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Start!", "x")])
    await bot.delete_my_commands(language_code="nl")
    assert sim.commands == {}
    chat = await bot.get_chat(user.id)
    assert chat.first_name == "Sanne"
    assert await bot.send_chat_action(user.id, "typing")
    assert await bot.close()
    assert await bot.log_out()


async def test_unknown_token_and_method(sim: BotApiSimulator, http: aiohttp.ClientSession) -> None:
    wrong = Bot("999:wrong", base_url=sim.api_base_url)
    with pytest.raises(InvalidToken, match="rejected by the server"):
        await wrong.initialize()
    await wrong.shutdown()
    async with http.post(f"{sim.api_base_url}{TOKEN}/fooBar") as response:
        assert response.status == 404
        assert await response.json() == {
            "ok": False,
            "error_code": 404,
            "description": "Not Found: method not found",
        }
    # A JSON body works as well as a form.
    user = sim.create_user("Sanne")
    async with http.post(
        f"{sim.api_base_url}{TOKEN}/sendMessage",
        json={"chat_id": user.id, "text": "json", "reply_markup": {"inline_keyboard": []}},
    ) as response:
        body = await response.json()
        assert body["ok"] and body["result"]["text"] == "json"


# ---------------------------------------------------------------- webhook


async def test_webhook_delivery_secret_and_retries(sim: BotApiSimulator, bot: Bot) -> None:
    received: list[tuple[str | None, dict]] = []
    statuses = [500, 200, 200]

    async def receive(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.Response(status=statuses[min(len(received), len(statuses)) - 1])

    receiver = web.Application()
    receiver.router.add_post("/hook", receive)
    runner = web.AppRunner(receiver)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        user = sim.create_user("Sanne")
        await sim.user_sends(user, "voor de webhook")  # queued, moves to the webhook
        assert await bot.set_webhook(
            f"http://127.0.0.1:{port}/hook", secret_token="geheim_123", allowed_updates=["message"]
        )
        assert sim.webhook is not None and sim.webhook["secret_token"] == "geheim_123"
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        await sim.user_sends(user, "na de webhook")
        await sim.wait_for(
            lambda s: len([d for d in s.webhook_deliveries if d.get("status") == 200]) == 2
        )
        assert [d.get("status") for d in sim.webhook_deliveries] == [500, 200, 200]
        assert all(secret == "geheim_123" for secret, _ in received)
        texts = [body["message"]["text"] for _, body in received]
        assert texts == ["voor de webhook", "voor de webhook", "na de webhook"]
        info = await bot.get_webhook_info()
        assert info.url.endswith("/hook") and info.pending_update_count == 0
        assert info.last_error_message == "Wrong response from the webhook: 500"

        assert await bot.delete_webhook()
        await sim.user_sends(user, "weer polling")
        updates = await bot.get_updates(timeout=0)
        assert updates[-1].message is not None and updates[-1].message.text == "weer polling"
    finally:
        await runner.cleanup()


async def test_webhook_gives_up_after_max_tries(sim: BotApiSimulator, bot: Bot) -> None:
    await bot.set_webhook("http://127.0.0.1:9/unreachable")
    user = sim.create_user("Sanne")
    await sim.user_sends(user, "niemand thuis")
    await sim.wait_for(lambda s: any(d.get("gave_up") for d in s.webhook_deliveries))
    attempts = [d for d in sim.webhook_deliveries if "attempt" in d]
    assert len(attempts) == 5 and all("error" in d for d in attempts)


async def test_set_webhook_rejects_bad_secret(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)secret token"):
        await bot.set_webhook("http://127.0.0.1:9/x", secret_token="geen spaties!")


# ----------------------------------------------------------------- faults


async def test_fault_429_and_5xx(
    sim: BotApiSimulator, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without PTB_TIMEDELTA, PTB 22 warns (an error under filterwarnings) inside RetryAfter.
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    user = sim.create_user("Sanne")
    sim.faults.add(Fault(method="sendMessage", kind="429", count=1, retry_after=3))
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(user.id, "eerste")
    assert caught.value.retry_after == dt.timedelta(seconds=3)
    sim.faults.add(Fault(method="sendMessage", kind="5xx", count=1))
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(user.id, "tweede")
    await bot.send_message(user.id, "derde")
    assert [m.text for m in sim.bot_messages(user)] == ["derde"]
    assert sim.stats.responses[429] == 1 and sim.stats.responses[502] == 1
    assert sim.stats.rate_limited == 1


async def test_fault_drop_before_and_after_accept(sim: BotApiSimulator, bot: Bot) -> None:
    user = sim.create_user("Sanne")
    sim.faults.add(Fault(kind="drop_before", count=1, chat_id=user.id))
    with pytest.raises(NetworkError):
        await bot.send_message(user.id, "nooit aangekomen")
    assert sim.bot_messages(user) == []
    sim.faults.add(Fault(method="sendMessage", kind="drop_after_accept", count=1))
    with pytest.raises(NetworkError):
        await bot.send_message(user.id, "wel aangekomen")
    assert [m.text for m in sim.bot_messages(user)] == ["wel aangekomen"]


async def test_fault_slow(sim: BotApiSimulator) -> None:
    user = sim.create_user("Sanne")
    sim.faults.add(Fault(method="sendMessage", kind="slow", delay=0.3))
    request = HTTPXRequest(read_timeout=0.1)
    async with Bot(TOKEN, base_url=sim.api_base_url, request=request) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(user.id, "te traag", read_timeout=0.1)
        started = time.monotonic()
        await bot.send_message(user.id, "geduld", read_timeout=2)
        assert time.monotonic() - started >= 0.3


async def test_fault_probability_is_seeded(sim: BotApiSimulator, bot: Bot) -> None:
    user = sim.create_user("Sanne")

    async def run() -> list[bool]:
        sim.faults.clear()
        sim.faults.seed(42)
        sim.faults.add(Fault(method="sendChatAction", kind="5xx", probability=0.5))
        outcome = []
        for _ in range(20):
            try:
                await bot.send_chat_action(user.id, "typing")
                outcome.append(True)
            except NetworkError:
                outcome.append(False)
        return outcome

    first = await run()
    assert first == await run()
    assert 0 < first.count(False) < 20


async def test_rate_limits_when_enforced(
    bot: Bot, sim: BotApiSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    sim.enforce_rate_limits = True
    now = [1000.0]
    sim.rate_limiter = RateLimiter(clock=lambda: now[0])  # frozen time: deterministic
    user = sim.create_user("Sanne")
    for i in range(3):  # burst of 3 per private chat
        await bot.send_message(user.id, f"bericht {i}")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(user.id, "te snel")
    assert caught.value.retry_after == dt.timedelta(seconds=1)
    # edits do not count against the send limits
    await bot.edit_message_text("aangepast", chat_id=user.id, message_id=1)

    owner = sim.create_user("Coordinator")
    group = sim.create_group("Staff")
    await sim.add_bot_to_group(group, by=owner)
    for i in range(20):
        await bot.send_message(group.id, f"groep {i}")
    with pytest.raises(RetryAfter):
        await bot.send_message(group.id, "21e")

    # overall: 30/s across chats (the group and first user already used 23)
    others = [sim.create_user(f"U{i}") for i in range(8)]
    for other in others[:7]:
        await bot.send_message(other.id, "hoi")
    with pytest.raises(RetryAfter):
        await bot.send_message(others[7].id, "hoi")
    assert sim.stats.rate_limited == 3
    assert sim.stats.responses[429] == 3

    now[0] += 1.0  # a second later the private chat has a token again
    await bot.send_message(user.id, "weer ruimte")


# ------------------------------------------------------------- user side


async def test_user_http_api_and_events(
    sim: BotApiSimulator, bot: Bot, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        f"{sim.url}/sim/api/users", json={"first_name": "Web", "language_code": "en"}
    ) as r:
        assert r.status == 201
        user = await r.json()
    chat_id = user["chat_id"]
    async with http.post(
        f"{sim.url}/sim/api/users/{chat_id}/messages", json={"text": "/start"}
    ) as r:
        assert r.status == 201
    async with http.post(
        f"{sim.url}/sim/api/users/{chat_id}/media", json={"kind": "sticker"}
    ) as r:
        assert r.status == 201
    async with http.post(f"{sim.url}/sim/api/users/{chat_id}/media", json={"kind": "bogus"}) as r:
        assert r.status == 400
    sent = await bot.send_message(
        chat_id, "<b>Hallo</b>", parse_mode="HTML", reply_markup=keyboard("ok")
    )
    document = await bot.send_document(chat_id, b"inhoud", filename="export.json")

    async with http.get(f"{sim.url}/sim/api/chats/{chat_id}/messages", params={"after": "1"}) as r:
        views = (await r.json())["messages"]
    assert [v["side"] for v in views] == ["user", "bot", "bot"]
    assert views[1]["message"]["entities"] == [{"type": "bold", "offset": 0, "length": 5}]

    async with http.post(
        f"{sim.url}/sim/api/users/{chat_id}/press",
        json={"message_id": sent.message_id, "callback_data": "ok"},
    ) as r:
        query_id = (await r.json())["callback_query_id"]
    updates = await bot.get_updates(timeout=0)
    assert updates[-1].callback_query is not None and updates[-1].callback_query.id == query_id

    assert document.document is not None
    async with http.get(f"{sim.url}/sim/api/files/{document.document.file_id}") as r:
        assert await r.read() == b"inhoud"
        assert 'filename="export.json"' in r.headers["Content-Disposition"]

    async with http.get(f"{sim.url}/sim/api/chats/{chat_id}/events") as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        events: list[tuple[str, dict]] = []
        name = ""
        async for raw_line in stream.content:
            line = raw_line.decode().strip()
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
                if name == "ready":
                    await bot.edit_message_text(
                        "Bewerkt", chat_id=chat_id, message_id=sent.message_id
                    )
                if len(events) == 6:
                    break
    assert [n for n, _ in events] == ["message"] * 4 + ["ready", "message"]
    assert events[-1][1]["edited"] and events[-1][1]["message"]["text"] == "Bewerkt"


async def test_index_page_and_static(sim: BotApiSimulator, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{sim.url}/") as r:
        assert r.status == 200
        assert "Content-Security-Policy" in r.headers
        assert "<html" in await r.text()
    for asset in ("chat.js", "chat.css"):
        async with http.get(f"{sim.url}/static/{asset}") as r:
            assert r.status == 200


async def test_wait_for_bot_messages_times_out_helpfully(sim: BotApiSimulator, bot: Bot) -> None:
    user = sim.create_user("Sanne")
    await bot.send_message(user.id, "alleen deze")
    with pytest.raises(TimeoutError, match="expected 2 bot message") as caught:
        await sim.wait_for_bot_messages(user, 2, timeout=0.05)
    assert "alleen deze" in str(caught.value)
