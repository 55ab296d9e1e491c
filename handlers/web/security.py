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
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.web_urldispatcher import MatchInfoError
from multidict import MultiDict, MultiDictProxy

from bot.core.settings import Settings
from bot.core.text import ENCODING, TextError, checked_text
from handlers.web.pages import PRINCIPAL, console_of, principal_of

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)

PUBLIC, STAFF, ADMIN = "public", "staff", "admin"
_ACCESS_ATTR = "console_access"
CSRF_FIELD = "csrf_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# With an admin's temporary password a member may only choose a new one (or leave).
WHILE_TEMPORARY = frozenset({"/account/password", "/inbox/logout", "/inbox/language"})
_MAX_FIELDS = 500  # the composer has the most fields: ~100 checkboxes
_MAX_NAME_LENGTH = 64
FORM: web.RequestKey[MultiDictProxy[str]] = web.RequestKey("form", MultiDictProxy)
# A route that takes a file (the registry's upload) says so before the form is read; its
# files are kept apart from the checked text fields (see files_of).
FILES_ALLOWED: web.RequestKey[bool] = web.RequestKey("files_allowed", bool)
FILES: web.RequestKey[dict[str, web.FileField]] = web.RequestKey("files", dict)

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
    if (
        level != PUBLIC
        and principal is not None
        and principal.must_change_password
        and request.path not in WHILE_TEMPORARY
    ):
        raise web.HTTPSeeOther("/account/password")
    return await handler(request)


class BadInputError(Exception):
    """A request body or query this console will not read; ``reason`` picks the words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _checked_pairs(pairs: list[tuple[str, str]]) -> MultiDictProxy[str]:
    """Return the fields as a read-only form once every name and value passes the text check."""
    if len(pairs) > _MAX_FIELDS:
        raise BadInputError("length")
    form: MultiDict[str] = MultiDict()
    for name, value in pairs:
        form.add(checked_text(name, max_length=_MAX_NAME_LENGTH), checked_text(value))
    return MultiDictProxy(form)


def _parse_urlencoded(text: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=_MAX_FIELDS,
        )
    except UnicodeDecodeError:
        raise BadInputError(ENCODING) from None
    except ValueError:  # more fields than max_num_fields
        raise BadInputError("length") from None


def _utf8_charset(charset: str | None) -> bool:
    return charset is None or charset.lower().replace("_", "-") in ("utf-8", "utf8")


async def read_form(request: web.Request) -> MultiDictProxy[str]:
    """Read a POSTed form strictly: UTF-8 only, every field through the text check.

    A url-encoded or multipart form is read; an empty body is an empty form; any other body
    (JSON, a file, a charset other than UTF-8, a truncated or boundless multipart) is
    refused with :class:`BadInputError`, before anything looks at it.
    """
    if not request.body_exists:
        return MultiDictProxy(MultiDict())
    content_type = request.content_type
    if content_type == "application/x-www-form-urlencoded":
        if not _utf8_charset(request.charset):
            raise BadInputError(ENCODING)
        body = await request.read()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadInputError(ENCODING) from None
        return _checked_pairs(_parse_urlencoded(text))
    if content_type == "multipart/form-data":
        if not _utf8_charset(request.charset):
            raise BadInputError(ENCODING)
        try:
            posted = await request.post()
        except (ValueError, LookupError, AssertionError):
            # aiohttp's parser: truncated body, no boundary, unknown or wrong part charset.
            raise BadInputError("malformed") from None
        pairs = []
        files: dict[str, web.FileField] = {}
        for name, value in posted.items():
            if isinstance(value, str):
                pairs.append((name, value))
            elif isinstance(value, web.FileField) and request.get(FILES_ALLOWED):
                files[checked_text(name, max_length=_MAX_NAME_LENGTH)] = value
            else:  # only a route that says so takes files
                raise BadInputError("malformed")
        request[FILES] = files
        return _checked_pairs(pairs)
    if not await request.read():  # a content type but nothing in it
        return MultiDictProxy(MultiDict())
    raise BadInputError("malformed")


def check_query(request: web.Request) -> None:
    """Refuse a query string that is not UTF-8 or holds a refused character."""
    _checked_pairs(_parse_urlencoded(request.rel_url.raw_query_string))


def files_of(request: web.Request) -> dict[str, web.FileField]:
    """Return the files of a route that takes them (marked with ``FILES_ALLOWED``)."""
    return request.get(FILES) or {}


def form_of(request: web.Request) -> MultiDictProxy[str]:
    """Return the request's form, read and checked by :func:`check_input` (empty for GET)."""
    return request.get(FORM) or MultiDictProxy(MultiDict())


@web.middleware
async def check_input(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Read and check the query and any form once, for every route; bad input gets 400.

    Handlers read the form with :func:`form_of`, never ``request.post()``, so no route can
    see text that did not pass the boundary check of :mod:`bot.core.text`.
    """
    try:
        check_query(request)
        if request.method not in _SAFE_METHODS:
            request[FORM] = await read_form(request)
    except (BadInputError, TextError) as error:
        logger.warning(
            "console %s %s refused: bad input (%s)", request.method, request.path, error
        )
        return bad_request(request, str(error))
    return await handler(request)


@web.middleware
async def check_csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse any state-changing request without the right CSRF token (403)."""
    if request.method in _SAFE_METHODS:
        return await handler(request)
    given = form_of(request).get(CSRF_FIELD)
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


def bad_request(request: web.Request, reason: str) -> web.Response:
    """Render the 400 page; ``reason`` (encoding, characters, length, malformed): its words."""
    return console_of(request).pages.render(request, "bad_request.html", status=400, reason=reason)
