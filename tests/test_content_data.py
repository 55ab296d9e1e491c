"""School-editable data in content/: read once at start, and refused when it is wrong."""

from __future__ import annotations

import pytest

from bot.campaigns.service import kind_rules
from bot.core.settings import CONTENT_DIR
from bot.inbox.service import fallback_team_of, load_config, topics_of
from storage.models import OfferKind


def test_the_shipped_inbox_and_campaign_data_read():
    data = load_config(CONTENT_DIR / "inbox.yaml")
    topics = topics_of(data)
    assert topics == ("courses", "work", "aftercare", "diploma", "other")
    assert fallback_team_of(data) == ("alumni", "Alumni")
    rules = kind_rules(CONTENT_DIR / "campaigns.yaml", topics)
    assert set(rules) == {kind.value for kind in OfferKind}
    assert (rules["llo"].purpose, rules["llo"].topic) == ("llo", "courses")
    assert (rules["bpv"].purpose, rules["bpv"].topic) == ("jobs", "work")


@pytest.mark.parametrize("topics", [[], ["Werk"], ["work", "work"], ["x" * 17]])
def test_topics_must_be_short_distinct_codes(topics):
    with pytest.raises(ValueError, match="topics"):
        topics_of({"topics": topics})


def test_a_fallback_team_needs_a_code_and_a_name():
    with pytest.raises(ValueError, match="fallback_team"):
        fallback_team_of({"fallback_team": {"code": "alumni"}})


def test_every_offer_kind_needs_a_purpose_and_a_known_topic(tmp_path):
    path = tmp_path / "campaigns.yaml"
    path.write_text("kinds:\n  llo: {purpose: llo, topic: courses}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="kind job"):
        kind_rules(path, ("courses", "other"))
    path.write_text(
        "kinds:\n"
        + "".join(f"  {k.value}: {{purpose: llo, topic: nowhere}}\n" for k in OfferKind),
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="inbox topic"):
        kind_rules(path, ("courses", "other"))
