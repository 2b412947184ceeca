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

import uuid
from typing import Any

import pytest

from shared.usecases import identities
from tests.support import clocks, demo, remembered, triggers, world
from tests.support.remembered import open_findings
from tests.support.triggers import decode_event


@pytest.fixture(params=["demo-permissions", "directory-read-all"])
def nested(request: pytest.FixtureRequest, emulator: Any, palwatch: Any) -> str:
    """The delegation carried by Bob through Tier 2 → Operators only; returns its key."""
    if request.param == "directory-read-all":
        world.restart_with_graph_permission(emulator, "Directory.Read.All")
    world.remove_member(
        emulator, demo.OPERATORS.object_id, demo.OPS.object_id
    )  # before any subscription: no notification
    remembered.attest(palwatch, demo.BOB.object_id)
    key = triggers.onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.OPERATORS, demo.CONTRIBUTOR)))
    snap = remembered.snapshot(palwatch, key)
    assert snap.attributed
    assert {(a.principal_id, a.via_group) for a in snap.active_attributors} == {
        (demo.BOB.object_id, demo.OPERATORS.object_id)
    }
    assert remembered.findings_of(palwatch, key) == []
    triggers.subscribe(palwatch)
    return key


def lost(palwatch: Any, key: str) -> Any:
    [finding] = remembered.findings_of(palwatch, key)
    assert finding.kind == "attribution_lost"
    assert finding.severity.value == "critical"
    assert finding.tenant_id == demo.RELECLOUD.tenant_id
    assert not remembered.snapshot(palwatch, key).attributed
    return finding


def resolved(palwatch: Any, key: str) -> None:
    assert remembered.findings_of(palwatch, key) == []
    assert remembered.snapshot(palwatch, key).attributed
    recorded = palwatch.store.list_findings(include_resolved=True)
    (closed,) = [r for r in recorded if r.finding.key == f"attribution:{key}"]
    assert closed is not None
    assert not closed.open


def test_soft_deleting_the_nested_carrier_is_found_at_once_and_restoring_resolves(emulator, palwatch, nested):
    triggers.identity_events(world.act(emulator, demo.BOB.object_id, "softDelete"))
    finding = lost(palwatch, nested)
    assert "Bob Engineer" in finding.detail
    assert f"deletedItems/{demo.BOB.object_id}/restore" in finding.fix

    triggers.identity_events(world.act(emulator, demo.BOB.object_id, "restore"))
    resolved(palwatch, nested)


def test_disabling_the_nested_carrier_is_found_at_once_and_re_enabling_resolves(emulator, palwatch, nested):
    triggers.identity_events(world.act(emulator, demo.BOB.object_id, "disable"))
    assert "disabled" in lost(palwatch, nested).detail

    triggers.identity_events(world.act(emulator, demo.BOB.object_id, "enable"))
    resolved(palwatch, nested)


def test_hard_deleting_the_nested_carrier_is_found_at_once(emulator, palwatch, nested):
    triggers.identity_events(world.act(emulator, demo.BOB.object_id, "hardDelete"))
    assert "permanently deleted" in lost(palwatch, nested).detail


def test_removing_the_carrier_from_the_nested_group_is_found_at_once(emulator, palwatch, nested, request):
    [event] = world.remove_member(emulator, demo.TIER2.object_id, demo.BOB.object_id)
    emulator.control("DELETE", "/journal")
    outcome = identities.handle_identity_event(palwatch, decode_event(event), clocks.now())
    assert outcome.status == "reconciled", outcome
    member_of = [r for r in emulator.journal() if r["path"].endswith("/transitiveMemberOf")]
    assert [r["path"] for r in member_of] == [f"/v1.0/groups/{demo.TIER2.object_id}/transitiveMemberOf"]  # one read
    # Without Directory.Read.All Graph refuses a group's memberships: the stored top group answers.
    refused = request.node.callspec.params["nested"] == "demo-permissions"
    assert member_of[0]["status"] == (403 if refused else 200)
    lost(palwatch, nested)

    triggers.identity_events(world.add_member(emulator, demo.TIER2.object_id, demo.BOB.object_id))
    resolved(palwatch, nested)


def test_deleting_the_nested_group_is_found_at_once_and_restoring_it_resolves(emulator, palwatch, nested):
    world.make_microsoft_365_group(emulator, demo.TIER2.object_id)  # only Microsoft 365 groups can be restored
    triggers.identity_events(world.act(emulator, demo.TIER2.object_id, "softDelete"))
    lost(palwatch, nested)

    triggers.identity_events(world.act(emulator, demo.TIER2.object_id, "restore"))
    resolved(palwatch, nested)


def test_hard_deleting_the_nested_group_is_found_at_once(emulator, palwatch, nested):
    triggers.identity_events(world.act(emulator, demo.TIER2.object_id, "hardDelete"))
    lost(palwatch, nested)


def test_the_top_group_itself_still_matches_directly(emulator, palwatch, nested):
    triggers.identity_events(world.remove_member(emulator, demo.OPERATORS.object_id, demo.TIER2.object_id))
    lost(palwatch, nested)

    triggers.identity_events(world.add_member(emulator, demo.OPERATORS.object_id, demo.TIER2.object_id))
    resolved(palwatch, nested)


def test_nested_identities_that_attribute_nothing_fire_nothing(emulator, palwatch, nested):
    # Carol (not attested) in Tier 3, nested in Tier 2: she and her group carry nothing.
    carol, tier3 = str(uuid.uuid4()), str(uuid.uuid4())
    emulator.control("PUT", f"/principals/{carol}", {"tenantId": demo.MANAGING, "type": "User", "displayName": "Carol"})
    emulator.control(
        "PUT",
        f"/principals/{tier3}",
        {
            "tenantId": demo.MANAGING,
            "type": "Group",
            "displayName": "Contoso MSP Tier 3",
            "members": [carol],
            "groupTypes": ["Unified"],
        },
    )
    triggers.identity_events(world.add_member(emulator, demo.TIER2.object_id, tier3))
    before = (open_findings(palwatch), remembered.snapshot(palwatch, nested))
    assert before[1].attributed

    for events in (
        world.act(emulator, carol, "disable"),
        world.act(emulator, carol, "softDelete"),
        world.act(emulator, carol, "restore"),
        world.remove_member(emulator, tier3, carol),
        world.act(emulator, tier3, "softDelete"),
        world.act(emulator, tier3, "restore"),
        world.act(emulator, tier3, "hardDelete"),
        world.act(emulator, carol, "hardDelete"),
    ):
        triggers.identity_events(events)
        after = open_findings(palwatch)
        assert after.keys() == before[0].keys()
        assert not [f for f in after.values() if f.kind in remembered.LOSS_KINDS]
        assert remembered.snapshot(palwatch, nested).attributed_by == before[1].attributed_by
