"""Error pages in the console's own style and language, instead of aiohttp's bare text."""

from __future__ import annotations

from aiohttp import web

from handlers.web.pages import console_of
from handlers.web.security import Handler


@web.middleware
async def show_not_found(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer an unknown page or a missing record with a short 404 page.

    Runs outermost, so it also covers URLs no route knows. A script asking for JSON (the
    pages' polls) keeps the plain 404 it can read.
    """
    try:
        return await handler(request)
    except web.HTTPNotFound as missing:
        if "application/json" in request.headers.get("Accept", "") or (
            missing.content_type == "application/json"
        ):
            raise
        return console_of(request).pages.render(request, "not_found.html", status=404)
