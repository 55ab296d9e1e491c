"""My Telegram: a staff member links their own Telegram account, without the CLI.

The page makes a deep link (``t.me/<bot>?start=staff-...``, valid 10 minutes, see
``bot.staff.service.StaffLinks``); opening it in Telegram sends it to the bot, which links the
account that sent it. Linked, a member answers in the team group and gets previews.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.staff.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from bot.staff.service import NotFoundError
from handlers.web.pages import console_of, signed_in
from handlers.web.security import ADMIN, STAFF, access, form_of


def _render(request: web.Request, **ctx: Any) -> web.Response:
    shown = {"unlinked": False, "url": None, "command": None, "expires": None, **ctx}
    return console_of(request).pages.render(request, "account.html", **shown)


@access(STAFF)
async def show_telegram(request: web.Request) -> web.StreamResponse:
    """Show whether the member's Telegram account is linked, with the link button."""
    console = console_of(request)
    linked = await console.links.linked(signed_in(request).staff_id)
    return _render(request, linked=linked, unlinked=request.query.get("done") == "unlinked")


@access(STAFF)
async def make_link(request: web.Request) -> web.StreamResponse:
    """Make a fresh link for the signed-in member and show it (once: it is not stored)."""
    console = console_of(request)
    principal = signed_in(request)
    try:
        token, expires = await console.links.issue(principal.staff_id)
    except NotFoundError:
        raise web.HTTPForbidden() from None
    await console.auth.audit(principal, "issue:telegram-link")
    username = console.bot_username
    response = _render(
        request,
        linked=await console.links.linked(principal.staff_id),
        url=f"https://t.me/{username}?start={token}" if username else None,
        command=f"/start {token}",
        expires=console.studio.when(expires),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@access(STAFF)
async def unlink(request: web.Request) -> web.StreamResponse:
    """Forget the member's Telegram account (to link another one)."""
    console = console_of(request)
    principal = signed_in(request)
    await console.links.unlink(principal.staff_id)
    await console.auth.audit(principal, "unlink:telegram")
    raise web.HTTPSeeOther("/account/telegram?done=unlinked")


# ---------------------------------------------------------------------------- password


def _password_page(request: web.Request, *, status: int = 200, **ctx: Any) -> web.Response:
    shown = {"error": None, "done": False, "min_length": MIN_PASSWORD_LENGTH, **ctx}
    return console_of(request).pages.render(request, "password.html", status=status, **shown)


@access(STAFF)
async def show_password(request: web.Request) -> web.StreamResponse:
    """Show the form to change one's own password (the only page with a temporary one)."""
    return _password_page(request, done=request.query.get("done") == "changed")


@access(STAFF)
async def change_password(request: web.Request) -> web.StreamResponse:
    """Change the member's own password; every other session of theirs ends."""
    console = console_of(request)
    form = form_of(request)
    current, new, again = (form.get(name, "") for name in ("current", "new", "again"))
    if not current or len(current) > 1024:
        reason: str | None = "current_wrong"
    elif new != again:
        reason = "mismatch"
    elif len(new) > MAX_PASSWORD_LENGTH:
        reason = "too_long"
    else:
        reason = await console.auth.change_password(signed_in(request), current, new)
    if reason is not None:
        return _password_page(request, status=422, error=f"password_{reason}")
    raise web.HTTPSeeOther("/account/password?done=changed")


@access(ADMIN)
async def reset_password(request: web.Request) -> web.StreamResponse:
    """Give a member a temporary password, shown once; their sessions end at once."""
    console = console_of(request)
    staff_id = int(request.match_info["id"])
    try:
        password, until = await console.staff.reset_password(signed_in(request).staff_id, staff_id)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    member = next(m for m in await console.staff.list_staff() if m.id == staff_id)
    response = console.pages.render(
        request,
        "password_reset.html",
        member=member,
        password=password,
        until=console.studio.when(until),
    )
    response.headers["Cache-Control"] = "no-store"
    return response
