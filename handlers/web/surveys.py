"""Console pages for surveys: the list, and sending one to a segment.

Every member may look (titles and counts, never people). Sending is for admins, and for
coordinators of the team a survey names (``team:`` in its file), as a campaign is for who
may use its offer. As with campaigns, choosing a segment never sends: the form leads to a
confirmation that names how many alumni get an invitation, and only its own button sends.
"""

from __future__ import annotations

from aiohttp import web

from bot.campaigns.segments import Filters, Form, text_of
from bot.surveys.console import SendRefusedError, UnknownSurveyError
from bot.surveys.definition import Survey
from handlers.web.pages import console_of, pick_page_locale, signed_in
from handlers.web.security import STAFF, access, forbidden, form_of

_MAX_YEAR = 8  # what a typed graduation year is kept as when the page comes back


def _id(raw: object) -> int | None:
    """Return a positive id from a query value, or None."""
    if isinstance(raw, str) and raw.isdigit() and len(raw) <= 12:
        return int(raw)
    return None


async def _list_page(request: web.Request, *, unknown: bool = False) -> web.Response:
    """The list; ``unknown``: the address named a survey there is none of (404)."""
    console = console_of(request)
    rows = await console.surveys.listing(signed_in(request), pick_page_locale(request))
    return console.pages.render(
        request,
        "surveys.html",
        status=404 if unknown else 200,
        rows=rows,
        k=console.surveys.k,
        unknown=unknown,
    )


async def _survey_of(request: web.Request) -> Survey | web.Response:
    """Return the survey of the address, or the list saying there is no such survey."""
    try:
        return console_of(request).surveys.survey(request.match_info["code"])
    except UnknownSurveyError:
        return await _list_page(request, unknown=True)


async def _survey_page(
    request: web.Request,
    survey: Survey,
    *,
    chosen: Filters | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    stale: bool = False,
    status: int = 200,
) -> web.Response:
    """One survey: its facts, the result of a send, and the segment form."""
    console = console_of(request)
    locale = pick_page_locale(request)
    sent_id = _id(request.query.get("sent")) if request.method == "GET" else None
    sent = await console.surveys.sent(survey, sent_id) if sent_id is not None else None
    return console.pages.render(
        request,
        "survey.html",
        status=status,
        survey=survey,
        row=await console.surveys.row(signed_in(request), survey, locale),
        chosen=chosen or Filters(),
        errors=errors or {},
        values=values or {},
        stale=stale,
        sent=sent,
        k=console.surveys.k,
        catalogue=console.surveys.catalogue,
    )


def _words(request: web.Request, reasons: dict[str, str]) -> dict[str, str]:
    """Turn reason blocks (``web.filter_error_*``) into the page language's words."""
    t = console_of(request).pages.words(request)
    return {name: t(reason.removeprefix("web.")) for name, reason in reasons.items()}


def _typed(form: Form) -> dict[str, str]:
    """The years as typed, shown again when the form comes back with an error."""
    return {
        name: text_of(form, name)[:_MAX_YEAR]
        for name in ("cohort_from", "cohort_to")
        if text_of(form, name)
    }


@access(STAFF)
async def show_surveys(request: web.Request) -> web.StreamResponse:
    """List the surveys with their counts and, for who may, the way to send one."""
    return await _list_page(request)


@access(STAFF)
async def show_survey(request: web.Request) -> web.StreamResponse:
    """Show one survey with the segment form; ``?sent=`` shows how a send went."""
    survey = await _survey_of(request)
    if isinstance(survey, web.Response):
        return survey
    return await _survey_page(request, survey)


@access(STAFF)
async def send_survey(request: web.Request) -> web.StreamResponse:
    """Confirm, then queue the invitations; a confirmed form sends once.

    The form's button leads to a confirmation page naming how many alumni get an
    invitation; only its own button (``confirm=yes`` with the number it showed and a
    one-time key) sends. Should the number have changed, the page is shown again with the
    new one. The same confirmed form posted again leads to the first send's result.
    """
    console = console_of(request)
    principal = signed_in(request)
    survey = await _survey_of(request)
    if isinstance(survey, web.Response):
        return survey
    surveys = console.surveys
    if not surveys.may_send(principal, survey):
        await console.auth.audit(principal, "refused:survey", survey.code)
        return forbidden(request)
    form = form_of(request)
    chosen, reasons = surveys.filters(form)
    if reasons or form.get("back"):
        return await _survey_page(
            request,
            survey,
            chosen=chosen,
            errors=_words(request, reasons),
            values=_typed(form),
            status=422 if reasons else 200,
        )
    confirmed = form.get("confirm") == "yes"
    form_key = form.get("form_key")
    if confirmed and not surveys.is_form_key(form_key):
        return await _survey_page(request, survey, chosen=chosen, stale=True, status=422)
    # Counted before the key is looked up: a first post of this form that commits in
    # between is then either found here or met by the key's unique index when sending, so
    # a double click shows the send's result, never "the number changed".
    reach = await surveys.reach(survey, chosen)
    if confirmed and isinstance(form_key, str):
        earlier = await surveys.sent_with(form_key)
        if earlier is not None and earlier.survey != survey.code:
            return await _survey_page(request, survey, chosen=chosen, stale=True, status=422)
        if earlier is not None:  # posted again (a double click, a reload): sent once
            raise web.HTTPSeeOther(f"/surveys/{survey.code}?sent={earlier.id}")
    if not confirmed or form.get("expected") != str(reach) or reach == 0:
        return console.pages.render(
            request,
            "survey_confirm.html",
            survey=survey,
            title=survey.title(pick_page_locale(request)),
            chosen=chosen,
            catalogue=surveys.catalogue,
            reach=reach,
            changed=confirmed,
            hidden=chosen.as_form(),
            form_key=form_key if surveys.is_form_key(form_key) else surveys.new_form_key(),
        )
    assert isinstance(form_key, str)
    try:
        sent, new = await surveys.send(principal, survey, chosen, form_key)
    except SendRefusedError:  # checked above; the service checks again
        return forbidden(request)
    if new:
        await console.auth.audit(principal, "send:survey", str(sent.id))
    raise web.HTTPSeeOther(f"/surveys/{survey.code}?sent={sent.id}")
