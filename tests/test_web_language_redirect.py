"""The language switch returns to the page it was chosen on, and never to another site."""

from __future__ import annotations

import pytest

from bot.core.render import Renderer
from bot.core.settings import CONTENT_DIR
from tests.console_fixtures import (
    csrf_in,
    people_deps,  # noqa: F401  (the deps fixture)
    signed_in,
)

words = Renderer(CONTENT_DIR)


async def switch(client, token: str, locale: str, target: str) -> str:
    data = {"csrf_token": token, "locale": locale, "next": target}
    async with client.post("/inbox/language", data=data, allow_redirects=False) as response:
        assert response.status == 303
        return response.headers["Location"]


async def test_the_language_choice_returns_to_the_telegram_account_page(deps):
    async with signed_in(deps) as client:
        async with client.get("/account/telegram") as page:
            assert page.status == 200
            html = await page.text()
        assert 'name="next" value="/account/telegram"' in html
        assert await switch(client, csrf_in(html), "en", "/account/telegram") == (
            "/account/telegram"
        )
        async with client.get("/account/telegram") as page:
            assert 'lang="en"' in await page.text()


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/account/telegram",
        "https://evil.example",
        "https://evil.example/inbox",
        "javascript:alert(1)",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/inbox\r\nSet-Cookie: x=1",
        "evil.example",
        "",
    ],
)
async def test_an_off_site_next_goes_to_the_inbox(deps, target):
    async with signed_in(deps) as client:
        async with client.get("/account/telegram") as page:
            token = csrf_in(await page.text())
        assert await switch(client, token, "nl", target) == "/inbox"


async def test_a_missing_next_goes_to_the_inbox(deps):
    async with signed_in(deps) as client:
        async with client.get("/inbox") as page:
            token = csrf_in(await page.text())
        data = {"csrf_token": token, "locale": "en"}
        async with client.post("/inbox/language", data=data, allow_redirects=False) as response:
            assert response.headers["Location"] == "/inbox"
