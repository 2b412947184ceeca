"""Property: duplicated and reordered delegation events end where one clean pass ends.

Hypothesis draws a history of customer actions (delegate to a user, delegate to a federated
service principal, remove the delegation) on one assignment id, and a delivery of its events
in any order with duplicates. The same history replayed with a clean in-order delivery must
give the same stored state, the same open findings, the same PAL links and the same number of
PAL writes (read from the emulator's request journal).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import demo, engines, triggers, world
from tests.support.world import links, pal_writes

ASSIGNMENT = "6f1c1d8e-2f0b-4b7e-9a44-5d2b3c4e5f60"
ACTIONS = st.lists(st.sampled_from(["delegate-user", "delegate-sp", "remove"]), min_size=1, max_size=4)


def apply(emulator: Any, actions: list[str]) -> list[dict[str, Any]]:
    """Change the world as the customer would; return every event Azure published, in order."""
    events: list[dict[str, Any]] = []
    exists = False
    for action in actions:
        if action == "remove":
            if exists:
                events += emulator.control("DELETE", f"/delegations/{ASSIGNMENT}")["events"]
                exists = False
            continue
        who = (
            (demo.BOB.object_id, "Bob Engineer")
            if action == "delegate-user"
            else (demo.PIPELINE.object_id, "contoso-pipeline")
        )
        body = world.new_delegation(demo.RELECLOUD, (*who, demo.CONTRIBUTOR))
        body["registrationAssignmentId"] = ASSIGNMENT
        body["registrationDefinitionId"] = "0d9b3c52-7a61-4f0e-8f2e-3b1a2c4d5e6f"
        events += emulator.control("PUT", f"/delegations/{ASSIGNMENT}", body)["events"]
        exists = True
    return events


def outcome(emulator: Any, engine: Any) -> tuple[Any, ...]:
    snapshots = sorted(
        (s.key, s.attributed, s.removed, s.reason, tuple(sorted(a.principal_id for a in s.attributed_by if a.active)))
        for s in engine.store.list_delegations()
    )
    findings = sorted(r.finding.key for r in engine.store.open_findings())
    return snapshots, findings, sorted(links(emulator).items()), len(pal_writes(emulator))


def fresh_engine(emulator: Any, azurite: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The demo world again and a new engine on fresh tables: one hypothesis example's start."""
    emulator.reset()
    return engines.on_fresh_tables(monkeypatch, "p", **emulator.env, AzureWebJobsStorage=azurite)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=ACTIONS, data=st.data())
def test_any_interleaving_with_duplicates_ends_like_a_clean_pass(emulator_process, azurite, monkeypatch, actions, data):
    engine = fresh_engine(emulator_process, azurite, monkeypatch)
    events = apply(emulator_process, actions)
    triggers.delegation_events(events)
    clean = outcome(emulator_process, engine)

    engine = fresh_engine(emulator_process, azurite, monkeypatch)
    events = apply(emulator_process, actions)
    duplicated = events + data.draw(st.lists(st.sampled_from(events), max_size=4), label="duplicates") if events else []
    shuffled = data.draw(st.permutations(duplicated), label="delivery order")
    triggers.delegation_events(shuffled)

    assert outcome(emulator_process, engine) == clean
