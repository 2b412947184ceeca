"""The activity-log watcher under sustained faults on a few hundred delegations, through the timer.

Faults are rate-based (the emulator's faults API): a share of ARM, Graph and PAL requests answer
503 (`Retry-After: 0`, so retries are immediate and the test stays fast). The watcher must make
progress every run (bounded batches, the cursor past what succeeded), keep what failed for the
next run, and end, once the faults stop, exactly where a fault-free watcher ends.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from emulator.large_scenario import large
from shared.usecases import delegations
from tests import campaign
from tests.support import engines, remembered, triggers, world

# CI replays a small estate; local runs (and `python -m bench.reliability`) take a broader one.
ESTATE = campaign.size(ci=40, local=120, full=300)
FAULTY_ROUTES = (
    ("registrationAssignments",)
    if campaign.CI
    else ("registrationAssignments", "managementpartner", "/v1.0/directoryObjects")
)


def watched(palwatch: Any) -> dict[str, bool]:
    return {s.key: s.attributed for s in palwatch.store.list_delegations()}


def reference_run(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The same estate watched without faults, on fresh tables: what the faulty runs must end at."""
    engines.on_fresh_tables(monkeypatch, "ref")
    triggers.watch_now()
    return engines.current()


@pytest.fixture
def estate(emulator):
    scenario = large(tenants=max(4, ESTATE // 6), delegations=ESTATE, users=40, groups=3, seed=11)
    emulator.control("POST", "/reset", scenario)
    return scenario


def test_each_run_takes_a_bounded_batch_and_the_next_continues(emulator, palwatch, estate, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(delegations, "WATCH_BATCH", ESTATE // 4, raising=False)
    monkeypatch.setattr(delegations, "WATCH_BUDGET", delegations.timedelta(0), raising=False)  # spent after one batch
    counts = []
    for _ in range(2):
        triggers.watch_now()
        counts.append(len(watched(palwatch)))
    assert 0 < counts[0] <= ESTATE // 4
    assert counts[0] < counts[1]
    assert any("kept for the next run" in r.getMessage() for r in caplog.records)
    monkeypatch.setattr(delegations, "WATCH_BUDGET", delegations.timedelta(minutes=2))
    triggers.watch_now()
    final, final_open = watched(palwatch), remembered.open_as(palwatch, "kind", "subject")
    reference = reference_run(monkeypatch)
    assert final == watched(reference)
    assert final_open == remembered.open_as(reference, "kind", "subject")


def test_the_watcher_progresses_under_faults_and_converges(emulator, palwatch, estate, monkeypatch):
    monkeypatch.setattr(delegations, "WATCH_BATCH", max(5, ESTATE // 8), raising=False)
    world.fail_requests(emulator, 0.3, *FAULTY_ROUTES)
    for _ in range(1 if campaign.CI else 3):
        triggers.watch_now()
        assert watched(palwatch), "a faulty run records what succeeded"
    world.fail_requests(emulator, 0)
    triggers.watch_now()
    final, final_open = watched(palwatch), remembered.open_as(palwatch, "kind", "subject")
    reference = reference_run(monkeypatch)
    assert final == watched(reference)
    campaign.record(
        "watcher_under_faults",
        delegations=ESTATE,
        lost=len(remembered.open_as(reference, "kind", "subject") - final_open),
        extra=len(final_open - remembered.open_as(reference, "kind", "subject")),
    )
    assert final_open == remembered.open_as(reference, "kind", "subject")  # no finding lost, none extra
