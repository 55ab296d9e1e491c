"""The benchmark report: running one suite keeps the other suite's figures."""

from __future__ import annotations

from bench.delivery import delivery_section, merge_section


def test_an_onboarding_run_keeps_the_delivery_figures_of_an_earlier_run():
    earlier = "# Benchmarks\n\n## Onboarding\nold\n\n## Delivery engine\n- figures\n"
    fresh = "# Benchmarks\n\n## Onboarding\nnew\n"
    kept = delivery_section(earlier)
    assert kept == "## Delivery engine\n- figures\n"
    assert merge_section(fresh, kept) == (
        "# Benchmarks\n\n## Onboarding\nnew\n\n## Delivery engine\n- figures\n"
    )
    assert delivery_section(fresh) == ""
