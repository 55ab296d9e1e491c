"""The alumni monitor in the console: tables, server-rendered SVG charts, a CSV export.

Every member may look: the monitor counts groups and hides small and derivable cells, it
never shows a person. Reading it is audited like other staff reads.
"""

from __future__ import annotations

from aiohttp import web

from bot.monitor.service import MonitorService
from handlers.web.pages import console_of, pick_page_locale
from handlers.web.security import STAFF, access

MONITOR: web.AppKey[MonitorService] = web.AppKey("monitor", MonitorService)
CHARTS = ("situation", "response")


@access(STAFF)
async def show_monitor(request: web.Request) -> web.StreamResponse:
    """The monitor page: every table, each chart above the table it is drawn from."""
    console = console_of(request)
    report = await request.app[MONITOR].report(pick_page_locale(request))
    return console.pages.render(request, "monitor.html", report=report, charts=CHARTS)


@access(STAFF)
async def export_monitor(request: web.Request) -> web.StreamResponse:
    """The monitor's tables as CSV (hidden cells as "<k")."""
    console = console_of(request)
    service = request.app[MONITOR]
    report = await service.report(pick_page_locale(request))
    body = service.csv(report, console.pages.words(request))
    return web.Response(
        text=body,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="alumnimonitor.csv"'},
    )


@access(STAFF)
async def monitor_chart(request: web.Request) -> web.StreamResponse:
    """One chart as an SVG image."""
    name = request.match_info["name"]
    if name not in CHARTS:
        raise web.HTTPNotFound()
    console = console_of(request)
    service = request.app[MONITOR]
    report = await service.report(pick_page_locale(request))
    svg = service.chart(report, name, console.pages.words(request))
    if svg is None:
        raise web.HTTPNotFound()
    # Shown with <img>: an image runs no script, and pygal is told to add none.
    return web.Response(text=svg, content_type="image/svg+xml", charset="utf-8")
