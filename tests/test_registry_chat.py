"""Invitation links end to end: real Application, simulator over HTTP, real database."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from bot.registry.service import ClassKey, graduation_of, token_hash
from handlers.telegram.app import AlumniApplication
from storage.models import Alumnus, ConsentEvent, ConversationState, Graduate, Invitation
from tests.registry_helpers import csv_bytes, person

BOT = "alumnibot_test_bot"
CLASS = ClassKey("25998", 4, 2025, 7)


async def rows(app: AlumniApplication, model: type) -> list:
    async with app.bot_data.graph.deps.storage.transaction() as tx:
        return list((await tx.session.execute(select(model))).scalars())


async def invite(app: AlumniApplication, *numbers: int) -> dict[str, str]:
    """Import a class of July 2025 and invite it: student number -> token."""
    registry = app.bot_data.graph.registry
    people = [person(n, date="2025-07-04", location="noord") for n in numbers]
    report = await registry.import_file("klas.csv", csv_bytes(people), dry_run=False)
    assert report.ok
    issued = await registry.invite(BOT, CLASS)
    return {i.graduate.student_number: i.token for i in issued}


async def alumnus_of(app: AlumniApplication, chat) -> Alumnus:
    [found] = [a for a in await rows(app, Alumnus) if a.chat_id == chat.chat_id]
    return found


async def test_yes_links_the_record_prefills_onboarding_and_asks_consent(app, new_chat):
    tokens = await invite(app, 1)
    token = tokens["100001"]
    assert len(token) <= 64 and token.startswith("g-")
    chat = new_chat("Sam")
    asked = await chat.say(f"/start {token}")
    assert "Ben jij <b>Sanne1</b>, Software developer 2025?" in asked[-1].html
    await chat.tap("Ja, dat ben ik")
    texts = [m.text or "" for m in chat.messages]
    assert any("Je opleiding, locatie en jaar heb ik alvast ingevuld" in t for t in texts)
    assert "alumnibot van" in chat.last.text  # the welcome with the privacy notice follows
    await chat.tap("Nederlands")
    assert "Niets staat al aan" in chat.last.text  # consent is asked as usual
    await chat.tap("Verder")
    assert "Wat doe je nu" in chat.last.text  # name, location, programme, year: filled in
    await chat.tap("Ik zoek werk")
    await chat.tap("Overslaan")  # region
    await chat.tap("Klaar")  # interests
    summary = chat.last.text
    assert "Sanne1" in summary and "Software developer (25998, niveau 4, BOL)" in summary
    assert "juli 2025" in summary and "Locatie Noord" in summary
    await chat.tap("Opslaan")

    alumnus = await alumnus_of(app, chat)
    assert alumnus.onboarded_at is not None and alumnus.first_name == "Sanne1"
    assert (alumnus.crebo, alumnus.level, alumnus.track) == ("25998", 4, "BOL")
    assert (alumnus.graduation_year, alumnus.graduation_month) == (2025, 7)
    assert await rows(app, ConsentEvent) == []  # an imported record consents to nothing
    [graduate] = await rows(app, Graduate)
    assert graduate.alumnus_id == alumnus.id and graduate.linked_at is not None
    [invitation] = await rows(app, Invitation)
    assert invitation.used_by == alumnus.id and invitation.token_hash == token_hash(token)
    assert token not in invitation.token_hash
    async with app.bot_data.graph.deps.storage.transaction() as tx:
        assert alumnus.id is not None
        assert await graduation_of(tx, alumnus.id) == date(2025, 7, 4)


async def test_a_used_token_cannot_be_claimed_by_a_second_account(app, new_chat):
    token = (await invite(app, 1))["100001"]
    first = new_chat("Sanne")
    await first.say(f"/start {token}")
    await first.tap("Ja, dat ben ik")
    again = await first.say(f"/start {token}")
    assert "Je bent al gekoppeld" in again[0].text

    second = new_chat("Mallory")
    replies = await second.say(f"/start {token}")
    assert "Deze uitnodiging is al gebruikt" in replies[0].text
    assert "alumnibot van" in replies[-1].text  # and the normal onboarding
    [graduate] = await rows(app, Graduate)
    assert graduate.alumnus_id == (await alumnus_of(app, first)).id


async def test_two_accounts_asked_at_once_only_the_first_yes_links(app, new_chat):
    token = (await invite(app, 1))["100001"]
    one, two = new_chat("Een"), new_chat("Twee")
    await one.say(f"/start {token}")
    await two.say(f"/start {token}")
    await one.tap("Ja, dat ben ik")
    await two.tap("Ja, dat ben ik")
    assert any("kan niet meer gebruikt worden" in (m.text or "") for m in two.messages)
    [graduate] = await rows(app, Graduate)
    assert graduate.alumnus_id == (await alumnus_of(app, one)).id


async def test_an_expired_token_is_refused_and_onboarding_starts(app, new_chat, clock):
    token = (await invite(app, 1))["100001"]
    clock.advance(timedelta(days=91))
    chat = new_chat()
    replies = await chat.say(f"/start {token}")
    assert "Deze uitnodiging is verlopen" in replies[0].text
    assert "alumnibot van" in replies[-1].text
    assert (await rows(app, Graduate))[0].alumnus_id is None


async def test_a_forged_or_damaged_token_gets_a_clear_message(app, new_chat):
    token = (await invite(app, 1))["100001"]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for payload in (tampered, "g-" + "A" * 43, "g-", "k-99999-4-202507", "k-25998-4-202513"):
        chat = new_chat()
        replies = await chat.say(f"/start {payload}")
        assert "werkt niet" in replies[0].text, payload
        assert "alumnibot van" in replies[-1].text
    assert (await rows(app, Invitation))[0].used_at is None


async def test_no_thats_not_me_keeps_the_token_and_onboards_without_the_record(app, new_chat):
    token = (await invite(app, 1))["100001"]
    chat = new_chat("Sam")
    await chat.say(f"/start {token}")
    await chat.tap("Nee, dat ben ik niet")
    texts = [m.text or "" for m in chat.messages]
    assert any("verder zonder de gegevens van school" in t for t in texts)
    assert "alumnibot van" in chat.last.text
    await chat.tap("Nederlands")
    await chat.tap("Verder")
    assert "Hoe wil je dat ik je noem" in chat.last.text  # nothing filled in
    [invitation] = await rows(app, Invitation)
    assert invitation.used_at is None
    [graduate] = await rows(app, Graduate)
    assert graduate.alumnus_id is None
    # The right person can still use it.
    owner = new_chat("Sanne1")
    asked = await owner.say(f"/start {token}")
    assert "Ben jij" in asked[-1].text


async def test_typed_text_and_commands_in_the_question_resume_it(app, new_chat):
    token = (await invite(app, 1))["100001"]
    chat = new_chat()
    await chat.say(f"/start {token}")
    typed = await chat.say("hoi")
    assert "Kies een van de knoppen" in typed[0].text and "Ben jij" in typed[0].text
    apology = app.bot_data.graph.deps.renderer.text("common.error", "nl")
    resumed = await chat.say("/start")
    assert "Ben jij" in resumed[-1].text
    for command in ("/start", "/profiel", "/privacy", "/help", "/taal", "/stop"):
        replies = await chat.say(command)
        assert replies and not any(apology in (m.text or "") for m in replies), command
        after = await chat.say("hallo")  # whatever the command did, the person can go on
        assert after and not any(apology in (m.text or "") for m in after), command


async def test_an_onboarded_alumnus_can_link_without_changing_the_profile(app, new_chat):
    token = (await invite(app, 1))["100001"]
    chat = new_chat("Sanne")
    await chat.say("/start")
    await chat.tap("Nederlands")
    await chat.tap("Verder")
    await chat.say("Sanne")
    for _ in range(12):
        if "Klopt dit?" in chat.last.text:
            break
        await chat.tap("Overslaan")
    await chat.tap("Opslaan")
    await chat.say(f"/start {token}")
    done = await chat.tap("Ja, dat ben ik")
    assert "Je account is nu gekoppeld" in done[-1].text
    alumnus = await alumnus_of(app, chat)
    assert alumnus.crebo is None  # the profile stays as the person made it
    assert (await rows(app, Graduate))[0].alumnus_id == alumnus.id


async def test_a_class_link_prefills_programme_and_cohort_only(app, new_chat):
    await invite(app, 1)
    payload = app.bot_data.graph.registry.class_payload(CLASS)
    assert payload == "k-25998-4-202507"
    chat = new_chat("Noor")
    replies = await chat.say(f"/start {payload}")
    assert "Je opende de link van je klas: Software developer 2025" in replies[0].text
    await chat.tap("Nederlands")
    await chat.tap("Verder")
    assert "Hoe wil je dat ik je noem" in chat.last.text
    [state] = await rows(app, ConversationState)
    draft = state.data["draft"]
    assert draft["crebo"] == "25998" and draft["graduation_year"] == 2025
    assert "first_name" not in draft and "location" not in draft
    assert (await rows(app, Graduate))[0].alumnus_id is None  # nobody is linked by it


async def test_export_holds_the_record_and_erasure_removes_it(app, new_chat):
    graph = app.bot_data.graph
    token = (await invite(app, 1, 2))["100001"]
    chat = new_chat("Sanne")
    await chat.say(f"/start {token}")
    await chat.tap("Ja, dat ben ik")
    alumnus = await alumnus_of(app, chat)
    async with graph.deps.storage.transaction() as tx:
        exported = await graph.privacy.collect(tx, alumnus)
    [record] = exported["tables"]["graduate"]
    assert record["student_number"] == "100001"
    assert record["graduation_date"] == "2025-07-04"

    async with graph.deps.storage.transaction() as tx:
        fresh = await tx.alumni.by_chat(chat.chat_id)
        assert fresh is not None
        await graph.privacy.erase(tx, fresh)
    assert [g.student_number for g in await rows(app, Graduate)] == ["100002"]
    assert all(i.used_by is None for i in await rows(app, Invitation))
    again = await graph.registry.import_file(
        "klas.csv", csv_bytes([person(1), person(2, date="2025-07-04", location="noord")])
    )
    assert again.suppressed == 1 and not again.new and again.missing == []


async def test_alumni_who_onboarded_before_the_import_are_offered_as_matches(app):
    graph = app.bot_data.graph
    now = graph.deps.clock.now()
    async with graph.deps.storage.transaction() as tx:
        for chat_id, name, month in ((1, "sanne1", 7), (2, "Sanne2", None), (3, "Sanne3", 9)):
            alumnus = await tx.alumni.create(chat_id, now)
            alumnus.first_name, alumnus.crebo, alumnus.level = name, "25998", 4
            alumnus.graduation_year, alumnus.graduation_month = 2025, month
            alumnus.onboarded_at = now
            tx.alumni.save(alumnus, now)
    await invite(app, 1, 2, 3)
    matches = await graph.registry.matches()
    assert sorted((m.graduate.student_number, m.alumnus.chat_id) for m in matches) == [
        ("100001", 1),
        ("100002", 2),
    ]  # Sanne3 graduated in another month
    assert all(m.graduate.alumnus_id is None for m in matches)  # never linked by itself
    first, second = sorted(matches, key=lambda m: m.alumnus.chat_id)
    assert first.graduate.id and first.alumnus.id and second.graduate.id and second.alumnus.id
    assert await graph.registry.decide_match(first.graduate.id, first.alumnus.id, same=True)
    assert await graph.registry.decide_match(second.graduate.id, second.alumnus.id, same=False)
    assert await graph.registry.matches() == []
    linked = {g.student_number: g.alumnus_id for g in await rows(app, Graduate)}
    assert linked == {"100001": first.alumnus.id, "100002": None, "100003": None}
