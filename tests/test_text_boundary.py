"""The text boundary outside the console: chat, CLI arguments and the offer import.

NUL reached PostgreSQL as a 500 (``invalid byte sequence "UTF8": 0x00``); these run on both
databases (``ALUMNIBOT_TEST_DB=postgres``). The console's own routes: test_web_bad_input.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.campaigns.service import OfferImportError
from storage.models import Alumnus, InboxMessage
from tests.chat import ask, onboard_nl
from tests.cli import clean_env, start
from tests.factories import staff_team
from tests.harness import rows, settle


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"group_messages_per_minute": 6000.0})


async def test_control_characters_in_chat_are_dropped_and_the_message_still_arrives(
    app, sim, new_chat
):
    await staff_team(app, sim)
    chat = new_chat("Sa\x00nne\x07")
    await onboard_nl(chat)
    await ask(chat, "Ik zoek\x00 een stage\x1b[31m\nin de zorg.")
    await settle(app)
    messages = [m for m in await rows(app, InboxMessage) if m.direction == "in"]
    assert [m.text for m in messages] == ["Ik zoek een stage[31m\nin de zorg."]
    [alumnus] = await rows(app, Alumnus)
    assert alumnus.first_name == "Sanne"


async def test_a_csv_with_nul_or_not_in_utf8_imports_nothing(app, tmp_path):
    campaigns = app.bot_data.graph.campaigns
    nul = tmp_path / "nul.csv"
    nul.write_text("kind,title,text\nllo,Excel\x00,Tekst\x07\n", encoding="utf-8")
    with pytest.raises(OfferImportError) as raised:
        await campaigns.import_file(nul)
    assert {(e.field, e.reason) for e in raised.value.errors} == {
        ("title", "offers.error_characters"),
        ("text", "offers.error_characters"),
    }
    latin = tmp_path / "latin.csv"
    latin.write_bytes("kind,title,text\nllo,Café,Tekst\n".encode("latin-1"))
    with pytest.raises(OfferImportError) as raised:
        await campaigns.import_file(latin)
    assert [e.reason for e in raised.value.errors] == ["offers.error_encoding"]
    async with app.bot_data.graph.deps.storage.transaction() as tx:
        assert await tx.offers.offers() == []


async def test_cli_refuses_arguments_with_control_characters(tmp_path):
    env = clean_env(
        ALUMNIBOT_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}", ALUMNIBOT_CLI_LOCALE="en"
    )
    for argument in ("ann\x1b@school.example", b"ann\xff@school.example"):
        process = await start(["staff", "disable", argument], env, tmp_path)  # type: ignore[list-item]
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == 1
        assert "Your text contains invisible characters" in stderr.decode()
        assert "Traceback" not in stderr.decode()
    assert not (tmp_path / "cli.db").exists()  # refused before the database was opened
