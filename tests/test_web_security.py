"""Console security (OWASP ASVS L1): sign-in, lock-out, sessions, CSRF, roles, headers."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlmodel import col

from bot.core.render import Renderer
from bot.core.settings import CONTENT_DIR
from bot.staff.service import ConsoleAuth, StaffService
from storage.models import AuditEvent, LoginAttempt, WebSession
from tests.console_fixtures import (
    PASSWORD,
    add_people,
    console_client,
    console_deps,
    console_settings,
    csrf_in,
    log_in,
    people_deps,  # noqa: F401  (the deps fixture)
    session_cookie,
    signed_in,
)

words = Renderer(CONTENT_DIR)
GENERIC_NL = words.label("web.login_failed", "nl")
ERROR_PATTERN = re.compile(r'<p class="error"[^>]*>(.*?)</p>', re.S)


@pytest.fixture
async def client(deps):
    async with console_client(deps) as client:
        yield client


def error_text(html: str) -> str | None:
    match = ERROR_PATTERN.search(html)
    return match.group(1).strip() if match else None


# ---------------------------------------------------------------------------- sign-in


async def test_wrong_password_and_unknown_email_get_one_generic_error(client):
    wrong = await log_in(client, "ann@school.example", "wrong password, long enough")
    unknown = await log_in(client, "nobody@school.example", PASSWORD)
    empty = await log_in(client, "", "")
    texts = [error_text(await r.text()) for r in (wrong, unknown, empty)]
    assert texts[0] == GENERIC_NL.replace("&", "&amp;")
    assert texts[0] == texts[1] == texts[2]
    for response in (wrong, unknown, empty):
        assert response.status == 200
        assert session_cookie(client) is None


async def test_right_password_opens_the_inbox_with_name_role_and_teams(client):
    response = await log_in(client, "ANN@school.example ", PASSWORD)  # case and spaces ignored
    assert response.status == 303 and response.headers["Location"] == "/inbox"
    async with client.get("/inbox") as page:
        html = await page.text()
    assert page.status == 200
    assert "Nog geen gesprekken" in html
    assert "Ann Admin" in html and "Beheerder" in html and "Leven lang ontwikkelen" in html


async def test_repeated_failures_lock_the_account_until_the_window_has_passed(client, deps, clock):
    for _ in range(deps.settings.login_max_failures):
        assert (await log_in(client, "ann@school.example", "not the password!")).status == 200
    locked = await log_in(client, "ann@school.example", PASSWORD)
    assert locked.status == 200 and session_cookie(client) is None
    assert error_text(await locked.text()) == GENERIC_NL  # indistinguishable from a wrong one
    # Another member is not affected by Ann's lock-out.
    async with signed_in(deps, "cor@school.example"):
        pass

    clock.advance(timedelta(minutes=deps.settings.login_lockout_minutes, seconds=1))
    unlocked = await log_in(client, "ann@school.example", PASSWORD)
    assert unlocked.status == 303 and unlocked.headers["Location"] == "/inbox"


async def test_many_failures_from_one_address_lock_out_that_address(client, deps, clock):
    for n in range(20):
        await log_in(client, f"guess{n}@school.example", "not the password!")
    refused = await log_in(client, "cor@school.example", PASSWORD)
    assert refused.status == 200 and error_text(await refused.text()) == GENERIC_NL
    clock.advance(timedelta(minutes=deps.settings.login_lockout_minutes, seconds=1))
    assert (await log_in(client, "cor@school.example", PASSWORD)).status == 303


async def test_old_login_attempts_are_purged(client, deps, clock):
    await log_in(client, "ann@school.example", "not the password!")
    clock.advance(timedelta(minutes=deps.settings.login_lockout_minutes, seconds=1))
    await log_in(client, "cor@school.example", "not the password either")
    async with deps.storage.transaction() as tx:
        keys = (await tx.session.execute(select(col(LoginAttempt.key)))).scalars().all()
    assert "ann@school.example" not in keys and "cor@school.example" in keys


async def _concurrent_logins(deps, attempts: list[tuple[str, str]]) -> list[int]:
    """Send every (e-mail, password) sign-in at once from one browser; return the statuses."""
    async with console_client(deps) as client:
        async with client.get("/inbox/login") as form:
            token = csrf_in(await form.text())

        async def attempt(email: str, password: str) -> int:
            async with client.post(
                "/inbox/login",
                data={"csrf_token": token, "email": email, "password": password},
                allow_redirects=False,
            ) as response:
                await response.read()
                return response.status

        return list(await asyncio.gather(*(attempt(e, p) for e, p in attempts)))


@pytest.fixture
def checked_passwords(monkeypatch) -> list[str]:
    """The passwords really checked against an account's hash (not the dummy's)."""
    checked: list[str] = []
    real = ConsoleAuth._verify

    def counting(self, stored, password):
        if stored is not None:
            checked.append(password)
        return real(self, stored, password)

    monkeypatch.setattr(ConsoleAuth, "_verify", counting)
    return checked


async def test_forty_concurrent_guesses_check_only_the_allowed_number(
    database_url, clock, checked_passwords
):
    settings = console_settings(database_url, login_max_failures=5)
    async with console_deps(settings, clock) as deps:
        await add_people(deps)
        statuses = await _concurrent_logins(
            deps, [("ann@school.example", f"wrong guess number {n}") for n in range(40)]
        )
        assert statuses == [200] * 40
        assert len(checked_passwords) == 5  # not 40: counted before checked, atomically
        async with console_client(deps) as fresh:  # the right password now is refused too
            locked = await log_in(fresh, "ann@school.example", PASSWORD)
            assert locked.status == 200 and session_cookie(fresh) is None
        async with deps.storage.transaction() as tx:
            keys = (await tx.session.execute(select(col(LoginAttempt.key)))).scalars().all()
        assert keys.count("ann@school.example") == 5


async def test_a_right_password_among_concurrent_guesses_is_checked_only_within_the_limit(
    database_url, clock, checked_passwords
):
    settings = console_settings(database_url, login_max_failures=5)
    async with console_deps(settings, clock) as deps:
        await add_people(deps)
        attempts = [("ann@school.example", f"wrong guess number {n}") for n in range(39)]
        attempts.insert(30, ("ann@school.example", PASSWORD))
        statuses = await _concurrent_logins(deps, attempts)
        signed_in_at_once = statuses.count(303)
        assert signed_in_at_once <= 1
        if signed_in_at_once:  # only when it was one of the few checked
            assert PASSWORD in checked_passwords
        # Each check happened under the count: never more than the limit without a success.
        assert len([p for p in checked_passwords if p != PASSWORD]) <= 2 * 5


async def test_forty_concurrent_guesses_from_one_address_count_for_that_address(
    deps, checked_passwords
):
    statuses = await _concurrent_logins(
        deps, [(f"guess{n}@school.example", "not the password!") for n in range(40)]
    )
    assert statuses == [200] * 40
    async with deps.storage.transaction() as tx:
        keys = (await tx.session.execute(select(col(LoginAttempt.key)))).scalars().all()
    assert keys.count("ip:127.0.0.1") == 20  # the address limit, not 40
    async with console_client(deps) as fresh:  # a real account, from the same address
        refused = await log_in(fresh, "cor@school.example", PASSWORD)
        assert refused.status == 200 and session_cookie(fresh) is None
    assert checked_passwords == []


# ---------------------------------------------------------------------------- CSRF


async def test_post_without_or_with_a_wrong_csrf_token_is_forbidden(deps):
    async with signed_in(deps) as client:
        async with client.post("/inbox/logout", data={}, allow_redirects=False) as missing:
            assert missing.status == 403
        async with client.post(
            "/inbox/logout", data={"csrf_token": "x" * 43}, allow_redirects=False
        ) as wrong:
            assert wrong.status == 403
        async with client.post(
            "/inbox/logout", json={"csrf_token": "x"}, allow_redirects=False
        ) as as_json:  # a JSON body is not a form: refused before the token is looked for
            assert as_json.status == 400
        async with client.get("/inbox") as still:  # nothing happened: still signed in
            assert still.status == 200
            token = csrf_in(await still.text())
        async with client.post(
            "/inbox/logout", data={"csrf_token": token}, allow_redirects=False
        ) as right:
            assert right.status == 303 and right.headers["Location"] == "/inbox/login"


async def test_login_form_needs_its_own_csrf_token(client):
    async with client.post(
        "/inbox/login",
        data={"email": "ann@school.example", "password": PASSWORD},
        allow_redirects=False,
    ) as missing:
        assert missing.status == 403
    async with client.get("/inbox/login") as form:
        token = csrf_in(await form.text())
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    async with client.post(
        "/inbox/login",
        data={"csrf_token": tampered, "email": "ann@school.example", "password": PASSWORD},
        allow_redirects=False,
    ) as wrong:
        assert wrong.status == 403
    client.session.cookie_jar.clear()  # a token without the browser's login cookie
    async with client.post(
        "/inbox/login",
        data={"csrf_token": token, "email": "ann@school.example", "password": PASSWORD},
        allow_redirects=False,
    ) as no_cookie:
        assert no_cookie.status == 403
    assert session_cookie(client) is None


async def test_login_form_token_expires(client, clock):
    async with client.get("/inbox/login") as form:
        token = csrf_in(await form.text())
    clock.advance(timedelta(hours=2))
    async with client.post(
        "/inbox/login",
        data={"csrf_token": token, "email": "ann@school.example", "password": PASSWORD},
        allow_redirects=False,
    ) as late:
        assert late.status == 403


# ---------------------------------------------------------------------------- sessions


async def test_logged_out_cookie_replayed_is_refused(deps):
    async with signed_in(deps) as client:
        cookie = session_cookie(client)
        assert cookie
        async with client.get("/inbox") as page:
            token = csrf_in(await page.text())
        async with client.post("/inbox/logout", data={"csrf_token": token}) as after:
            assert after.status == 200 and 'action="/inbox/login"' in await after.text()
        assert session_cookie(client) is None  # the browser was told to drop it
        async with client.get(
            "/inbox", headers={"Cookie": f"alumnibot_session={cookie}"}, allow_redirects=False
        ) as replayed:
            assert replayed.status == 303
            assert replayed.headers["Location"] == "/inbox/login"
        async with client.post(
            "/inbox/logout",
            data={"csrf_token": token},
            headers={"Cookie": f"alumnibot_session={cookie}"},
            allow_redirects=False,
        ) as replayed_post:
            assert replayed_post.status == 303
            assert replayed_post.headers["Location"] == "/inbox/login"


async def test_only_the_hash_of_the_session_token_is_stored_and_each_login_is_new(deps):
    async with signed_in(deps) as first_tab:
        first = session_cookie(first_tab)
        assert first and len(first) >= 43
    # The same browser signs in again while still holding its first session cookie.
    async with console_client(deps) as client:
        async with client.get("/inbox/login") as form:
            token = csrf_in(await form.text())
        client.session.cookie_jar.update_cookies({"alumnibot_session": first})
        again = await client.post(
            "/inbox/login",
            data={"csrf_token": token, "email": "ann@school.example", "password": PASSWORD},
            allow_redirects=False,
        )
        assert again.status == 303
        second = session_cookie(client)
    assert second and second != first
    async with deps.storage.transaction() as tx:
        rows = (await tx.session.execute(select(WebSession))).scalars().all()
    # The first session ended when the second began; only a hash is kept.
    assert [r.token_hash for r in rows] == [hashlib.sha256(second.encode()).hexdigest()]
    assert all(second not in (r.token_hash, r.csrf_token) for r in rows)


async def test_session_expires_after_the_configured_hours(deps, clock):
    async with signed_in(deps) as client:
        clock.advance(timedelta(hours=deps.settings.web_session_hours, seconds=1))
        async with client.get("/inbox", allow_redirects=False) as expired:
            assert expired.status == 303 and expired.headers["Location"] == "/inbox/login"


async def test_a_disabled_member_is_signed_out_and_cannot_sign_in(deps):
    async with signed_in(deps, "cor@school.example") as client:
        cookie = session_cookie(client)
        async with client.get("/inbox") as before:
            assert before.status == 200
        await StaffService(deps.storage, deps.clock).disable("cor@school.example")
        async with client.get(
            "/inbox", headers={"Cookie": f"alumnibot_session={cookie}"}, allow_redirects=False
        ) as after:
            assert after.status == 303 and after.headers["Location"] == "/inbox/login"
        refused = await log_in(client, "cor@school.example", PASSWORD)
        assert refused.status == 200 and error_text(await refused.text()) == GENERIC_NL


async def test_session_cookie_flags(client):
    response = await log_in(client, "ann@school.example", PASSWORD)
    [set_cookie] = [c for c in response.headers.getall("Set-Cookie") if "_session=" in c]
    assert set_cookie.startswith("alumnibot_session=")
    flags = {part.strip().split("=")[0].lower() for part in set_cookie.split(";")}
    assert {"httponly", "samesite", "path", "max-age"} <= flags
    assert "SameSite=Strict" in set_cookie and "Path=/" in set_cookie
    assert "secure" not in flags  # web_cookie_secure=false in tests and the local sandbox


async def test_secure_cookies_use_the_host_prefix_and_hsts(database_url, clock):
    settings = console_settings(database_url, web_cookie_secure=True)
    async with console_deps(settings, clock) as deps, console_client(deps) as client:
        await add_people(deps)
        async with client.get("/inbox/login") as form:
            login_cookie = form.headers["Set-Cookie"]
            assert form.headers["Strict-Transport-Security"].startswith("max-age=")
            token = csrf_in(await form.text())
        assert login_cookie.startswith("__Host-alumnibot_login=")
        assert "Secure" in login_cookie and "HttpOnly" in login_cookie
        assert "SameSite=Strict" in login_cookie and "Domain" not in login_cookie
        # The test client speaks http, so send the __Host- cookie back by hand.
        nonce = login_cookie.split(";")[0].split("=", 1)[1]
        async with client.post(
            "/inbox/login",
            data={
                "csrf_token": token,
                "email": "ann@school.example",
                "password": PASSWORD,
            },
            headers={"Cookie": f"__Host-alumnibot_login={nonce}"},
            allow_redirects=False,
        ) as response:
            assert response.status == 303
            [session] = [c for c in response.headers.getall("Set-Cookie") if "_session=" in c]
    assert session.startswith("__Host-alumnibot_session=")
    assert "Secure" in session and "HttpOnly" in session and "SameSite=Strict" in session


# ---------------------------------------------------------------------------- roles, escaping


async def test_coordinator_cannot_open_the_admin_page(deps):
    async with signed_in(deps, "cor@school.example") as client:
        async with client.get("/inbox/staff") as page:
            assert page.status == 403
            assert "Geen toegang" in await page.text()
            assert "ann@school.example" not in await page.text()
        async with client.get("/inbox") as inbox:
            assert 'href="/inbox/staff"' not in await inbox.text()


async def test_admin_sees_the_staff_list(deps):
    async with signed_in(deps) as client:
        async with client.get("/inbox/staff") as page:
            html = await page.text()
        assert page.status == 200
        assert "cor@school.example" in html and "Coördinator" in html and "Nazorg" in html
        assert "Leven lang ontwikkelen" in html  # teams by name, not by code ("llo")


async def test_signed_out_visitors_are_sent_to_the_login_form(client):
    for path in ("/inbox", "/inbox/staff"):
        async with client.get(path, allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/inbox/login"
    async with client.get("/", allow_redirects=False) as root:
        assert root.status == 302 and root.headers["Location"] == "/inbox"


async def test_script_in_a_display_name_renders_escaped(deps):
    await StaffService(deps.storage, deps.clock).add_staff(
        "mallory@school.example", "<script>alert(1)</script>", "admin", PASSWORD
    )
    async with signed_in(deps, "mallory@school.example") as client:
        for path in ("/inbox", "/inbox/staff"):
            async with client.get(path) as page:
                html = await page.text()
            assert "<script>" not in html
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_every_response_carries_the_security_headers(deps):
    async with signed_in(deps) as client:
        async with client.get("/inbox") as page:
            token = csrf_in(await page.text())
        requests = [
            ("GET", "/", None),
            ("GET", "/inbox", None),
            ("GET", "/inbox/staff", None),
            ("GET", "/inbox/login", None),
            ("GET", "/inbox/static/console.css", None),
            ("GET", "/nowhere", None),
            ("POST", "/inbox/logout", {}),
            ("POST", "/inbox/language", {"csrf_token": token, "locale": "en"}),
            ("POST", "/inbox/logout", {"csrf_token": token}),
            ("GET", "/inbox", None),
            ("POST", "/inbox/login", {"email": "x"}),
        ]
        statuses = []
        for method, path, data in requests:
            async with client.request(method, path, data=data, allow_redirects=False) as r:
                statuses.append(r.status)
                csp = r.headers.get("Content-Security-Policy", "")
                assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
                assert "unsafe-inline" not in csp
                assert r.headers["X-Content-Type-Options"] == "nosniff"
                assert r.headers["Referrer-Policy"] == "no-referrer"
                assert r.headers["X-Frame-Options"] == "DENY"
                assert r.headers["Cache-Control"] == "no-store"
                assert "aiohttp" not in r.headers.get("Server", "")
        assert statuses == [302, 200, 200, 303, 200, 404, 403, 303, 303, 303, 403]


async def test_pages_have_no_inline_script_or_style(deps):
    async with signed_in(deps) as client:
        for path in ("/inbox", "/inbox/staff"):
            async with client.get(path) as page:
                html = await page.text()
            # Scripts only as same-origin files (the inbox's poller), never inline.
            for tag in re.findall(r"<script[^>]*>(.*?)</script>", html, re.S):
                assert tag == ""
            assert all(
                src.startswith("/inbox/static/")
                for src in re.findall(r'<script src="([^"]+)"', html)
            )
            assert html.count("<script") == len(re.findall(r'<script src="', html))
            assert "<style" not in html and " style=" not in html
            assert " on" not in re.sub(r">[^<]*<", "><", html).replace(" one", "")


# ---------------------------------------------------------------------------- words, audit


async def test_language_follows_accept_language_then_the_members_choice(deps):
    async with console_client(deps) as client:
        async with client.get("/inbox/login", headers={"Accept-Language": "en-GB,nl;q=0.5"}) as en:
            assert "Sign in" in await en.text() and 'lang="en"' in await en.text()
        async with client.get("/inbox/login", headers={"Accept-Language": "de, fr"}) as other:
            assert "Inloggen" in await other.text()
    async with signed_in(deps) as client:
        async with client.get("/inbox") as page:
            token = csrf_in(await page.text())
        async with client.post(
            "/inbox/language", data={"csrf_token": token, "locale": "en", "next": "/inbox"}
        ) as switched:
            html = await switched.text()
        assert "No conversations yet" in html and "Administrator" in html
        async with client.post(
            "/inbox/language",
            data={"csrf_token": token, "locale": "nl", "next": "//evil.example/"},
            allow_redirects=False,
        ) as guarded:
            assert guarded.headers["Location"] == "/inbox"


async def test_console_words_exist_in_both_languages():
    assert set(words.blocks("web", "nl")) == set(words.blocks("web", "en"))
    assert words.label("web.empty_inbox", "nl") == "Nog geen gesprekken"


async def test_logins_and_page_reads_are_audited(deps):
    async with console_client(deps) as client:
        await log_in(client, "ann@school.example", "not the password!")
    async with signed_in(deps) as client:
        async with client.get("/inbox") as page:
            token = csrf_in(await page.text())
        async with client.get("/inbox/staff"):
            pass
        async with client.post("/inbox/logout", data={"csrf_token": token}):
            pass
    async with deps.storage.transaction() as tx:
        query = select(AuditEvent).order_by(col(AuditEvent.id))
        actions = [e.action for e in (await tx.session.execute(query)).scalars()]
    assert actions == ["login_failed", "login", "read:inbox", "read:staff_list", "logout"]
