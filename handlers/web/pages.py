"""What every console route shares: the services, the page renderer and the request state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.campaigns.studio import Studio
from bot.core.clock import Clock
from bot.core.render import DEFAULT_LOCALE, LOCALES, Renderer
from bot.core.settings import Settings
from bot.inbox.desk import Desk
from bot.staff.service import ConsoleAuth, LoginFormToken, Principal, StaffLinks, StaffService
from bot.surveys.console import SurveyConsole

LOCALE_COOKIE = "alumnibot_lang"


@dataclass
class Console:
    """Services and settings of one console app."""

    settings: Settings
    clock: Clock
    auth: ConsoleAuth
    staff: StaffService
    login_tokens: LoginFormToken
    pages: Pages
    desk: Desk
    studio: Studio
    surveys: SurveyConsole
    links: StaffLinks
    bot_username: str | None = None  # for t.me links; None: the page shows the command


CONSOLE: web.AppKey[Console] = web.AppKey("console", Console)
PRINCIPAL: web.RequestKey[Principal | None] = web.RequestKey("principal", Principal)


def console_of(request: web.Request) -> Console:
    """Return the console services of the app serving ``request``."""
    return request.app[CONSOLE]


def principal_of(request: web.Request) -> Principal | None:
    """Return the signed-in staff member, or None."""
    return request.get(PRINCIPAL)


def signed_in(request: web.Request) -> Principal:
    """Return the signed-in staff member of a route that requires one."""
    principal = request.get(PRINCIPAL)
    if principal is None:  # the access middleware lets no such request through
        raise web.HTTPSeeOther("/inbox/login")
    return principal


def pick_page_locale(request: web.Request) -> str:
    """Choose the page language: the staff member's choice (cookie), else Accept-Language."""
    chosen = request.cookies.get(LOCALE_COOKIE)
    if chosen in LOCALES:
        return chosen
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(request.headers.get("Accept-Language", "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag.strip().lower().split("-")[0]))
    for _, _, language in sorted(ranked):
        if language in LOCALES:
            return language
    return DEFAULT_LOCALE


class Pages:
    """Renders ``content/web/*.html``: autoescape on, undefined names are errors."""

    def __init__(self, renderer: Renderer, pages_dir: Path) -> None:
        self._renderer = renderer
        # A separate environment from the Telegram texts: HTML pages, always autoescaped.
        self.env = Environment(
            loader=FileSystemLoader(pages_dir),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(
        self, request: web.Request, name: str, *, status: int = 200, **ctx: Any
    ) -> web.Response:
        """Render a page in the request's language; words come from ``content/<locale>/web.j2``."""
        locale = pick_page_locale(request)
        t = self.words(request)
        html = self.env.get_template(name).render(
            t=t, locale=locale, principal=principal_of(request), path=request.path, **ctx
        )
        return web.Response(text=html, content_type="text/html", charset="utf-8", status=status)

    def words(self, request: web.Request) -> Callable[..., str]:
        """Return ``t(block, **values)``: a console word in the request's language, plain text.

        ``values`` fill the block: a ``count`` for its plural form, for example.
        """
        return self.words_in(pick_page_locale(request))

    def words_in(self, locale: str) -> Callable[..., str]:
        """Return ``t(block, **values)`` for one language (``words`` picks it per request)."""

        def t(block: str, **values: Any) -> str:
            # Plain text (unescaped) so the page's autoescape escapes it exactly once.
            return self._renderer.label(f"web.{block}", locale, **values)

        return t
