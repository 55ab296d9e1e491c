"""Console pages for offers and campaigns.

Create an offer with a live preview, compose a campaign with a live audience count, save
segments, follow a campaign's progress.

Every member may look (offers and numbers hold no personal data); acting on an offer or a
campaign is for admins, and for coordinators when the offer's contact team is theirs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDict

from bot.campaigns.segments import (
    ACTIVE_DAYS,
    FILTER_LISTS,
    SITUATIONS,
    Filters,
    Form,
    text_of,
)
from bot.campaigns.service import LIST_FIELDS
from bot.campaigns.studio import CONTROL_ACTIONS, KINDS, NotFoundError, OfferRefusedError
from handlers.web.pages import console_of, pick_page_locale, signed_in
from handlers.web.security import STAFF, access, forbidden, form_of
from storage.models import Offer

_MAX_NAME = 64
RESEND = "resend"


def _id(raw: object) -> int | None:
    """Return a positive id from a form or query value, or None."""
    if isinstance(raw, str) and raw.isdigit() and len(raw) <= 12:
        return int(raw)
    return None


def _words(request: web.Request, reasons: dict[str, str]) -> dict[str, str]:
    """Turn reason blocks (``offers.error_title``, ``web.*``) into the page language's words."""
    console = console_of(request)
    locale = pick_page_locale(request)
    return {
        name: console.studio.renderer.label(reason, locale) for name, reason in reasons.items()
    }


def _form_of(row: dict[str, Any]) -> dict[str, Any]:
    """The values a re-shown offer form needs: text as typed, lists as selected sets."""
    shown: dict[str, Any] = dict(row)
    for name in LIST_FIELDS:
        shown[name] = [v for v in str(row.get(name) or "").split(",") if v]
    return shown


async def _offers_page(
    request: web.Request,
    *,
    row: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    console = console_of(request)
    principal = signed_in(request)
    studio = console.studio
    row = row or {**studio.offer_row(MultiDict()), "kind": KINDS[0]}
    preview = await studio.preview(principal, row, pick_page_locale(request))
    return console.pages.render(
        request,
        "offers.html",
        status=status,
        offers=await studio.offer_list(principal),
        kinds=KINDS,
        form=_form_of(row),
        errors=errors or {},
        teams=await studio.team_choices(principal),
        catalogue=studio.catalogue,
        preview=preview,
        created=_id(request.query.get("created")),
        updated=_id(request.query.get("updated")),
        withdrawn=_id(request.query.get("withdrawn")),
    )


@access(STAFF)
async def show_offers(request: web.Request) -> web.StreamResponse:
    """List the offers, with the form for a new one and its preview."""
    return await _offers_page(request)


@access(STAFF)
async def create_offer(request: web.Request) -> web.StreamResponse:
    """Validate the form as the import validates a row; save it, or show every error."""
    console = console_of(request)
    principal = signed_in(request)
    row = console.studio.offer_row(form_of(request))
    offer, reasons = await console.studio.create_offer(principal, row)
    if offer is None:
        return await _offers_page(request, row=row, errors=_words(request, reasons), status=422)
    await console.auth.audit(principal, "create:offer", str(offer.id))
    raise web.HTTPSeeOther(f"/offers?created={offer.id}#offer-{offer.id}")


@access(STAFF)
async def preview_offer(request: web.Request) -> web.StreamResponse:
    """Return the push for the form as it stands, as JSON (the form's script asks while typing)."""
    console = console_of(request)
    form = form_of(request)
    locale = form.get("preview_locale")
    view = await console.studio.preview(
        signed_in(request),
        console.studio.offer_row(form),
        locale if isinstance(locale, str) else pick_page_locale(request),
    )
    return web.json_response(view.as_json())


# ---------------------------------------------------------------------------- composer


async def _composer(
    request: web.Request,
    *,
    offer_id: int | None,
    chosen: Filters,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    console = console_of(request)
    principal = signed_in(request)
    studio = console.studio
    page = await studio.composer(principal, offer_id, chosen)
    return console.pages.render(
        request,
        "composer.html",
        status=status,
        offers=page.offers,
        offer=page.offer,
        purpose=page.purpose,
        chosen=chosen,
        reach=page.reach,
        already=page.already,
        maybe=page.maybe,
        errors=errors or {},
        values=values or {},
        segments=page.segments,
        catalogue=studio.catalogue,
        situations=SITUATIONS,
        active_days=ACTIVE_DAYS,
        timezone=str(studio.zone),
        preview=request.query.get("preview") if request.method == "GET" else None,
    )


def _typed(form: Form) -> dict[str, str]:
    """What was typed in the composer's free fields, kept as typed when the page comes back."""
    return {
        name: text_of(form, name)[:_MAX_NAME]
        for name in ("when", "send_at", "segment_name", "cohort_from", "cohort_to")
        if text_of(form, name)
    }


@access(STAFF)
async def show_composer(request: web.Request) -> web.StreamResponse:
    """Show the composer for ``?offer=``, with a saved segment's filters for ``?segment=``.

    Filters in the query (``regions=UT&levels=4``...) are shown as chosen: a preview sent
    to yourself comes back to the composer as it was.
    """
    console = console_of(request)
    chosen = Filters()
    values: dict[str, str] = {}
    segment_id = _id(request.query.get("segment"))
    if segment_id is not None:
        try:
            chosen = console.studio.filters_of(await console.studio.saved_segment(segment_id))
        except NotFoundError:
            raise web.HTTPNotFound() from None
    elif any(name in request.query for name in (*FILTER_LISTS, "cohort_from", "cohort_to")):
        chosen, _ = console.studio.filters(request.query)
        values = _typed(request.query)
    elif "when" in request.query:
        values = _typed(request.query)
    return await _composer(
        request, offer_id=_id(request.query.get("offer")), chosen=chosen, values=values
    )


async def _posted_offer(request: web.Request, *, as_json: bool = False) -> tuple[Form, Offer]:
    """Return the posted form and the offer it names, if the member may use that offer.

    An unknown offer is a 404. A refused one is audited (``refused:offer``) and a 403: the
    forbidden page, or ``{"error": "forbidden"}`` for the composer's script (``as_json``).
    """
    console = console_of(request)
    principal = signed_in(request)
    form = form_of(request)
    offer_id = _id(form.get("offer"))
    if offer_id is None:
        raise web.HTTPNotFound()
    try:
        offer = await console.studio.offer(principal, offer_id)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    except OfferRefusedError:
        await console.auth.audit(principal, "refused:offer", str(offer_id))
        refused = (
            web.json_response({"error": "forbidden"}, status=403)
            if as_json
            else forbidden(request)
        )
        raise web.HTTPForbidden(text=refused.text, content_type=refused.content_type) from None
    if offer.withdrawn_at is not None:  # withdrawn: never sent again
        raise web.HTTPNotFound()
    return form, offer


@access(STAFF)
async def count_audience(request: web.Request) -> web.StreamResponse:
    """Return how many alumni the composed segment reaches now, as JSON."""
    console = console_of(request)
    form, offer = await _posted_offer(request, as_json=True)
    chosen, reasons = console.studio.filters(form)
    purpose = console.studio.purpose_of(offer)
    reach, already, maybe = await console.studio.count(offer, chosen)
    t = console.pages.words(request)
    if reasons:
        # A count without the wrong values would look right and be wrong: none until fixed.
        return web.json_response(
            {
                "count": None,
                "count_suffix": t("audience_invalid"),
                "already": 0,
                "already_suffix": "",
                "maybe": 0,
                "purpose": purpose,
                "purpose_label": t(f"purpose_{purpose}"),
                "errors": _words(request, reasons),
            }
        )
    return web.json_response(
        {
            "count": reach,
            "count_suffix": t("audience_suffix", count=reach),
            "already": already,
            "maybe": maybe,
            "already_suffix": t("audience_already_suffix", count=already),
            "purpose": purpose,
            "purpose_label": t(f"purpose_{purpose}"),
            "errors": _words(request, reasons),
        }
    )


# Form fields the confirmation page does not carry on (they steer the step itself).
_STEP_FIELDS = frozenset({"csrf_token", "confirm", "back", "expected", "preview_locale"})


@access(STAFF)
async def send_campaign(request: web.Request) -> web.StreamResponse:
    """Confirm, then create the campaign and queue it (now or at a school-time moment).

    The composer's button only leads to a confirmation page that names how many alumni the
    campaign reaches; only its own button (``confirm=yes``, with the number it showed)
    sends. Should the number have changed meanwhile, the page is shown again with the new
    one. "Back" returns to the composer with everything as it was.
    """
    console = console_of(request)
    principal = signed_in(request)
    form, offer = await _posted_offer(request)
    chosen, reasons = console.studio.filters(form)
    send_at, late = console.studio.send_at(form)
    if late:
        reasons["send_at"] = late
    values = _typed(form)
    if reasons or form.get("back"):
        return await _composer(
            request,
            offer_id=offer.id,
            chosen=chosen,
            errors=_words(request, reasons),
            values=values,
            status=422 if reasons else 200,
        )
    reach, already, _maybe = await console.studio.count(offer, chosen)
    if form.get("confirm") != "yes" or form.get("expected") != str(reach):
        return console.pages.render(
            request,
            "confirm.html",
            action="/campaigns",
            back="/campaigns",
            offer=offer,
            purpose=console.studio.purpose_of(offer),
            reach=reach,
            digest=None,
            already=already,
            send_at=console.studio.when(send_at) if send_at else None,
            changed=form.get("confirm") == "yes",
            hidden=[(k, v) for k, v in form.items() if k not in _STEP_FIELDS],
        )
    campaign = await console.studio.start_campaign(offer, chosen, send_at)
    await console.auth.audit(principal, "send:campaign", str(campaign.id))
    raise web.HTTPSeeOther(f"/campaigns/{campaign.id}")


async def _offer_of(request: web.Request) -> Offer:
    """Return the offer of the URL, if the member may use it (404, or audited 403)."""
    console = console_of(request)
    principal = signed_in(request)
    offer_id = int(request.match_info["id"])
    try:
        offer = await console.studio.offer(principal, offer_id)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    except OfferRefusedError:
        await console.auth.audit(principal, "refused:offer", str(offer_id))
        refused = forbidden(request)
        raise web.HTTPForbidden(text=refused.text, content_type=refused.content_type) from None
    if offer.withdrawn_at is not None:  # withdrawn: not sent, edited or withdrawn again
        raise web.HTTPNotFound()
    return offer


@access(STAFF)
async def show_offer_edit(request: web.Request) -> web.StreamResponse:
    """Show the form of an offer, filled in, to change it; and the button to withdraw it."""
    offer = await _offer_of(request)
    return await _offer_edit_page(request, offer, row=_row_of(offer))


async def _offer_edit_page(
    request: web.Request,
    offer: Offer,
    *,
    row: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    console = console_of(request)
    principal = signed_in(request)
    studio = console.studio
    return console.pages.render(
        request,
        "offer_edit.html",
        status=status,
        offer=offer,
        kinds=KINDS,
        form=_form_of(row),
        errors=errors or {},
        teams=await studio.team_choices(principal),
        catalogue=studio.catalogue,
        preview=await studio.preview(principal, row, pick_page_locale(request)),
    )


def _row_of(offer: Offer) -> dict[str, Any]:
    """An offer as the form holds it (and as an import row would)."""
    row: dict[str, Any] = {
        "kind": offer.kind,
        "title": offer.title,
        "text": offer.body,
        "provider": offer.provider or "",
        "link": offer.link or "",
        "starts_on": offer.starts_on.isoformat() if offer.starts_on else "",
        "deadline": offer.deadline.isoformat() if offer.deadline else "",
        "cost": offer.cost or "",
        "contact_team": offer.contact_team or "",
        "language": offer.language,
    }
    for name in LIST_FIELDS:
        row[name] = ",".join(str(v) for v in getattr(offer, name))
    return row


@access(STAFF)
async def edit_offer(request: web.Request) -> web.StreamResponse:
    """Save a changed offer (the same checks as a new one); what was sent stays as it was."""
    console = console_of(request)
    principal = signed_in(request)
    offer = await _offer_of(request)
    assert offer.id is not None
    row = console.studio.offer_row(form_of(request))
    try:
        changed, reasons = await console.studio.edit_offer(principal, offer.id, row)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    if changed is None:
        return await _offer_edit_page(
            request, offer, row=row, errors=_words(request, reasons), status=422
        )
    await console.auth.audit(principal, "edit:offer", str(offer.id))
    raise web.HTTPSeeOther(f"/offers?updated={offer.id}#offer-{offer.id}")


@access(STAFF)
async def withdraw_offer(request: web.Request) -> web.StreamResponse:
    """Withdraw an offer once the member ticked that they mean it; it is not sent any more."""
    console = console_of(request)
    principal = signed_in(request)
    offer = await _offer_of(request)
    assert offer.id is not None
    form = form_of(request)
    if form.get("confirm") != "yes":
        return await _offer_edit_page(
            request,
            offer,
            row=_row_of(offer),
            errors={"withdraw": console.pages.words(request)("offer_withdraw_unconfirmed")},
            status=422,
        )
    try:
        await console.studio.withdraw_offer(principal, offer.id)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    console.studio.wake()
    await console.auth.audit(principal, "withdraw:offer", str(offer.id))
    raise web.HTTPSeeOther(f"/offers?withdrawn={offer.id}#offer-{offer.id}")


@access(STAFF)
async def confirm_match(request: web.Request) -> web.StreamResponse:
    """Show whom personal matching would bring an offer, before anything is sent."""
    console = console_of(request)
    offer = await _offer_of(request)
    if not console.studio.matches_personally(offer):
        raise web.HTTPNotFound()
    now, digest, already = await console.studio.match_reach(offer)
    return console.pages.render(
        request,
        "confirm.html",
        action=f"/offers/{offer.id}/match",
        back=None,
        offer=offer,
        purpose=console.studio.purpose_of(offer),
        reach=now,
        digest=digest,
        already=already,
        send_at=None,
        changed=request.query.get("changed") == "1",
        hidden=[],
    )


@access(STAFF)
async def send_match(request: web.Request) -> web.StreamResponse:
    """Send an offer to the alumni it matches, once confirmed with the numbers shown."""
    console = console_of(request)
    principal = signed_in(request)
    offer = await _offer_of(request)
    form = form_of(request)
    if not console.studio.matches_personally(offer):
        raise web.HTTPNotFound()
    now, digest, _ = await console.studio.match_reach(offer)
    if form.get("confirm") != "yes" or form.get("expected") != str(now + digest):
        raise web.HTTPSeeOther(f"/offers/{offer.id}/match?changed=1")
    campaign = await console.studio.start_match(offer)
    assert campaign is not None
    await console.auth.audit(principal, "send:campaign", str(campaign.id))
    raise web.HTTPSeeOther(f"/campaigns/{campaign.id}")


@access(STAFF)
async def save_segment(request: web.Request) -> web.StreamResponse:
    """Save the composer's filters under a name; back to the composer with them loaded."""
    console = console_of(request)
    principal = signed_in(request)
    form, offer = await _posted_offer(request)
    chosen, reasons = console.studio.filters(form)
    name = str(form.get("segment_name") or "").strip()
    if not 1 <= len(name) <= _MAX_NAME:
        reasons["segment_name"] = "web.segment_name_invalid"
    if reasons:
        return await _composer(
            request,
            offer_id=offer.id,
            chosen=chosen,
            errors=_words(request, reasons),
            values=_typed(form),
            status=422,
        )
    saved = await console.studio.save_segment(principal, name, chosen)
    await console.auth.audit(principal, "save:segment", str(saved.id))
    raise web.HTTPSeeOther(f"/campaigns/new?offer={offer.id}&segment={saved.id}")


# ---------------------------------------------------------------------------- campaigns


def _campaign_id(request: web.Request) -> int:
    return int(request.match_info["id"])


@access(STAFF)
async def show_campaigns(request: web.Request) -> web.StreamResponse:
    """List the newest campaigns."""
    console = console_of(request)
    studio = console.studio
    rows = [
        (
            campaign,
            offer,
            studio.when(campaign.send_at or campaign.created_at),
            _status_label(request, status),
        )
        for campaign, offer, status in await studio.recent_campaigns()
    ]
    return console.pages.render(request, "campaigns.html", rows=rows)


@access(STAFF)
async def show_campaign(request: web.Request) -> web.StreamResponse:
    """Show one campaign: its numbers, progress and, for who may act, its controls."""
    console = console_of(request)
    principal = signed_in(request)
    studio = console.studio
    try:
        page = await studio.campaign_page(principal, _campaign_id(request))
    except NotFoundError:
        raise web.HTTPNotFound() from None
    refused = request.query.get("refused")
    unknown = int(page.progress["stats"]["unknown"])
    return console.pages.render(
        request,
        "campaign.html",
        campaign=page.campaign,
        offer=page.offer,
        purpose=page.purpose,
        progress=page.progress,
        status_label=_status_label(request, page.progress["status"]),
        send_at=studio.when(page.campaign.send_at),
        created_at=studio.when(page.campaign.created_at),
        may_act=page.may_act,
        controls=CONTROL_ACTIONS,
        refused=refused if refused in (*CONTROL_ACTIONS, RESEND) else None,
        unknown=unknown,
        # "Send again to these N": a second step, so the click is a decision.
        confirm_resend=page.may_act and unknown > 0 and request.query.get("confirm") == RESEND,
        resent=_id(request.query.get("resent")),
    )


@access(STAFF)
async def campaign_progress(request: web.Request) -> web.StreamResponse:
    """Return the campaign's numbers as JSON (the page polls it)."""
    console = console_of(request)
    try:
        progress = await console.studio.progress(_campaign_id(request))
    except NotFoundError:
        raise web.HTTPNotFound() from None
    label = _status_label(request, progress["status"])
    return web.json_response({**progress, "status_label": label})


def _status_label(request: web.Request, status: str) -> str:
    """Return a campaign status in words (a status without words yet shows as it is)."""
    try:
        return console_of(request).pages.words(request)(f"campaign_status_{status}")
    except KeyError:
        return status


@access(STAFF)
async def control_campaign(request: web.Request) -> web.StreamResponse:
    """Pause, resume or cancel a campaign of an offer the member may use."""
    console = console_of(request)
    principal = signed_in(request)
    action = request.match_info["action"]
    if action == RESEND:
        return await resend_unknown(request)
    if action not in CONTROL_ACTIONS:
        raise web.HTTPNotFound()
    campaign_id = _campaign_id(request)
    try:
        done = await console.studio.control(principal, campaign_id, action)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    except OfferRefusedError:
        await console.auth.audit(principal, "refused:campaign", str(campaign_id))
        return forbidden(request)
    if not done:
        raise web.HTTPSeeOther(f"/campaigns/{campaign_id}?refused={action}")
    await console.auth.audit(principal, f"{action}:campaign", str(campaign_id))
    raise web.HTTPSeeOther(f"/campaigns/{campaign_id}")


@access(STAFF)
async def preview_to_me(request: web.Request) -> web.StreamResponse:
    """Send the offer's push, marked as a preview, to the member's own Telegram chat."""
    console = console_of(request)
    principal = signed_in(request)
    form, offer = await _posted_offer(request)
    locale = form.get("preview_locale")
    sent = await console.studio.preview_to_me(
        principal, offer, locale if isinstance(locale, str) else pick_page_locale(request)
    )
    if sent:
        await console.auth.audit(principal, "preview:offer", str(offer.id))
    # Back to the composer as it was: its filters and moment travel in the query (codes and
    # numbers only, nothing about a person).
    kept = [(k, v) for k, v in form.items() if k not in _STEP_FIELDS and isinstance(v, str)]
    query = urlencode([*kept, ("preview", "sent" if sent else "unlinked")])
    raise web.HTTPSeeOther(f"/campaigns/new?{query}")


@access(STAFF)
async def resend_unknown(request: web.Request) -> web.StreamResponse:
    """Send a campaign's pushes of unknown delivery again (the confirmed second step).

    The service records it in the audit log with the member; the page then says how many.
    """
    console = console_of(request)
    principal = signed_in(request)
    campaign_id = _campaign_id(request)
    try:
        queued = await console.studio.resend_unknown(principal, campaign_id)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    except OfferRefusedError:
        await console.auth.audit(principal, "refused:campaign", str(campaign_id))
        return forbidden(request)
    if queued is None:
        raise web.HTTPSeeOther(f"/campaigns/{campaign_id}?refused={RESEND}")
    raise web.HTTPSeeOther(f"/campaigns/{campaign_id}?resent={queued}")
