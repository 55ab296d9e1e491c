"""A tapped answer stays visible in the chat: the question, then what the person chose."""

from __future__ import annotations

from tests.chat import buttons


async def test_a_tapped_answer_stays_under_its_question(new_chat) -> None:
    chat = new_chat()
    await chat.say("/start")
    await chat.tap("Nederlands")
    await chat.tap("Verder")
    await chat.tap("Noem me ")
    await chat.say("Zorgcampus")
    await chat.say("verpleeg")
    programme_question = chat.last
    await chat.tap("Mbo-Verpleegkundige")
    level_question = chat.last
    assert level_question.message_id != programme_question.message_id
    await chat.tap("BBL")
    # Both pressed questions still read as asked, with the choice under them and no buttons.
    for pressed, answer in ((programme_question, "Mbo-Verpleegkundige"), (level_question, "BBL")):
        now = next(m for m in chat.messages if m.message_id == pressed.message_id)
        assert answer in now.text
        assert buttons(now) == []
