"""Console routes for signing in and out and choosing the page language."""

from __future__ import annotations

from aiohttp import web

from bot.core.render import LOCALES
from handlers.web.pages import LOCALE_COOKIE, console_of, principal_of, signed_in
from handlers.web.security import (
    PUBLIC,
    STAFF,
    access,
    clear_cookie,
    client_ip,
    form_of,
    login_cookie_name,
    session_cookie_name,
    set_cookie,
)


def _login_form(request: web.Request, *, failed: bool = False, email: str = "") -> web.Response:
    """Render the login form with a CSRF token bound to the browser's login cookie."""
    console = console_of(request)
    cookie = login_cookie_name(console.settings)
    nonce = request.cookies.get(cookie)
    if not console.login_tokens.well_formed(nonce):
        nonce = console.login_tokens.new_nonce()
    assert nonce is not None
    response = console.pages.render(
        request,
        "login.html",
        failed=failed,
        email=email,
        login_csrf=console.login_tokens.issue(nonce, console.clock.now()),
    )
    set_cookie(
        response, console.settings, cookie, nonce, int(console.login_tokens.ttl.total_seconds())
    )
    return response


@access(PUBLIC)
async def show_login(request: web.Request) -> web.StreamResponse:
    """Show the login form, or go to the inbox when already signed in."""
    if principal_of(request) is not None:
        raise web.HTTPSeeOther("/inbox")
    return _login_form(request)


@access(PUBLIC)
async def log_in(request: web.Request) -> web.StreamResponse:
    """Check the credentials; on success start a new session, else the one generic error."""
    console = console_of(request)
    form = form_of(request)
    email = form.get("email")
    password = form.get("password")
    if not isinstance(email, str) or not isinstance(password, str) or len(password) > 1024:
        return _login_form(request, failed=True)
    email = email.strip()[:254]
    new = await console.auth.login(email, password, client_ip(request))
    if new is None:
        return _login_form(request, failed=True, email=email)
    previous = principal_of(request)
    if previous is not None:  # signing in again ends the old session
        await console.auth.logout(previous)
    # A temporary password (an admin's reset) is good for one thing: choosing a new one.
    response = web.HTTPSeeOther(
        "/account/password" if new.principal.must_change_password else "/inbox"
    )
    set_cookie(
        response,
        console.settings,
        session_cookie_name(console.settings),
        new.token,
        console.settings.web_session_hours * 3600,
    )
    clear_cookie(response, console.settings, login_cookie_name(console.settings))
    raise response


@access(STAFF)
async def log_out(request: web.Request) -> web.StreamResponse:
    """End the session on the server and in the browser."""
    console = console_of(request)
    await console.auth.logout(signed_in(request))
    response = web.HTTPSeeOther("/inbox/login")
    clear_cookie(response, console.settings, session_cookie_name(console.settings))
    raise response


@access(STAFF)
async def choose_language(request: web.Request) -> web.StreamResponse:
    """Remember the staff member's page language in a cookie and go back."""
    console = console_of(request)
    form = form_of(request)
    locale = form.get("locale")
    target = form.get("next")
    if not isinstance(target, str) or not _local_path(target):
        target = "/inbox"
    response = web.HTTPSeeOther(target)
    if isinstance(locale, str) and locale in LOCALES:
        set_cookie(response, console.settings, LOCALE_COOKIE, locale, 365 * 24 * 3600)
    raise response


def _local_path(target: str) -> bool:
    """Return whether ``target`` is an absolute path on this site (no open redirect).

    It must start with exactly one slash and hold no backslash, no ``//`` and no control
    character: browsers read ``//host`` (and a slash then a backslash) as another site, and
    drop tabs and line breaks, so ``/<tab>/host`` would become ``//host``. A scheme
    (``https:``, ``javascript:``) cannot come first because the path starts with a slash.
    """
    return (
        target.startswith("/")
        and "//" not in target
        and "\\" not in target
        and not any(ord(char) < 0x20 or ord(char) == 0x7F for char in target)
    )
