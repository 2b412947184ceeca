"""The third path to partner earned credit on a CSP subscription: a multi-tenant identity of ours,
linked in the customer's own tenant as its principal there, holding an eligible role on the
subscription (Partner Center "partner earned credit explanation"). Counted only when the
subscription's role assignments, read by the verification, show that very principal with such a
role: a link alone is no credit.
"""

from __future__ import annotations

from typing import Any

from scripts import demo_csp
from shared.reports import coverage as report
from tests.support import demo, triggers
from tests.support.remembered import open_findings
from tests.support.world import links

TENANT = demo_csp.gid("tenant:tailspin")
SUB = demo_csp.gid("sub:tailspin")
PORTAL_THERE = demo_csp.gid("sp:portal-in-tailspin")  # the Portal app's service principal in Tailspin's tenant
ASSIGNMENT = demo_csp.gid("assignment:tailspin")


def _tailspin(emulator, role_assignments: list[dict[str, Any]]) -> None:
    """A CSP customer whose Lighthouse offer gives PAL Watch Reader only, with our multi-tenant app installed."""
    principal = {
        "objectId": PORTAL_THERE,
        "type": "ServicePrincipal",
        "displayName": "Portal",
        "appId": demo.PORTAL.app_id,
    }
    tenant = {
        "tenantId": TENANT,
        "displayName": "Tailspin Toys",
        "defaultDomain": "tailspintoys.onmicrosoft.com",
        "subscriptions": [
            {
                "subscriptionId": SUB,
                "displayName": "Tailspin Toys - Production",
                "quotaId": demo_csp.AZURE_PLAN,
                "roleAssignments": role_assignments,
            }
        ],
        "principals": [principal],
    }
    emulator.control("PUT", f"/tenants/{TENANT}", tenant)
    watcher = demo.ACTORS["id-palwatch-contoso"].object_id
    delegation = {
        "registrationAssignmentId": ASSIGNMENT,
        "scope": f"/subscriptions/{SUB}",
        "registrationDefinitionId": demo_csp.gid("definition:tailspin"),
        "registrationDefinitionName": "Contoso Monitoring",
        "managedByTenantId": demo.MANAGING,
        "authorizations": [
            {"principalId": watcher, "principalIdDisplayName": "PAL Watch", "roleDefinitionId": demo_csp.READER}
        ],
        "eligibleAuthorizations": [],
    }
    emulator.control("PUT", f"/delegations/{ASSIGNMENT}", delegation)


def _contributor(principal_type: str = "ServicePrincipal") -> dict[str, str]:
    return {
        "name": demo_csp.gid("roleassignment:portal-contributor"),
        "principalId": PORTAL_THERE,
        "principalType": principal_type,
        "roleDefinitionId": demo_csp.CONTRIBUTOR,
    }


def _tailspin_row(palwatch):
    coverage = palwatch.store.get_coverage()
    assert coverage is not None
    (row,) = [r for r in coverage.rows if SUB in r.scope.lower()]
    return row


def _scope(palwatch):
    (scope,) = [s for s in report.scopes(palwatch.store.get_coverage().rows) if SUB in s.scope.lower()]
    return scope


def test_a_linked_customer_tenant_identity_with_contributor_earns_partner_earned_credit(emulator, palwatch):
    _tailspin(emulator, [_contributor()])

    triggers.verify_now()

    assert links(emulator, TENANT) == {PORTAL_THERE: demo.PARTNER}  # linked there, as that tenant's principal
    scope = _scope(palwatch)
    assert scope.pec_applies
    assert scope.pec_paths == ("customer_tenant_pal",)
    assert report.credit_json(scope)["partnerEarnedCredit"] == {"paths": ["customer_tenant_pal"], "earns": True}
    assert "customer-tenant PAL" in report.credit_label(scope)
    about = [f for f in open_findings(palwatch).values() if SUB in f.scope.lower()]
    assert [f.kind for f in about] == ["unattributed_delegation"]  # Lighthouse carries nothing; credit holds
    assert "linked in the customer's tenant" in about[0].detail


def test_a_linked_customer_tenant_identity_without_a_role_earns_nothing(emulator, palwatch):
    _tailspin(emulator, [])

    triggers.verify_now()

    assert links(emulator, TENANT) == {PORTAL_THERE: demo.PARTNER}  # the link alone is no credit
    scope = _scope(palwatch)
    assert scope.pec_paths == ()
    assert not _tailspin_row(palwatch).customer_tenant_pal


def test_a_role_held_by_a_principal_of_another_type_with_the_same_id_is_not_counted(emulator, palwatch):
    _tailspin(emulator, [_contributor("User")])

    triggers.verify_now()

    assert _scope(palwatch).pec_paths == ()
