"""End to end: Graph change notifications through `function_app.identity_events`.

Each test onboards delegations through `function_app.delegation_events` (so the store holds
their snapshots), lets PAL Watch create its Graph subscriptions, changes an identity through
the emulator's control API as an admin would, and delivers exactly the CloudEvents the
emulator publishes for it, decoded as the Functions worker decodes them. Helpers here are
shared by the other test_identity_* modules.
"""

from __future__ import annotations

import copy
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import function_app
from shared.usecases import identities
from tests.conftest import decode_event
from tests.integration.test_delegation_events import delegation as delegation_body
from tests.support import demo, world
from tests.support.remembered import open_findings

# The demo's actors (tests.support.demo), under the names the test_identity_* modules use.
SCENARIO = demo.SCENARIO
HOME = demo.HOME.raw
MANAGING, PARTNER, CONTRIBUTOR, READER = demo.MANAGING, demo.PARTNER, demo.CONTRIBUTOR, demo.READER
PRINCIPALS = {a.name: a.raw for a in demo.ACTORS.values()}
MI, ALICE, BOB, OPS, OPERATORS = (a.object_id for a in (demo.MI, demo.ALICE, demo.BOB, demo.OPS, demo.OPERATORS))
TENANTS = {name: t.raw for name, t in demo.TENANTS.items()}
RELECLOUD, FABRIKAM = demo.RELECLOUD.raw, demo.FABRIKAM.raw
LOSS_KINDS = {"attribution_lost", "identity_lost"}


def now() -> datetime:
    return datetime.now(UTC)


def delegation(customer: dict[str, Any], *authorizations: tuple[str, str, str]) -> dict[str, Any]:
    """A new delegation body for `customer`'s first subscription: the MI as Reader plus `authorizations`."""
    return delegation_body(*authorizations, scope=f"/subscriptions/{customer['subscriptions'][0]['subscriptionId']}")


def onboard(emulator: Any, body: dict[str, Any]) -> str:
    """Delegate through the control API and deliver its ARM events; returns the delegation key."""
    for event in world.onboard(emulator, body):
        function_app.delegation_events(decode_event(event))
    return next(s.key for s in store_of().list_delegations() if s.key.endswith(body["registrationAssignmentId"]))


def store_of() -> Any:
    from shared.usecases import engine

    return engine.get_engine().store


def attest(engine: Any, object_id: str) -> None:
    engine.store.attest_user(MANAGING, object_id, PARTNER, "test", now())


def subscribe(engine: Any) -> None:
    outcome = identities.ensure_graph_subscriptions(engine, now())
    assert outcome.status == "ok", outcome


def act(emulator: Any, object_id: str, action: str) -> list[dict[str, Any]]:
    return emulator.control("POST", f"/principals/{object_id}", {"action": action})["events"]


def make_microsoft_365_group(emulator: Any, group_id: str) -> None:
    """Turn a demo security group into a Microsoft 365 group (the only groups Graph soft-deletes)."""
    raw = next(p for p in HOME["principals"] if p["objectId"] == group_id)
    emulator.control("PUT", f"/principals/{group_id}", {**raw, "tenantId": MANAGING, "groupTypes": ["Unified"]})


def remove_member(emulator: Any, group: str, member: str) -> list[dict[str, Any]]:
    return emulator.control("DELETE", f"/groups/{group}/members/{member}")["events"]


def add_member(emulator: Any, group: str, member: str) -> list[dict[str, Any]]:
    return emulator.control("PUT", f"/groups/{group}/members/{member}")["events"]


def deliver(events: list[dict[str, Any]]) -> None:
    assert events, "the emulator published no notification (no Graph subscription?)"
    for event in events:
        function_app.identity_events(decode_event(event))


def findings_of(engine: Any, delegation_key: str) -> list[Any]:
    return sorted((f for f in open_findings(engine).values() if f.subject == delegation_key), key=lambda f: f.key)


def snapshot(engine: Any, key: str) -> Any:
    return engine.store.get_delegation(key)


# ---------------------------------------------------------------------------------------------- users


def test_soft_deleting_a_linked_user_flags_lost_attribution_with_the_customer(emulator, palwatch):
    attest(palwatch, ALICE)
    key = onboard(emulator, delegation(RELECLOUD, (ALICE, "Alice Operator", CONTRIBUTOR)))
    assert snapshot(palwatch, key).attributed
    subscribe(palwatch)

    deliver(act(emulator, ALICE, "softDelete"))

    [finding] = findings_of(palwatch, key)
    assert finding.kind == "attribution_lost"
    assert finding.severity.value == "critical"
    assert finding.tenant_id == RELECLOUD["tenantId"]
    assert finding.tenant_name == "Relecloud"
    assert finding.scope == snapshot(palwatch, key).scope
    assert "Relecloud" in finding.title
    assert RELECLOUD["tenantId"] in finding.title
    assert "Alice Operator" in finding.detail
    assert "restorable for 30 days" in finding.detail
    assert "Since " in finding.detail
    assert f"deletedItems/{ALICE}/restore" in finding.fix
    assert f"--partner-id {PARTNER}" in finding.fix
    snap = snapshot(palwatch, key)
    assert not snap.attributed
    assert [(a.principal_id, a.active) for a in snap.attributed_by] == [(ALICE, False)]


def test_restoring_the_user_resolves_the_finding(emulator, palwatch):
    attest(palwatch, ALICE)
    key = onboard(emulator, delegation(RELECLOUD, (ALICE, "Alice Operator", CONTRIBUTOR)))
    subscribe(palwatch)
    deliver(act(emulator, ALICE, "softDelete"))
    assert [f.kind for f in findings_of(palwatch, key)] == ["attribution_lost"]

    deliver(act(emulator, ALICE, "restore"))

    assert findings_of(palwatch, key) == []
    assert snapshot(palwatch, key).attributed
    recorded = palwatch.store.list_findings(include_resolved=True)
    (resolved,) = [r for r in recorded if r.finding.key == f"attribution:{key}"]
    assert resolved is not None
    assert not resolved.open


def test_hard_deleting_a_linked_user_says_it_cannot_come_back(emulator, palwatch):
    attest(palwatch, ALICE)
    key = onboard(emulator, delegation(RELECLOUD, (ALICE, "Alice Operator", CONTRIBUTOR)))
    subscribe(palwatch)

    deliver(act(emulator, ALICE, "hardDelete"))

    [finding] = findings_of(palwatch, key)
    assert finding.kind == "attribution_lost"
    assert "Alice Operator" in finding.detail  # the name survives although Graph forgot the user
    assert "permanently deleted" in finding.detail
    assert "cannot come back" in finding.fix
    assert "deletedItems" not in finding.fix


def test_disabling_and_re_enabling_a_linked_user(emulator, palwatch):
    attest(palwatch, ALICE)
    key = onboard(emulator, delegation(RELECLOUD, (ALICE, "Alice Operator", CONTRIBUTOR)))
    subscribe(palwatch)

    deliver(act(emulator, ALICE, "disable"))
    [finding] = findings_of(palwatch, key)
    assert finding.kind == "attribution_lost"
    assert "disabled" in finding.detail
    assert f"az ad user update --id {ALICE} --account-enabled true" in finding.fix

    deliver(act(emulator, ALICE, "enable"))
    assert findings_of(palwatch, key) == []
    assert snapshot(palwatch, key).attributed


def test_a_user_lost_while_another_identity_attributes_is_a_warning(emulator, palwatch):
    attest(palwatch, ALICE)
    attest(palwatch, BOB)
    key = onboard(
        emulator,
        delegation(RELECLOUD, (ALICE, "Alice Operator", CONTRIBUTOR), (BOB, "Bob Engineer", CONTRIBUTOR)),
    )
    subscribe(palwatch)

    deliver(act(emulator, ALICE, "softDelete"))

    [finding] = findings_of(palwatch, key)
    assert finding.kind == "identity_lost"
    assert finding.severity.value == "warning"
    assert finding.principal_id == ALICE
    assert finding.tenant_id == RELECLOUD["tenantId"]
    assert snapshot(palwatch, key).attributed


def test_one_user_lost_lists_every_customer_it_attributed(emulator, palwatch):
    attest(palwatch, ALICE)
    first = onboard(emulator, delegation(RELECLOUD, (ALICE, "Alice Operator", CONTRIBUTOR)))
    second = onboard(emulator, delegation(FABRIKAM, (ALICE, "Alice Operator", CONTRIBUTOR)))
    subscribe(palwatch)

    deliver(act(emulator, ALICE, "softDelete"))

    lost = {f.tenant_id for f in open_findings(palwatch).values() if f.kind == "attribution_lost"}
    assert lost == {RELECLOUD["tenantId"], FABRIKAM["tenantId"]}
    assert {findings_of(palwatch, k)[0].scope for k in (first, second)} == {
        snapshot(palwatch, first).scope,
        snapshot(palwatch, second).scope,
    }


def test_deleting_a_user_that_attributes_nothing_gives_no_finding(emulator, palwatch):
    # Bob holds a role but is not linked: his delegation is unattributed already.
    key = onboard(emulator, delegation(RELECLOUD, (BOB, "Bob Engineer", CONTRIBUTOR)))
    subscribe(palwatch)
    before = open_findings(palwatch)

    deliver(act(emulator, BOB, "softDelete"))
    deliver(act(emulator, BOB, "hardDelete"))

    after = open_findings(palwatch)
    assert after.keys() == before.keys()
    assert not [f for f in after.values() if f.kind in LOSS_KINDS]
    assert not snapshot(palwatch, key).attributed


def test_a_user_in_no_delegation_is_no_impact(emulator, palwatch):
    subscribe(palwatch)
    mailer = PRINCIPALS["PAL Watch alerts"]["objectId"]
    [event] = act(emulator, mailer, "disable")

    emulator.control("DELETE", "/journal")

    outcome = identities.handle_identity_event(palwatch, decode_event(event), now())

    assert outcome.status == "no_impact"
    assert mailer in str(outcome)
    assert open_findings(palwatch) == {}
    assert emulator.journal() == []  # the usual user change costs no Graph read


# --------------------------------------------------------------------------------------------- groups


def _group_delegation(emulator: Any, palwatch: Any) -> str:
    """Operators (Alice, contoso-ops, Tier 2) as Contributor: attributed by Alice (attested) and ops (linked)."""
    attest(palwatch, ALICE)
    key = onboard(emulator, delegation(FABRIKAM, (OPERATORS, "Contoso MSP Operators", CONTRIBUTOR)))
    snap = snapshot(palwatch, key)
    assert {(a.principal_id, a.via_group) for a in snap.active_attributors} == {(ALICE, OPERATORS), (OPS, OPERATORS)}
    subscribe(palwatch)
    return key


def test_removing_group_members_thins_then_loses_attribution_and_adding_back_resolves(emulator, palwatch):
    key = _group_delegation(emulator, palwatch)

    deliver(remove_member(emulator, OPERATORS, ALICE))
    [thinner] = findings_of(palwatch, key)
    assert thinner.kind == "identity_lost"
    assert thinner.principal_id == ALICE
    assert "no longer a member of group" in thinner.detail
    assert f"az ad group member add --group {OPERATORS} --member-id {ALICE}" in thinner.fix

    deliver(remove_member(emulator, OPERATORS, OPS))
    [lost] = findings_of(palwatch, key)
    assert lost.kind == "attribution_lost"
    assert lost.tenant_id == FABRIKAM["tenantId"]
    assert ALICE in lost.detail
    assert OPS in lost.detail

    deliver(add_member(emulator, OPERATORS, OPS))
    [again] = findings_of(palwatch, key)
    assert again.kind == "identity_lost"
    assert again.principal_id == ALICE

    deliver(add_member(emulator, OPERATORS, ALICE))
    assert findings_of(palwatch, key) == []
    assert snapshot(palwatch, key).attributed


def test_deleting_a_microsoft_365_group_loses_attribution_and_restoring_it_resolves(emulator, palwatch):
    make_microsoft_365_group(emulator, OPERATORS)
    key = _group_delegation(emulator, palwatch)

    deliver(act(emulator, OPERATORS, "softDelete"))
    [lost] = findings_of(palwatch, key)
    assert lost.kind == "attribution_lost"
    assert lost.tenant_id == FABRIKAM["tenantId"]
    assert f"group {OPERATORS} is deleted (restorable for 30 days)" in lost.detail
    assert f"deletedItems/{OPERATORS}/restore" in lost.fix
    assert lost.fix.count(f"deletedItems/{OPERATORS}/restore") == 1  # two members, one fix line

    deliver(act(emulator, OPERATORS, "restore"))
    assert findings_of(palwatch, key) == []
    assert snapshot(palwatch, key).attributed


def test_deleting_a_security_group_is_permanent_and_no_fix_says_restore(emulator, palwatch):
    key = _group_delegation(emulator, palwatch)

    deliver(act(emulator, OPERATORS, "softDelete"))  # DELETE /groups/{id} of a security group

    [lost] = findings_of(palwatch, key)
    assert lost.kind == "attribution_lost"
    assert f"group {OPERATORS} is permanently deleted" in lost.detail
    assert "cannot come back" in lost.fix
    assert "restore" not in lost.fix.lower()


def test_hard_deleting_the_group(emulator, palwatch):
    key = _group_delegation(emulator, palwatch)

    deliver(act(emulator, OPERATORS, "hardDelete"))

    [lost] = findings_of(palwatch, key)
    assert lost.kind == "attribution_lost"
    assert f"group {OPERATORS} is permanently deleted" in lost.detail
    assert "cannot come back" in lost.fix


# ------------------------------------------------------------------------------------ hostile input


def _spoofed(event: dict[str, Any], *, client_state: str | None = None, tenant: str | None = None) -> dict[str, Any]:
    forged = copy.deepcopy(event)
    if client_state is not None:
        forged["data"]["clientState"] = client_state
    if tenant is not None:
        forged["data"]["tenantId"] = tenant
        forged["data"]["resourceData"]["organizationId"] = tenant
        forged["source"] = forged["source"].replace(MANAGING, tenant)
    return forged


def test_spoofed_notifications_change_nothing_and_never_log_the_secret(emulator, palwatch, caplog):
    attest(palwatch, ALICE)
    key = onboard(emulator, delegation(RELECLOUD, (ALICE, "Alice Operator", CONTRIBUTOR)))
    subscribe(palwatch)
    [genuine] = act(emulator, ALICE, "softDelete")
    before = (open_findings(palwatch), snapshot(palwatch, key))
    forged_secret = "forged-" + uuid.uuid4().hex
    forgeries = [
        _spoofed(genuine, client_state=forged_secret),
        _spoofed(genuine, client_state=""),
        _spoofed(genuine, tenant=FABRIKAM["tenantId"]),
        {**_spoofed(genuine), "data": {k: v for k, v in genuine["data"].items() if k != "clientState"}},
    ]
    emulator.control("DELETE", "/journal")

    with caplog.at_level(logging.DEBUG):
        outcomes = [identities.handle_identity_event(palwatch, decode_event(e), now()) for e in forgeries]
        for forged in forgeries:
            function_app.identity_events(decode_event(forged))

    assert [o.status for o in outcomes] == ["rejected"] * len(forgeries)
    assert (open_findings(palwatch), snapshot(palwatch, key)) == before
    assert emulator.journal() == []  # not even a Graph read on a forged hint
    secret = palwatch.settings.graph_client_state
    assert secret
    assert all(secret not in r.getMessage() and forged_secret not in r.getMessage() for r in caplog.records)
    assert any("rejected" in r.getMessage() for r in caplog.records)


def test_malformed_and_unrelated_graph_events_are_ignored(emulator, palwatch):
    subscribe(palwatch)
    [genuine] = act(emulator, ALICE, "disable")
    created = {**copy.deepcopy(genuine), "type": "Microsoft.Graph.UserCreated"}
    not_a_user = copy.deepcopy(genuine)
    not_a_user["data"]["resource"] = not_a_user["subject"] = "Devices/" + ALICE
    huge = {**copy.deepcopy(genuine), "subject": "Users/" + "x" * 100_000}

    for event in (created, not_a_user, huge, {"specversion": "1.0", "id": "1", "source": "s", "type": "t"}):
        outcome = identities.handle_identity_event(palwatch, decode_event(event), now())
        assert outcome.status == "ignored", outcome
    assert open_findings(palwatch) == {}
