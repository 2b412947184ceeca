"""ARM's action check: a read answers only when one of the caller's permanent roles at that scope
allows its action (`actions` minus `notActions`, case-insensitive, `*` wildcards); otherwise 403
`AuthorizationFailed` naming the action, as ARM does."""

from __future__ import annotations

import copy
import uuid

import pytest

from emulator import rbac
from shared import roles
from tests.support.callers import caller

READER = roles.READER
VM_CONTRIBUTOR = roles.VIRTUAL_MACHINE_CONTRIBUTOR
COST_MANAGEMENT_READER = roles.COST_MANAGEMENT_READER
CONTRIBUTOR = roles.CONTRIBUTOR
ASSIGNMENTS_READ = "Microsoft.ManagedServices/registrationAssignments/read"
COST_READ = "Microsoft.CostManagement/query/read"
ROLE_ASSIGNMENTS_READ = "Microsoft.Authorization/roleAssignments/read"


def role(actions: list[str], not_actions: list[str] | None = None) -> dict:
    return {"permissions": [{"actions": actions, "notActions": not_actions or []}]}


@pytest.mark.parametrize(
    ("roles", "action", "allowed"),
    [
        ([role(["*/read"])], ASSIGNMENTS_READ, True),
        ([role(["*/read"])], COST_READ, True),
        ([role(["*/read"])], "Microsoft.Compute/virtualMachines/write", False),
        ([role(["microsoft.costmanagement/*/READ"])], COST_READ, True),  # case-insensitive
        ([role(["Microsoft.Compute/*"])], ASSIGNMENTS_READ, False),
        ([role(["*"], ["Microsoft.Authorization/*/Write"])], ROLE_ASSIGNMENTS_READ, True),
        ([role(["*"], ["Microsoft.Authorization/*/read"])], ROLE_ASSIGNMENTS_READ, False),
        # notActions subtracts inside its own role only: another role can still allow the action.
        ([role(["*"], ["Microsoft.Authorization/*/read"]), role(["*/read"])], ROLE_ASSIGNMENTS_READ, True),
        ([], COST_READ, False),
    ],
)
def test_actions_minus_not_actions_with_wildcards(roles, action, allowed):
    assert rbac.allows(roles, action) is allowed


def test_microsofts_definitions_allow_what_the_facts_say(emulator):
    from emulator.world import _builtin_roles

    builtin = _builtin_roles()
    for action in (ASSIGNMENTS_READ, COST_READ, ROLE_ASSIGNMENTS_READ):
        assert rbac.allows([builtin[READER]], action), action
    for action in (ASSIGNMENTS_READ, COST_READ):
        assert not rbac.allows([builtin[VM_CONTRIBUTOR]], action), action
    # Like nearly every built-in role, Virtual Machine Contributor carries Microsoft.Authorization/*/read.
    assert rbac.allows([builtin[VM_CONTRIBUTOR]], ROLE_ASSIGNMENTS_READ)
    assert rbac.allows([builtin[COST_MANAGEMENT_READER]], COST_READ)
    assert not rbac.allows([builtin[COST_MANAGEMENT_READER]], ASSIGNMENTS_READ)
    assert not rbac.allows([builtin[CONTRIBUTOR]], "Microsoft.Subscription/cancel/action")


def _with_delegation(emulator, demo, holder: str, role_id: str) -> tuple[str, str]:
    """A delegation of Fabrikam's subscription whose only authorization is `role_id` for `holder`."""
    data = copy.deepcopy(demo.scenario)
    subscription = demo.tenant("Fabrikam")["subscriptions"][0]["subscriptionId"]
    assignment = str(uuid.uuid4())
    data["delegations"] = [d for d in data["delegations"] if not d["scope"].endswith(subscription)]
    data["delegations"].append(
        {
            "registrationAssignmentId": assignment,
            "scope": f"/subscriptions/{subscription}",
            "managedByTenantId": demo.home,
            "authorizations": [{"principalId": holder, "roleDefinitionId": role_id}],
        }
    )
    emulator.reset(data)
    return subscription, assignment


def _query(who, subscription: str):
    body = {"type": "ActualCost", "timeframe": "TheLastMonth", "dataset": {"granularity": "None"}}
    return who.request(
        "POST",
        f"/subscriptions/{subscription}/providers/Microsoft.CostManagement/query",
        params={"api-version": "2023-03-01"},
        json=body,
    )


def test_virtual_machine_contributor_reads_neither_assignments_nor_costs(emulator, demo):
    holder = demo.principal("contoso-deploy")["objectId"]
    subscription, assignment = _with_delegation(emulator, demo, holder, VM_CONTRIBUTOR)
    who = caller(emulator, holder)
    path = f"/subscriptions/{subscription}/providers/Microsoft.ManagedServices/registrationAssignments"
    for answer, action in (
        (who.get(path, params={"api-version": "2022-10-01"}), ASSIGNMENTS_READ),
        (who.get(f"{path}/{assignment}", params={"api-version": "2022-10-01"}), ASSIGNMENTS_READ),
        (_query(who, subscription), COST_READ),
    ):
        assert answer.status_code == 403
        error = answer.json()["error"]
        assert error["code"] == "AuthorizationFailed"
        assert f"'{action}'" in error["message"]
        assert f"/subscriptions/{subscription}" in error["message"]
    # It still sees the subscription: Lighthouse projects it for any role.
    assert who.get(f"/subscriptions/{subscription}", params={"api-version": "2022-12-01"}).status_code == 200


def test_cost_management_reader_reads_costs_but_not_assignments(emulator, demo):
    holder = demo.principal("contoso-deploy")["objectId"]
    subscription, _ = _with_delegation(emulator, demo, holder, COST_MANAGEMENT_READER)
    who = caller(emulator, holder)
    assert _query(who, subscription).status_code == 200
    listed = who.get(
        f"/subscriptions/{subscription}/providers/Microsoft.ManagedServices/registrationAssignments",
        params={"api-version": "2022-10-01"},
    )
    assert listed.status_code == 403


def test_reader_reads_both(emulator, demo):
    holder = demo.principal("contoso-deploy")["objectId"]
    subscription, assignment = _with_delegation(emulator, demo, holder, READER)
    who = caller(emulator, holder)
    assert _query(who, subscription).status_code == 200
    got = who.get(
        f"/subscriptions/{subscription}/providers/Microsoft.ManagedServices/registrationAssignments/{assignment}",
        params={"api-version": "2022-10-01"},
    )
    assert got.status_code == 200
