"""Property: duplicated and reordered delegation events end where one clean pass ends.

Hypothesis draws a history of customer actions (delegate to a user, delegate to a federated
service principal, remove the delegation) on one assignment id, and on a second offer on the
same scope (credit is per scope: the scope's re-decision when one offer ends or loses its
carrier is where order matters most), and a delivery of their events in any order with
duplicates. The same history replayed with a clean in-order delivery must
give the same stored state, the same open findings, the same PAL links and the same number of
PAL writes (read from the emulator's request journal).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import campaign
from tests.support import demo, engines, triggers, world
from tests.support.world import links, pal_writes

ASSIGNMENT = "6f1c1d8e-2f0b-4b7e-9a44-5d2b3c4e5f60"
OTHER = "7a2d2e9f-3a1c-4c8f-8b55-6e3c4d5f6a71"  # a second offer on the same subscription
DEFINITIONS = {ASSIGNMENT: "0d9b3c52-7a61-4f0e-8f2e-3b1a2c4d5e6f", OTHER: "1e8c4d63-8b72-4a1f-9f3e-4c2b3d5e6f70"}
ACTIONS = st.lists(
    st.sampled_from(["delegate-user", "delegate-sp", "remove", "other-user", "other-sp", "other-remove"]),
    min_size=1,
    max_size=5,
)


def apply(emulator: Any, actions: list[str]) -> list[dict[str, Any]]:
    """Change the world as the customer would; return every event Azure published, in order."""
    events: list[dict[str, Any]] = []
    exists: set[str] = set()
    for action in actions:
        assignment = OTHER if action.startswith("other-") else ASSIGNMENT
        if action.endswith("remove"):
            if assignment in exists:
                events += emulator.control("DELETE", f"/delegations/{assignment}")["events"]
                exists.discard(assignment)
            continue
        who = (
            (demo.BOB.object_id, "Bob Engineer")
            if action.endswith("user")
            else (demo.PIPELINE.object_id, "contoso-pipeline")
        )
        body = world.new_delegation(demo.RELECLOUD, (*who, demo.CONTRIBUTOR))
        body["registrationAssignmentId"] = assignment
        if assignment == OTHER:
            body["registrationDefinitionName"] = "Contoso Security Operations (test)"
        body["registrationDefinitionId"] = DEFINITIONS[assignment]
        events += emulator.control("PUT", f"/delegations/{assignment}", body)["events"]
        exists.add(assignment)
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


@settings(campaign.properties(ci=8), suppress_health_check=[HealthCheck.function_scoped_fixture])
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
