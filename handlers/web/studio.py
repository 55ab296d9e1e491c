"""The console's offers and campaigns: forms in, :class:`CampaignService` calls out.

Validation of an offer is the import's own (``CampaignService.validate``); this module only
turns a form into the row an import file would hold, decides who may use which offer, and
turns the push the dispatcher would send into something a page can show safely.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from multidict import MultiMapping

from bot.campaigns.service import (
    LIST_FIELDS,
    CampaignService,
    CampaignStateError,
    PreviewError,
    RowError,
)
from bot.core.catalogue import Catalogue
from bot.core.clock import Clock
from bot.core.messenger import Outgoing
from bot.core.render import LOCALES, Renderer
from bot.core.settings import Settings
from bot.staff.service import Principal
from handlers.web.service import ConsoleService
from storage.models import PURPOSE_OF_KIND, Campaign, Offer, OfferKind, SavedSegment, Situation
from storage.repositories import Storage
from storage.segments import CampaignListRepository, SavedSegmentRepository

logger = logging.getLogger(__name__)

KINDS = tuple(kind.value for kind in OfferKind)
SITUATIONS = tuple(s.value for s in Situation)
ACTIVE_DAYS = (0, 30, 90, 180, 365)  # "last activity" choices; 0 means any time
TEXT_FIELDS = (
    "kind",
    "title",
    "text",
    "provider",
    "link",
    "starts_on",
    "deadline",
    "cost",
    "contact_team",
)
FILTER_LISTS = ("crebos", "levels", "locations", "regions", "situations", "sectors", "interests")
CONTROL_ACTIONS = ("pause", "resume", "cancel")
# Which (shown) campaign states each control fits; the service checks again.
CONTROLS_IN = {
    "pause": {"scheduled", "launching", "sending"},
    "resume": {"paused"},
    "cancel": {"draft", "scheduled", "launching", "sending", "paused"},
}
MAX_FIELD = 2000  # longer than any valid value: the validator then says what is wrong
MAX_SCHEDULE = timedelta(days=366)


class OfferRefusedError(Exception):
    """The staff member may not use this offer or campaign."""


class NotFoundError(Exception):
    """No such offer, campaign or saved segment."""


FormData = MultiMapping[Any]  # a POSTed form or a query string


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value[:MAX_FIELD] if isinstance(value, str) else ""


def _values(form: FormData, name: str) -> list[str]:
    """Every value of a multi-select, or a typed list ("NH, 35"), as strings."""
    found: list[str] = []
    for value in form.getall(name, []):
        if isinstance(value, str):
            found.extend(part.strip() for part in value.replace(";", ",").split(","))
    return [value[:64] for value in found if value][:100]


# ---------------------------------------------------------------------------- the push, shown


@dataclass(frozen=True)
class Run:
    """A stretch of push text with Telegram formatting (``b``, ``i``, ``u``, ``s``...)."""

    text: str
    styles: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """Return the run for the preview endpoint."""
        return {"text": self.text, "styles": list(self.styles)}


@dataclass(frozen=True)
class ButtonView:
    """An inline button as Telegram shows it: a label, and a link for URL buttons."""

    text: str
    url: str | None = None

    def as_json(self) -> dict[str, Any]:
        """Return the button for the preview endpoint."""
        return {"text": self.text, "url": self.url}


@dataclass(frozen=True)
class PushView:
    """The push as text runs and rows of buttons: no HTML reaches the page as HTML."""

    runs: list[Run]
    buttons: list[list[ButtonView]]
    chars: int

    def as_json(self) -> dict[str, Any]:
        """Return the preview for the page's script."""
        return {
            "runs": [run.as_json() for run in self.runs],
            "buttons": [[b.as_json() for b in line] for line in self.buttons],
            "chars": self.chars,
        }


# Telegram's HTML subset, mapped to the few styles the preview draws.
_STYLE_OF_TAG = {
    "b": "b",
    "strong": "b",
    "i": "i",
    "em": "i",
    "u": "u",
    "ins": "u",
    "s": "s",
    "strike": "s",
    "del": "s",
    "code": "code",
    "pre": "code",
    "a": "a",
    "tg-spoiler": "spoiler",
    "blockquote": "quote",
}


class _Runs(HTMLParser):
    """Split Telegram HTML into text runs; tags outside the subset keep only their text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.runs: list[Run] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        style = _STYLE_OF_TAG.get(tag)
        if tag == "span" and ("class", "tg-spoiler") in attrs:
            style = "spoiler"
        self.open.append(style or "")

    def handle_endtag(self, tag: str) -> None:
        if self.open:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        styles = tuple(sorted({s for s in self.open if s}))
        if self.runs and self.runs[-1].styles == styles:
            self.runs[-1] = Run(self.runs[-1].text + data, styles)
        else:
            self.runs.append(Run(data, styles))


def push_view(message: Outgoing) -> PushView:
    """Turn the push the dispatcher would send into runs and buttons for a page."""
    parser = _Runs()
    parser.feed(message.text)
    parser.close()
    runs = parser.runs
    return PushView(
        runs=runs,
        buttons=[[ButtonView(b.text, b.url) for b in line] for line in message.buttons],
        chars=sum(len(run.text) for run in runs),
    )


# ---------------------------------------------------------------------------- campaign filters


@dataclass
class Filters:
    """A composer's filters: what the form shows, and what ``CampaignService`` gets."""

    crebos: list[str] = field(default_factory=list)
    levels: list[int] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    situations: list[str] = field(default_factory=list)
    sectors: list[str] = field(default_factory=list)
    interests: list[str] = field(default_factory=list)
    cohort_from: int | None = None
    cohort_to: int | None = None
    active_days: int = 0

    def stored(self) -> dict[str, Any]:
        """Return the filters as JSON (a saved segment)."""
        return {
            **{name: list(getattr(self, name)) for name in FILTER_LISTS},
            "cohort_from": self.cohort_from,
            "cohort_to": self.cohort_to,
            "active_days": self.active_days,
        }

    def for_service(self, now: datetime) -> dict[str, Any]:
        """Return the keyword filters of ``CampaignService.segment_for`` and ``create``."""
        return {
            **{name: list(getattr(self, name)) for name in FILTER_LISTS},
            "cohort_from": self.cohort_from,
            "cohort_to": self.cohort_to,
            "active_since": now - timedelta(days=self.active_days) if self.active_days else None,
        }


def _year(value: object) -> int | None:
    if isinstance(value, int) and 1950 <= value <= 2100:
        return value
    if isinstance(value, str) and value.strip().isdigit() and 1950 <= int(value) <= 2100:
        return int(value)
    return None


class Studio(ConsoleService):
    """What the offers and campaigns pages read and do, for one staff member at a time."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        renderer: Renderer,
        catalogue: Catalogue,
        clock: Clock,
        campaigns: CampaignService,
        wake: Callable[[], None] | None,
    ) -> None:
        self.storage = storage
        self.renderer = renderer
        self.catalogue = catalogue
        self.clock = clock
        self.campaigns = campaigns
        super().__init__(settings, wake)
        self._launches: set[asyncio.Task[None]] = set()  # held: unreferenced tasks may vanish

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def team_codes(principal: Principal) -> set[str]:
        """Return the codes of the member's teams."""
        return {team.code for team in principal.teams}

    def may_use(self, principal: Principal, offer: Offer) -> bool:
        """Admins use every offer; a coordinator only those with one of their teams as contact."""
        if principal.is_admin:
            return True
        return offer.contact_team is not None and offer.contact_team in self.team_codes(principal)

    async def all_team_codes(self) -> list[tuple[str, str]]:
        """Return (code, name) of every team."""
        async with self.storage.transaction() as tx:
            return [(t.code, t.name) for t in await tx.teams.all()]

    # ------------------------------------------------------------------ offers

    @staticmethod
    def offer_row(form: FormData) -> dict[str, Any]:
        """Return the form as the row an import file would hold (the same validator reads it)."""
        row: dict[str, Any] = {name: _text(form, name) for name in TEXT_FIELDS}
        for name in LIST_FIELDS:
            row[name] = ",".join(_values(form, name))
        return row

    def check(
        self, principal: Principal, row: Mapping[str, Any], teams: set[str]
    ) -> tuple[Offer | None, dict[str, str]]:
        """Validate a row as the import does; return the offer, or a reason block per field."""
        offers, errors = self.campaigns.validate([dict(row)], teams)
        reasons = _first_reason_per_field(errors)
        team = str(row.get("contact_team") or "").strip()
        if not principal.is_admin and "contact_team" not in reasons:
            # A coordinator's offer belongs to one of their own teams (see docs/console.md).
            if not team:
                reasons["contact_team"] = "web.offer_team_required"
            elif team not in self.team_codes(principal):
                reasons["contact_team"] = "web.offer_team_not_yours"
        if reasons or not offers:
            return None, reasons
        return offers[0], {}

    async def create_offer(
        self, principal: Principal, row: Mapping[str, Any]
    ) -> tuple[Offer | None, dict[str, str]]:
        """Validate and store one offer; on any error store nothing."""
        async with self.storage.transaction() as tx:
            teams = await tx.offers.team_codes()
            offer, reasons = self.check(principal, row, teams)
            if offer is None:
                return None, reasons
            await tx.offers.add_offers([offer])
        assert offer.id is not None
        # A new offer reaches the alumni it matches, as an imported one does.
        await self.campaigns.match(offer.id)
        self.wake()
        return offer, {}

    async def preview(self, principal: Principal, row: Mapping[str, Any], locale: str) -> PushView:
        """Render the push for a form as it stands, even half filled in."""
        async with self.storage.transaction() as tx:
            teams = await tx.offers.team_codes()
        offer, reasons = self.check(principal, row, teams)
        locale = locale if locale in LOCALES else "nl"
        if offer is None:
            empty = self.renderer.label("web.preview_empty", locale)
            offer = _draft(row, reasons, empty, self.clock.now())
        return push_view(self.campaigns.push(offer, 0, locale))

    async def offers(self) -> list[Offer]:
        """Return every offer, newest first."""
        async with self.storage.transaction() as tx:
            return await tx.offers.offers()

    async def offer(self, principal: Principal, offer_id: int) -> Offer:
        """Return an offer the member may use."""
        async with self.storage.transaction() as tx:
            offer = await tx.offers.offer(offer_id)
        if offer is None:
            raise NotFoundError()
        if not self.may_use(principal, offer):
            raise OfferRefusedError()
        return offer

    # ------------------------------------------------------------------ audience

    def filters(self, form: FormData) -> tuple[Filters, dict[str, str]]:
        """Read the composer's filters; return them and a reason block per wrong field."""
        errors: dict[str, str] = {}
        chosen = Filters()
        catalogue = self.catalogue
        checks: dict[str, Callable[[str], bool]] = {
            "crebos": lambda v: catalogue.programme(v) is not None,
            "locations": lambda v: catalogue.item("location", v) is not None,
            "regions": lambda v: (
                catalogue.item("region", v) is not None or catalogue.is_postcode_area(v)
            ),
            "situations": lambda v: v in SITUATIONS,
            "sectors": lambda v: catalogue.item("sector", v) is not None,
            "interests": lambda v: catalogue.item("interest", v) is not None,
        }
        for name, valid in checks.items():
            values = _values(form, name)
            if name == "regions":
                values = [v if v.isdigit() else v.upper() for v in values]
            if any(not valid(v) for v in values):
                errors[name] = f"web.filter_error_{name}"
            setattr(chosen, name, [v for v in dict.fromkeys(values) if valid(v)])
        levels = _values(form, "levels")
        if any(not (v.isdigit() and 1 <= int(v) <= 4) for v in levels):
            errors["levels"] = "web.filter_error_levels"
        chosen.levels = sorted({int(v) for v in levels if v.isdigit() and 1 <= int(v) <= 4})
        for name in ("cohort_from", "cohort_to"):
            raw = _text(form, name).strip()
            year = _year(raw)
            if raw and year is None:
                errors[name] = "web.filter_error_cohort"
            setattr(chosen, name, year)
        if chosen.cohort_from and chosen.cohort_to and chosen.cohort_from > chosen.cohort_to:
            errors["cohort_to"] = "web.filter_error_cohort_order"
        days = _text(form, "active_days").strip() or "0"
        if not days.isdigit() or int(days) not in ACTIVE_DAYS:
            errors["active_days"] = "web.filter_error_active"
        else:
            chosen.active_days = int(days)
        return chosen, errors

    @staticmethod
    def filters_of(saved: SavedSegment) -> Filters:
        """Rebuild the filters of a saved segment (values from an older catalogue kept)."""
        data = saved.filters
        chosen = Filters()
        for name in FILTER_LISTS:
            values = data.get(name) or []
            setattr(chosen, name, [int(v) for v in values] if name == "levels" else values)
        chosen.cohort_from = _year(data.get("cohort_from"))
        chosen.cohort_to = _year(data.get("cohort_to"))
        days = data.get("active_days")
        chosen.active_days = days if isinstance(days, int) and days in ACTIVE_DAYS else 0
        return chosen

    async def count(self, offer: Offer, chosen: Filters) -> tuple[int, int, int]:
        """Return (reached, already, maybe) for the offer with these filters, now.

        ``reached``: alumni who get it if sent now; ``already``: the rest of the segment,
        left out because a campaign already brought them this offer; ``maybe``: of those,
        the ones whom only a push of unknown delivery brought it.
        """
        assert offer.id is not None
        segment = self.campaigns.segment_for(offer, **chosen.for_service(self.clock.now()))
        return await self.campaigns.reach(segment, offer.id)

    @staticmethod
    def purpose_of(offer: Offer) -> str:
        """Return the consent purpose an offer's kind requires (never optional)."""
        return PURPOSE_OF_KIND[offer.kind]

    # ------------------------------------------------------------------ saved segments

    async def saved_segments(self) -> list[SavedSegment]:
        """Return every saved segment."""
        async with self.storage.transaction() as tx:
            return await SavedSegmentRepository(tx.session).all()

    async def saved_segment(self, segment_id: int) -> SavedSegment:
        """Return one saved segment."""
        async with self.storage.transaction() as tx:
            found = await SavedSegmentRepository(tx.session).get(segment_id)
        if found is None:
            raise NotFoundError()
        return found

    async def save_segment(self, principal: Principal, name: str, chosen: Filters) -> SavedSegment:
        """Save the filters under a name (replacing an earlier set of that name)."""
        async with self.storage.transaction() as tx:
            return await SavedSegmentRepository(tx.session).save(
                name, chosen.stored(), principal.staff_id, self.clock.now()
            )

    # ------------------------------------------------------------------ campaigns

    def send_at(self, form: FormData) -> tuple[datetime | None, str | None]:
        """Read "now" or a school-time moment; return it in UTC, or a reason block."""
        if _text(form, "when") != "later":
            return None, None
        raw = _text(form, "send_at").strip()
        try:
            local = datetime.fromisoformat(raw)
        except ValueError:
            return None, "web.send_at_invalid"
        if local.tzinfo is not None:
            return None, "web.send_at_invalid"
        moment = local.replace(tzinfo=self.zone).astimezone(UTC)
        now = self.clock.now()
        if moment <= now:
            return None, "web.send_at_past"
        if moment > now + MAX_SCHEDULE:
            return None, "web.send_at_far"
        return moment, None

    async def start_campaign(
        self, offer: Offer, chosen: Filters, send_at: datetime | None
    ) -> Campaign:
        """Create the campaign; send it now, or schedule it (the scheduler job launches it)."""
        assert offer.id is not None
        campaign = await self.campaigns.create(
            offer.id, send_at=send_at, **chosen.for_service(self.clock.now())
        )
        assert campaign.id is not None
        if send_at is None:
            # Queueing a large audience takes a while (about 30 s for 10,000 on a small
            # machine): it runs in the background so the page answers at once and shows the
            # progress. A launch cut off by a restart is picked up by the scheduler job.
            task = asyncio.create_task(self._launch(campaign.id))
            self._launches.add(task)
            task.add_done_callback(self._launches.discard)
        return campaign

    async def _launch(self, campaign_id: int) -> None:
        try:
            await self.campaigns.launch(campaign_id)
        except Exception:
            logger.exception("campaign %s: the launch from the console failed", campaign_id)
            return
        self.wake()

    async def campaign(self, principal: Principal, campaign_id: int) -> tuple[Campaign, Offer]:
        """Return a campaign and its offer (any member may look; acting is checked apart)."""
        async with self.storage.transaction() as tx:
            campaign = await tx.offers.campaign(campaign_id)
            offer = await tx.offers.offer(campaign.offer_id) if campaign else None
        if campaign is None or offer is None:
            raise NotFoundError()
        return campaign, offer

    async def recent_campaigns(self) -> list[tuple[Campaign, Offer | None]]:
        """Return the newest campaigns with their offers."""
        async with self.storage.transaction() as tx:
            found = await CampaignListRepository(tx.session).recent()
            offers = {o.id: o for o in await tx.offers.offers()}
        return [(c, offers.get(c.offer_id)) for c in found]

    async def progress(self, campaign_id: int) -> dict[str, Any]:
        """Return the campaign's numbers and how far it is (for the page and its poll)."""
        try:
            progress = await self.campaigns.progress(campaign_id)
            stats = await self.campaigns.stats(campaign_id, progress)
        except LookupError:
            raise NotFoundError() from None
        total, done = int(progress["total"]), int(progress["done"])
        finished = bool(progress["finished"])
        percent = 100 if finished else (min(100, round(100 * done / total)) if total else 0)
        status = "finished" if finished else str(progress["status"])
        return {
            "status": status,
            "stats": stats,
            "done": done,
            "total": total,
            "percent": percent,
            "finished": finished,
            "controls": [a for a in CONTROL_ACTIONS if status in CONTROLS_IN[a]],
        }

    async def control(self, campaign_id: int, action: str) -> bool:
        """Pause, resume or cancel; False when the campaign's state does not allow it."""
        method = {
            "pause": self.campaigns.pause,
            "resume": self.campaigns.resume,
            "cancel": self.campaigns.cancel,
        }[action]
        try:
            await method(campaign_id)
        except CampaignStateError:
            return False
        except LookupError:
            raise NotFoundError() from None
        self.wake()
        return True

    async def preview_to_me(self, principal: Principal, offer: Offer, locale: str) -> bool:
        """Queue the push, marked as a preview, to the member's own Telegram chat."""
        async with self.storage.transaction() as tx:
            member = await tx.staff.by_id(principal.staff_id)
        if member is None or member.telegram_user_id is None:
            return False
        try:
            await self.campaigns.preview(
                member.telegram_user_id,
                offer_id=offer.id,
                locale=locale if locale in LOCALES else "nl",
            )
        except PreviewError:
            return False
        self.wake()
        return True


def _first_reason_per_field(errors: list[RowError]) -> dict[str, str]:
    reasons: dict[str, str] = {}
    for error in errors:
        reasons.setdefault(error.field, error.reason)
    return reasons


def _draft(row: Mapping[str, Any], reasons: Mapping[str, str], empty: str, now: datetime) -> Offer:
    """An unsaved offer from a half-filled form, for the preview only (never stored)."""

    def ok(name: str) -> str | None:
        value = str(row.get(name) or "").strip()
        return value if value and name not in reasons else None

    def day(name: str) -> date | None:
        value = ok(name)
        return date.fromisoformat(value) if value else None

    kind = str(row.get("kind") or "").strip().lower()
    return Offer(
        kind=kind if kind in KINDS else OfferKind.NEWS.value,
        title=str(row.get("title") or "").strip()[:120] or empty,
        body=str(row.get("text") or "").strip()[:1500] or empty,
        provider=str(row.get("provider") or "").strip()[:120] or None,
        link=ok("link"),
        starts_on=day("starts_on"),
        deadline=day("deadline"),
        cost=str(row.get("cost") or "").strip()[:64] or None,
        created_at=now,
    )
