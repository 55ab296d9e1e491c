"""Build the console's aiohttp application: services, middlewares in order, routes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from bot.inbox import InboxService
from bot.staff import ConsoleAuth, LoginFormToken, StaffService
from handlers.web import auth, inbox
from handlers.web.desk import Desk
from handlers.web.pages import CONSOLE, Console, ConsoleDeps, Pages
from handlers.web.security import (
    PUBLIC,
    Handler,
    access,
    add_security_headers,
    check_access,
    check_csrf,
    load_session,
)

_MAX_BODY = 64 * 1024  # forms only; nothing large is ever posted


def console_app(
    deps: ConsoleDeps,
    inbox_service: InboxService | None = None,
    wake: Callable[[], None] | None = None,
) -> web.Application:
    """Create the coordinator console app on the shared settings, storage, words and clock.

    Args:
        deps: settings, storage, words and clock (the bot's ``Deps`` has them all).
        inbox_service: the bot's inbox, for answering from the web; without it the inbox is
            read-only and every action is refused.
        wake: tells the bot's outbox dispatcher to send what an action queued, right away.
    """
    settings = deps.settings
    console = Console(
        settings=settings,
        clock=deps.clock,
        auth=ConsoleAuth(deps.storage, deps.clock, settings),
        staff=StaffService(deps.storage, deps.clock),
        login_tokens=LoginFormToken(settings.secret_key.get_secret_value()),
        pages=Pages(deps.renderer, settings.content_dir / "web"),
        desk=Desk(settings, deps.storage, deps.renderer, deps.clock, inbox_service, wake),
    )
    # Order matters: the session is loaded before the role check, and the role check runs
    # before the CSRF check, so a signed-out POST is sent to the login form.
    app = web.Application(
        middlewares=[load_session, check_access, check_csrf], client_max_size=_MAX_BODY
    )
    app[CONSOLE] = console
    app.on_response_prepare.append(add_security_headers)
    app.router.add_get("/", inbox.go_to_inbox)
    app.router.add_get("/inbox", inbox.show_inbox)
    app.router.add_get("/inbox/updates", inbox.list_marker)
    app.router.add_get(r"/inbox/c/{id:\d{1,12}}", inbox.show_conversation)
    app.router.add_get(r"/inbox/c/{id:\d{1,12}}/messages", inbox.new_messages)
    app.router.add_post(r"/inbox/c/{id:\d{1,12}}/{action:[a-z]{1,12}}", inbox.act)
    app.router.add_get("/inbox/staff", inbox.show_staff)
    app.router.add_get("/inbox/login", auth.show_login)
    app.router.add_post("/inbox/login", auth.log_in)
    app.router.add_post("/inbox/logout", auth.log_out)
    app.router.add_post("/inbox/language", auth.choose_language)
    app.router.add_get("/inbox/static/{name}", _static_files(settings.content_dir / "web"))
    return app


_STATIC_TYPES = {".css": "text/css", ".svg": "image/svg+xml", ".js": "text/javascript"}


def _static_files(pages_dir: Path) -> Handler:
    """Serve the stylesheet, icon and script, read once at start-up (no paths from URLs)."""
    files = {
        path.name: (path.read_bytes(), _STATIC_TYPES[path.suffix])
        for path in (pages_dir / "static").iterdir()
        if path.suffix in _STATIC_TYPES
    }

    @access(PUBLIC)
    async def static_file(request: web.Request) -> web.StreamResponse:
        found = files.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        body, content_type = found
        return web.Response(body=body, content_type=content_type)

    return static_file
