"""The emulator's entities: principals, delegations and what one caller can see in ARM.

Plain data held by `World` (world.py) and rendered by the ARM, Graph and control handlers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ScenarioError(ValueError):
    """The scenario (or a control body) is malformed; answered with 400."""


@dataclass
class Principal:
    object_id: str
    tenant_id: str
    type: str  # User | Group | ServicePrincipal | ManagedIdentity
    display_name: str
    raw: dict[str, Any]
    app_id: str = ""
    account_enabled: bool = True
    state: str = "active"  # active | softDeleted | deleted
    deleted_at: str | None = None
    members: list[str] = field(default_factory=list)
    credentials: dict[str, Any] = field(default_factory=dict)
    graph_app_roles: list[str] | None = None
    root_roles: list[str] | None = None
    seq: int = 0  # change sequence, for servicePrincipals/delta

    @property
    def active(self) -> bool:
        return self.state == "active"


@dataclass
class Delegation:
    assignment_id: str
    scope: str
    subscription_id: str
    resource_group: str | None
    definition_id: str
    definition_name: str
    managed_by: str
    authorizations: list[dict[str, Any]]
    eligible: list[dict[str, Any]]
    raw: dict[str, Any]

    @property
    def resource_id(self) -> str:
        return f"{self.scope}/providers/Microsoft.ManagedServices/registrationAssignments/{self.assignment_id}"

    @property
    def definition_resource_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/providers/Microsoft.ManagedServices/"
            f"registrationDefinitions/{self.definition_id}"
        )


@dataclass
class Access:
    """What one caller can see in ARM: subscriptions in full, or only some resource groups."""

    full: set[str] = field(default_factory=set)
    groups: dict[str, set[str]] = field(default_factory=dict)

    def sees(self, sub: str) -> bool:
        return sub in self.full or sub in self.groups


def parse_scope(scope: str) -> tuple[str, str | None]:
    parts = [p for p in scope.strip().split("/") if p]
    if len(parts) == 2 and parts[0].lower() == "subscriptions":
        return parts[1].lower(), None
    if len(parts) == 4 and parts[0].lower() == "subscriptions" and parts[2].lower() == "resourcegroups":
        return parts[1].lower(), parts[3]
    raise ScenarioError(f"scope must be /subscriptions/{{id}}[/resourceGroups/{{name}}], got {scope!r}")
