"""What PAL Watch's identities may read is what their roles allow, through the entry points Azure
calls: an identity holding only Virtual Machine Contributor reads neither the delegation nor its
costs, so the delegation is "unreadable" and its cost "not visible (why)", never a number; a role
Microsoft's PEC page marks "No" earns nothing although its definition has non-read actions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from shared import money, roles
from shared.usecases import costs
from tests.support import clocks, demo, triggers, world
from tests.support.remembered import open_findings

VM_CONTRIBUTOR = roles.VIRTUAL_MACHINE_CONTRIBUTOR
LOG_ANALYTICS_READER = roles.LOG_ANALYTICS_READER
COSMOS_DB_ACCOUNT_READER = roles.COSMOS_DB_ACCOUNT_READER
WORKBOOK_READER = "b279062a-9be3-42a0-92ae-8b3cf002ec4d"  # newer than the page
NOW = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)


def _delegation(customer: demo.Tenant, *holders: tuple[demo.Actor, str]) -> dict:
    return {
        "registrationAssignmentId": str(uuid.uuid4()),
        "scope": customer.scope,
        "registrationDefinitionId": str(uuid.uuid4()),
        "registrationDefinitionName": "Contoso Managed Azure (roles test)",
        "managedByTenantId": demo.MANAGING,
        "authorizations": [
            {"principalId": a.object_id, "principalIdDisplayName": a.name, "roleDefinitionId": r} for a, r in holders
        ],
    }


def test_virtual_machine_contributor_alone_reads_no_delegation_and_no_cost(emulator, palwatch):
    body = _delegation(demo.RELECLOUD, (demo.MI, VM_CONTRIBUTOR), (demo.AUTOMATION, VM_CONTRIBUTOR))
    triggers.delegation_events(world.onboard(emulator, body))
    triggers.watch_now()  # the activity log announces it
    triggers.verify_now()

    key = world.delegation_key(body)
    assert palwatch.store.get_delegation(key) is None, "nothing PAL Watch acts as may read it"
    unreadable = [f for f in open_findings(palwatch).values() if f.reason == "not_visible"]
    assert demo.RELECLOUD.scope.lower() in {f.subject for f in unreadable}
    refused = [
        e
        for e in emulator.journal()
        if e["status"] == 403
        and "registrationassignments" in e["path"].lower()
        and demo.RELECLOUD.subscription_id in e["path"]
    ]
    assert refused, "the identities asked and ARM refused for want of registrationAssignments/read"


def test_a_reader_that_loses_its_role_to_virtual_machine_contributor_sees_cost_not_visible(emulator, palwatch):
    body = _delegation(demo.RELECLOUD, (demo.MI, demo.READER))
    triggers.delegation_events(world.onboard(emulator, body))
    emulator.control("POST", "/costs/qpu", {"quotas": False})
    # The customer re-delegates with the managed identity as Virtual Machine Contributor only.
    changed = {**body, "authorizations": [{**body["authorizations"][0], "roleDefinitionId": VM_CONTRIBUTOR}]}
    emulator.control("PUT", f"/delegations/{body['registrationAssignmentId']}", changed)

    costs.run_cost_snapshot(palwatch, NOW, pacer=clocks.fake_pacer(clocks.FakeClock()), force=True)

    cached = palwatch.store.costs.all()[demo.RELECLOUD.scope.lower()]
    assert not cached.known
    assert cached.status is money.CostStatus.FORBIDDEN
    assert "Microsoft.CostManagement/query/read" in cached.detail
    assert "cannot be read" in money.at_stake("attribution_lost", cached, None, NOW, NOW).sentence


def test_a_linked_identity_holding_only_no_roles_earns_nothing_and_the_finding_says_whose_verdict(emulator, palwatch):
    # Roles Microsoft's page marks "No" although their definitions carry non-read actions (log
    # queries, read-only keys), and one the page does not list (decided by its actions).
    body = _delegation(
        demo.FABRIKAM,
        (demo.MI, demo.READER),
        (demo.AUTOMATION, LOG_ANALYTICS_READER),
        (demo.AUTOMATION, COSMOS_DB_ACCOUNT_READER),
        (demo.AUTOMATION, WORKBOOK_READER),
    )
    key = triggers.onboard(emulator, body)
    triggers.verify_now()

    snapshot = palwatch.store.get_delegation(key)
    assert not snapshot.attributed
    assert snapshot.reason == "no_eligible_role"
    (finding,) = [f for f in open_findings(palwatch).values() if f.subject == key and f.reason == "no_eligible_role"]
    assert "Log Analytics Reader" in finding.detail
    assert "Cosmos DB Account Reader Role" in finding.detail
    assert "could not be classified" not in finding.detail
    assert "Not on Microsoft's PEC role list" in finding.detail
    assert "Workbook Reader" in finding.detail


def test_the_doctor_names_the_delegations_where_the_managed_identity_may_not_read(emulator, palwatch):
    from shared import doctor

    triggers.verify_now()
    assert doctor.run_doctor().check("reading roles").status == doctor.OK
    northwind = demo.delegation("northwind")
    changed = {
        **northwind,
        "authorizations": [
            {**a, "roleDefinitionId": VM_CONTRIBUTOR} if a["principalId"] == demo.MI.object_id else a
            for a in northwind["authorizations"]
        ],
    }
    # Azure announces the new version; the automation identity (Contributor) still reads it.
    triggers.delegation_events(
        emulator.control("PUT", f"/delegations/{changed['registrationAssignmentId']}", changed)["events"]
    )

    row = doctor.run_doctor().check("reading roles")
    assert row.status == doctor.WARN
    assert northwind["scope"] in row.detail
    assert "Microsoft.ManagedServices/registrationAssignments/read" in row.detail
    assert "Microsoft.CostManagement/query/read" in row.detail
    assert demo.READER in row.fix
    assert demo.MI.object_id in row.fix
