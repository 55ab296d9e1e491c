"""/mijngegevens from the registry, and /verwijderen's reach into the staff groups.

The export is generated from what each feature declares (``bot/privacy/export.py``); these
tests fail when a table that refers to a person is in no declaration, when the export misses
any row that refers to the person, when the summary shows codes, and when erasure leaves the
person's words in a team's forum topic.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Table, select
from sqlmodel import SQLModel

from bot.core.render import LOCALES
from bot.privacy.export import NOT_ABOUT_A_PERSON
from storage.models import Alumnus, InboxConversation, OutboxMessage, StaffMember
from tests.chat import ask, buttons, onboard_nl, staff_says, texts_in
from tests.factories import hold_in_digest, new_offer, staff_team
from tests.harness import everything_in_the_database, rows, settle

PERSON_COLUMNS = ("alumnus_id", "chat_id")


@pytest.fixture
def settings(settings):
    # Telegram's 20 messages a minute per group would make these tests take minutes.
    return settings.model_copy(update={"group_messages_per_minute": 6000.0})


def refers_to_a_person(table: Table, flagged: set[str]) -> bool:
    """A column that names a person (alumnus_id, chat_id, *_chat_id), or a foreign key to the
    alumnus or to a table already flagged (an inbox message through its conversation)."""
    for column in table.columns:
        if column.name in PERSON_COLUMNS or column.name.endswith("_chat_id"):
            return True
        people = (flagged - set(NOT_ABOUT_A_PERSON)) | {"alumnus"}
        if any(fk.column.table.name in people for fk in column.foreign_keys):
            return True
    return False


def person_tables() -> set[str]:
    flagged: set[str] = {"alumnus"}
    while True:
        more = {t.name for t in SQLModel.metadata.sorted_tables if refers_to_a_person(t, flagged)}
        if more <= flagged:
            return flagged
        flagged |= more


def test_every_table_that_refers_to_a_person_is_declared(app):
    declared = app.bot_data.graph.privacy.personal.tables()
    missing = person_tables() - declared - set(NOT_ABOUT_A_PERSON)
    assert not missing, (
        f"tables {sorted(missing)} refer to a person but no feature declares them: add a "
        "`personal.declare(...)` line in handlers/graph.py (or a reason in NOT_ABOUT_A_PERSON)"
    )
    assert declared <= person_tables()  # nothing declared that holds no one


def test_every_declared_table_is_named_in_words_in_the_summary(app):
    """/mijngegevens says what is held in words: no table name ("checkin: 5") in any language."""
    renderer = app.bot_data.graph.deps.renderer
    declared = app.bot_data.graph.privacy.personal.tables() - {"alumnus"}
    for locale in LOCALES:
        missing = sorted(
            t for t in declared if f"held_{t}" not in renderer.blocks("privacy", locale)
        )
        assert not missing, f"content/{locale}/privacy.j2 has no held_<table> block for {missing}"


async def rows_about(app, alumnus: Alumnus) -> dict[str, set[tuple]]:
    """Primary keys of every row that refers to the person, table by table: by an alumnus
    id, by their chat id, or by a foreign key to a row found already (to a fixpoint)."""
    found: dict[str, set[tuple]] = {"alumnus": {(alumnus.id,)}}
    async with app.bot_data.graph.deps.storage.transaction() as tx:
        changed = True
        while changed:
            changed = False
            for table in SQLModel.metadata.sorted_tables:
                if table.name in NOT_ABOUT_A_PERSON:
                    continue
                key = list(table.primary_key.columns)
                for row in (await tx.session.execute(select(table))).mappings():
                    pk = tuple(row[c.name] for c in key)
                    if pk in found.get(table.name, set()):
                        continue
                    hit = any(
                        row[c.name] == alumnus.id
                        for c in table.columns
                        if c.name == "alumnus_id"
                        or any(fk.column.table.name == "alumnus" for fk in c.foreign_keys)
                    ) or any(
                        row[c.name] == alumnus.chat_id
                        for c in table.columns
                        if c.name == "chat_id" or c.name.endswith("_chat_id")
                    )
                    for c in table.columns:
                        for fk in c.foreign_keys:
                            target = fk.column.table.name
                            if target != "alumnus" and (row[c.name],) in found.get(target, set()):
                                hit = True
                    if hit and table.name != "alumnus":
                        found.setdefault(table.name, set()).add(pk)
                        changed = True
    return found


async def a_person_with_everything(app, sim, new_chat):
    """Marloes: profile, consents, a question answered by a coordinator, a push she tapped
    "interest" under, an offer in her digest, and an unfinished flow."""
    group, coordinator = await staff_team(app, sim)
    chat = new_chat("Marloes")
    await onboard_nl(chat)
    [alumnus] = await rows(app, Alumnus)
    await ask(chat, "Hoe vraag ik mijn diploma op?")
    await settle(app)
    [conversation] = await rows(app, InboxConversation)
    await staff_says(sim, app, coordinator, group, conversation.thread_id, "Via de balie.")
    campaigns = app.bot_data.graph.campaigns
    pushed = await campaigns.create(await new_offer(app, title="Excel"))
    await campaigns.launch(pushed.id)
    await settle(app)
    await chat.tap("Ik heb interesse")
    await hold_in_digest(app, alumnus.id)
    await chat.say("/profiel")
    await chat.tap(buttons(chat.last)[0][0])  # an edit left open: a conversation_state row
    return chat, alumnus, group, coordinator


async def test_the_export_holds_every_row_that_refers_to_the_person(app, sim, new_chat):
    chat, alumnus, _, _ = await a_person_with_everything(app, sim, new_chat)
    other = new_chat("Bram")
    await other.say("/start")
    reply = await chat.say("/mijngegevens")
    summary, document = reply[0], reply[1]
    exported = json.loads(sim.file_bytes(document.document["file_id"]))["tables"]
    [alumnus] = [a for a in await rows(app, Alumnus) if a.chat_id == chat.chat_id]

    held = await rows_about(app, alumnus)
    # Every kind of row the chat and console make is here (the registry, aftercare and
    # surveys have their own export tests); the export has every declared table.
    assert set(held) >= {
        "consent_event",
        "conversation_state",
        "inbox_conversation",
        "inbox_message",
        "outbox",
        "digest_item",
        "offer_response",
    }
    assert set(exported) == person_tables() - set(NOT_ABOUT_A_PERSON)
    for table in SQLModel.metadata.sorted_tables:
        if table.name not in exported:
            continue
        key = [c.name for c in table.primary_key.columns]
        given = {tuple(row[k] for k in key) for row in exported[table.name]}
        assert given == held.get(table.name, set()), table.name
    # What the export must say in so many words: her question, the answer, the push, the tap.
    texts = [m["text"] for m in exported["inbox_message"]]
    assert "Hoe vraag ik mijn diploma op?" in texts and "Via de balie." in texts
    assert any(r["campaign_id"] for r in exported["outbox"])
    assert [r["kind"] for r in exported["offer_response"]] == ["interest"]
    assert str(other.chat_id) not in json.dumps(exported)

    # The readable summary uses names, never the catalogue's codes.
    text = summary.text
    for name in ("Zorgcampus", "Mbo-Verpleegkundige", "Zorg", "Leidinggeven", "AI en data"):
        assert name in text, name
    for code in ("zorgcampus", "leidinggeven", "Interesses: ai", "werkveld: zorg"):
        assert code not in text, code
    assert "Je vragen aan de school: 1" in text  # the interest joined the open question
    assert "Je reacties op aanbod (interesse, afmelden): 1" in text


async def test_erasure_deletes_the_persons_topics_in_the_staff_group(app, sim, new_chat):
    chat, _, group, _ = await a_person_with_everything(app, sim, new_chat)
    conversations = await rows(app, InboxConversation)
    threads = [c.thread_id for c in conversations]
    assert len(threads) == 1 and all(threads)
    assert "Hoe vraag ik mijn diploma op?" in texts_in(sim, group, threads[0])

    question = (await chat.say("/verwijderen"))[0]
    await chat.tap("Ja, wis alles", message=question)
    assert "Al je gegevens zijn gewist" in chat.messages[-1].text
    queued = {r.dedupe_key: r for r in await rows(app, OutboxMessage)}
    for thread in threads:
        row = queued[f"erase:topic:{group.id}:{thread}"]
        assert row.payload == {"kind": "delete_topic"} and row.alumnus_id is None
    await settle(app)
    for thread in threads:
        assert texts_in(sim, group, thread) == []
        assert sim.topic(group, thread) is None
    for thread in threads:
        assert queued[f"erase:topic:{group.id}:{thread}"].id is not None
    done = {r.dedupe_key: r.status for r in await rows(app, OutboxMessage)}
    assert all(done[f"erase:topic:{group.id}:{t}"] == "sent" for t in threads)
    dump = await everything_in_the_database(app)
    assert str(chat.chat_id) not in dump and "Marloes" not in dump
    assert "diploma" not in dump and "Via de balie" not in dump
    # Staff stay: the coordinator's account is not the person's data.
    assert [s.display_name for s in await rows(app, StaffMember)] == ["Coördinator nazorg"]


async def test_a_topic_already_deleted_by_staff_counts_as_done(app, sim, new_chat):
    group, _ = await staff_team(app, sim)
    chat = new_chat("Marloes")
    await onboard_nl(chat)
    await ask(chat, "Een vraag")
    await settle(app)
    [conversation] = await rows(app, InboxConversation)
    sim.delete_topic(group, conversation.thread_id)  # an admin removed it in the app
    question = (await chat.say("/verwijderen"))[0]
    await chat.tap("Ja, wis alles", message=question)
    await settle(app)
    [row] = [r for r in await rows(app, OutboxMessage) if r.dedupe_key.startswith("erase:topic:")]
    assert row.status == "sent"


async def test_erasure_also_deletes_the_topic_a_moved_conversation_left_behind(app, sim, new_chat):
    first, _ = await staff_team(app, sim, "nazorg")
    second, _ = await staff_team(app, sim, "llo", default=False)
    chat = new_chat("Marloes")
    await onboard_nl(chat)
    await ask(chat, "Over mijn diploma")
    await settle(app)
    [before] = await rows(app, InboxConversation)
    graph = app.bot_data.graph
    staff = (await rows(app, StaffMember))[0]
    async with graph.deps.storage.transaction() as tx:
        conversation = await tx.inbox.get(before.id)
        target = await tx.teams.by_code("llo")
        await graph.inbox.move(tx, conversation, staff, target)
    await settle(app)
    [after] = await rows(app, InboxConversation)
    assert after.earlier_topics == [[first.id, before.thread_id]] and after.thread_id
    question = (await chat.say("/verwijderen"))[0]
    await chat.tap("Ja, wis alles", message=question)
    await settle(app)
    assert sim.topic(first, before.thread_id) is None
    assert sim.topic(second, after.thread_id) is None
    assert texts_in(sim, first, before.thread_id) == texts_in(sim, second, after.thread_id) == []
