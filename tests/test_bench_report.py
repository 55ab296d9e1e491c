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


async def test_the_aftercare_benchmark_runs_end_to_end_at_a_small_size():
    # The benchmark is run by hand (make bench), so nothing else notices when it breaks: it
    # once failed rendering the monitor page after the page's words changed signature.
    from bench.aftercare import run_aftercare
    from bench.databases import SQLITE

    (result,) = await run_aftercare((SQLITE,), alumni=200, due=20, answered=100)
    assert result.queued == 20
    assert result.monitor_report > 0 and result.monitor_render > 0
