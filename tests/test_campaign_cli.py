"""`alumnibot campaigns ...` as an operator runs it: a real process, polite about bad input."""

from __future__ import annotations

import asyncio

from tests.test_cli import clean_env, start


async def alumnibot(env, cwd, *args: str) -> tuple[int, str, str]:
    process = await start(list(args), env, cwd)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_campaign_commands_schedule_pause_cancel_preview_and_report(tmp_path):
    env = clean_env(
        ALUMNIBOT_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}",
        ALUMNIBOT_NEW_STAFF_PASSWORD="a-long-enough-password",
    )
    offers = tmp_path / "offers.yaml"
    offers.write_text("- {kind: llo, title: Excel, text: In vier avonden, regions: [UT]}\n")
    code, out, _ = await alumnibot(env, tmp_path, "offers", "import", str(offers))
    assert code == 0 and "1 aanbod geïmporteerd." in out

    code, _, err = await alumnibot(env, tmp_path, "campaigns", "create", "1", "--at", "morgen")
    assert code == 1 and "cannot read 'morgen' as a time: use YYYY-MM-DD HH:MM" in err
    code, _, err = await alumnibot(env, tmp_path, "campaigns", "create", "1", "--at", "2001-01-01")
    assert code == 1 and "that moment has passed" in err

    code, out, _ = await alumnibot(env, tmp_path, "campaigns", "create", "1")
    assert code == 0 and "campaign 1: reaches 0 alumni now" in out
    code, _, err = await alumnibot(env, tmp_path, "campaigns", "pause", "1")
    assert code == 1 and "campaign 1 is draft: nothing to pause" in err
    code, out, _ = await alumnibot(
        env, tmp_path, "campaigns", "send", "1", "--at", "2099-12-01 10:00"
    )
    assert code == 0 and "campaign 1: scheduled for 2099-12-01 10:00 CET" in out
    code, out, _ = await alumnibot(env, tmp_path, "campaigns", "pause", "1")
    assert code == 0 and "campaign 1: paused" in out
    code, out, _ = await alumnibot(env, tmp_path, "campaigns", "resume", "1")
    assert code == 0 and "campaign 1: resumed (scheduled)" in out
    code, out, _ = await alumnibot(env, tmp_path, "campaigns", "cancel", "1")
    assert code == 0 and "campaign 1: cancelled; 0 queued pushes will not be sent" in out
    code, _, err = await alumnibot(env, tmp_path, "campaigns", "cancel", "1")
    assert code == 1 and "campaign 1 is cancelled: nothing to cancel" in err
    code, out, _ = await alumnibot(env, tmp_path, "campaigns", "watch", "1")
    assert code == 0 and out.strip().endswith("(finished)")
    code, out, _ = await alumnibot(env, tmp_path, "campaigns", "stats", "1")
    assert code == 0
    assert [line.split("\t")[0] for line in out.splitlines()] == [
        "targeted",
        "already",
        "maybe",
        "pending",
        "sent",
        "blocked",
        "failed",
        "unknown",
        "resent",
        "cancelled",
        "digest",
        "interest",
        "optout",
    ]

    code, _, err = await alumnibot(env, tmp_path, "campaigns", "preview", "1", "--to", "4242")
    assert code == 1 and "chat 4242 is not a linked staff member's" in err
    await alumnibot(
        env, tmp_path, "staff", "add", "c@school.example", "--name", "C", "--role", "coordinator"
    )
    await alumnibot(env, tmp_path, "staff", "link", "c@school.example", "4242")
    code, out, _ = await alumnibot(env, tmp_path, "campaigns", "preview", "1", "--to", "4242")
    assert code == 0 and "campaign 1: preview queued for chat 4242" in out
    code, _, err = await alumnibot(env, tmp_path, "campaigns", "stats", "99")
    assert code == 1 and "no campaign 99" in err
