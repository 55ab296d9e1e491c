"""Consent per purpose, data export, erasure and /stop (AVG/GDPR rights)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bot.core.callbacks import CALLBACKS
from bot.core.deps import Deps
from bot.core.messenger import Action, Button, Edit, Outgoing, Send, SendDocument, rows
from bot.core.render import DEFAULT_LOCALE
from bot.privacy.export import PersonalData, Rows
from storage.models import Alumnus, ConsentEvent, Purpose
from storage.repositories import Tx

ERASE_CONFIRM_TTL = timedelta(minutes=10)
PURPOSES = frozenset(p.value for p in Purpose)
ERASE_NO = "no"


def _erase_answer(payload: str) -> str | None:
    issued, dot, mac = payload.partition(".")
    if payload == ERASE_NO or (issued.isdigit() and dot and mac.isalnum()):
        return payload
    return None


# ``c:<purpose>``: switch one consent on the /privacy screen.
CONSENT_BUTTON = CALLBACKS.declare(
    "c", lambda purpose: purpose if purpose in PURPOSES else None, longest=max(PURPOSES, key=len)
)
# ``x:<issued>.<hmac>`` or ``x:no``: the erase confirmation, signed and bound to the chat.
ERASE_BUTTON = CALLBACKS.declare("x", _erase_answer, longest="9999999999." + "f" * 16)


class ConsentService:
    """Reads and changes consent; every change is a new row in the consent log."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def text_version(self, purpose: str, locale: str) -> str:
        """Return the version (hash) of the purpose text shown in ``locale``."""
        return self.deps.renderer.version(
            f"privacy.purpose_{purpose}", locale, school=self.deps.settings.school_name
        )

    async def set(
        self, tx: Tx, alumnus: Alumnus, purpose: str, granted: bool, source: str, evidence: int
    ) -> bool:
        """Record a decision if it changes anything; return whether it did."""
        assert alumnus.id is not None
        current = await tx.consents.current(alumnus.id)
        if current.get(purpose, False) == granted:
            return False
        locale = alumnus.locale or DEFAULT_LOCALE
        if not granted:
            await tx.outbox.cancel_pending(alumnus.id, purpose, self.deps.clock.now())
        tx.consents.record(
            ConsentEvent(
                alumnus_id=alumnus.id,
                purpose=purpose,
                granted=granted,
                text_version=self.text_version(purpose, locale),
                locale=locale,
                source=source,
                evidence=str(evidence),
                occurred_at=self.deps.clock.now(),
            )
        )
        return True

    async def toggle(
        self, tx: Tx, alumnus: Alumnus, purpose: str, source: str, evidence: int
    ) -> bool:
        """Flip one purpose; return the new value."""
        assert alumnus.id is not None
        granted = not (await tx.consents.current(alumnus.id)).get(purpose, False)
        await self.set(tx, alumnus, purpose, granted, source, evidence)
        return granted

    async def withdraw_all(self, tx: Tx, alumnus: Alumnus, evidence: int) -> list[str]:
        """Withdraw every granted purpose (/stop); return which ones were withdrawn."""
        assert alumnus.id is not None
        granted = [p for p, on in (await tx.consents.current(alumnus.id)).items() if on]
        for purpose in granted:
            await self.set(tx, alumnus, purpose, False, "stop", evidence)
        return granted

    async def screen(
        self, tx: Tx, alumnus: Alumnus, intro: str, data: Callable[[str], str]
    ) -> Outgoing:
        """Render the consent toggles; ``data`` makes a purpose's button data (flow, /privacy)."""
        assert alumnus.id is not None
        locale = alumnus.locale or DEFAULT_LOCALE
        current = await tx.consents.current(alumnus.id)
        renderer = self.deps.renderer
        text = renderer.text(
            intro,
            locale,
            school=self.deps.settings.school_name,
            purposes=[(p.value, current.get(p.value, False)) for p in Purpose],
        )
        toggles = [
            Button(
                renderer.label(
                    "labels.toggle",
                    locale,
                    on=current.get(p.value, False),
                    text=renderer.label(f"labels.purpose_{p.value}", locale),
                ),
                data(p.value),
            )
            for p in Purpose
        ]
        return Outgoing(text=text, buttons=rows(toggles, 1))


class PrivacyService:
    """/privacy, /mijngegevens, /verwijderen and /stop."""

    def __init__(self, deps: Deps, consent: ConsentService) -> None:
        self.deps = deps
        self.consent = consent
        # What every feature holds about a person (declared in handlers/graph.py).
        self.personal = PersonalData()

    async def overview(self, tx: Tx, alumnus: Alumnus) -> list[Action]:
        """Show each purpose with a toggle."""
        return [
            Send(await self.consent.screen(tx, alumnus, "privacy.overview", CONSENT_BUTTON.build))
        ]

    async def toggle(
        self, tx: Tx, alumnus: Alumnus, purpose: str, message_id: int, evidence: int
    ) -> tuple[list[Action], str]:
        """Flip one purpose from the /privacy screen and redraw it in place."""
        granted = await self.consent.toggle(tx, alumnus, purpose, "privacy", evidence)
        locale = alumnus.locale or DEFAULT_LOCALE
        toast = self.deps.renderer.label(
            "privacy.toggled",
            locale,
            granted=granted,
            purpose=self.deps.renderer.label(f"labels.purpose_{purpose}", locale),
        )
        screen = await self.consent.screen(tx, alumnus, "privacy.overview", CONSENT_BUTTON.build)
        return [Edit(message_id, screen)], toast

    async def stop(self, tx: Tx, alumnus: Alumnus, evidence: int) -> list[Action]:
        """Withdraw every consent at once."""
        withdrawn = await self.consent.withdraw_all(tx, alumnus, evidence)
        locale = alumnus.locale or DEFAULT_LOCALE
        labels = [self.deps.renderer.label(f"labels.purpose_{p}", locale) for p in withdrawn]
        return [
            Send(Outgoing(self.deps.renderer.text("privacy.stopped", locale, withdrawn=labels)))
        ]

    async def export(self, tx: Tx, alumnus: Alumnus) -> list[Action]:
        """Build the JSON export of everything held, plus a readable summary."""
        assert alumnus.id is not None
        locale = alumnus.locale or DEFAULT_LOCALE
        data = await self.collect(tx, alumnus)
        current = await tx.consents.current(alumnus.id)
        renderer = self.deps.renderer
        summary = renderer.text(
            "privacy.export_summary",
            locale,
            school=self.deps.settings.school_name,
            contact=self.deps.settings.privacy_contact,
            granted_purposes=[
                renderer.label(f"labels.purpose_{p}", locale) for p, on in current.items() if on
            ],
            profile=data["readable"]["profile"],
            held=self._held(data["tables"], locale),
        )
        payload = json.dumps(data, ensure_ascii=False, indent=2, default=str).encode()
        filename = renderer.label("privacy.export_filename", locale)
        caption = renderer.text("privacy.export_caption", locale)
        return [Send(Outgoing(summary)), SendDocument(filename, payload, caption)]

    def _held(self, tables: dict[str, list[dict[str, Any]]], locale: str) -> list[str]:
        """One line per kind of data held (in words), with how many rows."""
        lines = []
        for table, found in tables.items():
            if not found or table == "alumnus":
                continue
            try:
                words = self.deps.renderer.label(f"privacy.held_{table}", locale, n=len(found))
            except KeyError:  # a feature without words for its data yet: say what it is
                words = f"{table}: {len(found)}"
            lines.append(words)
        return lines

    async def collect(self, tx: Tx, alumnus: Alumnus) -> dict[str, Any]:
        """Return every stored fact about the alumnus as plain data, from the registry.

        ``tables``: every declared table's rows about the person, complete; ``readable``:
        the profile in words (names of programmes, places and interests, not codes).
        """
        locale = alumnus.locale or "nl"
        return {
            "exported_at": self.deps.clock.now().isoformat(),
            "controller": {
                "school": self.deps.settings.school_name,
                "contact": self.deps.settings.privacy_contact,
            },
            "readable": {
                "profile": [list(line) for line in self.personal.describe(alumnus, locale)],
            },
            "tables": await self.personal.export(tx, alumnus),
        }

    async def export_profile(self, tx: Tx, alumnus: Alumnus) -> Rows:
        """The profile feature's rows: the profile itself and an unfinished flow."""
        assert alumnus.id is not None
        state = await tx.states.get(alumnus.id)
        return {
            "alumnus": [alumnus.model_dump(mode="json")],
            "conversation_state": [state.model_dump(mode="json")] if state else [],
        }

    async def export_consent(self, tx: Tx, alumnus: Alumnus) -> Rows:
        """The consent log of the person."""
        assert alumnus.id is not None
        history = await tx.consents.history(alumnus.id)
        return {"consent_event": [event.model_dump(mode="json") for event in history]}

    def erase_token(self, chat_id: int, issued: int) -> str:
        """Sign an erase confirmation so a forged or old button cannot erase anyone."""
        key = self.deps.settings.secret_key.get_secret_value().encode()
        mac = hmac.new(key, f"erase:{chat_id}:{issued}".encode(), hashlib.sha256)
        return f"{issued}.{mac.hexdigest()[:16]}"

    def erase_token_valid(self, chat_id: int, token: str) -> bool:
        """Check signature and age of an erase confirmation."""
        issued_text, _, _ = token.partition(".")
        if not issued_text.isdigit():
            return False
        issued = int(issued_text)
        age = self.deps.clock.now().timestamp() - issued
        expected = self.erase_token(chat_id, issued)
        return 0 <= age <= ERASE_CONFIRM_TTL.total_seconds() and hmac.compare_digest(
            expected, token
        )

    def ask_erase(self, alumnus: Alumnus) -> list[Action]:
        """Ask for confirmation with a signed, expiring button."""
        locale = alumnus.locale or DEFAULT_LOCALE
        token = self.erase_token(alumnus.chat_id, int(self.deps.clock.now().timestamp()))
        renderer = self.deps.renderer
        buttons = [
            [Button(renderer.label("labels.erase_yes", locale), ERASE_BUTTON.build(token))],
            [Button(renderer.label("labels.erase_no", locale), ERASE_BUTTON.build(ERASE_NO))],
        ]
        return [Send(Outgoing(renderer.text("privacy.erase_confirm", locale), buttons))]

    def subject_hash(self, chat_id: int) -> str:
        """Keyed hash that stands for a person after erasure."""
        key = self.deps.settings.secret_key.get_secret_value().encode()
        return hmac.new(key, f"telegram:{chat_id}".encode(), hashlib.sha256).hexdigest()

    async def erase(self, tx: Tx, alumnus: Alumnus) -> None:
        """Delete the person and everything linked; keep only the suppression hash.

        Each feature's erasure step runs first (the inbox queues the deletion of the
        person's forum topics), then the rows go (the database cascades from ``alumnus``).
        """
        assert alumnus.id is not None
        await self.personal.forget(tx, alumnus)
        await tx.alumni.delete(alumnus.id)
        await tx.suppressions.add(self.subject_hash(alumnus.chat_id), self.deps.clock.now())
