"""Console pages for signed-in staff: the inbox and, for admins, the staff list."""

from __future__ import annotations

from aiohttp import web

from handlers.web.pages import console_of, signed_in
from handlers.web.security import ADMIN, PUBLIC, STAFF, access


@access(PUBLIC)
async def go_to_inbox(request: web.Request) -> web.StreamResponse:
    """Send ``/`` to the inbox (which sends strangers on to the login form)."""
    raise web.HTTPFound("/inbox")


@access(STAFF)
async def show_inbox(request: web.Request) -> web.StreamResponse:
    """Show the inbox: for now the empty state and who is signed in."""
    console = console_of(request)
    principal = signed_in(request)
    await console.auth.audit(principal, "read:inbox")
    return console.pages.render(request, "inbox.html")


@access(ADMIN)
async def show_staff(request: web.Request) -> web.StreamResponse:
    """Show every staff member (admins only)."""
    console = console_of(request)
    members = await console.staff.list_staff(reader_id=signed_in(request).staff_id)
    return console.pages.render(request, "staff.html", members=members)
