"""Malformed bodies and refused characters get 400 on every console route, never 500.

The routes come from the console app itself, so a new route is covered without editing this
file. Each is sent every kind of malformed body, signed out and signed in (with the right
CSRF token inside the body where the body has one): the answer is 400 with the short page,
the log holds no traceback and no row in the database changes.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.core.clock import FrozenClock
from bot.core.messenger import QueueOnlyMessenger
from bot.core.render import Renderer
from bot.core.settings import CONTENT_DIR, Settings
from bot.core.text import TextError, checked_text, strip_controls
from handlers.graph import build_graph, make_deps
from handlers.web import console_app
from storage.db import make_engine
from storage.models import SQLModel
from storage.repositories import Storage
from tests.console_fixtures import (
    console_client,
    csrf_in,
    log_in,
    people_deps,  # noqa: F401  (the deps fixture)
    signed_in,
)

words = Renderer(CONTENT_DIR)
SAMPLE_PARTS = {"id": "1", "action": "close"}


def _console_routes(method: str) -> list[str]:
    """Every path of the console app for ``method``, with sample values in its parts."""
    # Only the routes are read: the database is never opened.
    settings = Settings(
        _env_file=None,
        database_url="sqlite+aiosqlite:///never-opened.db",
        secret_key=SecretStr("x"),
    )
    clock = FrozenClock(datetime(2026, 6, 15, 10, 0, tzinfo=UTC))
    deps = make_deps(
        settings,
        messenger=QueueOnlyMessenger("the route list"),
        clock=clock,
        storage=Storage(make_engine(settings.database_url)),
    )
    paths = set()
    for route in console_app(build_graph(deps)).router.routes():
        if route.method != method:
            continue
        canonical = route.resource.canonical if route.resource else ""
        path = re.sub(r"\{(\w+)[^}]*\}", lambda m: SAMPLE_PARTS.get(m.group(1), "x"), canonical)
        paths.add(path)
    return sorted(paths)


POST_ROUTES = _console_routes("POST")
GET_ROUTES = _console_routes("GET")


@dataclass(frozen=True)
class Body:
    name: str
    content_type: str
    data: bytes


def bodies(token: str) -> list[Body]:
    """One body of each malformed kind; ``token`` is the CSRF token where a body has one."""
    form = f"csrf_token={token}&email=ann%40school.example&note=hoi&text=hoi&title=hoi"
    part = (
        "--XX\r\n"
        'Content-Disposition: form-data; name="csrf_token"\r\n\r\n'
        f"{token}\r\n"
        "--XX\r\n"
        'Content-Disposition: form-data; name="note"\r\n'
    )
    urlencoded = "application/x-www-form-urlencoded"
    return [
        Body("invalid utf-8, escaped", urlencoded, f"{form}&q=%FF%FE".encode()),
        Body("invalid utf-8, raw", urlencoded, form.encode() + b"&q=\xff\xfe"),
        Body("unknown charset", f"{urlencoded}; charset=x-unknown", form.encode()),
        Body("utf-16 charset", f"{urlencoded}; charset=utf-16", form.encode("utf-16")),
        Body("latin-1 charset", f"{urlencoded}; charset=latin-1", form.encode() + b"&q=\xe9"),
        Body(
            "truncated multipart", "multipart/form-data; boundary=XX", (part + "\r\nho").encode()
        ),
        Body(
            "multipart without boundary",
            "multipart/form-data",
            (part + "\r\nhoi\r\n--XX--\r\n").encode(),
        ),
        Body(
            "multipart part with unknown charset",
            "multipart/form-data; boundary=XX",
            (part + "Content-Type: text/plain; charset=x-bad\r\n\r\nhoi\r\n--XX--\r\n").encode(),
        ),
        Body(
            "multipart part not utf-8",
            "multipart/form-data; boundary=XX",
            part.encode() + b"\r\n\xff\xfe\r\n--XX--\r\n",
        ),
        Body("malformed json", "application/json", f'{{"csrf_token": "{token}", '.encode()),
        Body("json not utf-8", "application/json", b'{"note": "\xff"}'),
        Body("nul in a field", urlencoded, f"{form}&note=a%00b&email=a%00b".encode()),
        Body("control character in a field", urlencoded, f"{form}&title=a%07b".encode()),
        Body("nul in a field name", urlencoded, f"{form}&a%00b=1".encode()),
        Body("field too long", urlencoded, f"{form}&note={'a' * 20_000}".encode()),
    ]


async def row_counts(deps) -> dict[str, int]:
    """The number of rows of every table: a changed database shows here."""
    async with deps.storage.transaction() as tx:
        return {
            table.name: int(
                (await tx.session.execute(select(func.count()).select_from(table))).scalar_one()
            )
            for table in SQLModel.metadata.sorted_tables
        }


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def expect_bad_request(client, deps, caplog, method: str, path: str, body: Body | None):
    before = await row_counts(deps)
    caplog.clear()
    headers = {"Content-Type": body.content_type} if body else {}
    async with client.request(
        method, path, data=body.data if body else None, headers=headers, allow_redirects=False
    ) as response:
        html = await response.text()
    label = f"{method} {path} with {body.name if body else 'a bad query'}"
    assert response.status == 400, label
    assert 'id="bad-request"' in html and "Traceback" not in html, label
    assert tracebacks(caplog) == [], label
    assert await row_counts(deps) == before, label


def test_the_console_has_post_and_get_routes():
    assert "/inbox/login" in POST_ROUTES and "/inbox/c/1/close" in POST_ROUTES
    assert "/inbox" in GET_ROUTES and "/campaigns/new" in GET_ROUTES


@pytest.mark.parametrize("path", POST_ROUTES)
async def test_every_post_route_answers_malformed_bodies_with_400(deps, caplog, path):
    caplog.set_level(logging.INFO)
    async with console_client(deps) as client:  # signed out
        async with client.get("/inbox/login") as form:
            token = csrf_in(await form.text())
        for body in bodies(token):
            await expect_bad_request(client, deps, caplog, "POST", path, body)
    async with signed_in(deps) as client:
        async with client.get("/inbox") as page:
            token = csrf_in(await page.text())
        for body in bodies(token):
            await expect_bad_request(client, deps, caplog, "POST", path, body)
        async with client.get("/inbox") as still:  # nothing happened: still signed in
            assert still.status == 200


@pytest.mark.parametrize("path", GET_ROUTES)
async def test_every_get_route_answers_a_bad_query_with_400(deps, caplog, path):
    caplog.set_level(logging.INFO)
    async with signed_in(deps) as client:
        for query in ("q=%00", "status=open&q=a%00b", "q=%FF%FE", "team=%07", "a%00=1"):
            await expect_bad_request(client, deps, caplog, "GET", f"{path}?{query}", None)


async def test_the_bad_request_page_speaks_the_members_language(deps):
    async with signed_in(deps) as client:
        async with client.get("/inbox?q=%00", headers={"Accept-Language": "en"}) as page:
            html = await page.text()
    assert page.status == 400
    assert words.label("web.bad_request_characters", "en") in html.replace("&#39;", "'")


async def test_a_well_formed_multipart_form_still_works(deps):
    async with console_client(deps) as client:
        async with client.get("/inbox/login") as form:
            token = csrf_in(await form.text())
        boundary = "XX"
        fields = {"csrf_token": token, "email": "ann@school.example", "password": "wrong one!!"}
        body = (
            "".join(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                for k, v in fields.items()
            )
            + f"--{boundary}--\r\n"
        )
        async with client.post(
            "/inbox/login",
            data=body.encode(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        ) as response:
            assert response.status == 200  # read, checked: the generic login error
            assert 'id="login-error"' in await response.text()


async def test_nul_in_login_search_and_note_never_reaches_the_database(deps):
    """On PostgreSQL these were 500s (``invalid byte sequence "UTF8": 0x00``)."""
    async with console_client(deps) as client:
        response = await log_in(client, "ann@school.example\x00", "x\x00" * 8)
        assert response.status == 400
    async with signed_in(deps) as client:
        async with client.get("/inbox", params={"q": "a\x00b"}) as search:
            assert search.status == 400
        async with client.get("/inbox") as page:
            token = csrf_in(await page.text())
        async with client.post(
            "/offers", data={"csrf_token": token, "kind": "llo", "title": "a\x00", "text": "b"}
        ) as offer:
            assert offer.status == 400
        async with client.post(
            "/inbox/c/1/note", data={"csrf_token": token, "text": "hallo\x00"}
        ) as note:
            assert note.status == 400
        # Line breaks and tabs are text: a search with them is read as usual.
        async with client.get("/inbox", params={"q": "a\tb\r\nc"}) as fine:
            assert fine.status == 200


# ---------------------------------------------------------------------------- the check itself


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("a\x00b", "characters"),
        ("bell\x07", "characters"),
        ("esc\x1b[31m", "characters"),
        ("del\x7f", "characters"),
        ("c1\x85", "characters"),
        ("lone \ud800 surrogate", "characters"),
        (b"\xff\xfe", "encoding"),
        ("a" * 10_001, "length"),
    ],
)
def test_checked_text_refuses(value, reason):
    with pytest.raises(TextError) as refused:
        checked_text(value)
    assert refused.value.reason == reason


def test_checked_text_keeps_ordinary_text():
    text = "Zoë schreef:\n\t«hallo» 👋🏽 — 日本\r\n"
    assert checked_text(text) == text
    assert checked_text(text.encode()) == text
    assert strip_controls("a\x00b\x07c\nd\ud800") == "abc\nd"
