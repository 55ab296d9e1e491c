"""Passwords: the policy (ASVS 2.1.7), changing one's own, an admin's reset and the CLI's."""

from __future__ import annotations

import asyncio
import html as html_lib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlmodel import col

from bot.core.render import Renderer
from bot.core.settings import CONTENT_DIR
from bot.staff.passwords import common_passwords, password_problem
from bot.staff.service import StaffService, WeakPasswordError
from storage.models import AuditEvent, StaffMember, WebSession
from tests.cli import clean_env, start
from tests.console_fixtures import (
    PASSWORD,
    console_client,
    csrf_in,
    log_in,
    people_deps,  # noqa: F401  (the deps fixture)
    session_cookie,
    signed_in,
)

words = Renderer(CONTENT_DIR)
NEW = "seven purple lanterns drift"


def said(page: str, block: str, locale: str = "nl") -> bool:
    return words.label(f"web.{block}", locale) in html_lib.unescape(page)


# ---------------------------------------------------------------------------- the policy


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("123456789012", "sequence"),
        ("passwordpassword", "repeats"),
        ("qwertyuiopas", "sequence"),
        ("abcdefghijkl", "sequence"),
        ("mnbvcxzlkjhg", "sequence"),
        ("1qaz2wsx3edc4rfv", "common"),
        ("aaaaaaaaaaaaaa", "repeats"),
        ("welkom123456", "common"),
        ("iloveyou2024!", "common"),
        ("Ann.Admin.2026", "personal"),
        ("my alumnibot pass", "personal"),
        ("short one", "too_short"),
        ("x" * 129, "too_long"),
        ("nul\x00in the middle", "characters"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password, reason):
    assert password_problem(password, email="ann.admin@school.example", name="Ann Admin") == reason
    assert words.label(f"web.password_{reason}", "nl")
    assert words.label(f"web.password_{reason}", "en")


@pytest.mark.parametrize(
    "password", [PASSWORD, NEW, "Tr0ub4dor&3 zebra", "xk29Fm!!qPz7", "lange zin met woorden"]
)
def test_good_passwords_pass(password):
    assert password_problem(password, email="ann@school.example", name="Ann Admin") is None


def test_the_shipped_list_is_read():
    common = common_passwords()
    assert len(common) > 19_000 and "password" in common and "123456" in common


async def test_adding_a_member_with_a_breached_password_is_refused(deps):
    with pytest.raises(WeakPasswordError) as refused:
        await StaffService(deps.storage, deps.clock).add_staff(
            "dan@school.example", "Dan", "coordinator", "passwordpassword"
        )
    assert refused.value.reason == "repeats"


# ---------------------------------------------------------------------------- changing


async def change(client, current: str, new: str, again: str | None = None):
    async with client.get("/account/password") as page:
        token = csrf_in(await page.text())
    response = await client.post(
        "/account/password",
        data={"csrf_token": token, "current": current, "new": new, "again": again or new},
    )
    return response.status, await response.text()


async def test_changing_the_password_ends_other_sessions_and_is_audited(deps):
    async with signed_in(deps) as other_device, signed_in(deps) as client:
        status, page = await change(client, PASSWORD, NEW)
        assert status == 200 and said(page, "password_changed")
        async with client.get("/inbox", allow_redirects=False) as still:  # this session stays
            assert still.status == 200
        async with other_device.get("/inbox", allow_redirects=False) as other:
            assert other.status == 303 and other.headers["Location"] == "/inbox/login"
    async with console_client(deps) as client:
        assert (await log_in(client, "ann@school.example", PASSWORD)).status == 200
        assert (await log_in(client, "ann@school.example", NEW)).status == 303
    async with deps.storage.transaction() as tx:
        actions = (await tx.session.execute(select(col(AuditEvent.action)))).scalars().all()
    assert "change:password" in actions


@pytest.mark.parametrize(
    ("current", "new", "again", "block"),
    [
        ("not my password!", NEW, NEW, "password_current_wrong"),
        (PASSWORD, NEW, NEW + "x", "password_mismatch"),
        (PASSWORD, "qwertyuiopas", None, "password_sequence"),
        (PASSWORD, "123456789012", None, "password_sequence"),
        (PASSWORD, "passwordpassword", None, "password_repeats"),
        (PASSWORD, "iloveyou12345", None, "password_common"),
        (PASSWORD, "ann admin rules", None, "password_personal"),
        (PASSWORD, PASSWORD, None, "password_unchanged"),
    ],
)
async def test_a_refused_change_says_why_and_changes_nothing(deps, current, new, again, block):
    async with signed_in(deps) as client:
        status, page = await change(client, current, new, again)
        assert status == 422 and said(page, block)
    async with console_client(deps) as client:
        assert (await log_in(client, "ann@school.example", PASSWORD)).status == 303


async def test_the_change_form_is_no_way_around_the_lock_out(deps):
    async with signed_in(deps) as client:
        for _ in range(deps.settings.login_max_failures):
            status, _ = await change(client, "a wrong guess here", NEW)
            assert status == 422
        status, page = await change(client, PASSWORD, NEW)  # locked: even the right one
        assert status == 422 and said(page, "password_current_wrong")


async def test_the_reason_is_given_in_the_members_language(deps):
    async with signed_in(deps) as client:
        async with client.get("/account/password", headers={"Accept-Language": "en"}) as page:
            token = csrf_in(await page.text())
        async with client.post(
            "/account/password",
            data={"csrf_token": token, "current": PASSWORD, "new": "qwertyuiopas"}
            | {"again": "qwertyuiopas"},
            headers={"Accept-Language": "en"},
        ) as response:
            assert said(await response.text(), "password_sequence", "en")


# ---------------------------------------------------------------------------- admin reset


async def reset(client, staff_id: int):
    async with client.get("/inbox/staff") as page:
        token = csrf_in(await page.text())
    return await client.post(f"/inbox/staff/{staff_id}/password", data={"csrf_token": token})


async def staff_id(deps, email: str) -> int:
    async with deps.storage.transaction() as tx:
        member = await tx.staff.by_email(email)
    assert member is not None and member.id is not None
    return member.id


async def test_an_admin_gives_a_temporary_password_that_only_lets_one_choose_a_new_one(deps):
    cor = await staff_id(deps, "cor@school.example")
    async with signed_in(deps, "cor@school.example") as cor_before:
        async with signed_in(deps) as admin:
            response = await reset(admin, cor)
            page = await response.text()
        assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
        temporary = re.search(r'id="reset-password">([^<]+)<', page).group(1)  # type: ignore[union-attr]
        async with cor_before.get("/inbox", allow_redirects=False) as ended:
            assert ended.status == 303 and ended.headers["Location"] == "/inbox/login"

    async with console_client(deps) as client:
        assert (await log_in(client, "cor@school.example", PASSWORD)).status == 200
        signed = await log_in(client, "cor@school.example", temporary)
        assert signed.status == 303 and signed.headers["Location"] == "/account/password"
        for path in ("/inbox", "/offers", "/account/telegram"):
            async with client.get(path, allow_redirects=False) as held:
                assert held.status == 303 and held.headers["Location"] == "/account/password"
        async with client.get("/account/password") as form:
            assert said(await form.text(), "password_temporary_notice")
        status, _ = await change(client, temporary, NEW)
        assert status == 200
        async with client.get("/inbox", allow_redirects=False) as free:
            assert free.status == 200
    async with console_client(deps) as client:  # one time only: the temporary one is gone
        assert (await log_in(client, "cor@school.example", temporary)).status == 200
    async with deps.storage.transaction() as tx:
        events = (await tx.session.execute(select(AuditEvent))).scalars().all()
    assert ("reset:password", str(cor)) in [(e.action, e.subject) for e in events]


async def test_a_temporary_password_expires(deps, clock):
    cor = await staff_id(deps, "cor@school.example")
    temporary, _ = await StaffService(deps.storage, deps.clock).reset_password(1, cor)
    clock.advance(timedelta(hours=24, seconds=1))
    async with console_client(deps) as client:
        refused = await log_in(client, "cor@school.example", temporary)
        assert refused.status == 200 and session_cookie(client) is None


async def test_a_coordinator_cannot_reset_anyones_password(deps):
    ann = await staff_id(deps, "ann@school.example")
    async with signed_in(deps, "cor@school.example") as client:
        async with client.get("/inbox") as page:
            token = csrf_in(await page.text())
        async with client.post(
            f"/inbox/staff/{ann}/password", data={"csrf_token": token}
        ) as response:
            assert response.status == 403
    async with console_client(deps) as client:
        assert (await log_in(client, "ann@school.example", PASSWORD)).status == 303


# ---------------------------------------------------------------------------- the CLI


async def test_cli_staff_password_sets_a_new_one_and_ends_sessions(deps, database_url, tmp_path):
    async with signed_in(deps, "cor@school.example"):
        pass
    async with deps.storage.transaction() as tx:
        assert (await tx.session.execute(select(WebSession))).scalars().all()
    for password, code, expected in (
        ("qwertyuiopas", 1, "This password is mostly a row of keys"),
        (NEW, 0, "cor@school.example has a new password"),
    ):
        env = clean_env(
            ALUMNIBOT_DATABASE_URL=database_url,
            ALUMNIBOT_NEW_STAFF_PASSWORD=password,
            ALUMNIBOT_CLI_LOCALE="en",
        )
        process = await start(["staff", "password", "Cor@school.example"], env, tmp_path)
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == code and expected in (out + err).decode()
    async with deps.storage.transaction() as tx:
        assert (await tx.session.execute(select(WebSession))).scalars().all() == []
        member = (
            await tx.session.execute(
                select(StaffMember).where(col(StaffMember.email) == "cor@school.example")
            )
        ).scalar_one()
        assert member.password_temporary_until is None
    async with console_client(deps) as client:
        assert (await log_in(client, "cor@school.example", NEW)).status == 303
