"""End to end: Graph change notifications through `function_app.identity_events`.

Each test onboards delegations through `function_app.delegation_events` (so the store holds
their snapshots), lets PAL Watch create its Graph subscriptions, changes an identity through
the emulator's control API as an admin would, and delivers exactly the CloudEvents the
emulator publishes for it, decoded as the Functions worker decodes them.
"""

from __future__ import annotations

import copy
import logging
import uuid
from typing import Any

import function_app
from shared.usecases import identities
from tests.support import clocks, demo, remembered, triggers, world
from tests.support.remembered import open_findings
from tests.support.triggers import decode_event

# ---------------------------------------------------------------------------------------------- users


def test_soft_deleting_a_linked_user_flags_lost_attribution_with_the_customer(emulator, palwatch):
    remembered.attest(palwatch, demo.ALICE.object_id)
    key = triggers.onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.ALICE, demo.CONTRIBUTOR)))
    assert remembered.snapshot(palwatch, key).attributed
    triggers.subscribe(palwatch)

    triggers.identity_events(world.act(emulator, demo.ALICE.object_id, "softDelete"))

    [finding] = remembered.findings_of(palwatch, key)
    assert finding.kind == "attribution_lost"
    assert finding.severity.value == "critical"
    assert finding.tenant_id == demo.RELECLOUD.tenant_id
    assert finding.tenant_name == "Relecloud"
    assert finding.scope == remembered.snapshot(palwatch, key).scope
    assert "Relecloud" in finding.title
    assert demo.RELECLOUD.tenant_id in finding.title
    assert "Alice Operator" in finding.detail
    assert "restorable for 30 days" in finding.detail
    assert "Since " in finding.detail
    assert f"deletedItems/{demo.ALICE.object_id}/restore" in finding.fix
    assert f"--partner-id {demo.PARTNER}" in finding.fix
    snap = remembered.snapshot(palwatch, key)
    assert not snap.attributed
    assert [(a.principal_id, a.active) for a in snap.attributed_by] == [(demo.ALICE.object_id, False)]


def test_restoring_the_user_resolves_the_finding(emulator, palwatch):
    remembered.attest(palwatch, demo.ALICE.object_id)
    key = triggers.onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.ALICE, demo.CONTRIBUTOR)))
    triggers.subscribe(palwatch)
    triggers.identity_events(world.act(emulator, demo.ALICE.object_id, "softDelete"))
    assert [f.kind for f in remembered.findings_of(palwatch, key)] == ["attribution_lost"]

    triggers.identity_events(world.act(emulator, demo.ALICE.object_id, "restore"))

    assert remembered.findings_of(palwatch, key) == []
    assert remembered.snapshot(palwatch, key).attributed
    recorded = palwatch.store.list_findings(include_resolved=True)
    (resolved,) = [r for r in recorded if r.finding.key == f"attribution:{key}"]
    assert resolved is not None
    assert not resolved.open


def test_hard_deleting_a_linked_user_says_it_cannot_come_back(emulator, palwatch):
    remembered.attest(palwatch, demo.ALICE.object_id)
    key = triggers.onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.ALICE, demo.CONTRIBUTOR)))
    triggers.subscribe(palwatch)

    triggers.identity_events(world.act(emulator, demo.ALICE.object_id, "hardDelete"))

    [finding] = remembered.findings_of(palwatch, key)
    assert finding.kind == "attribution_lost"
    assert "Alice Operator" in finding.detail  # the name survives although Graph forgot the user
    assert "permanently deleted" in finding.detail
    assert "cannot come back" in finding.fix
    assert "deletedItems" not in finding.fix


def test_disabling_and_re_enabling_a_linked_user(emulator, palwatch):
    remembered.attest(palwatch, demo.ALICE.object_id)
    key = triggers.onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.ALICE, demo.CONTRIBUTOR)))
    triggers.subscribe(palwatch)

    triggers.identity_events(world.act(emulator, demo.ALICE.object_id, "disable"))
    [finding] = remembered.findings_of(palwatch, key)
    assert finding.kind == "attribution_lost"
    assert "disabled" in finding.detail
    assert f"az ad user update --id {demo.ALICE.object_id} --account-enabled true" in finding.fix

    triggers.identity_events(world.act(emulator, demo.ALICE.object_id, "enable"))
    assert remembered.findings_of(palwatch, key) == []
    assert remembered.snapshot(palwatch, key).attributed


def test_a_user_lost_while_another_identity_attributes_is_a_warning(emulator, palwatch):
    remembered.attest(palwatch, demo.ALICE.object_id)
    remembered.attest(palwatch, demo.BOB.object_id)
    key = triggers.onboard(
        emulator,
        world.new_delegation(
            demo.RELECLOUD,
            (demo.ALICE, demo.CONTRIBUTOR),
            (demo.BOB, demo.CONTRIBUTOR),
        ),
    )
    triggers.subscribe(palwatch)

    triggers.identity_events(world.act(emulator, demo.ALICE.object_id, "softDelete"))

    [finding] = remembered.findings_of(palwatch, key)
    assert finding.kind == "identity_lost"
    assert finding.severity.value == "warning"
    assert finding.principal_id == demo.ALICE.object_id
    assert finding.tenant_id == demo.RELECLOUD.tenant_id
    assert remembered.snapshot(palwatch, key).attributed


def test_one_user_lost_lists_every_customer_it_attributed(emulator, palwatch):
    remembered.attest(palwatch, demo.ALICE.object_id)
    first = triggers.onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.ALICE, demo.CONTRIBUTOR)))
    second = triggers.onboard(emulator, world.new_delegation(demo.FABRIKAM, (demo.ALICE, demo.CONTRIBUTOR)))
    triggers.subscribe(palwatch)

    triggers.identity_events(world.act(emulator, demo.ALICE.object_id, "softDelete"))

    lost = {f.tenant_id for f in open_findings(palwatch).values() if f.kind == "attribution_lost"}
    assert lost == {demo.RELECLOUD.tenant_id, demo.FABRIKAM.tenant_id}
    assert {remembered.findings_of(palwatch, k)[0].scope for k in (first, second)} == {
        remembered.snapshot(palwatch, first).scope,
        remembered.snapshot(palwatch, second).scope,
    }


def test_deleting_a_user_that_attributes_nothing_gives_no_finding(emulator, palwatch):
    # Bob holds a role but is not linked: his delegation is unattributed already.
    key = triggers.onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.BOB, demo.CONTRIBUTOR)))
    triggers.subscribe(palwatch)
    before = open_findings(palwatch)

    triggers.identity_events(world.act(emulator, demo.BOB.object_id, "softDelete"))
    triggers.identity_events(world.act(emulator, demo.BOB.object_id, "hardDelete"))

    after = open_findings(palwatch)
    assert after.keys() == before.keys()
    assert not [f for f in after.values() if f.kind in remembered.LOSS_KINDS]
    assert not remembered.snapshot(palwatch, key).attributed


def test_a_user_in_no_delegation_is_no_impact(emulator, palwatch):
    triggers.subscribe(palwatch)
    mailer = demo.ACTORS["PAL Watch alerts"].object_id
    [event] = world.act(emulator, mailer, "disable")

    emulator.control("DELETE", "/journal")

    outcome = identities.handle_identity_event(palwatch, decode_event(event), clocks.now())

    assert outcome.status == "no_impact"
    assert mailer in str(outcome)
    assert open_findings(palwatch) == {}
    assert emulator.journal() == []  # the usual user change costs no Graph read


# --------------------------------------------------------------------------------------------- groups


def _group_delegation(emulator: Any, palwatch: Any) -> str:
    """Operators (Alice, contoso-ops, Tier 2) as Contributor: attributed by Alice (attested) and ops (linked)."""
    remembered.attest(palwatch, demo.ALICE.object_id)
    key = triggers.onboard(
        emulator,
        world.new_delegation(demo.FABRIKAM, (demo.OPERATORS, demo.CONTRIBUTOR)),
    )
    snap = remembered.snapshot(palwatch, key)
    assert {(a.principal_id, a.via_group) for a in snap.active_attributors} == {
        (demo.ALICE.object_id, demo.OPERATORS.object_id),
        (demo.OPS.object_id, demo.OPERATORS.object_id),
    }
    triggers.subscribe(palwatch)
    return key


def test_removing_group_members_thins_then_loses_attribution_and_adding_back_resolves(emulator, palwatch):
    key = _group_delegation(emulator, palwatch)

    triggers.identity_events(world.remove_member(emulator, demo.OPERATORS.object_id, demo.ALICE.object_id))
    [thinner] = remembered.findings_of(palwatch, key)
    assert thinner.kind == "identity_lost"
    assert thinner.principal_id == demo.ALICE.object_id
    assert "no longer a member of group" in thinner.detail
    assert (
        f"az ad group member add --group {demo.OPERATORS.object_id} --member-id {demo.ALICE.object_id}" in thinner.fix
    )

    triggers.identity_events(world.remove_member(emulator, demo.OPERATORS.object_id, demo.OPS.object_id))
    [lost] = remembered.findings_of(palwatch, key)
    assert lost.kind == "attribution_lost"
    assert lost.tenant_id == demo.FABRIKAM.tenant_id
    assert demo.ALICE.object_id in lost.detail
    assert demo.OPS.object_id in lost.detail

    triggers.identity_events(world.add_member(emulator, demo.OPERATORS.object_id, demo.OPS.object_id))
    [again] = remembered.findings_of(palwatch, key)
    assert again.kind == "identity_lost"
    assert again.principal_id == demo.ALICE.object_id

    triggers.identity_events(world.add_member(emulator, demo.OPERATORS.object_id, demo.ALICE.object_id))
    assert remembered.findings_of(palwatch, key) == []
    assert remembered.snapshot(palwatch, key).attributed


def test_deleting_a_microsoft_365_group_loses_attribution_and_restoring_it_resolves(emulator, palwatch):
    world.make_microsoft_365_group(emulator, demo.OPERATORS.object_id)
    key = _group_delegation(emulator, palwatch)

    triggers.identity_events(world.act(emulator, demo.OPERATORS.object_id, "softDelete"))
    [lost] = remembered.findings_of(palwatch, key)
    assert lost.kind == "attribution_lost"
    assert lost.tenant_id == demo.FABRIKAM.tenant_id
    assert f"group {demo.OPERATORS.object_id} is deleted (restorable for 30 days)" in lost.detail
    assert f"deletedItems/{demo.OPERATORS.object_id}/restore" in lost.fix
    assert lost.fix.count(f"deletedItems/{demo.OPERATORS.object_id}/restore") == 1  # two members, one fix line

    triggers.identity_events(world.act(emulator, demo.OPERATORS.object_id, "restore"))
    assert remembered.findings_of(palwatch, key) == []
    assert remembered.snapshot(palwatch, key).attributed


def test_deleting_a_security_group_loses_attribution_and_restoring_it_resolves(emulator, palwatch):
    # Graph v1.0 group-delete today: security groups, like Microsoft 365 groups, wait 30 days in deletedItems.
    key = _group_delegation(emulator, palwatch)

    triggers.identity_events(world.act(emulator, demo.OPERATORS.object_id, "softDelete"))
    [lost] = remembered.findings_of(palwatch, key)
    assert lost.kind == "attribution_lost"
    assert f"group {demo.OPERATORS.object_id} is deleted (restorable for 30 days)" in lost.detail
    assert (
        f"POST --url https://graph.microsoft.com/v1.0/directory/deletedItems/{demo.OPERATORS.object_id}/restore"
        in lost.fix
    )
    assert "cannot come back" not in lost.fix

    triggers.identity_events(world.act(emulator, demo.OPERATORS.object_id, "restore"))
    assert remembered.findings_of(palwatch, key) == []
    assert remembered.snapshot(palwatch, key).attributed


def test_where_security_groups_are_deleted_for_good_no_fix_says_restore(emulator, palwatch):
    world.assume(emulator, securityGroupDelete="permanent")  # the older pages (beta, PowerShell help)
    key = _group_delegation(emulator, palwatch)

    triggers.identity_events(
        world.act(emulator, demo.OPERATORS.object_id, "softDelete")
    )  # DELETE /groups/{id} of a security group

    [lost] = remembered.findings_of(palwatch, key)
    assert lost.kind == "attribution_lost"
    assert f"group {demo.OPERATORS.object_id} is permanently deleted" in lost.detail
    assert "cannot come back" in lost.fix
    assert "restore" not in lost.fix.lower()


def test_hard_deleting_the_group(emulator, palwatch):
    key = _group_delegation(emulator, palwatch)

    triggers.identity_events(world.act(emulator, demo.OPERATORS.object_id, "hardDelete"))

    [lost] = remembered.findings_of(palwatch, key)
    assert lost.kind == "attribution_lost"
    assert f"group {demo.OPERATORS.object_id} is permanently deleted" in lost.detail
    assert "cannot come back" in lost.fix


# ------------------------------------------------------------------------------------ hostile input


def _spoofed(event: dict[str, Any], *, client_state: str | None = None, tenant: str | None = None) -> dict[str, Any]:
    forged = copy.deepcopy(event)
    if client_state is not None:
        forged["data"]["clientState"] = client_state
    if tenant is not None:
        forged["data"]["tenantId"] = tenant
        forged["data"]["resourceData"]["organizationId"] = tenant
        forged["source"] = forged["source"].replace(demo.MANAGING, tenant)
    return forged


def test_spoofed_notifications_change_nothing_and_never_log_the_secret(emulator, palwatch, caplog):
    remembered.attest(palwatch, demo.ALICE.object_id)
    key = triggers.onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.ALICE, demo.CONTRIBUTOR)))
    triggers.subscribe(palwatch)
    [genuine] = world.act(emulator, demo.ALICE.object_id, "softDelete")
    before = (open_findings(palwatch), remembered.snapshot(palwatch, key))
    forged_secret = "forged-" + uuid.uuid4().hex
    forgeries = [
        _spoofed(genuine, client_state=forged_secret),
        _spoofed(genuine, client_state=""),
        _spoofed(genuine, tenant=demo.FABRIKAM.tenant_id),
        {**_spoofed(genuine), "data": {k: v for k, v in genuine["data"].items() if k != "clientState"}},
    ]
    emulator.control("DELETE", "/journal")

    with caplog.at_level(logging.DEBUG):
        outcomes = [identities.handle_identity_event(palwatch, decode_event(e), clocks.now()) for e in forgeries]
        for forged in forgeries:
            function_app.identity_events(decode_event(forged))

    assert [o.status for o in outcomes] == ["rejected"] * len(forgeries)
    assert (open_findings(palwatch), remembered.snapshot(palwatch, key)) == before
    assert emulator.journal() == []  # not even a Graph read on a forged hint
    secret = palwatch.settings.graph_client_state
    assert secret
    assert all(secret not in r.getMessage() and forged_secret not in r.getMessage() for r in caplog.records)
    assert any("rejected" in r.getMessage() for r in caplog.records)


def test_malformed_and_unrelated_graph_events_are_ignored(emulator, palwatch):
    triggers.subscribe(palwatch)
    [genuine] = world.act(emulator, demo.ALICE.object_id, "disable")
    created = {**copy.deepcopy(genuine), "type": "Microsoft.Graph.UserCreated"}
    not_a_user = copy.deepcopy(genuine)
    not_a_user["data"]["resource"] = not_a_user["subject"] = "Devices/" + demo.ALICE.object_id
    huge = {**copy.deepcopy(genuine), "subject": "Users/" + "x" * 100_000}

    for event in (created, not_a_user, huge, {"specversion": "1.0", "id": "1", "source": "s", "type": "t"}):
        outcome = identities.handle_identity_event(palwatch, decode_event(event), clocks.now())
        assert outcome.status == "ignored", outcome
    assert open_findings(palwatch) == {}
