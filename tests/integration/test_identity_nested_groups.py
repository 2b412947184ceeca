"""Nested groups: a change to an identity that attributes a delegation only through a
group nested in the authorized one is found at once by `function_app.identity_events`.

The delegation authorizes "Contoso MSP Operators" (Contributor); Bob Engineer, attested, is in
"Contoso MSP Tier 2", itself a member of Operators, and is its only carrier (contoso-ops is taken
out of Operators first, Alice is not attested). The snapshot keeps only the top group, so a
notification for Bob or for Tier 2 must be matched through Graph's memberships or, when Graph
cannot show them (deleted group; no Directory.Read.All for a group's memberships), through the
stored top group's members. Every test runs with the demo's Graph permissions and with
Directory.Read.All granted to the managed identity.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from shared.usecases import identities
from tests.conftest import decode_event
from tests.integration.test_identity_events import (
    BOB,
    CONTRIBUTOR,
    LOSS_KINDS,
    MANAGING,
    MI,
    OPERATORS,
    OPS,
    PRINCIPALS,
    RELECLOUD,
    SCENARIO,
    act,
    add_member,
    attest,
    delegation,
    deliver,
    findings_of,
    make_microsoft_365_group,
    now,
    onboard,
    remove_member,
    snapshot,
    subscribe,
)
from tests.support.remembered import open_findings

TIER2 = PRINCIPALS["Contoso MSP Tier 2"]["objectId"]


@pytest.fixture(params=["demo-permissions", "directory-read-all"])
def nested(request: pytest.FixtureRequest, emulator: Any, palwatch: Any) -> str:
    """The delegation carried by Bob through Tier 2 → Operators only; returns its key."""
    if request.param == "directory-read-all":
        scenario = copy.deepcopy(SCENARIO)
        mi = next(p for t in scenario["tenants"] for p in t["principals"] if p["objectId"] == MI)
        mi["graphAppRoles"] = [*mi["graphAppRoles"], "Directory.Read.All"]
        emulator.reset(scenario)
    remove_member(emulator, OPERATORS, OPS)  # before any subscription: no notification
    attest(palwatch, BOB)
    key = onboard(emulator, delegation(RELECLOUD, (OPERATORS, "Contoso MSP Operators", CONTRIBUTOR)))
    snap = snapshot(palwatch, key)
    assert snap.attributed
    assert {(a.principal_id, a.via_group) for a in snap.active_attributors} == {(BOB, OPERATORS)}
    assert findings_of(palwatch, key) == []
    subscribe(palwatch)
    return key


def lost(palwatch: Any, key: str) -> Any:
    [finding] = findings_of(palwatch, key)
    assert finding.kind == "attribution_lost"
    assert finding.severity.value == "critical"
    assert finding.tenant_id == RELECLOUD["tenantId"]
    assert not snapshot(palwatch, key).attributed
    return finding


def resolved(palwatch: Any, key: str) -> None:
    assert findings_of(palwatch, key) == []
    assert snapshot(palwatch, key).attributed
    recorded = palwatch.store.list_findings(include_resolved=True)
    (closed,) = [r for r in recorded if r.finding.key == f"attribution:{key}"]
    assert closed is not None
    assert not closed.open


def test_soft_deleting_the_nested_carrier_is_found_at_once_and_restoring_resolves(emulator, palwatch, nested):
    deliver(act(emulator, BOB, "softDelete"))
    finding = lost(palwatch, nested)
    assert "Bob Engineer" in finding.detail
    assert f"deletedItems/{BOB}/restore" in finding.fix

    deliver(act(emulator, BOB, "restore"))
    resolved(palwatch, nested)


def test_disabling_the_nested_carrier_is_found_at_once_and_re_enabling_resolves(emulator, palwatch, nested):
    deliver(act(emulator, BOB, "disable"))
    assert "disabled" in lost(palwatch, nested).detail

    deliver(act(emulator, BOB, "enable"))
    resolved(palwatch, nested)


def test_hard_deleting_the_nested_carrier_is_found_at_once(emulator, palwatch, nested):
    deliver(act(emulator, BOB, "hardDelete"))
    assert "permanently deleted" in lost(palwatch, nested).detail


def test_removing_the_carrier_from_the_nested_group_is_found_at_once(emulator, palwatch, nested, request):
    [event] = remove_member(emulator, TIER2, BOB)
    emulator.control("DELETE", "/journal")
    outcome = identities.handle_identity_event(palwatch, decode_event(event), now())
    assert outcome.status == "reconciled", outcome
    member_of = [r for r in emulator.journal() if r["path"].endswith("/transitiveMemberOf")]
    assert [r["path"] for r in member_of] == [f"/v1.0/groups/{TIER2}/transitiveMemberOf"]  # one read
    # Without Directory.Read.All Graph refuses a group's memberships: the stored top group answers.
    refused = request.node.callspec.params["nested"] == "demo-permissions"
    assert member_of[0]["status"] == (403 if refused else 200)
    lost(palwatch, nested)

    deliver(add_member(emulator, TIER2, BOB))
    resolved(palwatch, nested)


def test_deleting_the_nested_group_is_found_at_once_and_restoring_it_resolves(emulator, palwatch, nested):
    make_microsoft_365_group(emulator, TIER2)  # only Microsoft 365 groups can be restored
    deliver(act(emulator, TIER2, "softDelete"))
    lost(palwatch, nested)

    deliver(act(emulator, TIER2, "restore"))
    resolved(palwatch, nested)


def test_hard_deleting_the_nested_group_is_found_at_once(emulator, palwatch, nested):
    deliver(act(emulator, TIER2, "hardDelete"))
    lost(palwatch, nested)


def test_the_top_group_itself_still_matches_directly(emulator, palwatch, nested):
    deliver(remove_member(emulator, OPERATORS, TIER2))
    lost(palwatch, nested)

    deliver(add_member(emulator, OPERATORS, TIER2))
    resolved(palwatch, nested)


def test_nested_identities_that_attribute_nothing_fire_nothing(emulator, palwatch, nested):
    # Carol (not attested) in Tier 3, nested in Tier 2: she and her group carry nothing.
    carol, tier3 = str(uuid.uuid4()), str(uuid.uuid4())
    emulator.control("PUT", f"/principals/{carol}", {"tenantId": MANAGING, "type": "User", "displayName": "Carol"})
    emulator.control(
        "PUT",
        f"/principals/{tier3}",
        {
            "tenantId": MANAGING,
            "type": "Group",
            "displayName": "Contoso MSP Tier 3",
            "members": [carol],
            "groupTypes": ["Unified"],
        },
    )
    deliver(add_member(emulator, TIER2, tier3))
    before = (open_findings(palwatch), snapshot(palwatch, nested))
    assert before[1].attributed

    for events in (
        act(emulator, carol, "disable"),
        act(emulator, carol, "softDelete"),
        act(emulator, carol, "restore"),
        remove_member(emulator, tier3, carol),
        act(emulator, tier3, "softDelete"),
        act(emulator, tier3, "restore"),
        act(emulator, tier3, "hardDelete"),
        act(emulator, carol, "hardDelete"),
    ):
        deliver(events)
        after = open_findings(palwatch)
        assert after.keys() == before[0].keys()
        assert not [f for f in after.values() if f.kind in LOSS_KINDS]
        assert snapshot(palwatch, nested).attributed_by == before[1].attributed_by
