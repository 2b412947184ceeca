"""A verification that cannot read part of the world keeps the rest: by the timer, on the demo estate.

One verification on a healthy world sets the reference (open findings, coverage). Then one part of
Azure fails for the whole of the next run, beyond the HTTP client's retries: Graph's `$batch`
(the directory read), one group's member list, or Entra's token endpoint for the app
registrations (the managed identity still gets its tokens). The run must finish `partial`, say
what it could not read, lose no finding, open none, and keep the coverage; the run after the fault
ends where the reference ends.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests import campaign
from tests.support import demo, engines, remembered, triggers

GRAPH_BATCH = r"^/v1\.0/\$batch$"
GROUP_MEMBERS = r"^/v1\.0/groups/[^/]+/transitiveMembers$"
APP_TOKENS = r"/oauth2/v2\.0/token$"


def _last(engine: Any) -> str:
    return str((engine.store.get_state("verify-last") or {}).get("outcome", ""))


def _coverage(engine: Any) -> dict[str, tuple[str, str]]:
    coverage = engine.store.get_coverage()
    return {r.delegation_key: (r.status, r.reason) for r in coverage.rows}


@pytest.mark.parametrize("route", [GRAPH_BATCH, GROUP_MEMBERS, APP_TOKENS], ids=["directory", "members", "tokens"])
def test_a_read_failing_for_a_whole_run_loses_nothing_and_says_partial(emulator, palwatch, monkeypatch, route):
    triggers.verify_now()
    expected = remembered.open_as(palwatch, "kind", "subject", "reason")
    coverage = _coverage(palwatch)
    assert expected
    assert coverage

    palwatch = engines.rebuilt(monkeypatch)  # a new worker: no token cached
    emulator.control("POST", "/faults", {"route": route, "status": 503, "retryAfter": 0})
    triggers.verify_now()  # the host would log an exception and wait 6 hours: this must not raise
    said = _last(palwatch)
    assert said.startswith("partial"), said
    assert "unknown" in said or "could not" in said, said
    assert remembered.open_as(palwatch, "kind", "subject", "reason") == expected
    assert _coverage(palwatch) == coverage

    emulator.control("DELETE", "/faults")
    triggers.verify_now()
    assert _last(palwatch).startswith("ok"), _last(palwatch)
    assert remembered.open_as(palwatch, "kind", "subject", "reason") == expected
    campaign.record("read_failing_a_whole_run", route=route, runs_lost=0, lost=0, extra=0, status="partial")


def test_one_unreadable_group_holds_back_only_what_depends_on_it(emulator, palwatch):
    triggers.verify_now()
    before = remembered.open_as(palwatch, "subject", "kind")
    ops_group = demo.OPERATORS.object_id
    emulator.control("POST", "/faults", {"route": rf"^/v1\.0/groups/{ops_group}/transitiveMembers$", "status": 503})
    triggers.verify_now()
    said = _last(palwatch)
    assert said.startswith("partial"), said
    assert "delegation(s) unknown" in said, said  # those in the group's hands, and only those
    assert "13 delegation(s)" in said, said
    assert remembered.open_as(palwatch, "subject", "kind") == before


@pytest.mark.parametrize("fault", [{"status": 200}, {"status": "drop"}], ids=["success-without-value", "drop"])
def test_a_batch_read_answered_without_its_body_is_never_a_deletion(emulator, palwatch, fault):
    """A `$batch` sub-response `200` whose body lacks `value` (or a sub-request whose connection
    drops, which drops the whole `$batch` exchange) is a failure to read, never "not found"."""
    triggers.verify_now()
    expected = remembered.open_as(palwatch, "kind", "subject", "reason")
    emulator.control("POST", "/faults", {"route": r"^/v1\.0/users$", "count": 2, **fault})
    triggers.verify_now()
    assert emulator.control("GET", "/faults")["faults"][0]["hits"] >= 1
    assert remembered.open_as(palwatch, "kind", "subject", "reason") == expected
    assert not [f for f in remembered.all_findings(palwatch) if f.finding.kind == "identity_lost"]
    campaign.record("batch_answer_without_body", fault=str(fault["status"]), extra_losses=0)
