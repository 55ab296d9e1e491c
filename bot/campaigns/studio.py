"""The console's offers and campaigns: forms in, :class:`CampaignService` calls out.

Validation of an offer is the import's own (``CampaignService.validate``); this module only
turns a form into the row an import file would hold, decides who may use which offer, and
turns the push the dispatcher would send into something a page can show safely.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from bot.campaigns.segments import Filters, Form, filters_of, parse_filters, text_of, values_of
from bot.campaigns.service import (
    LIST_FIELDS,
    CampaignService,
    CampaignStateError,
    PreviewError,
    RowError,
)
from bot.core.console import ConsoleService
from bot.core.deps import Deps
from bot.core.messenger import Outgoing
from bot.core.render import DEFAULT_LOCALE, LOCALES
from bot.staff.service import Principal
from storage.models import Campaign, Offer, OfferKind, SavedSegment

logger = logging.getLogger(__name__)

KINDS = tuple(kind.value for kind in OfferKind)
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
    "language",
)
CONTROL_ACTIONS = ("pause", "resume", "cancel")
# Which (shown) campaign states each control fits; the service checks again.
CONTROLS_IN = {
    "pause": {"scheduled", "launching", "sending"},
    "resume": {"paused"},
    "cancel": {"draft", "scheduled", "launching", "sending", "paused"},
}
MAX_SCHEDULE = timedelta(days=366)


@dataclass(frozen=True)
class Composer:
    """The campaign composer's page: the offers the member may send, the chosen one, reach."""

    offers: list[Offer]
    offer: Offer | None
    purpose: str | None
    reach: int
    already: int
    maybe: int  # of ``already``: reached only by a push of unknown delivery
    segments: list[SavedSegment]


@dataclass(frozen=True)
class CampaignPage:
    """One campaign's page: the campaign, its offer, numbers, and whether the member may act."""

    campaign: Campaign
    offer: Offer
    purpose: str
    progress: dict[str, Any]
    may_act: bool


class OfferRefusedError(Exception):
    """The staff member may not use this offer or campaign."""


class NotFoundError(Exception):
    """No such offer, campaign or saved segment."""


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


class Studio(ConsoleService):
    """What the offers and campaigns pages read and do, for one staff member at a time."""

    def __init__(
        self, deps: Deps, campaigns: CampaignService, wake: Callable[[], None] | None
    ) -> None:
        self.storage = deps.storage
        self.renderer = deps.renderer
        self.catalogue = deps.catalogue
        self.clock = deps.clock
        self.campaigns = campaigns
        super().__init__(deps.settings, wake)
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

    async def team_choices(self, principal: Principal) -> list[tuple[str, str]]:
        """Teams a member may name as an offer's contact: admins any, coordinators their own."""
        if not principal.is_admin:
            return [(team.code, team.name) for team in principal.teams]
        async with self.storage.transaction() as tx:
            return [(t.code, t.name) for t in await tx.teams.all()]

    # ------------------------------------------------------------------ offers

    @staticmethod
    def offer_row(form: Form) -> dict[str, Any]:
        """Return the form as the row an import file would hold (the same validator reads it)."""
        row: dict[str, Any] = {name: text_of(form, name) for name in TEXT_FIELDS}
        for name in LIST_FIELDS:
            row[name] = ",".join(values_of(form, name))
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
        # Saving never sends: reaching alumni is a deliberate, confirmed step (a campaign,
        # or personal matching from the offer's row), see docs/console.md.
        return offer, {}

    async def edit_offer(
        self, principal: Principal, offer_id: int, row: Mapping[str, Any]
    ) -> tuple[Offer | None, dict[str, str]]:
        """Validate a changed offer as a new one; store it, or nothing on any error.

        Raises:
            NotFoundError: no such offer, or it is withdrawn.
            OfferRefusedError: the member may not use this offer.
        """
        current = await self.offer(principal, offer_id)
        if current.withdrawn_at is not None:
            raise NotFoundError()
        async with self.storage.transaction() as tx:
            teams = await tx.offers.team_codes()
        offer, reasons = self.check(principal, row, teams)
        if offer is None:
            return None, reasons
        if not await self.campaigns.edit(offer_id, offer):
            raise NotFoundError()
        offer.id = offer_id
        return offer, {}

    async def withdraw_offer(self, principal: Principal, offer_id: int) -> bool:
        """Withdraw an offer the member may use; False if it was withdrawn already.

        Raises:
            NotFoundError: no such offer.
            OfferRefusedError: the member may not use this offer.
        """
        await self.offer(principal, offer_id)
        return await self.campaigns.withdraw(offer_id)

    async def preview(self, principal: Principal, row: Mapping[str, Any], locale: str) -> PushView:
        """Render the push for a form as it stands, even half filled in."""
        async with self.storage.transaction() as tx:
            teams = await tx.offers.team_codes()
        offer, reasons = self.check(principal, row, teams)
        locale = locale if locale in LOCALES else DEFAULT_LOCALE
        if offer is None:
            empty = self.renderer.label("web.preview_empty", locale)
            offer = _draft(row, reasons, empty, self.clock.now())
        return push_view(self.campaigns.push(offer, 0, locale))

    async def offers(self) -> list[Offer]:
        """Return every offer, newest first."""
        async with self.storage.transaction() as tx:
            return await tx.offers.offers()

    async def offer_list(self, principal: Principal) -> list[tuple[Offer, bool]]:
        """Return every offer, newest first, and whether the member may use it now.

        Using is sending, editing and withdrawing: never once an offer is withdrawn.
        """
        return [
            (offer, self.may_use(principal, offer) and offer.withdrawn_at is None)
            for offer in await self.offers()
        ]

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

    def filters(self, form: Form) -> tuple[Filters, dict[str, str]]:
        """Read the composer's filters; return them and a reason block per wrong field."""
        return parse_filters(form, self.catalogue)

    @staticmethod
    def filters_of(saved: SavedSegment) -> Filters:
        """Rebuild the filters of a saved segment (values from an older catalogue kept)."""
        return filters_of(saved.filters)

    async def composer(
        self, principal: Principal, offer_id: int | None, chosen: Filters
    ) -> Composer:
        """Return the composer for an offer the member may use (the newest one by default)."""
        usable = [
            o for o in await self.offers() if self.may_use(principal, o) and o.withdrawn_at is None
        ]
        offer = next((o for o in usable if o.id == offer_id), usable[0] if usable else None)
        reach, already, maybe = await self.count(offer, chosen) if offer else (0, 0, 0)
        return Composer(
            offers=usable,
            offer=offer,
            purpose=self.purpose_of(offer) if offer else None,
            reach=reach,
            already=already,
            maybe=maybe,
            segments=await self.saved_segments(),
        )

    async def count(self, offer: Offer, chosen: Filters) -> tuple[int, int, int]:
        """Return (reached, already, maybe) for the offer with these filters, now.

        ``reached``: alumni who get it if sent now; ``already``: the rest of the segment,
        left out because a campaign already brought them this offer; ``maybe``: of those,
        the ones whom only a push of unknown delivery brought it.
        """
        assert offer.id is not None
        segment = self.campaigns.segment_for(offer, **chosen.for_service(self.clock.now()))
        return await self.campaigns.reach(segment, offer.id)

    def purpose_of(self, offer: Offer) -> str:
        """Return the consent purpose an offer's kind requires (never optional)."""
        return self.campaigns.purpose_of(offer)

    # ------------------------------------------------------------------ saved segments

    async def saved_segments(self) -> list[SavedSegment]:
        """Return every saved segment."""
        async with self.storage.transaction() as tx:
            return await tx.segments.all()

    async def saved_segment(self, segment_id: int) -> SavedSegment:
        """Return one saved segment."""
        async with self.storage.transaction() as tx:
            found = await tx.segments.get(segment_id)
        if found is None:
            raise NotFoundError()
        return found

    async def save_segment(self, principal: Principal, name: str, chosen: Filters) -> SavedSegment:
        """Save the filters under a name (replacing an earlier set of that name)."""
        async with self.storage.transaction() as tx:
            return await tx.segments.save(
                name, chosen.stored(), principal.staff_id, self.clock.now()
            )

    # ------------------------------------------------------------------ campaigns

    def send_at(self, form: Form) -> tuple[datetime | None, str | None]:
        """Read "now" or a school-time moment; return it in UTC, or a reason block."""
        if text_of(form, "when") != "later":
            return None, None
        raw = text_of(form, "send_at").strip()
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

    def matches_personally(self, offer: Offer) -> bool:
        """Return whether the offer can go to alumni by their own interests or programme."""
        return self.campaigns.matches_personally(offer)

    async def match_reach(self, offer: Offer) -> tuple[int, int, int]:
        """Return (now, digest, already) for sending an offer by personal matching."""
        assert offer.id is not None
        return await self.campaigns.match_reach(offer.id)

    async def start_match(self, offer: Offer) -> Campaign | None:
        """Send an offer to the alumni it matches, as they chose; None if it matches nobody.

        Queued in the background like "send now" (the campaign page shows the progress).
        """
        assert offer.id is not None
        if not self.matches_personally(offer):
            return None
        campaign = await self.campaigns.create(
            offer.id, kind="match", **self.campaigns.match_filters(offer)
        )
        assert campaign.id is not None
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

    async def campaign_page(self, principal: Principal, campaign_id: int) -> CampaignPage:
        """Return a campaign's page (any member may look; acting is for who may use its offer)."""
        campaign, offer = await self.campaign(principal, campaign_id)
        return CampaignPage(
            campaign=campaign,
            offer=offer,
            purpose=self.purpose_of(offer),
            progress=await self.progress(campaign_id),
            may_act=self.may_use(principal, offer),
        )

    async def recent_campaigns(self) -> list[tuple[Campaign, Offer | None, str]]:
        """Return the newest campaigns with their offers and their status as the page shows it.

        The list says what each campaign's own page says (:func:`shown_status`): a campaign
        whose every push went out is "finished" in both places.
        """
        async with self.storage.transaction() as tx:
            found = await tx.offers.recent_campaigns()
            offers = {o.id: o for o in await tx.offers.offers()}
            busy = await tx.offers.with_open_pushes(c.id for c in found if c.id is not None)
        return [
            (c, offers.get(c.offer_id), shown_status(c.status, c.id not in busy)) for c in found
        ]

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
        status = shown_status(str(progress["status"]), finished)
        return {
            "status": status,
            "stats": stats,
            "done": done,
            "total": total,
            "percent": percent,
            "finished": finished,
            "controls": [a for a in CONTROL_ACTIONS if status in CONTROLS_IN[a]],
        }

    async def control(self, principal: Principal, campaign_id: int, action: str) -> bool:
        """Pause, resume or cancel; False when the campaign's state does not allow it.

        Raises:
            NotFoundError: no such campaign.
            OfferRefusedError: the member may not use the campaign's offer.
        """
        _, offer = await self.campaign(principal, campaign_id)
        if not self.may_use(principal, offer):
            raise OfferRefusedError()
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

    async def resend_unknown(self, principal: Principal, campaign_id: int) -> int | None:
        """Send a campaign's pushes of unknown delivery again; None if its state refuses.

        Raises:
            NotFoundError: no such campaign.
            OfferRefusedError: the member may not use the campaign's offer.
        """
        _, offer = await self.campaign(principal, campaign_id)
        if not self.may_use(principal, offer):
            raise OfferRefusedError()
        try:
            queued = await self.campaigns.resend_unknown(
                campaign_id, staff_id=principal.staff_id, via="console"
            )
        except CampaignStateError:
            return None
        self.wake()
        return queued

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
                locale=locale if locale in LOCALES else DEFAULT_LOCALE,
            )
        except PreviewError:
            return False
        self.wake()
        return True


def shown_status(status: str, drained: bool) -> str:
    """The one status word of a campaign, for its page and for the list alike.

    A sending campaign with no push waiting or in flight is "finished"; every other state
    shows as it is (a cancelled campaign stays "cancelled", however far it got).
    """
    return "finished" if status == "sending" and drained else status


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
    language = ok("language") or DEFAULT_LOCALE
    return Offer(
        kind=kind if kind in KINDS else OfferKind.NEWS.value,
        title=str(row.get("title") or "").strip()[:120] or empty,
        body=str(row.get("text") or "").strip()[:1500] or empty,
        provider=str(row.get("provider") or "").strip()[:120] or None,
        link=ok("link"),
        starts_on=day("starts_on"),
        deadline=day("deadline"),
        cost=str(row.get("cost") or "").strip()[:64] or None,
        language=language if language in LOCALES else DEFAULT_LOCALE,
        created_at=now,
    )
