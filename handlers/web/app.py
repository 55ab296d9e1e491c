"""Build the console's aiohttp application: services, middlewares in order, routes."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.staff.service import LoginFormToken
from handlers.graph import Graph
from handlers.web import account, auth, inbox, monitor, offers, registry, surveys
from handlers.web.errors import show_not_found
from handlers.web.pages import CONSOLE, Console, Pages
from handlers.web.security import (
    PUBLIC,
    Handler,
    access,
    add_security_headers,
    check_access,
    check_csrf,
    check_input,
    load_session,
)

_MAX_BODY = 64 * 1024  # forms only; nothing large is ever posted


def console_app(graph: Graph, *, bot_username: str | None = None) -> web.Application:
    """Create the coordinator console app on the process's service graph.

    Args:
        graph: every service (``handlers.graph.build_graph``). Beside the bot it is the bot's
            own graph, so web answers are queued and sent like Telegram ones; on its own the
            graph's messenger only queues and the running bot sends.
        bot_username: the bot's @username, for the deep link that links a member's Telegram
            account; without it the page shows the command to send the bot instead.
    """
    deps, settings = graph.deps, graph.deps.settings
    console = Console(
        settings=settings,
        clock=deps.clock,
        auth=graph.auth,
        staff=graph.staff,
        login_tokens=LoginFormToken(settings.secret_key.get_secret_value()),
        pages=Pages(deps.renderer, settings.content_dir / "web"),
        desk=graph.desk,
        studio=graph.studio,
        surveys=graph.survey_console,
        links=graph.staff_links,
        bot_username=bot_username,
    )
    # Order matters: the 404 page is outermost, so it covers unknown URLs too (and shows the
    # menu to who is signed in); the session is loaded next (the 400 page shows who is signed
    # in); then every query and form is read and checked once, so bad input gets 400 on every
    # route, signed in or not; the role check runs before the CSRF check, so a signed-out
    # POST is sent to the login form.
    app = web.Application(
        middlewares=[show_not_found, load_session, check_input, check_access, check_csrf],
        client_max_size=_MAX_BODY,
    )
    app[CONSOLE] = console
    app[monitor.MONITOR] = graph.monitor
    app.on_response_prepare.append(add_security_headers)
    app.router.add_get("/", inbox.go_to_inbox)
    app.router.add_get("/inbox", inbox.show_inbox)
    app.router.add_get("/inbox/updates", inbox.list_marker)
    app.router.add_get(r"/inbox/c/{id:\d{1,12}}", inbox.show_conversation)
    app.router.add_get(r"/inbox/c/{id:\d{1,12}}/messages", inbox.new_messages)
    app.router.add_post(r"/inbox/c/{id:\d{1,12}}/{action:[a-z]{1,12}}", inbox.act)
    app.router.add_get("/inbox/staff", inbox.show_staff)
    app.router.add_get("/offers", offers.show_offers)
    app.router.add_post("/offers", offers.create_offer)
    app.router.add_post("/offers/preview", offers.preview_offer)
    app.router.add_get(r"/offers/{id:\d{1,12}}/edit", offers.show_offer_edit)
    app.router.add_post(r"/offers/{id:\d{1,12}}", offers.edit_offer)
    app.router.add_post(r"/offers/{id:\d{1,12}}/withdraw", offers.withdraw_offer)
    app.router.add_get(r"/offers/{id:\d{1,12}}/match", offers.confirm_match)
    app.router.add_post(r"/offers/{id:\d{1,12}}/match", offers.send_match)
    app.router.add_get("/campaigns", offers.show_campaigns)
    app.router.add_post("/campaigns", offers.send_campaign)
    app.router.add_get("/campaigns/new", offers.show_composer)
    app.router.add_post("/campaigns/count", offers.count_audience)
    app.router.add_post("/campaigns/segments", offers.save_segment)
    app.router.add_post("/campaigns/preview", offers.preview_to_me)
    app.router.add_get(r"/campaigns/{id:\d{1,12}}", offers.show_campaign)
    app.router.add_get(r"/campaigns/{id:\d{1,12}}/progress", offers.campaign_progress)
    app.router.add_post(r"/campaigns/{id:\d{1,12}}/{action:[a-z]{1,12}}", offers.control_campaign)
    app.router.add_get("/surveys", surveys.show_surveys)
    app.router.add_get(r"/surveys/{code:[a-z0-9][a-z0-9_-]{0,47}}", surveys.show_survey)
    app.router.add_post(r"/surveys/{code:[a-z0-9][a-z0-9_-]{0,47}}", surveys.send_survey)
    registry.add_routes(app, graph)  # also lets its upload form be larger than 64 KiB
    app.router.add_get("/monitor", monitor.show_monitor)
    app.router.add_get("/monitor.csv", monitor.export_monitor)
    app.router.add_get(r"/monitor/chart/{name:[a-z]{1,16}}.svg", monitor.monitor_chart)
    app.router.add_get("/account/telegram", account.show_telegram)
    app.router.add_post("/account/telegram", account.make_link)
    app.router.add_post("/account/telegram/unlink", account.unlink)
    app.router.add_get("/account/password", account.show_password)
    app.router.add_post("/account/password", account.change_password)
    app.router.add_post(r"/inbox/staff/{id:\d{1,12}}/password", account.reset_password)
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
