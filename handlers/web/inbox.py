"""Console pages for signed-in staff: the inbox, its conversations and, for admins, staff."""

from __future__ import annotations

from aiohttp import web

from bot.inbox.desk import STATUSES, MissingError, RefusedError, marker_of
from handlers.web.pages import console_of, signed_in
from handlers.web.security import ADMIN, PUBLIC, STAFF, access, forbidden, form_of

ACTIONS = frozenset({"reply", "note", "canned", "assign", "move", "close"})
MAX_DRAFT = 20_000  # what a refused answer gives back to its box (more than any message)
_MAX_SEARCH = 100


@access(PUBLIC)
async def go_to_inbox(request: web.Request) -> web.StreamResponse:
    """Send ``/`` to the inbox (which sends strangers on to the login form)."""
    raise web.HTTPFound("/inbox")


def _filters(request: web.Request) -> tuple[str | None, str, str]:
    """Read status (``open`` by default, ``all`` for any), team code and search text."""
    status = request.query.get("status", "open")
    chosen = status if status in STATUSES else None
    team = request.query.get("team", "")[:32]
    search = request.query.get("q", "").strip()[:_MAX_SEARCH]
    return chosen, team, search


def _conversation_id(request: web.Request) -> int:
    return int(request.match_info["id"])


@access(STAFF)
async def show_inbox(request: web.Request) -> web.StreamResponse:
    """Show the conversations of the member's teams (admins: all), filtered and searched."""
    console = console_of(request)
    principal = signed_in(request)
    status, team, search = _filters(request)
    teams, rows = await console.desk.listing(principal, status, team, search or None)
    await console.auth.audit(principal, "read:inbox")
    return console.pages.render(
        request,
        "inbox.html",
        rows=rows,
        teams=teams,
        statuses=STATUSES,
        chosen_status=status or "all",
        team=team,
        search=search,
        marker=marker_of(rows),
    )


@access(STAFF)
async def list_marker(request: web.Request) -> web.StreamResponse:
    """Return a value that changes when the list would (the page polls it)."""
    console = console_of(request)
    status, team, search = _filters(request)
    marker = await console.desk.marker(signed_in(request), status, team, search or None)
    return web.json_response({"marker": marker})


@access(STAFF)
async def show_conversation(request: web.Request) -> web.StreamResponse:
    """Show one conversation of the member's teams; refuse any other (nothing of it shown)."""
    return await _conversation_page(request, _conversation_id(request))


async def _conversation_page(
    request: web.Request,
    conversation_id: int,
    *,
    problem: str | None = None,
    action: str | None = None,
    draft: str = "",
) -> web.StreamResponse:
    """The conversation page; after an action that could not be done, why, with the draft."""
    console = console_of(request)
    principal = signed_in(request)
    try:
        thread = await console.desk.thread(
            principal, conversation_id, console.pages.words(request)
        )
    except MissingError:
        raise web.HTTPNotFound() from None
    except RefusedError:
        await console.auth.audit(principal, "refused:conversation", str(conversation_id))
        return forbidden(request)
    await console.auth.audit(principal, "read:conversation", str(conversation_id))
    return console.pages.render(
        request,
        "conversation.html",
        thread=thread,
        conversation=thread.conversation,
        card=thread.card,
        last_id=thread.lines[-1].id if thread.lines else 0,
        can_act=console.desk.service is not None,
        problem=problem,
        problem_action=action,
        draft=draft,
        status=422 if problem else 200,
    )


@access(STAFF)
async def new_messages(request: web.Request) -> web.StreamResponse:
    """Return the conversation's messages after ``?after=<id>`` as JSON (the page polls it)."""
    console = console_of(request)
    principal = signed_in(request)
    conversation_id = _conversation_id(request)
    after = request.query.get("after", "0")
    if not after.isdigit() or len(after) > 12:
        raise web.HTTPBadRequest()
    try:
        lines = await console.desk.lines_after(
            principal, conversation_id, int(after), console.pages.words(request)
        )
    except MissingError:
        raise web.HTTPNotFound() from None
    except RefusedError:
        return web.json_response({"error": "forbidden"}, status=403)
    if lines:  # only reads that showed something new are worth an audit row
        await console.auth.audit(principal, "read:conversation", str(conversation_id))
    return web.json_response({"messages": [line.as_json() for line in lines]})


@access(STAFF)
async def act(request: web.Request) -> web.StreamResponse:
    """Reply, note, send a canned reply, assign, move or close; then back to the page (PRG)."""
    console = console_of(request)
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise web.HTTPNotFound()
    conversation_id = _conversation_id(request)
    form = form_of(request)
    try:
        problem = await console.desk.act(signed_in(request), conversation_id, action, form)
    except MissingError:
        raise web.HTTPNotFound() from None
    except RefusedError:
        return forbidden(request)
    if problem is not None:
        # Not done: say why on the page, with what was typed still in its box.
        text = form.get("text")
        draft = text[:MAX_DRAFT] if isinstance(text, str) else ""
        return await _conversation_page(
            request, conversation_id, problem=problem, action=action, draft=draft
        )
    if action == "move":  # it may now belong to a team the member is not in
        raise web.HTTPSeeOther("/inbox")
    raise web.HTTPSeeOther(f"/inbox/c/{conversation_id}")


@access(ADMIN)
async def show_staff(request: web.Request) -> web.StreamResponse:
    """Show every staff member (admins only)."""
    console = console_of(request)
    members = await console.staff.list_staff(reader_id=signed_in(request).staff_id)
    return console.pages.render(request, "staff.html", members=members, when=console.desk.when)
