"""The demo's CSP customers with admin on behalf of (AOBO): built here, used by scripts/demo.py and tests.

Two Azure plan customers whose subscriptions carry the partner's Admin Agents group as Owner (a
`ForeignGroup` role assignment, as Partner Center grants it): Alpine Ski House also delegates to a
linked person (Carol) through Lighthouse, Coho Winery only to PAL Watch's Reader. When Carol's
account is deleted, Alpine's credit rests on AOBO alone (a warning); when Coho removes Admin Agents,
no path to partner earned credit is left (critical).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from shared import roles

NS = uuid.UUID("6f1c8a52-3e47-4c1a-9b0e-5d2f7a8c9e10")
AZURE_PLAN = "CSP_2015-05-01"
OWNER = roles.OWNER
CONTRIBUTOR = roles.CONTRIBUTOR
READER = roles.READER


def gid(name: str) -> str:
    return str(uuid.uuid5(NS, name))


ADMIN_AGENTS = gid("group:adminagents")
CAROL = gid("user:carol")
ALPINE_SUB = gid("sub:alpine")
COHO_SUB = gid("sub:coho")
ALPINE_ASSIGNMENT = gid("assignment:alpine")
COHO_ASSIGNMENT = gid("assignment:coho")
AOBO_NAME = gid("roleassignment:aobo")  # the Admin Agents' Owner assignment's name, on each subscription


@dataclass(frozen=True)
class Managing:
    tenant_id: str
    domain: str
    watcher: str  # PAL Watch's managed identity (Reader in every offer)


def principals(home: Managing) -> list[dict[str, Any]]:
    """The partner's Admin Agents group (Partner Center names it AdminAgents) and Carol, an operator."""
    return [
        {"objectId": ADMIN_AGENTS, "type": "Group", "displayName": "AdminAgents", "members": []},
        {
            "objectId": CAROL,
            "type": "User",
            "displayName": "Carol Operator",
            "userPrincipalName": f"carol@{home.domain}",
            "accountEnabled": True,
        },
    ]


def aobo() -> dict[str, str]:
    return {"principalId": ADMIN_AGENTS, "principalType": "ForeignGroup", "roleDefinitionId": OWNER}


def tenants() -> list[dict[str, Any]]:
    def tenant(key: str, name: str, sub: str, title: str) -> dict[str, Any]:
        return {
            "displayName": name,
            "defaultDomain": f"{key}.onmicrosoft.com",
            "tenantId": gid("tenant:" + key),
            "subscriptions": [
                {
                    "subscriptionId": sub,
                    "displayName": title,
                    "quotaId": AZURE_PLAN,
                    "roleAssignments": [{**aobo(), "name": AOBO_NAME}],
                }
            ],
            "principals": [],
        }

    return [
        tenant("alpineskihouse", "Alpine Ski House", ALPINE_SUB, "Alpine Ski House - Production"),
        tenant("cohowinery", "Coho Winery", COHO_SUB, "Coho Winery - Production"),
    ]


def delegations(home: Managing) -> list[dict[str, Any]]:
    def auth(principal: str, name: str, role: str) -> dict[str, str]:
        return {"principalId": principal, "principalIdDisplayName": name, "roleDefinitionId": role}

    watch = auth(home.watcher, "PAL Watch", READER)
    return [
        {
            "registrationAssignmentId": ALPINE_ASSIGNMENT,
            "scope": f"/subscriptions/{ALPINE_SUB}",
            "registrationDefinitionId": gid("definition:alpine"),
            "registrationDefinitionName": "Contoso Premier Support",
            "managedByTenantId": home.tenant_id,
            "authorizations": [watch, auth(CAROL, "Carol Operator", CONTRIBUTOR)],
            "eligibleAuthorizations": [],
        },
        {
            "registrationAssignmentId": COHO_ASSIGNMENT,
            "scope": f"/subscriptions/{COHO_SUB}",
            "registrationDefinitionId": gid("definition:coho"),
            "registrationDefinitionName": "Contoso Monitoring",
            "managedByTenantId": home.tenant_id,
            "authorizations": [watch],
            "eligibleAuthorizations": [],
        },
    ]


def onboard(control: Any, home: Managing, partner_id: str) -> list[dict[str, Any]]:
    """Put the group, Carol (linked), the two customers and their delegations into the emulator
    through its control API (`control(method, path, body)`); the delegation events it answers."""
    for p in principals(home):
        control("PUT", f"/principals/{p['objectId']}", {**p, "tenantId": home.tenant_id})
    control("PUT", f"/links/{home.tenant_id}/{CAROL}", {"partnerId": partner_id})
    for t in tenants():
        control("PUT", f"/tenants/{t['tenantId']}", t)
    events: list[dict[str, Any]] = []
    for d in delegations(home):
        events += control("PUT", f"/delegations/{d['registrationAssignmentId']}", d)["events"]
    return events


def remove_aobo(control: Any, subscription: str = COHO_SUB) -> list[dict[str, Any]]:
    """The customer removes the partner's Admin Agents from its subscription (revoke-reinstate-csp)."""
    return control("DELETE", f"/subscriptions/{subscription}/roleAssignments/{AOBO_NAME}", None)["events"]
