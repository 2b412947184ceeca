"""Azure Lighthouse registration assignments (Microsoft.ManagedServices, api-version 2022-10-01).

Reads assignments with their definitions expanded and turns them into `model.Delegation`.
`list_all_delegations` is the verify pass's enumeration: every subscription the managing
tenant sees, one list per subscription (which also returns its resource groups' assignments),
falling back to the resource groups where a subscription-scope list is forbidden (a caller
whose only access is a resource-group delegation), de-duplicated, with bounded concurrency.
Called by the delegation/verify use cases and the doctor.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from shared import model
from shared.azure import errors
from shared.azure.arm import ArmClient, Subscription
from shared.azure.http import AzureHttpClient

log = logging.getLogger(__name__)

API_VERSION = "2022-10-01"
_PROVIDER = re.compile(r"/providers/Microsoft\.ManagedServices/", re.IGNORECASE)


@dataclass(frozen=True)
class DelegationInventory:
    """The result of a full enumeration. Iterating yields the delegations.

    `incomplete_scopes` lists the subscriptions (or resource groups) that could not be read, with
    the error: a verify must not conclude that delegations there were removed.
    """

    delegations: tuple[model.Delegation, ...]
    subscriptions: tuple[Subscription, ...] = ()
    incomplete_scopes: tuple[tuple[str, str], ...] = ()
    failures: tuple[errors.AzureError, ...] = field(default=(), compare=False, repr=False)

    def __iter__(self) -> Iterator[model.Delegation]:
        return iter(self.delegations)

    def __len__(self) -> int:
        return len(self.delegations)

    @property
    def complete(self) -> bool:
        return not self.incomplete_scopes


class LighthouseClient:
    """Registration assignments as the managing tenant sees them."""

    def __init__(self, http: AzureHttpClient) -> None:
        self._http = http
        self._arm = ArmClient(http)

    @classmethod
    def from_settings(cls, settings: Any, credential: Any, **kwargs: Any) -> LighthouseClient:
        return cls(AzureHttpClient.for_arm(settings, credential, **kwargs))

    def get_assignment(self, assignment_id: str) -> model.Delegation:
        """One assignment by its full ARM id, definition expanded. Raises NotFoundError when gone."""
        if not _PROVIDER.search(assignment_id) or not assignment_id.startswith("/subscriptions/"):
            raise errors.PermanentError(
                f"not a registration assignment id: {assignment_id[:200]!r}", code="InvalidAssignmentId"
            )
        body = self._http.get(assignment_id, {"api-version": API_VERSION, "$expandRegistrationDefinition": "true"})
        return parse_assignment(body)

    def list_assignments(self, scope: str, managed_by_tenant_id: str | None = None) -> Iterator[model.Delegation]:
        """Assignments at `scope` (`/subscriptions/{sub}[/resourceGroups/{rg}]`), expanded, optionally filtered."""
        params = {"api-version": API_VERSION, "$expandRegistrationDefinition": "true"}
        if managed_by_tenant_id:
            params["$filter"] = f"managedByTenantId eq '{managed_by_tenant_id}'"
        path = "/" + scope.strip("/") + "/providers/Microsoft.ManagedServices/registrationAssignments"
        for item in self._http.list(path, params):
            delegation = parse_assignment(item)
            if (
                managed_by_tenant_id
                and delegation.managed_by_tenant_id
                and (delegation.managed_by_tenant_id.lower() != managed_by_tenant_id.lower())
            ):
                continue  # the filter is applied server side too; stay correct if it is ignored
            yield delegation

    def list_all_delegations(self, managing_tenant_id: str, max_workers: int = 8) -> DelegationInventory:
        """Every delegation to `managing_tenant_id` visible to the caller."""
        subscriptions = [s for s in self._arm.list_subscriptions() if _worth_listing(s, managing_tenant_id)]
        found: dict[str, model.Delegation] = {}
        incomplete: list[tuple[str, str]] = []
        failures: list[errors.AzureError] = []
        with ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="lighthouse") as pool:
            results = pool.map(lambda s: self._scan_subscription(s, managing_tenant_id), subscriptions)
            for delegations, problems in results:
                for delegation in delegations:
                    found.setdefault(delegation.key, delegation)
                for scope, error in problems:
                    incomplete.append((scope, str(error)))
                    failures.append(error)
        ordered = tuple(sorted(found.values(), key=lambda d: d.key))
        return DelegationInventory(ordered, tuple(subscriptions), tuple(incomplete), tuple(failures))

    def _scan_subscription(
        self, subscription: Subscription, managing_tenant_id: str
    ) -> tuple[list[model.Delegation], list[tuple[str, errors.AzureError]]]:
        scope = f"/subscriptions/{subscription.subscription_id}"
        try:
            return [_with_tenant(d, subscription) for d in self.list_assignments(scope, managing_tenant_id)], []
        except errors.ForbiddenError:
            log.debug("no subscription-level access to %s; listing its resource groups", scope)
        except errors.AzureError as e:
            return [], [(scope, e)]
        delegations: list[model.Delegation] = []
        problems: list[tuple[str, errors.AzureError]] = []
        try:
            groups = list(self._arm.list_resource_groups(subscription.subscription_id))
        except errors.AzureError as e:
            return [], [(scope, e)]
        for group in groups:
            group_scope = group.id or f"{scope}/resourceGroups/{group.name}"
            try:
                delegations += [
                    _with_tenant(d, subscription) for d in self.list_assignments(group_scope, managing_tenant_id)
                ]
            except errors.ForbiddenError:
                continue  # a group we see but hold nothing in: no delegation of ours there
            except errors.AzureError as e:
                problems.append((group_scope, e))
        return delegations, problems


def parse_assignment(body: dict[str, Any]) -> model.Delegation:
    """A `Delegation` from an expanded registration assignment; PermanentError if it is not one."""
    assignment_id = str(body.get("id") or "")
    match = _PROVIDER.search(assignment_id)
    if not match:
        raise errors.PermanentError("registration assignment without a valid id", code="MalformedResponse")
    props = _dict(body.get("properties"))
    definition = _dict(props.get("registrationDefinition"))
    dprops = _dict(definition.get("properties"))
    return model.Delegation(
        assignment_id=assignment_id,
        scope=assignment_id[: match.start()] or "/",
        customer_tenant_id=str(dprops.get("manageeTenantId") or "").lower(),
        managed_by_tenant_id=str(dprops.get("managedByTenantId") or "").lower(),
        definition_id=str(props.get("registrationDefinitionId") or definition.get("id") or ""),
        definition_name=str(dprops.get("registrationDefinitionName") or ""),
        customer_tenant_name=str(dprops.get("manageeTenantName") or ""),
        plan=_plan(definition.get("plan")),
        provisioning_state=str(props.get("provisioningState") or "Succeeded"),
        authorizations=tuple(_authorizations(dprops.get("authorizations"), just_in_time=False)),
        eligible_authorizations=tuple(_authorizations(dprops.get("eligibleAuthorizations"), just_in_time=True)),
    )


def _plan(value: Any) -> str:
    """`publisher/product/name` of a Marketplace plan ('' when the definition has none)."""
    plan = _dict(value)
    parts = [str(plan.get(k) or "").strip()[:100] for k in ("publisher", "product", "name")]
    return "/".join(parts) if any(parts) else ""


def _authorizations(items: Any, *, just_in_time: bool) -> Iterator[model.Authorization]:
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not item.get("principalId") or not item.get("roleDefinitionId"):
            continue
        yield model.Authorization(
            principal_id=str(item["principalId"]).lower(),
            role_definition_id=str(item["roleDefinitionId"]).rstrip("/").rsplit("/", 1)[-1].lower(),
            principal_display_name=str(item.get("principalIdDisplayName") or ""),
            just_in_time=just_in_time,
        )


def _with_tenant(delegation: model.Delegation, subscription: Subscription) -> model.Delegation:
    return replace(
        delegation,
        customer_tenant_id=delegation.customer_tenant_id or subscription.tenant_id,
        quota_id=delegation.quota_id or subscription.quota_id,
    )


def _worth_listing(subscription: Subscription, managing_tenant_id: str) -> bool:
    # A tenant cannot delegate to itself: the managing tenant's own subscriptions hold none of ours.
    return not subscription.tenant_id or subscription.tenant_id != managing_tenant_id.lower()


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
