"""The sandbox web chat in real Chromium, as a newcomer meets it after ``make run``.

An empty chat shows what Telegram shows before /start (the bot's description, set by the bot
with setMyDescription, and a Start button); the composer stays in the window however long the
chat gets; button labels never break inside a word.
"""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import Page

from handlers.telegram.app import AlumniApplication
from sandbox.simulator import BotApiSimulator
from tests.chat import Chat
from tests.harness import processed_of

SHOTS = Path(os.environ.get("ALUMNIBOT_SCREENSHOTS", "/tmp/alumnibot-screens"))


async def _open_chat(page: Page, sim: BotApiSimulator, language: str = "nl") -> None:
    await page.goto(sim.url + "/")
    await page.fill("#first-name", "Sanne")
    await page.select_option("#language", language)
    await page.click("#login-form button[type=submit]")


async def test_an_empty_chat_shows_the_description_and_a_start_button(
    app: AlumniApplication, sim: BotApiSimulator, page: Page
) -> None:
    await _open_chat(page, sim)
    intro = page.locator("#intro")
    await intro.wait_for(state="visible")
    text = await page.locator("#intro-text").inner_text()
    assert "alumnibot van Testcollege" in text
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "sandbox-empty-chat.png"))
    await page.click("#intro-start")
    await page.locator(".bubble.bot").first.wait_for()
    assert await intro.is_hidden()
    assert "Testcollege" in await page.locator(".bubble.bot").first.inner_text()


async def test_english_app_gets_the_english_description(
    app: AlumniApplication, sim: BotApiSimulator, page: Page
) -> None:
    await _open_chat(page, sim, "en")
    await page.locator("#intro").wait_for(state="visible")
    assert "alumni bot of Testcollege" in await page.locator("#intro-text").inner_text()


# Each word of a button label must sit on one line: a word split over two lines has two
# client rectangles.
SPLIT_WORDS = """b => {
  const split = [];
  const walker = document.createTreeWalker(b, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const re = /\\S+/g;
    for (let m = re.exec(node.data); m; m = re.exec(node.data)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      if (range.getClientRects().length > 1) split.push(m[0]);
    }
  }
  return split;
}"""


async def test_the_composer_stays_in_view_and_labels_keep_their_words(
    app: AlumniApplication, sim: BotApiSimulator, page: Page
) -> None:
    await page.set_viewport_size({"width": 360, "height": 640})  # a small phone
    await _open_chat(page, sim)
    await page.click("#intro-start")
    await page.locator(".bubble.bot").first.wait_for()
    [user] = [u for u in sim.users.values() if u.first_name == "Sanne"]
    chat = Chat(sim, processed_of(app), user)
    await chat.tap("Nederlands")
    await chat.tap("Verder")
    await chat.tap("Noem me ")
    await chat.say("Zorgcampus")
    await chat.say("verpleeg")
    await chat.tap("Mbo-Verpleegkundige")
    await chat.tap("BBL")
    await chat.say("2025")  # now the month question: twelve buttons, three a row
    await page.locator(".inline-keyboard button", has_text="september").wait_for()
    # The composer is still inside the window after a long chat, not pushed below it.
    box = await page.locator("#composer").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 640
    buttons = page.locator(".bubble:last-child .inline-keyboard button")
    assert await buttons.count() >= 12
    for button in await buttons.all():
        assert await button.evaluate(SPLIT_WORDS) == [], await button.inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "sandbox-month-question.png"))
