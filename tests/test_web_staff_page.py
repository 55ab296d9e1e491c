"""The staff page shows times as the school reads them: Europe/Amsterdam, not UTC."""

from __future__ import annotations

from tests.console_fixtures import (
    people_deps,  # noqa: F401  (the deps fixture)
    signed_in,
)


async def test_last_login_is_shown_in_school_time(deps) -> None:
    # The frozen clock says 2026-06-15 10:00 UTC: 12:00 in Amsterdam (summer time).
    async with signed_in(deps) as client:
        async with client.get("/inbox/staff") as response:
            page = await response.text()
    assert response.status == 200
    assert "2026-06-15 12:00" in page
    assert "UTC" not in page
