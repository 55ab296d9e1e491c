"""Shared helpers for the registry tests: export files as a school's system writes them."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from openpyxl import Workbook
from pydantic import SecretStr

from bot.core.clock import FrozenClock
from bot.core.messenger import QueueOnlyMessenger
from bot.core.settings import Settings
from handlers.graph import Graph, build_graph, make_deps
from storage.db import make_engine
from storage.repositories import Storage

DUTCH_HEADERS = [
    "Studentnummer",
    "Voornaam",
    "Tussenvoegsel",
    "Achternaam",
    "E-mail",
    "Opleiding",
    "Crebo",
    "Niveau",
    "Leerweg",
    "Locatie",
    "Diplomadatum",
]
ENGLISH_HEADERS = [
    "Student number",
    "First name",
    "Infix",
    "Last name",
    "Email",
    "Programme",
    "Crebo",
    "Level",
    "Track",
    "Location",
    "Graduation date",
]


def person(number: int, **changes: Any) -> list[Any]:
    """One row: a Software developer (25998, level 4) graduating in July 2026 by default."""
    row: dict[str, Any] = {
        "number": f"{100000 + number}",
        "first": f"Sanne{number}",
        "infix": "",
        "last": f"Jansen{number}",
        "email": f"s{number}@mail.example",
        "programme": "Software developer",
        "crebo": "25998",
        "level": "4",
        "track": "BOL",
        "location": "Locatie Centrum",
        "date": "2026-07-03",
    }
    row.update(changes)
    return list(row.values())


def csv_bytes(
    rows: Sequence[Sequence[Any]],
    *,
    headers: Sequence[str] = DUTCH_HEADERS,
    delimiter: str = ";",
    encoding: str = "utf-8",
) -> bytes:
    lines = [delimiter.join(headers)] + [delimiter.join(str(c) for c in row) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_bytes(rows: Sequence[Sequence[Any]], *, headers: Sequence[str] = DUTCH_HEADERS) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(headers))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def registry_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "secret_key": SecretStr("test-secret-key"),
        "school_name": "Testcollege",
        "bot_username": "alumnibot_test_bot",
        "web_cookie_secure": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@asynccontextmanager
async def registry_graph(settings: Settings, clock: FrozenClock) -> AsyncIterator[Graph]:
    storage = Storage(make_engine(settings.database_url))
    try:
        yield build_graph(
            make_deps(settings, messenger=QueueOnlyMessenger("test"), clock=clock, storage=storage)
        )
    finally:
        await storage.dispose()
