"""Console security: headers, sessions, role checks and CSRF, as aiohttp middlewares.

Every route declares who may use it with :func:`access` (``public``, ``staff`` or ``admin``);
a route without a declaration is refused (deny by default). Every POST carries a CSRF token:
routes for signed-in staff check the session's token, public routes (the login form) check a
token signed with ``ALUMNIBOT_SECRET_KEY`` over a random value held in a short-lived cookie.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web
from aiohttp.web_urldispatcher import MatchInfoError

from bot.core.settings import Settings
from handlers.web.pages import PRINCIPAL, console_of, principal_of

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)

PUBLIC, STAFF, ADMIN = "public", "staff", "admin"
_ACCESS_ATTR = "console_access"
CSRF_FIELD = "csrf_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    # Pages show personal data: no browser or proxy may keep a copy.
    "Cache-Control": "no-store",
    "Server": "alumnibot",
}


def access(level: str) -> Callable[[H], H]:
    """Declare who may use a route: ``public``, ``staff`` (any signed-in member) or ``admin``."""
    if level not in (PUBLIC, STAFF, ADMIN):
        raise ValueError(f"unknown access level {level!r}")

    def mark(handler: H) -> H:
        setattr(handler, _ACCESS_ATTR, level)
        return handler

    return mark


def session_cookie_name(settings: Settings) -> str:
    """Name the session cookie; ``__Host-`` binds it to this host over HTTPS (no tossing)."""
    return "__Host-alumnibot_session" if settings.web_cookie_secure else "alumnibot_session"


def login_cookie_name(settings: Settings) -> str:
    """Name the cookie holding the login form's random value."""
    return "__Host-alumnibot_login" if settings.web_cookie_secure else "alumnibot_login"


def set_cookie(
    response: web.StreamResponse, settings: Settings, name: str, value: str, max_age: int
) -> None:
    """Set a console cookie: HttpOnly, SameSite=Strict, path /, Secure unless turned off."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=settings.web_cookie_secure,
        httponly=True,
        samesite="Strict",
    )


def clear_cookie(response: web.StreamResponse, settings: Settings, name: str) -> None:
    """Expire a console cookie (with the same attributes, or browsers keep ``__Host-`` ones)."""
    set_cookie(response, settings, name, "", max_age=0)


def client_ip(request: web.Request) -> str:
    """Return the client's address; behind a local reverse proxy, its X-Forwarded-For entry.

    Only a proxy on this machine (a loopback peer) is trusted, and only the last entry, which
    that proxy appended itself; anything a client writes into the header comes before it.
    """
    peer = request.remote or "unknown"
    forwarded = request.headers.get("X-Forwarded-For")
    try:
        loopback = ipaddress.ip_address(peer).is_loopback
    except ValueError:
        loopback = False
    if forwarded and loopback:
        last = forwarded.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            return peer
    return peer


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Put the security headers on every response, errors and redirects included."""
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    if console_of(request).settings.web_cookie_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000"


@web.middleware
async def load_session(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Find the signed-in staff member from the session cookie (a live session only)."""
    console = console_of(request)
    token = request.cookies.get(session_cookie_name(console.settings))
    request[PRINCIPAL] = await console.auth.session(token) if token else None
    return await handler(request)


def _access_of(request: web.Request) -> str | None:
    if isinstance(request.match_info, MatchInfoError):  # 404 / 405: nothing to protect
        return PUBLIC
    return getattr(request.match_info.handler, _ACCESS_ATTR, None)


@web.middleware
async def check_access(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a route to anyone its declared access level does not admit."""
    level = _access_of(request)
    principal = principal_of(request)
    if level is None:
        logger.error("console route %s declares no access level: refused", request.path)
        return forbidden(request)
    if level != PUBLIC and principal is None:
        raise web.HTTPSeeOther("/inbox/login")
    if level == ADMIN and principal is not None and not principal.is_admin:
        logger.warning("staff member %s refused an admin page", principal.staff_id)
        return forbidden(request)
    return await handler(request)


@web.middleware
async def check_csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse any state-changing request without the right CSRF token (403)."""
    if request.method in _SAFE_METHODS:
        return await handler(request)
    form = await request.post()
    given = form.get(CSRF_FIELD)
    given = given if isinstance(given, str) else ""
    console = console_of(request)
    principal = principal_of(request)
    if _access_of(request) == PUBLIC:
        nonce = request.cookies.get(login_cookie_name(console.settings))
        ok = console.login_tokens.valid(nonce, given, console.clock.now())
    else:
        ok = principal is not None and hmac.compare_digest(
            given.encode(), principal.csrf_token.encode()
        )
    if not ok:
        logger.warning(
            "console %s %s refused: missing or wrong CSRF token", request.method, request.path
        )
        return forbidden(request)
    return await handler(request)


def forbidden(request: web.Request) -> web.Response:
    """Render the 403 page."""
    return console_of(request).pages.render(request, "forbidden.html", status=403)
