"""The timers' deadline comes from host.json's functionTimeout, less a margin, and covers the
estate sizes BENCHMARKS.md claims (a cold 20,000-tenant verification: 862.6 s)."""

from __future__ import annotations

from datetime import timedelta

from shared.usecases import costs, deadlines

COLD_VERIFY_20K = timedelta(seconds=862.6)  # BENCHMARKS.md, 20,000 tenants, cold


def test_the_host_timeout_covers_the_largest_claimed_verification_with_its_margin() -> None:
    timeout = deadlines.function_timeout()
    assert timeout == timedelta(minutes=30)  # Flex Consumption's default; its maximum is unbounded
    assert deadlines.run_budget() == timeout - deadlines.MARGIN
    assert deadlines.run_budget() > COLD_VERIFY_20K


def test_the_cost_snapshot_stops_starting_queries_before_the_host_timeout() -> None:
    assert deadlines.run_budget().total_seconds() >= costs.RUN_SECONDS


def test_timeout_values_as_host_json_writes_them() -> None:
    assert deadlines.parse_timeout("00:10:00") == timedelta(minutes=10)
    assert deadlines.parse_timeout("1.02:00:00") == timedelta(days=1, hours=2)
    assert deadlines.parse_timeout("-1") == deadlines.FLEX_DEFAULT  # unbounded: the plan's default stands in
    assert deadlines.parse_timeout(None) == deadlines.FLEX_DEFAULT
