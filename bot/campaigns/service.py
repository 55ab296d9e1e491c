"""Offers and campaigns: import, audience, launch into the outbox, and the push buttons.

Also the campaign controls (schedule, pause, resume, cancel, preview, progress), personal
matching of new offers, and the digest that carries what waits (over the push cap, or a
weekly or monthly match).
"""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from bot.campaigns.digest import next_digest
from bot.core.callbacks import CALLBACKS, parts
from bot.core.callbacks import number as id_in
from bot.core.deps import Deps
from bot.core.messenger import Button, Outgoing
from bot.core.render import DEFAULT_LOCALE, LOCALES
from bot.core.text import is_clean, strip_controls
from bot.delivery.dispatcher import enqueue, row
from bot.inbox.service import InboxService
from bot.privacy.service import ConsentService
from storage.campaigns import Segment
from storage.models import (
    Alumnus,
    Campaign,
    CampaignStatus,
    DigestItem,
    Offer,
    OfferFrequency,
    OfferKind,
    OutboxStatus,
    Purpose,
)
from storage.repositories import Tx

logger = logging.getLogger(__name__)

INTEREST, OPT_OUT = "i", "x"


def _parse_offer_button(payload: str) -> tuple[str, int] | None:
    found = parts(payload, 2)
    if found is None or found[0] not in (INTEREST, OPT_OUT):
        return None
    campaign = id_in(found[1])
    return None if campaign is None else (found[0], campaign)


# ``o:<i|x>:<campaign>``: "Ik heb interesse" or "Hier niet meer over" under a push.
OFFER_BUTTON = CALLBACKS.declare("o", _parse_offer_button, longest="x:999999999999")
# ``v:<campaign>``: a button under a staff member's preview; it only says so.
PREVIEW_BUTTON = CALLBACKS.declare("v", id_in, longest="999999999999")

URL = re.compile(r"^https?://[^\s<>\"']+$")
LIST_FIELDS = ("regions", "sectors", "crebos", "levels", "interests")
DIGEST_MAX_OFFERS = 10  # one digest message lists at most this many offers
STALE_LAUNCH = timedelta(minutes=10)  # a launch this old was abandoned by a dead process


class CampaignStateError(Exception):
    """The action does not fit the campaign's state (pausing a finished campaign...).

    ``str(error)`` is an operator-facing explanation.
    """


class OfferWithdrawnError(Exception):
    """The offer is withdrawn: no new campaign, and what is queued is dropped at send time."""


class PreviewError(Exception):
    """A preview can only go to a linked, active staff member's own chat."""


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


@dataclass(frozen=True)
class KindRule:
    """What an offer's kind fixes, from content/campaigns.yaml."""

    purpose: str  # the consent a push of this kind needs (never optional)
    topic: str  # the inbox topic "Ik heb interesse" opens (routes it to a team)


def kind_rules(path: Path, topics: tuple[str, ...]) -> dict[str, KindRule]:
    """Read content/campaigns.yaml, once; every offer kind needs a known purpose and topic."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    kinds = data.get("kinds") or {}
    purposes = {purpose.value for purpose in Purpose}
    rules: dict[str, KindRule] = {}
    for kind in OfferKind:
        found = kinds.get(kind.value) or {}
        purpose, topic = str(found.get("purpose") or ""), str(found.get("topic") or "")
        if purpose not in purposes or topic not in topics:
            raise ValueError(
                f"{path}: kind {kind.value} needs a purpose ({', '.join(sorted(purposes))}) "
                f"and an inbox topic ({', '.join(topics)})"
            )
        rules[kind.value] = KindRule(purpose=purpose, topic=topic)
    return rules


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Read offers from a CSV (header row) or YAML (a list of mappings) file (UTF-8)."""
    try:
        content = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise OfferImportError([RowError(0, "file", "offers.error_encoding")]) from None
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
        self.kinds = kind_rules(deps.settings.content_dir / "campaigns.yaml", inbox.topics)

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
        # The text boundary (bot.core.text): no NUL or other control character is stored.
        for name, value in raw.items():
            values = value if isinstance(value, list) else [value]
            if any(isinstance(v, str) and not is_clean(v) for v in [name, *values]):
                bad(strip_controls(str(name)).strip().lower(), "offers.error_characters")
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
            if not catalogue.is_region(code):
                bad("regions", "offers.error_region", code)
        for code in lists["sectors"]:
            if catalogue.item("sector", code) is None:
                bad("sectors", "offers.error_sector", code)
        for code in lists["crebos"]:
            if catalogue.programme(code) is None:
                bad("crebos", "offers.error_crebo", code)
        for code in lists["interests"]:
            if catalogue.item("interest", code) is None:
                bad("interests", "offers.error_interest", code)
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
        language = str(get("language") or "").strip().lower() or DEFAULT_LOCALE
        if language not in LOCALES:
            bad("language", "offers.error_language", language)
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
            interests=lists["interests"],
            starts_on=dates["starts_on"],
            deadline=dates["deadline"],
            cost=str(get("cost") or "").strip()[:64] or None,
            contact_team=team,
            language=language,
            created_at=self.deps.clock.now(),
        )

    async def import_file(self, path: Path, *, match: bool = True) -> list[Offer]:
        """Import every offer of a file, or none of them (raises OfferImportError).

        With ``match`` each new offer then reaches the alumni it matches (:meth:`match`):
        the command line's documented behaviour (README). The console never matches on
        saving; there sending is a separate, confirmed step.
        """
        rows = read_rows(path)
        async with self.deps.storage.transaction() as tx:
            teams = await tx.offers.team_codes()
            offers, errors = self.validate(rows, teams)
            if errors:
                raise OfferImportError(errors)
            await tx.offers.add_offers(offers)
        if match:
            for offer in offers:
                assert offer.id is not None
                await self.match(offer.id)
        return offers

    async def edit(self, offer_id: int, changed: Offer) -> bool:
        """Give an offer the fields of ``changed`` (validated); False if it is gone or withdrawn.

        A push already sent is not changed; the edit applies to what is sent afterwards
        (new campaigns and digests).
        """
        values = changed.model_dump(exclude={"id", "created_at", "updated_at", "withdrawn_at"})
        async with self.deps.storage.transaction() as tx:
            return await tx.offers.update_offer(
                offer_id, **values, updated_at=self.deps.clock.now()
            )

    async def withdraw(self, offer_id: int) -> bool:
        """Withdraw an offer: not sent any more; False if it is gone or withdrawn already.

        Its queued pushes and digest items are dropped at send time (``CampaignPolicy``,
        the digest), so nothing is lost if a push is being sent at this very moment.
        """
        async with self.deps.storage.transaction() as tx:
            return await tx.offers.update_offer(offer_id, withdrawn_at=self.deps.clock.now())

    # ------------------------------------------------------------------ audience and launch

    def purpose_of(self, offer: Offer) -> str:
        """Return the consent purpose an offer's kind requires (never optional)."""
        return self.kinds[offer.kind].purpose

    def segment_for(self, offer: Offer, **filters: Any) -> Segment:
        """The offer's own targeting, narrowed by ``filters``; the purpose comes from the kind."""
        return Segment(
            purpose=self.purpose_of(offer),
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
            frequencies=filters.get("frequencies") or [],
        )

    async def count(self, segment: Segment) -> int:
        """How many alumni a segment reaches now."""
        async with self.deps.storage.transaction() as tx:
            return await tx.offers.count(segment)

    async def reach(self, segment: Segment, offer_id: int) -> tuple[int, int, int]:
        """Return (new, already, maybe) for sending an offer to a segment now.

        ``already``: those whom another campaign brought it; a launch leaves them out.
        ``maybe``: of those, the ones whom only a push of unknown delivery brought it (that
        campaign can send it again to them: :meth:`resend_unknown`).
        """
        async with self.deps.storage.transaction() as tx:
            return await tx.offers.reach(segment, offer_id)

    async def create(
        self, offer_id: int, send_at: datetime | None = None, **filters: Any
    ) -> Campaign:
        """Create a campaign for an offer and a segment; with ``send_at`` it is scheduled.

        Raises:
            LookupError: no such offer.
            OfferWithdrawnError: the offer is withdrawn.
            ValueError: ``send_at`` is not in the future.
        """
        now = self.deps.clock.now()
        if send_at is not None and send_at <= now:
            raise ValueError("that moment has passed: give a time in the future")
        async with self.deps.storage.transaction() as tx:
            offer = await tx.offers.offer(offer_id)
            if offer is None:
                raise LookupError(f"no offer {offer_id}")
            if offer.withdrawn_at is not None:
                raise OfferWithdrawnError(
                    f"offer {offer_id} is withdrawn: it is not sent any more"
                )
            segment = self.segment_for(offer, **filters)
            return await tx.offers.add_campaign(
                Campaign(
                    offer_id=offer_id,
                    segment=self._stored(segment),
                    kind=filters.get("kind", "manual"),
                    status=CampaignStatus.SCHEDULED if send_at else CampaignStatus.DRAFT,
                    send_at=send_at,
                    created_at=now,
                )
            )

    @staticmethod
    def _stored(segment: Segment) -> dict[str, Any]:
        return {
            k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(segment).items()
        }

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

    def parse_moment(self, text: str) -> datetime:
        """Read a CLI time ("2026-12-01 10:00", school time zone unless it says otherwise).

        Raises:
            ValueError: not a date and time, or not in the future.
        """
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(
                f"cannot read {text!r} as a time: use YYYY-MM-DD HH:MM (school time zone)"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(self.deps.settings.timezone))
        moment = moment.astimezone(UTC)
        if moment <= self.deps.clock.now():
            raise ValueError("that moment has passed: give a time in the future")
        return moment

    async def _campaign(self, campaign_id: int) -> Campaign:
        async with self.deps.storage.transaction() as tx:
            campaign = await tx.offers.campaign(campaign_id)
        if campaign is None:
            raise LookupError(f"no campaign {campaign_id}")
        return campaign

    # ------------------------------------------------------------------ launch

    async def schedule(self, campaign_id: int, send_at: datetime) -> Campaign:
        """Send a draft (or reschedule a scheduled) campaign at ``send_at`` (aware, future)."""
        if send_at <= self.deps.clock.now():
            raise ValueError("that moment has passed: give a time in the future")
        async with self.deps.storage.transaction() as tx:
            moved = await tx.offers.move_campaign(
                campaign_id,
                [CampaignStatus.DRAFT, CampaignStatus.SCHEDULED],
                CampaignStatus.SCHEDULED,
                send_at=send_at,
            )
        if not moved:
            campaign = await self._campaign(campaign_id)  # LookupError if there is none
            raise CampaignStateError(
                f"campaign {campaign_id} is {campaign.status}: only a draft or scheduled "
                "campaign can be scheduled",
            )
        return await self._campaign(campaign_id)

    async def launch_due(self) -> list[int]:
        """Launch every scheduled campaign whose time has come, once (the scheduler job).

        Each is claimed by one compare-and-set of its status (scheduled -> launching), so of
        several processes exactly one launches it. A launch abandoned by a process that died
        is claimed again after ``STALE_LAUNCH``; launching is idempotent.
        """
        now = self.deps.clock.now()
        async with self.deps.storage.transaction() as tx:
            due = await tx.offers.due_campaigns(now, now - STALE_LAUNCH)
        launched = []
        for campaign in due:
            assert campaign.id is not None
            stale = campaign.status == CampaignStatus.LAUNCHING
            async with self.deps.storage.transaction() as tx:
                won = await tx.offers.move_campaign(
                    campaign.id,
                    [campaign.status],
                    CampaignStatus.LAUNCHING,
                    launched_before=now - STALE_LAUNCH if stale else None,
                    launched_at=now,
                    launch_done_at=None,
                )
            if won:
                await self._launch(campaign.id)
                launched.append(campaign.id)
        return launched

    async def launch(self, campaign_id: int) -> int:
        """Queue one push per recipient now (idempotent: launching twice queues nothing new).

        Raises:
            LookupError: no such campaign.
            CampaignStateError: the campaign is paused or cancelled.
        """
        async with self.deps.storage.transaction() as tx:
            moved = await tx.offers.move_campaign(
                campaign_id,
                [
                    CampaignStatus.DRAFT,
                    CampaignStatus.SCHEDULED,
                    CampaignStatus.LAUNCHING,
                    CampaignStatus.SENDING,
                ],
                CampaignStatus.LAUNCHING,
                launched_at=self.deps.clock.now(),
                launch_done_at=None,
            )
        if not moved:
            campaign = await self._campaign(campaign_id)  # LookupError if there is none
            hint = "resume it first" if campaign.status == CampaignStatus.PAUSED else "final"
            raise CampaignStateError(
                f"campaign {campaign_id} is {campaign.status} ({hint}): nothing queued",
            )
        return await self._launch(campaign_id)

    async def _launch(self, campaign_id: int) -> int:
        """Queue the pushes of a campaign this process has claimed (status launching).

        A manual campaign queues a push for everyone in its segment. A match campaign
        (personal matching) queues a push for those who chose "immediately" and puts the
        offer in the digest of those who chose weekly or monthly. Whom another campaign
        already brought this offer is left out (counted in ``already_reached``): nobody
        hears about one offer twice.
        """
        storage, now = self.deps.storage, self.deps.clock.now()
        async with storage.transaction() as tx:
            campaign = await tx.offers.campaign(campaign_id)
            assert campaign is not None
            offer = await tx.offers.offer(campaign.offer_id)
            assert offer is not None
        segment = self.segment_of(campaign)
        send_at = self.first_allowed(max(now, campaign.send_at or now))
        pushes: dict[str, Outgoing] = {}
        queued = targeted = reached = maybe = 0
        last_id = 0
        matching = campaign.kind == "match"
        while True:
            # Page by id in short transactions: bounded memory for any audience size,
            # and never a transaction inside another (SQLite runs one connection).
            async with storage.transaction() as reader:
                chunk = await reader.offers.page(
                    segment, last_id, offer_id=offer.id, campaign_id=campaign_id
                )
            if not chunk:
                break
            last_id = chunk[-1][0]
            rows, held = [], []
            for alumnus_id, chat_id, locale, frequency, had, unsure in chunk:
                if had:
                    reached += 1
                    maybe += unsure
                    continue
                targeted += 1
                if matching and frequency != OfferFrequency.IMMEDIATELY:
                    held.append(
                        {
                            "alumnus_id": alumnus_id,
                            "campaign_id": campaign_id,
                            "offer_id": offer.id,
                            "purpose": segment.purpose,
                            "reason": frequency,
                            "due_at": next_digest(now, frequency, self.deps.settings),
                            "created_at": now,
                        }
                    )
                    continue
                locale = locale or DEFAULT_LOCALE
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
                        campaign_id=campaign_id,
                    )
                )
            async with storage.transaction() as tx:
                queued += await tx.outbox.enqueue(rows)
                queued += await tx.offers.hold_for_digest(held)
        async with storage.transaction() as tx:
            await tx.offers.set_campaign(
                campaign_id,
                targeted=targeted,
                already_reached=reached,
                maybe_reached=maybe,
                launch_done_at=self.deps.clock.now(),
            )
            # Paused or cancelled meanwhile: that state stands.
            await tx.offers.move_campaign(
                campaign_id, [CampaignStatus.LAUNCHING], CampaignStatus.SENDING
            )
        logger.info(
            "campaign %s: %d recipients, %d newly queued, %d had the offer already "
            "(%d of them maybe: delivery unknown)",
            campaign_id,
            targeted,
            queued,
            reached,
            maybe,
        )
        return queued

    def push(
        self, offer: Offer, campaign_id: int, locale: str, *, preview: bool = False
    ) -> Outgoing:
        """The push as Telegram shows it: the offer, and its three buttons.

        A preview carries a note on top, and its buttons only say that it is a preview.
        """
        renderer = self.deps.renderer
        text = renderer.text("offers.push", locale, offer=offer)

        def data(action: str) -> str:
            if preview:
                return PREVIEW_BUTTON.build(campaign_id)
            return OFFER_BUTTON.build(action, campaign_id)

        if preview:
            text = f"{renderer.text('offers.preview_note', locale)}\n\n{text}"
        buttons = [
            [
                Button(
                    renderer.label("labels.offer_interest", locale),
                    data(INTEREST),
                )
            ]
        ]
        if offer.link:
            buttons.append(
                [Button(renderer.label("labels.offer_more_info", locale), url=offer.link)]
            )
        buttons.append(
            [
                Button(
                    renderer.label("labels.offer_optout", locale, kind=offer.kind),
                    data(OPT_OUT),
                )
            ]
        )
        return Outgoing(text, buttons)

    # ------------------------------------------------------------------ control

    async def pause(self, campaign_id: int) -> str:
        """Hold a campaign's queued pushes until resumed; pushes in flight finish.

        Returns the new status ("paused"). Raises LookupError or CampaignStateError.
        """
        progress = await self.progress(campaign_id)
        allowed = [CampaignStatus.SCHEDULED, CampaignStatus.LAUNCHING, CampaignStatus.SENDING]
        if not progress["finished"]:
            async with self.deps.storage.transaction() as tx:
                if await tx.offers.move_campaign(campaign_id, allowed, CampaignStatus.PAUSED):
                    return CampaignStatus.PAUSED.value
        raise CampaignStateError(
            f"campaign {campaign_id} is {self._described(progress)}: nothing to pause",
        )

    async def resume(self, campaign_id: int) -> str:
        """Let a paused campaign's pushes go again; return its new status.

        A campaign paused before its launch finished (``launch_done_at`` is written when a
        launch completes) goes back to ``launching``: if the launching process died meanwhile,
        ``launch_due`` claims it again once the launch is stale and queues the rest (a
        launch is idempotent); if it still runs, it finishes the launch itself.
        """
        campaign = await self._campaign(campaign_id)
        if campaign.launched_at is not None and campaign.launch_done_at is None:
            status = CampaignStatus.LAUNCHING
        elif campaign.launched_at is not None:
            status = CampaignStatus.SENDING
        elif campaign.send_at is not None:
            status = CampaignStatus.SCHEDULED
        else:
            status = CampaignStatus.DRAFT
        async with self.deps.storage.transaction() as tx:
            moved = await tx.offers.move_campaign(campaign_id, [CampaignStatus.PAUSED], status)
        if not moved:
            raise CampaignStateError(
                f"campaign {campaign_id} is {campaign.status}, not paused: nothing to resume",
            )
        logger.info("campaign %s resumed", campaign_id)
        return status.value

    async def cancel(self, campaign_id: int) -> int:
        """Cancel a campaign: queued pushes end as ``cancelled`` (counted in the stats).

        Pushes in flight finish; offers waiting in digests are taken out. Returns how many
        pushes were cancelled. Raises LookupError or CampaignStateError (already cancelled,
        or finished).
        """
        progress = await self.progress(campaign_id)
        allowed = [
            CampaignStatus.DRAFT,
            CampaignStatus.SCHEDULED,
            CampaignStatus.LAUNCHING,
            CampaignStatus.SENDING,
            CampaignStatus.PAUSED,
        ]
        if not progress["finished"]:
            now = self.deps.clock.now()
            async with self.deps.storage.transaction() as tx:
                if await tx.offers.move_campaign(campaign_id, allowed, CampaignStatus.CANCELLED):
                    cancelled = await tx.outbox.cancel_campaign(campaign_id, now)
                    cancelled += await tx.offers.drop_waiting(campaign_id)
                    logger.info("campaign %s cancelled: %d pushes", campaign_id, cancelled)
                    return cancelled
        raise CampaignStateError(
            f"campaign {campaign_id} is {self._described(progress)}: nothing to cancel",
        )

    async def unknown(self, campaign_id: int) -> list[tuple[int, str, str]]:
        """Return the campaign's pushes of unknown delivery: (row id, handed over, why).

        Raises LookupError when there is no such campaign.
        """
        await self._campaign(campaign_id)
        async with self.deps.storage.transaction() as tx:
            rows = await tx.outbox.unknown_of_campaign(campaign_id)
        return [
            (
                int(r.id or 0),
                r.handed_at.strftime("%Y-%m-%d %H:%M:%S") if r.handed_at else "-",
                r.last_error or "-",
            )
            for r in rows
        ]

    async def resend_unknown(
        self, campaign_id: int, *, staff_id: int | None = None, via: str = "cli"
    ) -> int:
        """Send the campaign's pushes of unknown delivery again; return how many were queued.

        A coordinator's deliberate decision (never automatic: some of these did arrive).
        Each ``unknown`` row becomes ``resent`` and a new row with its own key is queued
        (consent, the push cap and quiet hours apply as to any push). Recorded in the audit
        log with who asked (``staff_id``, none from the command line) and where (``via``).

        Raises:
            LookupError: no such campaign.
            CampaignStateError: the campaign was cancelled.
        """
        now = self.deps.clock.now()
        async with self.deps.storage.transaction() as tx:
            campaign = await tx.offers.campaign(campaign_id)
            if campaign is None:
                raise LookupError(f"no campaign {campaign_id}")
            if campaign.status == CampaignStatus.CANCELLED:
                raise CampaignStateError(
                    f"campaign {campaign_id} is cancelled: nothing is sent again"
                )
            unknown = await tx.outbox.unknown_of_campaign(campaign_id)
            keys = await tx.outbox.resend(
                [r.id for r in unknown if r.id is not None], self.first_allowed(now), now
            )
            tx.audit.record(
                staff_id, "resend:campaign", f"{campaign_id}: {len(keys)} via {via}", now
            )
        logger.info(
            "campaign %s: %d pushes of unknown delivery sent again", campaign_id, len(keys)
        )
        return len(keys)

    @staticmethod
    def _described(progress: dict[str, Any]) -> str:
        status = str(progress["status"])
        return "finished" if progress["finished"] and status != "cancelled" else status

    # ------------------------------------------------------------------ preview

    async def preview(
        self,
        chat_id: int,
        campaign_id: int | None = None,
        offer_id: int | None = None,
        locale: str = DEFAULT_LOCALE,
    ) -> str:
        """Queue the push, marked as a preview, to a staff member's own linked chat.

        Give a campaign or an offer. The preview is not part of any campaign: not in the
        stats, and its buttons create no responses. Returns the outbox key.

        Raises:
            LookupError: no such campaign or offer.
            PreviewError: the chat is not a linked, active staff member's.
        """
        now = self.deps.clock.now()
        async with self.deps.storage.transaction() as tx:
            if campaign_id is not None:
                campaign = await tx.offers.campaign(campaign_id)
                if campaign is None:
                    raise LookupError(f"no campaign {campaign_id}")
                offer_id = campaign.offer_id
            offer = await tx.offers.offer(offer_id) if offer_id is not None else None
            if offer is None:
                raise LookupError(f"no offer {offer_id}")
            member = await tx.staff.by_telegram(chat_id)
            if member is None or not member.active:
                raise PreviewError(
                    f"chat {chat_id} is not a linked staff member's: link it first with "
                    "`alumnibot staff link EMAIL TELEGRAM_USER_ID`"
                )
            key = f"preview:{campaign_id or 0}:{offer.id}:{chat_id}:{int(now.timestamp() * 1000)}"
            message = self.push(offer, campaign_id or 0, locale, preview=True)
            await enqueue(tx, row(now, key=key, chat_id=chat_id, message=message))
        return key

    # ------------------------------------------------------------------ progress and stats

    async def progress(self, campaign_id: int) -> dict[str, Any]:
        """Where a campaign stands: status, targeted, outbox rows per state, done and finished.

        ``done`` counts pushes in a final state (held for a digest included); ``finished``
        is true once a launched or cancelled campaign has nothing pending or in flight.
        """
        async with self.deps.storage.transaction() as tx:
            campaign = await tx.offers.campaign(campaign_id)
            if campaign is None:
                raise LookupError(f"no campaign {campaign_id}")
            counts = await tx.outbox.counts(campaign_id=campaign_id)
            digests = await tx.offers.digest_counts(campaign_id)
        states = {s.value: counts.get(s.value, 0) for s in OutboxStatus}
        open_ = states["pending"] + states["sending"]
        total = sum(states.values()) + digests["waiting"] + digests["digested"]
        total -= states["digest"]  # a held push is one row and one digest item
        total -= states["resent"]  # a push sent again is the old row and its new one
        done = total - open_
        launched = campaign.status in (CampaignStatus.SENDING, CampaignStatus.CANCELLED)
        return {
            "campaign_id": campaign_id,
            "status": campaign.status,
            "kind": campaign.kind,
            "send_at": campaign.send_at,
            "targeted": campaign.targeted,
            "already_reached": campaign.already_reached,
            "maybe_reached": campaign.maybe_reached,
            **states,
            "in_digest": digests["waiting"] + digests["digested"],
            "total": total,
            "done": done,
            "finished": launched and open_ == 0,
        }

    async def stats(
        self, campaign_id: int, progress: dict[str, Any] | None = None
    ) -> dict[str, int]:
        """Targeted, each delivery outcome, interest taps and opt-outs.

        Pass the campaign's ``progress`` when you have it already: it is not counted again.

        ``already``: in the segment, but left out because another campaign already brought
        them this offer; ``maybe``: of those, the ones whom only a push of unknown delivery
        brought it (maybe reached).
        ``blocked``: the person blocked the bot (403); ``failed``: Telegram refused the
        message or it kept failing; ``unknown``: maybe delivered; ``digest``: over the push
        cap or a weekly/monthly match, waiting in (or sent with) the person's digest.
        """
        if progress is None:
            progress = await self.progress(campaign_id)
        async with self.deps.storage.transaction() as tx:
            responses = await tx.offers.responses(campaign_id)
        return {
            "targeted": progress["targeted"],
            "already": progress["already_reached"],
            "maybe": progress["maybe_reached"],
            "pending": progress["pending"] + progress["sending"],
            "sent": progress["sent"],
            "blocked": progress["failed"],
            "failed": progress["dead"],
            "unknown": progress["unknown"],
            "resent": progress["resent"],
            "cancelled": progress["cancelled"],
            "digest": progress["in_digest"],
            "interest": responses.get("interest", 0),
            "optout": responses.get("optout", 0),
        }

    # ------------------------------------------------------------------ personal matching

    @staticmethod
    def matches_personally(offer: Offer) -> bool:
        """Return whether personal matching applies: the offer has interests or programmes."""
        return bool(offer.interests or offer.crebos)

    @staticmethod
    def match_filters(offer: Offer, *frequencies: OfferFrequency) -> dict[str, Any]:
        """The filters of a personal-matching campaign (``create(..., kind="match")``)."""
        chosen = frequencies or (
            OfferFrequency.IMMEDIATELY,
            OfferFrequency.WEEKLY,
            OfferFrequency.MONTHLY,
        )
        return {
            "interests": list(offer.interests),
            "frequencies": [frequency.value for frequency in chosen],
        }

    async def match_reach(self, offer_id: int) -> tuple[int, int, int]:
        """Return (now, digest, already) for :meth:`match` of an offer, before it is sent.

        ``now``: who chose "immediately" and get a push; ``digest``: who chose weekly or
        monthly; ``already``: whom a campaign already brought the offer (left out).
        """
        async with self.deps.storage.transaction() as tx:
            offer = await tx.offers.offer(offer_id)
            if offer is None:
                raise LookupError(f"no offer {offer_id}")
            if not self.matches_personally(offer):
                return 0, 0, 0
            now, had, _ = await tx.offers.reach(
                self.segment_for(offer, **self.match_filters(offer, OfferFrequency.IMMEDIATELY)),
                offer_id,
            )
            later, had_later, _ = await tx.offers.reach(
                self.segment_for(
                    offer,
                    **self.match_filters(offer, OfferFrequency.WEEKLY, OfferFrequency.MONTHLY),
                ),
                offer_id,
            )
        return now, later, had + had_later

    async def match(self, offer_id: int) -> int:
        """Bring an offer to the alumni it matches, as they chose (personal matching).

        Matching alumni meet the offer's own targeting and share an interest with it, or,
        for an offer without interests, its programmes. Those who chose "immediately" get
        a push now (consent and the push cap still apply), weekly and monthly ones get it in
        their digest, "never" (or no choice) nothing. An offer with neither interests nor
        programmes matches no one personally: send it with a campaign. Returns how many
        pushes and digest items were queued. Saving an offer never calls this: it is a
        deliberate step (the console's confirmation page, or the import's choice).
        """
        async with self.deps.storage.transaction() as tx:
            offer = await tx.offers.offer(offer_id)
        if offer is None:
            raise LookupError(f"no offer {offer_id}")
        if not self.matches_personally(offer):
            return 0
        campaign = await self.create(offer_id, kind="match", **self.match_filters(offer))
        assert campaign.id is not None
        return await self.launch(campaign.id)

    async def send_leads(self, tx: Tx, alumnus: Alumnus, limit: int) -> int:
        """Send someone looking for work the open job leads, bpv places and courses they match.

        The same matching as a campaign: each offer's own targeting and the person's consent
        for its purpose; offers they had already are left out. The offers go out at once as
        one digest per purpose (quiet hours hold), with the usual interest buttons, through
        one "lead" campaign per offer so interest and reach are counted like any other.
        Returns how many offers were sent.
        """
        assert alumnus.id is not None
        now = self.deps.clock.now()
        today = now.astimezone(ZoneInfo(self.deps.settings.timezone)).date()
        chosen: list[tuple[Offer, Segment]] = []
        kinds = (OfferKind.JOB.value, OfferKind.BPV.value, OfferKind.LLO.value)
        for offer in await tx.offers.open_offers(kinds, today, limit=50):
            assert offer.id is not None
            segment = self.segment_for(offer)
            found = await tx.offers.page(segment, alumnus.id - 1, limit=1, offer_id=offer.id)
            if found and found[0][0] == alumnus.id and not found[0][4]:
                chosen.append((offer, segment))
            if len(chosen) >= limit:
                break
        held = []
        for offer, segment in chosen:
            assert offer.id is not None
            campaign = await tx.offers.campaign_of_kind(offer.id, "lead")
            if campaign is None:
                campaign = await tx.offers.add_campaign(
                    Campaign(
                        offer_id=offer.id,
                        segment=self._stored(segment),
                        kind="lead",
                        status=CampaignStatus.SENDING,
                        launched_at=now,
                        launch_done_at=now,
                        created_at=now,
                    )
                )
            held.append(
                {
                    "alumnus_id": alumnus.id,
                    "campaign_id": campaign.id,
                    "offer_id": offer.id,
                    "purpose": segment.purpose,
                    "reason": "lead",
                    "due_at": now,
                    "created_at": now,
                }
            )
        if await tx.offers.hold_for_digest(held):
            await self._digest(tx, alumnus.id, now)
        return len(held)

    # ------------------------------------------------------------------ digests

    async def send_digests(self) -> int:
        """Queue every digest that is due (the digest job); return how many were queued.

        One message per alumnus and purpose lists what waits for them (at most
        ``DIGEST_MAX_OFFERS`` in all; more go in the next run), each offer with its interest
        button and link, and the purpose's one-tap opt-out. Offers of cancelled campaigns,
        withdrawn offers and offers whose purpose lost consent are left out.
        """
        now = self.deps.clock.now()
        async with self.deps.storage.transaction() as tx:
            alumni = await tx.offers.digest_due(now)
        queued = 0
        for alumnus_id in alumni:
            async with self.deps.storage.transaction() as tx:
                queued += await self._digest(tx, alumnus_id, now)
        return queued

    async def _digest(self, tx: Tx, alumnus_id: int, now: datetime) -> int:
        found = await tx.offers.digest_items(alumnus_id, DIGEST_MAX_OFFERS)
        alumnus = await tx.offers.alumnus(alumnus_id)
        if not found or alumnus is None:
            return 0
        consenting = await tx.outbox.consenting(
            {(alumnus_id, item.purpose) for item, _, _ in found}
        )
        keep: list[tuple[DigestItem, Offer]] = []
        dropped: list[int] = []
        for item, offer, status in found:
            wanted = (
                status != CampaignStatus.CANCELLED
                and offer.withdrawn_at is None
                and (alumnus_id, item.purpose) in consenting
            )
            if wanted and alumnus.unreachable_since is None:
                keep.append((item, offer))
            elif item.id is not None:
                dropped.append(item.id)
        await tx.offers.mark_digested(dropped, "dropped")
        if not keep:
            return 0
        # One digest per purpose, each with that purpose's one-tap opt-out: the row carries
        # its purpose, so the send-time consent check and a withdrawal (/stop, the button,
        # /privacy) cancel it while it waits for the end of the quiet hours.
        groups: dict[str, list[tuple[DigestItem, Offer]]] = {}
        for item, offer in keep:
            groups.setdefault(item.purpose, []).append((item, offer))
        locale = alumnus.locale or DEFAULT_LOCALE
        not_before = self.first_allowed(now)
        for purpose, group in groups.items():
            key = f"digest:{alumnus_id}:{group[0][0].id}"
            await enqueue(
                tx,
                row(
                    now,
                    key=key,
                    chat_id=alumnus.chat_id,
                    message=self.digest_message(group, locale),
                    purpose=purpose,
                    alumnus_id=alumnus_id,
                    not_before=not_before,
                ),
            )
            await tx.offers.mark_digested([i.id for i, _ in group if i.id is not None], key)
        return len(groups)

    def digest_message(self, group: list[tuple[DigestItem, Offer]], locale: str) -> Outgoing:
        """One purpose's digest: the offers, a numbered interest button (and link) each.

        The last button is the push's own opt-out (``o:x:CAMPAIGN``, of the first offer's
        campaign): it withdraws consent for the digest's purpose, as under a single push.
        """
        renderer = self.deps.renderer
        offers = [offer for _, offer in group]
        buttons: list[list[Button]] = []
        for n, (item, offer) in enumerate(group, start=1):
            line = [
                Button(
                    renderer.label("offers.digest_interest", locale, n=n),
                    OFFER_BUTTON.build(INTEREST, item.campaign_id),
                )
            ]
            if offer.link:
                line.append(
                    Button(renderer.label("offers.digest_more_info", locale, n=n), url=offer.link)
                )
            buttons.append(line)
        buttons.append(
            [
                Button(
                    renderer.label("labels.offer_optout", locale, kind=offers[0].kind),
                    OFFER_BUTTON.build(OPT_OUT, group[0][0].campaign_id),
                )
            ]
        )
        text = renderer.text("offers.digest", locale, offers=offers, offer=offers[0])
        return Outgoing(text, buttons)

    # ------------------------------------------------------------------ personal data

    async def export(self, tx: Tx, alumnus: Alumnus) -> dict[str, list[dict[str, Any]]]:
        """What campaigns hold about a person: offers waiting for (or sent in) a digest, taps."""
        assert alumnus.id is not None
        return {
            "digest_item": [
                item.model_dump(mode="json")
                for item in await tx.offers.digest_items_of(alumnus.id)
            ],
            "offer_response": [
                tap.model_dump(mode="json") for tap in await tx.offers.responses_of(alumnus.id)
            ],
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
        if received is None and not await tx.offers.in_digest(alumnus.id, campaign_id):
            return None
        campaign = await tx.offers.campaign(campaign_id)
        if campaign is None:
            return None
        offer = await tx.offers.offer(campaign.offer_id)
        assert offer is not None
        now = self.deps.clock.now()
        if kind == OPT_OUT:
            await tx.offers.respond(campaign_id, alumnus.id, "optout", now)
            await self.consent.set(tx, alumnus, self.purpose_of(offer), False, "push", evidence)
            return "offers.optout_done"
        if await tx.offers.respond(campaign_id, alumnus.id, "interest", now):
            # A person follows up: a routed conversation in the inbox, the offer attached.
            await self.inbox.open_or_join(
                tx,
                alumnus,
                topic=self.kinds[offer.kind].topic,
                context={
                    "source": "offer",
                    "offer_id": offer.id,
                    "campaign_id": campaign_id,
                    "title": offer.title,
                },
                note=self.deps.renderer.text(
                    "offers.interest_note", self.deps.settings.staff_locale, offer=offer
                ),
            )
        return "offers.interest_thanks"
