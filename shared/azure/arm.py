"""Azure Resource Manager reads: tenants, subscriptions, resource groups, role definitions.

Used by the Lighthouse enumeration (which subscriptions to look in), the multi-tenant link
upkeep (`list_tenants`), the role decision for built-in roles newer than our list
(`get_role_definition`) and the doctor.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shared import model
from shared.azure.http import AzureHttpClient

SUBSCRIPTIONS_API = "2022-12-01"
RESOURCE_GROUPS_API = "2021-04-01"
ROLE_DEFINITIONS_API = "2022-04-01"
ROLE_ASSIGNMENTS_API = "2022-04-01"


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    display_name: str = ""
    default_domain: str = ""
    category: str = ""  # Home | ProjectedBy | ManagedBy


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    tenant_id: str  # the customer's tenant for a delegated subscription
    display_name: str = ""
    state: str = ""
    managed_by_tenant_ids: tuple[str, ...] = ()
    quota_id: str = ""  # subscriptionPolicies.quotaId: the subscription's offer

    def delegated_to(self, tenant_id: str) -> bool:
        return tenant_id.lower() in self.managed_by_tenant_ids


@dataclass(frozen=True)
class ResourceGroup:
    name: str
    id: str
    location: str = ""


@dataclass(frozen=True)
class RoleDefinition:
    role_definition_id: str  # the bare GUID
    role_name: str = ""
    role_type: str = ""  # BuiltInRole | CustomRole
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()


class ArmClient:
    """Tenant- and subscription-level reads as one identity."""

    def __init__(self, http: AzureHttpClient) -> None:
        self._http = http

    @classmethod
    def from_settings(cls, settings: Any, credential: Any, **kwargs: Any) -> ArmClient:
        return cls(AzureHttpClient.for_arm(settings, credential, **kwargs))

    def list_tenants(self) -> Iterator[Tenant]:
        for item in self._http.list("/tenants", {"api-version": SUBSCRIPTIONS_API}):
            yield Tenant(
                tenant_id=str(item.get("tenantId") or "").lower(),
                display_name=str(item.get("displayName") or ""),
                default_domain=str(item.get("defaultDomain") or ""),
                category=str(item.get("tenantCategory") or ""),
            )

    def list_subscriptions(self) -> Iterator[Subscription]:
        for item in self._http.list("/subscriptions", {"api-version": SUBSCRIPTIONS_API}):
            yield parse_subscription(item)

    def get_subscription(self, subscription_id: str) -> Subscription:
        """One subscription (its offer, name, tenant). Raises NotFoundError when it is not visible."""
        body = self._http.get(f"/subscriptions/{subscription_id.strip('/')}", {"api-version": SUBSCRIPTIONS_API})
        return parse_subscription(body)

    def list_resource_groups(self, subscription_id: str) -> Iterator[ResourceGroup]:
        path = f"/subscriptions/{subscription_id}/resourcegroups"
        for item in self._http.list(path, {"api-version": RESOURCE_GROUPS_API}):
            yield ResourceGroup(
                name=str(item.get("name") or ""), id=str(item.get("id") or ""), location=str(item.get("location") or "")
            )

    def list_role_assignments(self, subscription_id: str) -> Iterator[model.RoleAssignment]:
        """The role assignments that apply at a subscription (at it, above it, and below it), paged.
        Needs `Microsoft.Authorization/roleAssignments/read` there (Reader's `*/read`)."""
        path = f"/subscriptions/{subscription_id.strip('/')}/providers/Microsoft.Authorization/roleAssignments"
        for item in self._http.list(path, {"api-version": ROLE_ASSIGNMENTS_API}):
            props = item.get("properties") if isinstance(item.get("properties"), dict) else {}
            yield model.RoleAssignment(
                principal_id=str(props.get("principalId") or "").lower(),
                principal_type=str(props.get("principalType") or ""),
                role_id=str(props.get("roleDefinitionId") or "").rstrip("/").rsplit("/", 1)[-1].lower(),
                scope=str(props.get("scope") or ""),
            )

    def get_role_definition(self, role_definition_id: str, scope: str = "") -> RoleDefinition:
        """A role definition by GUID (built-in roles resolve at any scope; default the tenant root)."""
        guid = role_definition_id.rstrip("/").rsplit("/", 1)[-1]
        prefix = "/" + scope.strip("/") if scope.strip("/") else ""
        body = self._http.get(
            f"{prefix}/providers/Microsoft.Authorization/roleDefinitions/{guid}", {"api-version": ROLE_DEFINITIONS_API}
        )
        return parse_role_definition(body, guid)


def parse_subscription(item: dict[str, Any]) -> Subscription:
    managed_by = item.get("managedByTenants") or []
    policies = item.get("subscriptionPolicies") if isinstance(item.get("subscriptionPolicies"), dict) else {}
    return Subscription(
        subscription_id=str(item.get("subscriptionId") or "").lower(),
        tenant_id=str(item.get("tenantId") or "").lower(),
        display_name=str(item.get("displayName") or ""),
        state=str(item.get("state") or ""),
        managed_by_tenant_ids=tuple(str(m.get("tenantId") or "").lower() for m in managed_by if isinstance(m, dict)),
        quota_id=str(policies.get("quotaId") or "")[:100],
    )


def parse_role_definition(body: dict[str, Any], guid: str = "") -> RoleDefinition:
    props = body.get("properties") if isinstance(body.get("properties"), dict) else {}
    actions: list[str] = []
    not_actions: list[str] = []
    data_actions: list[str] = []
    for permission in props.get("permissions") or []:
        if isinstance(permission, dict):
            actions += [str(a) for a in permission.get("actions") or []]
            not_actions += [str(a) for a in permission.get("notActions") or []]
            data_actions += [str(a) for a in permission.get("dataActions") or []]
    return RoleDefinition(
        role_definition_id=str(body.get("name") or guid).lower(),
        role_name=str(props.get("roleName") or ""),
        role_type=str(props.get("type") or ""),
        actions=tuple(actions),
        not_actions=tuple(not_actions),
        data_actions=tuple(data_actions),
    )
