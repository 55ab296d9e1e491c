"""`alumnibot campaigns ...` as an operator runs it: a real process, polite about bad input."""

from __future__ import annotations

from tests.cli import alumnibot, clean_env


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
    assert code == 1 and 'Ik kan "morgen" niet lezen als tijd' in err
    code, _, err = await alumnibot(env, tmp_path, "campaigns", "create", "1", "--at", "2001-01-01")
    assert code == 1 and "Dat moment is al voorbij." in err

    code, out, _ = await alumnibot(env, tmp_path, "campaigns", "create", "1")
    assert code == 0 and "Campagne 1: bereikt nu 0 oud-studenten." in out
    code, _, err = await alumnibot(env, tmp_path, "campaigns", "pause", "1")
    assert code == 1 and "Campagne 1 is concept: er is niets om te pauzeren." in err
    code, out, _ = await alumnibot(
        env, tmp_path, "campaigns", "send", "1", "--at", "2099-12-01 10:00"
    )
    assert code == 0 and "Campagne 1: gepland op 2099-12-01 10:00 CET." in out
    code, out, _ = await alumnibot(env, tmp_path, "campaigns", "pause", "1")
    assert code == 0 and "Campagne 1: gepauzeerd." in out
    code, out, _ = await alumnibot(env, tmp_path, "campaigns", "resume", "1")
    assert code == 0 and "Campagne 1: hervat (gepland)." in out
    code, out, _ = await alumnibot(env, tmp_path, "campaigns", "cancel", "1")
    assert (
        code == 0
        and "Campagne 1: geannuleerd. 0 klaargezette berichten worden niet verstuurd." in out
    )
    code, _, err = await alumnibot(env, tmp_path, "campaigns", "cancel", "1")
    assert code == 1 and "Campagne 1 is geannuleerd: er is niets om te annuleren." in err
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
    assert code == 1 and "Chat 4242 hoort niet bij een gekoppelde medewerker." in err
    await alumnibot(
        env, tmp_path, "staff", "add", "c@school.example", "--name", "C", "--role", "coordinator"
    )
    await alumnibot(env, tmp_path, "staff", "link", "c@school.example", "4242")
    code, out, _ = await alumnibot(env, tmp_path, "campaigns", "preview", "1", "--to", "4242")
    assert code == 0 and "Campagne 1: voorbeeld klaargezet voor chat 4242." in out
    code, _, err = await alumnibot(env, tmp_path, "campaigns", "stats", "99")
    assert code == 1 and "Er is geen campagne 99." in err
