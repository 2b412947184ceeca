"""The verification is the truth: any sequence of changes and (duplicated, reordered, stale)
delegation events followed by a verify ends exactly where a verify alone ends on a fresh install.

Hypothesis draws a short history of changes a customer or a person makes (delegations added and
removed, links deleted or re-pointed by hand). Run A applies it while delivering the Event Grid
events it produced, in a drawn order with duplicates, to `delegation_events`, then verifies.
Run B applies the same history to a fresh world with no events at all and verifies once on
fresh tables. Open findings, coverage and the links in the emulator must be the same.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import demo, engines, triggers

RELECLOUD_SUB = demo.RELECLOUD.subscription_id


def _new(name: str, *holders: tuple[str, str]) -> dict[str, Any]:
    return {
        "registrationAssignmentId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"palwatch-equivalence:{name}")),
        "scope": f"/subscriptions/{RELECLOUD_SUB}",
        "registrationDefinitionId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"palwatch-equivalence-def:{name}")),
        "registrationDefinitionName": f"Equivalence {name}",
        "managedByTenantId": demo.MANAGING,
        "authorizations": [
            {
                "principalId": demo.MI.object_id,
                "principalIdDisplayName": "id-palwatch-contoso",
                "roleDefinitionId": demo.READER,
            },
            *({"principalId": p, "principalIdDisplayName": p[:8], "roleDefinitionId": r} for p, r in holders),
        ],
        "eligibleAuthorizations": [],
    }


NEW = {
    "pipeline": _new("pipeline", (demo.PIPELINE.object_id, demo.CONTRIBUTOR)),
    "automation": _new("automation", (demo.AUTOMATION.object_id, demo.CONTRIBUTOR)),
    "users": _new("users", (demo.BOB.object_id, demo.CONTRIBUTOR)),
}
EXISTING = ["fabrikam", "northwind", "litware", "proseware"]

steps = st.one_of(
    st.tuples(st.just("onboard"), st.sampled_from(sorted(NEW))),
    st.tuples(st.just("offboard"), st.sampled_from(sorted(NEW) + EXISTING)),
    st.tuples(
        st.just("unlink"),
        st.sampled_from([demo.MI.object_id, demo.OPS.object_id, demo.AUTOMATION.object_id, demo.PIPELINE.object_id]),
    ),
    st.tuples(st.just("repoint"), st.sampled_from([demo.MI.object_id, demo.OPS.object_id, demo.AUTOMATION.object_id])),
)


def _apply(emulator: Any, step: tuple[str, str]) -> list[dict[str, Any]]:
    action, what = step
    if action == "onboard":
        body = copy.deepcopy(NEW[what])
        return emulator.control("PUT", f"/delegations/{body['registrationAssignmentId']}", body)["events"]
    if action == "offboard":
        body = NEW.get(what) or demo.delegation(what)
        try:
            return emulator.control("DELETE", f"/delegations/{body['registrationAssignmentId']}")["events"]
        except requests.HTTPError:  # already gone (404): nothing happened, no event
            return []
    if action == "unlink":
        emulator.control("DELETE", f"/links/{demo.MANAGING}/{what}")
        return []
    emulator.control("PUT", f"/links/{demo.MANAGING}/{what}", {"partnerId": demo.OTHER_PARTNER})
    return []


def _state(emulator: Any, engine: Any) -> tuple[Any, ...]:
    findings = sorted(
        (f.key, f.kind, f.severity.value, f.subject, f.reason)
        for f in (r.finding for r in engine.store.open_findings())
    )
    coverage = engine.store.get_coverage()
    # None: every link left points to another partner ID, so the guard judged nothing (both runs alike).
    rows = (
        sorted(
            (r.delegation_key, r.status, r.reason, tuple(sorted(a.principal_id for a in r.attributed_by)))
            for r in coverage.rows
        )
        if coverage is not None
        else None
    )
    links = sorted(
        (link["tenantId"], link["objectId"], link["partnerId"])
        for link in emulator.control("GET", "/links")["links"]
        if link.get("state", "Active") == "Active"
    )
    return findings, rows, links


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=st.lists(steps, min_size=1, max_size=5), data=st.data())
def test_events_then_verify_equals_verify_alone(emulator, azurite, monkeypatch, history, data):

    monkeypatch.setenv("AzureWebJobsStorage", azurite)

    # A: the history with its events, delivered in any order, some twice, then a verify.
    emulator.reset()
    engine_a = engines.on_fresh_tables(monkeypatch)
    produced = [event for step in history for event in _apply(emulator, step)]
    if produced:
        order = data.draw(st.permutations(produced), label="order")  # any order: a delete before its write
        again = data.draw(st.lists(st.sampled_from(produced), max_size=len(produced)), label="redelivered")
        triggers.delegation_events([*order, *again])  # every event at least once, then stale duplicates
    triggers.verify_now()
    after_events = _state(emulator, engine_a)

    # B: the same history on a fresh world, nobody told, a first verify on fresh tables.
    emulator.reset()
    engine_b = engines.on_fresh_tables(monkeypatch)
    for step in history:
        _apply(emulator, step)
    triggers.verify_now()
    alone = _state(emulator, engine_b)

    assert after_events == alone
