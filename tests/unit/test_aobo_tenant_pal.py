"""What one CSP subscription's role assignments say about the paths to partner earned credit
(pure): AOBO through the partner's Admin Agents, and the service principals holding an eligible
role that a linked identity in the customer's tenant may be."""

from __future__ import annotations

from shared import model, roles
from shared.decisions import aobo

SUB = "11111111-2222-3333-4444-555555555555"
SP = "aaaaaaaa-0000-0000-0000-000000000001"


def _assignment(principal_type: str, role: str, scope: str = f"/subscriptions/{SUB}") -> model.RoleAssignment:
    return model.RoleAssignment(principal_id=SP.upper(), principal_type=principal_type, role_id=role, scope=scope)


def test_a_service_principal_with_contributor_at_the_subscription_is_named():
    state = aobo.state(SUB, [_assignment("ServicePrincipal", roles.CONTRIBUTOR)], own_groups=())
    assert state.service_principals == (SP,)
    assert not state.holds


def test_a_role_on_a_management_group_above_counts_and_one_on_another_subscription_does_not():
    above = _assignment("ServicePrincipal", roles.CONTRIBUTOR, "/providers/Microsoft.Management/managementGroups/mg")
    other = _assignment("ServicePrincipal", roles.CONTRIBUTOR, "/subscriptions/99999999-2222-3333-4444-555555555555")
    assert aobo.state(SUB, [above], own_groups=()).service_principals == (SP,)
    assert aobo.state(SUB, [other], own_groups=()).service_principals == ()


def test_a_role_that_earns_no_credit_or_a_principal_of_another_type_is_not_named():
    assert aobo.state(SUB, [_assignment("ServicePrincipal", roles.READER)], own_groups=()).service_principals == ()
    assert aobo.state(SUB, [_assignment("User", roles.CONTRIBUTOR)], own_groups=()).service_principals == ()
