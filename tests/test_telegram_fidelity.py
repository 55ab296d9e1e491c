"""Telegram as it really is: the simulator's stricter answers, and the bot handling them.

Each test fails against the kinder simulator or the bot before it learned the behaviour;
docs/telegram-fidelity.md lists what is modelled and where Telegram says so.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from telegram import Bot
from telegram.error import BadRequest

from handlers.telegram.rights import check_staff_groups
from sandbox.simulator import BotApiSimulator, Fault
from storage.models import AuditEvent, OutboxMessage, Team
from tests.chat import ask, buttons, onboard_nl, staff_says, texts_in
from tests.factories import staff_team
from tests.harness import processed_of, rows, settle, state_of, the_conversation

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)


@pytest.fixture
def settings(settings):
    # As in test_inbox: the group pacing is tested in test_dispatch.
    return settings.model_copy(update={"group_messages_per_minute": 6000.0})


# ------------------------------------------------------------------ B1: a topic that is gone


@pytest.mark.parametrize(
    "answer", ["message thread not found", "TOPIC_DELETED", "TOPIC_ID_INVALID", "TOPIC_CLOSED"]
)
async def test_every_kind_of_gone_topic_is_recreated_once(app, sim, new_chat, answer):
    group, coordinator = await staff_team(app, sim)
    if answer == "TOPIC_CLOSED":
        # A member bot may create topics where members may, but not post in closed ones.
        sim.set_member_status(group, sim.bot_user, "member")
        group.members_can_manage_topics = True
    chat = new_chat()
    await onboard_nl(chat)
    await ask(chat, "Eerste vraag")
    await settle(app)
    [old] = sim.topics(group)
    await staff_says(sim, app, coordinator, group, old, "Eerste antwoord")
    if answer == "TOPIC_CLOSED":
        topic = sim.topic(group, old)
        assert topic is not None
        topic.is_closed = True
    else:
        sim.delete_topic(group, old, answer=answer)

    await chat.say("Nog een vraag")
    await settle(app)
    new = max(sim.topics(group))
    assert new != old
    in_topic = texts_in(sim, group, new)
    assert any("Overzicht van dit gesprek" in t for t in in_topic)
    assert in_topic[-1] == "Nog een vraag"
    assert (await the_conversation(app)).thread_id == new
    assert sim.stats.calls["createForumTopic"] == 2  # once at first, once to recreate
    assert all(r.status == "sent" for r in await rows(app, OutboxMessage))


# ------------------------------------------------------------------ B2: the group moved


async def test_a_group_that_became_a_supergroup_is_followed(app, sim, new_chat):
    group, coordinator = await staff_team(app, sim)
    # The team was linked to a basic group; an admin then turned on topics, which makes
    # Telegram upgrade it to a supergroup under a new id.
    basic = sim.create_group(title="Team basis", supergroup=False)
    await sim.add_bot_to_group(basic, by=coordinator, as_admin=True)
    deps = app.bot_data.graph.deps
    async with deps.storage.transaction() as tx:
        team = await tx.teams.by_chat(group.id)
        await tx.teams.set_chat(team.id, basic.id)
    moved = sim.upgrade_group(basic, is_forum=True)

    chat = new_chat()
    await onboard_nl(chat)
    await ask(chat, "Vraag na de verhuizing")
    await settle(app)
    await settle(app)  # the notice about the move is a relay of its own

    [topic] = sim.topics(moved)
    in_topic = texts_in(sim, moved, topic)
    assert "Vraag na de verhuizing" in in_topic
    assert any("supergroep" in t for t in in_topic)
    async with deps.storage.transaction() as tx:
        assert (await tx.teams.by_id(team.id)).chat_id == moved.id
    [event] = await rows(app, AuditEvent)
    assert event.action == "team.group_moved" and str(moved.id) in (event.subject or "")
    assert {r.status for r in await rows(app, OutboxMessage)} == {"sent"}


# ------------------------------------------------------------------ B4: presses expire


def apologies(chat) -> list[str]:
    return [m.text for m in chat.messages if m.text and m.text.startswith("Oeps")]


async def test_a_press_telegram_forgot_is_harmless(app, sim, new_chat):
    sim.callback_query_ttl = 0.0  # every answer comes too late
    chat = new_chat()
    await chat.say("/start")
    await chat.tap("Nederlands")
    assert "Niets staat al aan" in chat.last.text  # the press did its work
    assert apologies(chat) == []
    assert sim.callback_answers == []


async def test_slow_work_behind_a_press_is_answered_in_time(app, sim, new_chat):
    sim.callback_query_ttl = 2.5
    chat = new_chat()
    await chat.say("/start")
    for method in ("sendMessage", "editMessageText"):
        sim.faults.add(Fault(method=method, kind="slow", delay=3.0, count=1))
    await chat.tap("Nederlands")
    await sim.wait_for(lambda _: any("Niets staat" in (m.text or "") for m in chat.messages))
    assert len(sim.callback_answers) == 1  # answered before Telegram forgot the press
    assert apologies(chat) == []


async def test_a_reply_that_times_out_after_it_went_out_brings_no_apology(app, sim, new_chat):
    sim.faults.add(Fault(method="sendMessage", kind="slow", delay=6.0, count=1))
    chat = new_chat()
    await chat.say("/start")  # the welcome's answer comes after the 5 s read timeout
    async with app.bot_data.graph.deps.storage.transaction() as tx:
        assert await tx.alumni.by_chat(chat.chat_id) is not None  # the start was saved
    assert apologies(chat) == []


# ------------------------------------------------------------------ B5: 429 everywhere


async def test_a_short_retry_after_on_a_direct_reply_is_waited_for(app, sim, new_chat):
    sim.faults.add(Fault(method="sendMessage", kind="429", retry_after=1, count=1))
    chat = new_chat()
    welcome = await chat.say("/start")
    assert "alumnibot van" in welcome[0].text
    assert apologies(chat) == []


async def test_a_long_retry_after_on_an_edit_hands_the_screen_to_the_outbox(
    app, sim, new_chat, clock
):
    chat = new_chat()
    await chat.say("/start")
    await chat.tap("Nederlands")
    consent = chat.last
    sim.faults.add(Fault(method="editMessageText", kind="429", retry_after=60, count=1))
    before = len(chat.messages)
    await chat.tap("Cursussen", consent)
    # Queued, and not tried again before the minute Telegram asked for is over.
    [deferred] = [r for r in await rows(app, OutboxMessage) if r.dedupe_key.startswith("reply:")]
    assert deferred.not_before == clock.now() + timedelta(seconds=60)
    assert len(chat.messages) == before
    clock.advance(timedelta(seconds=61))
    app.bot_data.graph.dispatcher.wake()
    await sim.wait_for_bot_messages(chat.chat_id, before + 1)
    assert "✅ Cursussen (LLO)" in [t for t, _ in buttons(chat.last)]
    assert apologies(chat) == []


async def test_a_rate_limited_answer_to_a_press_is_harmless(app, sim, new_chat):
    chat = new_chat()
    await chat.say("/start")
    sim.faults.add(Fault(method="answerCallbackQuery", kind="429", retry_after=60, count=1))
    await chat.tap("Nederlands")
    assert "Niets staat al aan" in chat.last.text
    assert apologies(chat) == []


# ------------------------------------------------------------------ B3: rights


async def test_relays_wait_for_the_right_to_create_topics_then_go_out_in_order(app, sim, new_chat):
    group, coordinator = await staff_team(app, sim)
    sim.set_bot_status(group, coordinator, "administrator", can_manage_topics=False)
    await processed_of(app).wait(sim.last_update_id)
    assert await check_staff_groups(app) == {"nazorg": ["no_manage_topics"]}
    chat = new_chat()
    await onboard_nl(chat)
    await ask(chat, "Eerste vraag")
    await chat.say("Tweede bericht")
    await settle(app)
    assert sim.topics(group) == {}
    assert {r.status for r in await rows(app, OutboxMessage) if r.chat_id == group.id} == {
        "pending"
    }

    sim.set_bot_status(group, coordinator, "administrator", can_manage_topics=True)
    await processed_of(app).wait(sim.last_update_id)
    assert await check_staff_groups(app) == {"nazorg": []}
    await settle(app)
    [thread] = sim.topics(group)
    in_topic = texts_in(sim, group, thread)
    assert "Nieuw gesprek" in in_topic[0]
    assert in_topic.index("Eerste vraag") < in_topic.index("Tweede bericht")


async def test_the_check_says_what_to_change(app, sim):
    group, coordinator = await staff_team(app, sim)
    sim.set_bot_status(group, coordinator, "member")
    plain = sim.create_group(title="Zonder onderwerpen", supergroup=True)
    elsewhere = sim.create_group(title="Zonder bot", supergroup=True, is_forum=True)
    async with app.bot_data.graph.deps.storage.transaction() as tx:
        for code, chat in (("plain", plain), ("elsewhere", elsewhere)):
            await tx.teams.add(Team(code=code, name=code, chat_id=chat.id, created_at=NOW))
    await sim.add_bot_to_group(plain, by=coordinator, as_admin=True)
    await processed_of(app).wait(sim.last_update_id)
    assert await check_staff_groups(app) == {
        "nazorg": ["not_admin"],
        "plain": ["not_forum"],
        "elsewhere": ["not_member"],
    }


async def test_a_member_bot_in_privacy_mode_sees_only_its_share(app, sim):
    member = sim.create_user(first_name="Groepslid")
    group = sim.create_group(title="Klas 3B", supergroup=True)
    await sim.add_bot_to_group(group, by=member)
    await sim.user_sends(member, "gewoon bericht", chat=group)
    await sim.user_sends(member, "/help", chat=group)
    assert sim.stats.hidden_by_privacy == 1
    sim.set_bot_status(group, member, "administrator")
    await sim.user_sends(member, "nog een gewoon bericht", chat=group)
    assert sim.stats.hidden_by_privacy == 1  # admins see everything


# ------------------------------------------------------------------ B7: smaller things


async def test_set_webhook_is_strict_unless_local(sim):
    strict = BotApiSimulator(token=sim.token)
    await strict.start()
    try:
        async with Bot(sim.token, base_url=strict.api_base_url) as bot:
            with pytest.raises(BadRequest, match=r"(?i)an HTTPS URL must be provided"):
                await bot.set_webhook("http://bot.school.example/hook")
            with pytest.raises(BadRequest, match=r"(?i)ports 80, 88, 443 or 8443"):
                await bot.set_webhook("https://bot.school.example:8080/hook")
            assert await bot.set_webhook("https://bot.school.example:8443/hook")
    finally:
        await strict.stop()


async def test_webhook_retries_back_off_like_telegram(sim):
    answers = iter([500, 500, 500, 429, 200])
    retry_after = {"Retry-After": "7"}

    async def hook(request: web.Request) -> web.Response:
        status = next(answers)
        return web.Response(status=status, headers=retry_after if status == 429 else None)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    sim.webhook_time_scale = 0.01
    try:
        async with Bot(sim.token, base_url=sim.api_base_url) as bot:
            await bot.set_webhook(f"http://127.0.0.1:{port}/hook")
            await sim.user_sends(sim.create_user("Sanne"), "hallo")
            await sim.wait_for(lambda s: any(d.get("status") == 200 for d in s.webhook_deliveries))
    finally:
        await runner.cleanup()
    waits = [d.get("next_try_in") for d in sim.webhook_deliveries if d.get("status") != 200]
    assert waits == [0.0, 2.0, 4.0, 7.0]  # at once, then doubling; a 429's Retry-After


async def test_a_quiz_cannot_be_copied(sim):
    owner = sim.create_user("Sanne")
    quiz = await sim.user_sends_media(owner, kind="quiz")
    async with Bot(sim.token, base_url=sim.api_base_url) as bot:
        with pytest.raises(BadRequest, match=r"(?i)message can.t be copied"):
            await bot.copy_message(owner.id, owner.id, quiz["message_id"])


async def test_the_text_limit_counts_characters_after_parsing(sim):
    user = sim.create_user("Sanne")
    async with Bot(sim.token, base_url=sim.api_base_url) as bot:
        # 4096 characters: tags do not count, nor do emoji count twice (UTF-16 would)
        await bot.send_message(user.id, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
        await bot.send_message(user.id, "🎓" * 4096)
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(user.id, "a" * 4097)


# ------------------------------------------------------------------ B6: update order


async def to_name_step(chat):
    await chat.say("/start")
    await chat.tap("Nederlands")
    await chat.tap("Verder")
    assert "Hoe wil je dat ik je noem" in chat.last.text
    return chat.last


@pytest.mark.parametrize("kinds", [["message", "callback_query"], ["callback_query", "message"]])
async def test_a_typed_answer_and_a_tap_in_either_order(app, sim, new_chat, kinds):
    chat = new_chat("Sanne")
    question = await to_name_step(chat)
    [(_label, data)] = [(t, d) for t, d in buttons(question) if t.startswith("Noem me")]
    sim.hold_updates()
    await sim.user_sends(chat.user, "Sas")
    await sim.user_presses(chat.user, question.message_id, data)
    sim.release_updates(kinds)
    await processed_of(app).wait(sim.last_update_id)
    assert apologies(chat) == []
    state = await state_of(app)
    first = "Sas" if kinds[0] == "message" else "Sanne"
    assert first in str(state.data), state.data  # the later, stale one changed nothing
    assert ("Sanne" if first == "Sas" else "Sas") not in str(state.data)
    # Whichever came second finds the flow one step on: the stale tap, or the name typed
    # into the location question, is answered by asking the current question again.
    assert "Op welke locatie" in chat.last.text


async def test_seeded_reordering_keeps_each_kind_in_order(sim):
    user = sim.create_user("Sanne")
    sim.hold_updates(seed=7)
    for i in range(5):
        await sim.user_sends(user, f"bericht {i}")
        await sim.user_presses(user, 1, f"knop:{i}")
    released = sim.release_updates()
    kinds = ["message" if "message" in u else "callback_query" for u in released]
    assert kinds != ["message", "callback_query"] * 5  # really reordered across kinds
    assert [u["update_id"] for u in released] == sorted(u["update_id"] for u in released)
    texts = [u["message"]["text"] for u in released if "message" in u]
    presses = [u["callback_query"]["data"] for u in released if "callback_query" in u]
    assert texts == [f"bericht {i}" for i in range(5)]
    assert presses == [f"knop:{i}" for i in range(5)]


async def test_relays_go_out_as_soon_as_telegram_says_the_right_arrived(app, sim, new_chat):
    """A my_chat_member update in a staff group releases waiting relays, no restart needed."""
    group, coordinator = await staff_team(app, sim)
    sim.set_bot_status(group, coordinator, "administrator", can_manage_topics=False)
    await processed_of(app).wait(sim.last_update_id)
    chat = new_chat()
    await onboard_nl(chat)
    await ask(chat, "Eerste vraag")
    await settle(app)
    assert sim.topics(group) == {}

    sim.set_bot_status(group, coordinator, "administrator", can_manage_topics=True)
    await processed_of(app).wait(sim.last_update_id)  # only the update: no explicit check
    await settle(app)
    [thread] = sim.topics(group)
    assert "Eerste vraag" in texts_in(sim, group, thread)


async def test_descriptions_are_stored_per_language_within_telegrams_limits(sim):
    async with Bot(sim.token, base_url=sim.api_base_url) as bot:
        assert await bot.set_my_description("Wat ik doe")
        assert await bot.set_my_description("What I do", language_code="en")
        assert (await bot.get_my_description("en")).description == "What I do"
        with pytest.raises(BadRequest, match=r"(?i)^description_invalid"):
            await bot.set_my_description("x" * 513)
        with pytest.raises(BadRequest, match=r"(?i)short_description_invalid"):
            await bot.set_my_short_description("x" * 121)


async def test_the_bot_publishes_its_description_in_both_languages(app, sim):
    nl = sim.descriptions[("description", "")]
    en = sim.descriptions[("description", "en")]
    assert "alumnibot van Testcollege" in nl and "alumni bot of Testcollege" in en
    assert sim.descriptions[("short_description", "")].startswith("Blijf in contact")


@pytest.mark.parametrize(
    "source",
    [
        "a" * 4096,
        "a" * 4097,
        "&amp;" * 4096,  # 4096 characters once parsed: Telegram takes it
        "&amp;" * 4097,
        "<b>" + "x" * 4096 + "</b>",
        "😀" * 4096,  # one character each, not two UTF-16 units
        "😀" * 4097,
        '<a href="https://example.org/?a=1&amp;b=2">' + "y" * 4090 + "</a>&lt;&gt;&#39;",
    ],
)
def test_the_adapter_judges_length_as_telegram_does(source):
    from handlers.telegram.messenger import TEXT_LIMIT, fits
    from sandbox.simulator import parse_html

    assert fits(source) == (len(parse_html(source).text) <= TEXT_LIMIT)
