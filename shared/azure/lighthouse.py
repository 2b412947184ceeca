"""Azure Lighthouse registration assignments (Microsoft.ManagedServices, api-version 2022-10-01).

Reads assignments with their definitions expanded and turns them into `model.Delegation`.
The verification's enumeration over them is `shared.usecases.estate_scan`. Called by the
delegation use cases, the enumeration and the doctor.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from shared import model
from shared.azure import errors
from shared.azure.http import AzureHttpClient

API_VERSION = "2022-10-01"
_PROVIDER = re.compile(r"/providers/Microsoft\.ManagedServices/", re.IGNORECASE)


class LighthouseClient:
    """Registration assignments as the managing tenant sees them."""

    def __init__(self, http: AzureHttpClient) -> None:
        self._http = http

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


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
