"""Driving the chat through the simulator: an alumnus's chat, its buttons, whole dialogues.

Also the staff side of a conversation: what is in a forum topic, and a coordinator's answer.
"""

from __future__ import annotations

from bot.core.catalogue import Catalogue
from bot.core.settings import CONTENT_DIR
from sandbox.simulator import BotApiSimulator, SimMessage, SimUser
from tests.factories import add_alumnus
from tests.harness import Processed, processed_of, settle

catalogue = Catalogue(CONTENT_DIR / "catalogue")


class Chat:
    """An alumnus in a private chat with the bot, driven like a person would."""

    def __init__(self, sim: BotApiSimulator, processed: Processed, user: SimUser) -> None:
        self.sim, self.processed, self.user = sim, processed, user

    @property
    def chat_id(self) -> int:
        return self.user.id

    @property
    def messages(self) -> list[SimMessage]:
        return self.sim.bot_messages(self.chat_id)

    @property
    def last(self) -> SimMessage:
        return self.messages[-1]

    async def _settle(self, before: int) -> list[SimMessage]:
        await self.processed.wait(self.sim.last_update_id)
        return self.messages[before:]

    async def say(self, text: str) -> list[SimMessage]:
        """Type a message; return the bot's new messages once it is handled."""
        before = len(self.messages)
        await self.sim.user_sends(self.user, text)
        return await self._settle(before)

    async def send_media(self, kind: str) -> list[SimMessage]:
        before = len(self.messages)
        await self.sim.user_sends_media(self.user, kind=kind)
        return await self._settle(before)

    async def press(self, data: str, message: SimMessage | None = None) -> list[SimMessage]:
        """Press a button (forged data allowed); return the new messages, else the pressed one.

        Many answers replace the pressed question in place, so "what changed" is either new
        messages or the pressed message as it reads now.
        """
        before = len(self.messages)
        target = message or self.last
        await self.sim.user_presses(self.user, target.message_id, data)
        changed = await self._settle(before)
        if changed:
            return changed
        now = [m for m in self.messages if m.message_id == target.message_id]
        return now or []

    async def tap(self, label: str, message: SimMessage | None = None) -> list[SimMessage]:
        """Tap the button whose text contains ``label`` on the latest message that has it."""
        candidates = [message] if message else list(reversed(self.messages))
        for candidate in candidates:
            for text_, data in buttons(candidate):
                if label.casefold() in text_.casefold() and data:
                    return await self.press(data, candidate)
        raise AssertionError(f"no button with {label!r}; last: {buttons(self.last)}")


def buttons(message: SimMessage) -> list[tuple[str, str | None]]:
    """Return (text, callback_data) of every inline button of a message."""
    markup = message.reply_markup or {}
    return [
        (b["text"], b.get("callback_data"))
        for row in markup.get("inline_keyboard", [])
        for b in row
    ]


async def onboard_nl(chat) -> None:
    """Walk a Dutch alumnus through every step, typing some answers and tapping others."""
    welcome = await chat.say("/start")
    assert "alumnibot van <b>Testcollege</b>" in welcome[0].html
    assert "Geen adres, geen telefoonnummer" in welcome[0].text
    await chat.tap("Nederlands")
    consent = chat.last
    assert "Niets staat al aan" in consent.text
    toggles = [
        text for text, data in buttons(consent) if data and not data.split(":")[2].startswith("_")
    ]
    assert len(toggles) == 5
    assert all(text.startswith("⬜") for text in toggles)
    await chat.tap("Cursussen")
    await chat.tap("Nazorg")
    assert [t for t, _ in buttons(chat.last)][:3] == [
        "✅ Cursussen (LLO)",
        "⬜ Vacatures en stages",
        "✅ Nazorg",
    ]
    await chat.tap("Verder")
    assert "Hoe wil je dat ik je noem" in chat.last.text
    await chat.tap("Noem me ")
    assert "locatie" in chat.last.text
    await chat.say("Zorgcampus")
    reply = await chat.say("verpleeg")
    assert "Ik vond 1 opleiding" in reply[-1].text
    await chat.tap("Mbo-Verpleegkundige")
    assert "BOL" in chat.last.text
    await chat.tap("BBL")
    await chat.say("2025")
    await chat.tap("juli")
    await chat.tap("Ik werk")
    await chat.tap("Zorg")
    await chat.say("35")
    await chat.tap("Leidinggeven")
    await chat.tap("AI en data")
    await chat.tap("Klaar")
    assert "Hoe vaak wil je horen over nieuw aanbod" in chat.last.text
    await chat.tap("Eens per week")
    summary = chat.last.text
    assert "Klopt dit?" in summary
    assert "Mbo-Verpleegkundige (25655, niveau 4, BBL)" in summary
    assert "juli 2025" in summary
    done = await chat.tap("Opslaan")
    assert "Je profiel is opgeslagen" in done[-1].text


async def ask(chat, text: str, topic: str = "Werk en loopbaan") -> None:
    prompt = await chat.say(text)
    assert "Waar gaat je vraag over?" in prompt[-1].text
    ack = await chat.tap(topic)
    assert "Je vraag is opgeslagen en doorgestuurd" in ack[-1].text


def texts_in(sim, group, thread_id) -> list[str]:
    return [
        m.text or m.caption or f"[{m.kind}]" for m in sim.bot_messages(group, thread_id=thread_id)
    ]


async def staff_says(sim, app, coordinator, group, thread_id: int, text: str) -> None:
    await sim.user_sends(coordinator, text, chat=group, message_thread_id=thread_id)
    await processed_of(app).wait(sim.last_update_id)
    await settle(app)


async def alumnus_asks(app, sim, first_name: str, question: str, topic: str) -> Chat:
    """An onboarded alumnus (programme, region, cohort) who asks a question on a topic."""
    user = sim.create_user(first_name=first_name, language_code="nl")
    programme = catalogue.programmes[0]
    await add_alumnus(
        app,
        user.id,
        first_name=first_name,
        crebo=programme.code,
        level=programme.levels[0],
        track="bbl",
        graduation_year=2025,
        situation="working",
        region=catalogue.regions[0].code,
    )
    chat = Chat(sim, processed_of(app), user)
    await chat.say(question)
    await chat.tap(topic)
    await settle(app)
    return chat
