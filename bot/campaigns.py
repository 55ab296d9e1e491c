"""Offers and campaigns: import, audience, launch into the outbox, and the push buttons."""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from bot.context import Deps
from bot.dispatch import row
from bot.inbox import InboxService
from bot.messenger import Button, Outgoing
from bot.privacy import ConsentService
from storage.campaigns import Segment
from storage.models import (
    PURPOSE_OF_KIND,
    Alumnus,
    Campaign,
    Offer,
    OfferKind,
)
from storage.repositories import Tx

logger = logging.getLogger(__name__)

# Which inbox topic an interest in an offer of this kind belongs to (routes it to a team).
TOPIC_OF_KIND = {"llo": "courses", "job": "work", "bpv": "work", "event": "other", "news": "other"}
URL = re.compile(r"^https?://[^\s<>\"']+$")
LIST_FIELDS = ("regions", "sectors", "crebos", "levels")


@dataclass(frozen=True)
class RowError:
    """One problem in an import file: row number (1 = first data row), field, reason block."""

    row: int
    field: str
    reason: str
    value: str = ""


class OfferImportError(Exception):
    """The file has errors; nothing was imported."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} errors")
        self.errors = errors


def _as_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in re.split(r"[;,|]", str(value)) if part.strip()]


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Read offers from a CSV (header row) or YAML (a list of mappings) file."""
    content = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in (".yaml", ".yml"):
        data = yaml.safe_load(content) or []
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise OfferImportError([RowError(0, "file", "offers.error_yaml_shape")])
        return data
    dialect = csv.Sniffer().sniff(content.splitlines()[0], delimiters=",;\t") if content else None
    return list(csv.DictReader(io.StringIO(content), dialect=dialect or csv.excel))


class CampaignService:
    """Everything between an offer file and the pushes in the outbox."""

    def __init__(self, deps: Deps, consent: ConsentService, inbox: InboxService) -> None:
        self.deps = deps
        self.consent = consent
        self.inbox = inbox

    # ------------------------------------------------------------------ import

    def validate(
        self, rows: list[dict[str, Any]], teams: set[str]
    ) -> tuple[list[Offer], list[RowError]]:
        """Check every row and field; return the offers and every error found."""
        offers: list[Offer] = []
        errors: list[RowError] = []
        for number, raw in enumerate(rows, start=1):
            result = self._validate_row(number, raw, teams)
            if isinstance(result, Offer):
                offers.append(result)
            else:
                errors.extend(result)
        if not rows:
            errors.append(RowError(0, "file", "offers.error_empty"))
        return offers, errors

    def _validate_row(
        self, number: int, raw: dict[str, Any], teams: set[str]
    ) -> Offer | list[RowError]:
        catalogue = self.deps.catalogue
        found: list[RowError] = []

        def bad(field: str, reason: str, value: Any = "") -> None:
            found.append(RowError(number, field, reason, str(value)[:80]))

        get = {str(k).strip().lower(): v for k, v in raw.items() if k is not None}.get
        kind = str(get("kind") or "").strip().lower()
        if kind not in {k.value for k in OfferKind}:
            bad("kind", "offers.error_kind", kind)
        title, body = str(get("title") or "").strip(), str(get("text") or "").strip()
        if not 1 <= len(title) <= 120:
            bad("title", "offers.error_title", title)
        if not 1 <= len(body) <= 1500:
            bad("text", "offers.error_text", len(body))
        link = str(get("link") or "").strip() or None
        if link and not URL.match(link):
            bad("link", "offers.error_link", link)
        lists = {name: _as_list(get(name)) for name in LIST_FIELDS}
        regions = [c.upper() if not c.isdigit() else c for c in lists["regions"]]
        for code in regions:
            if catalogue.item("region", code) is None and not catalogue.is_postcode_area(code):
                bad("regions", "offers.error_region", code)
        for code in lists["sectors"]:
            if catalogue.item("sector", code) is None:
                bad("sectors", "offers.error_sector", code)
        for code in lists["crebos"]:
            if catalogue.programme(code) is None:
                bad("crebos", "offers.error_crebo", code)
        levels = [int(v) for v in lists["levels"] if v.isdigit() and 1 <= int(v) <= 4]
        for value in lists["levels"]:
            if not (value.isdigit() and 1 <= int(value) <= 4):
                bad("levels", "offers.error_level", value)
        dates: dict[str, date | None] = {}
        for name in ("starts_on", "deadline"):
            value = str(get(name) or "").strip()
            try:
                dates[name] = date.fromisoformat(value) if value else None
            except ValueError:
                bad(name, "offers.error_date", value)
        team = str(get("contact_team") or "").strip() or None
        if team and team not in teams:
            bad("contact_team", "offers.error_team", team)
        if found:
            return found
        return Offer(
            kind=kind,
            title=title,
            body=body,
            provider=str(get("provider") or "").strip()[:120] or None,
            link=link,
            regions=regions,
            sectors=lists["sectors"],
            crebos=lists["crebos"],
            levels=levels,
            starts_on=dates["starts_on"],
            deadline=dates["deadline"],
            cost=str(get("cost") or "").strip()[:64] or None,
            contact_team=team,
            created_at=self.deps.clock.now(),
        )

    async def import_file(self, path: Path) -> list[Offer]:
        """Import every offer of a file, or none of them (raises OfferImportError)."""
        rows = read_rows(path)
        async with self.deps.storage.transaction() as tx:
            teams = await tx.offers.team_codes()
            offers, errors = self.validate(rows, teams)
            if errors:
                raise OfferImportError(errors)
            await tx.offers.add_offers(offers)
        return offers

    # ------------------------------------------------------------------ audience and launch

    @staticmethod
    def segment_for(offer: Offer, **filters: Any) -> Segment:
        """The offer's own targeting, narrowed by ``filters``; the purpose comes from the kind."""
        return Segment(
            purpose=PURPOSE_OF_KIND[offer.kind],
            crebos=filters.get("crebos") or list(offer.crebos),
            levels=filters.get("levels") or list(offer.levels),
            regions=filters.get("regions") or list(offer.regions),
            sectors=filters.get("sectors") or list(offer.sectors),
            locations=filters.get("locations") or [],
            situations=filters.get("situations") or [],
            interests=filters.get("interests") or [],
            cohort_from=filters.get("cohort_from"),
            cohort_to=filters.get("cohort_to"),
            active_since=filters.get("active_since"),
        )

    async def count(self, segment: Segment) -> int:
        """How many alumni a segment reaches now."""
        async with self.deps.storage.transaction() as tx:
            return await tx.offers.count(segment)

    async def create(
        self, offer_id: int, send_at: datetime | None = None, **filters: Any
    ) -> Campaign:
        """Create a campaign for an offer and a segment."""
        async with self.deps.storage.transaction() as tx:
            offer = await tx.offers.offer(offer_id)
            if offer is None:
                raise LookupError(f"no offer {offer_id}")
            segment = self.segment_for(offer, **filters)
            stored = {
                k: v.isoformat() if isinstance(v, datetime) else v
                for k, v in asdict(segment).items()
            }
            return await tx.offers.add_campaign(
                Campaign(
                    offer_id=offer_id,
                    segment=stored,
                    send_at=send_at,
                    created_at=self.deps.clock.now(),
                )
            )

    @staticmethod
    def segment_of(campaign: Campaign) -> Segment:
        """Rebuild the segment stored with a campaign."""
        data = dict(campaign.segment)
        if data.get("active_since"):
            data["active_since"] = datetime.fromisoformat(data["active_since"])
        return Segment(**data)

    def first_allowed(self, moment: datetime) -> datetime:
        """Move a moment out of the quiet hours (school time zone) to when they end."""
        settings = self.deps.settings
        zone = ZoneInfo(settings.timezone)
        local = moment.astimezone(zone)
        start, end = settings.quiet_hours_start, settings.quiet_hours_end
        quiet = (
            (local.hour >= start or local.hour < end) if start > end else start <= local.hour < end
        )
        if not quiet:
            return moment
        opening = local.replace(hour=end, minute=0, second=0, microsecond=0)
        if opening <= local:
            opening += timedelta(days=1)
        return opening.astimezone(moment.tzinfo)

    async def launch(self, campaign_id: int) -> int:
        """Queue one push per recipient (idempotent: launching twice queues nothing new)."""
        storage, now = self.deps.storage, self.deps.clock.now()
        async with storage.transaction() as tx:
            campaign = await tx.offers.campaign(campaign_id)
            if campaign is None:
                raise LookupError(f"no campaign {campaign_id}")
            offer = await tx.offers.offer(campaign.offer_id)
            assert offer is not None
        segment = self.segment_of(campaign)
        send_at = self.first_allowed(max(now, campaign.send_at or now))
        pushes: dict[str, Outgoing] = {}
        queued = targeted = 0
        last_id = 0
        while True:
            # Page by id in short transactions: bounded memory for any audience size,
            # and never a transaction inside another (SQLite runs one connection).
            async with storage.transaction() as reader:
                chunk = await reader.offers.page(segment, last_id)
            if not chunk:
                break
            last_id = chunk[-1][0]
            targeted += len(chunk)
            rows = []
            for alumnus_id, chat_id, locale in chunk:
                locale = locale or "nl"
                if locale not in pushes:
                    pushes[locale] = self.push(offer, campaign_id, locale)
                rows.append(
                    row(
                        now,
                        key=f"campaign:{campaign_id}:{alumnus_id}",
                        chat_id=chat_id,
                        message=pushes[locale],
                        purpose=segment.purpose,
                        alumnus_id=alumnus_id,
                        not_before=send_at,
                    )
                )
            async with storage.transaction() as tx:
                queued += await tx.outbox.enqueue(rows)
        async with storage.transaction() as tx:
            await tx.offers.set_campaign(campaign_id, status="sending", targeted=targeted)
        logger.info("campaign %s: %d recipients, %d newly queued", campaign_id, targeted, queued)
        return queued

    def push(self, offer: Offer, campaign_id: int, locale: str) -> Outgoing:
        """The push as Telegram shows it: the offer, and its three buttons."""
        renderer = self.deps.renderer
        text = renderer.text("offers.push", locale, offer=offer)
        buttons = [[Button(renderer.label("labels.offer_interest", locale), f"o:i:{campaign_id}")]]
        if offer.link:
            buttons.append(
                [Button(renderer.label("labels.offer_more_info", locale), url=offer.link)]
            )
        buttons.append(
            [
                Button(
                    renderer.label("labels.offer_optout", locale, kind=offer.kind),
                    f"o:x:{campaign_id}",
                )
            ]
        )
        return Outgoing(text, buttons)

    async def stats(self, campaign_id: int) -> dict[str, int]:
        """Targeted, each delivery outcome, interest taps and opt-outs."""
        async with self.deps.storage.transaction() as tx:
            campaign = await tx.offers.campaign(campaign_id)
            counts = await tx.outbox.counts(f"campaign:{campaign_id}:")
            responses = await tx.offers.responses(campaign_id)
        return {
            "targeted": campaign.targeted if campaign else 0,
            **{
                status: counts.get(status, 0)
                for status in (
                    "pending",
                    "sending",
                    "sent",
                    "failed",
                    "dead",
                    "unknown",
                    "cancelled",
                )
            },
            "interest": responses.get("interest", 0),
            "optout": responses.get("optout", 0),
        }

    # ------------------------------------------------------------------ the push's buttons

    async def respond(
        self, tx: Tx, alumnus: Alumnus, kind: str, campaign_id: int, evidence: int
    ) -> str | None:
        """Handle "Ik heb interesse" (``i``) or "Hier niet meer over" (``x``); return the reply.

        Only a recipient of the campaign can respond; a tap counts once.
        """
        assert alumnus.id is not None
        received = await tx.outbox.get(f"campaign:{campaign_id}:{alumnus.id}")
        campaign = await tx.offers.campaign(campaign_id)
        if received is None or campaign is None:
            return None
        offer = await tx.offers.offer(campaign.offer_id)
        assert offer is not None
        now = self.deps.clock.now()
        if kind == "x":
            from bot.privacy import ConsentService

            await tx.offers.respond(campaign_id, alumnus.id, "optout", now)
            await ConsentService(self.deps).set(
                tx, alumnus, PURPOSE_OF_KIND[offer.kind], False, "push", evidence
            )
            return "offers.optout_done"
        if await tx.offers.respond(campaign_id, alumnus.id, "interest", now):
            # A person follows up: a routed conversation in the inbox, the offer attached.
            await self.inbox.open_or_join(
                tx,
                alumnus,
                topic=TOPIC_OF_KIND.get(offer.kind, "other"),
                context={
                    "source": "offer",
                    "offer_id": offer.id,
                    "campaign_id": campaign_id,
                    "title": offer.title,
                },
                note=self.deps.renderer.text("offers.interest_note", "nl", offer=offer),
            )
        return "offers.interest_thanks"
