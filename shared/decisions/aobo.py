"""Admin on behalf of (AOBO): is the partner's Admin Agents group an administrator of a CSP subscription?

Pure: called by the verification (`shared.usecases.estate_scan`) with the role assignments it read
at a subscription, and read by the decisions (`attribution.attribute`) through the observation.
Partner Center grants AOBO on an Azure plan subscription as a role assignment of Owner to the
partner's Admin Agents group, a *foreign* group (principalType `ForeignGroup`) whose object id is
the group's id in the partner's tenant (Partner Center "revoke-reinstate-csp"; "partner earned
credit explanation": AOBO is one of the paths that earn partner earned credit). So the path is the
partner's own only when that id is one of its Admin Agents groups (its own, found in Graph, or one
named by `PAL_AOBO_GROUP_IDS`: an indirect provider's or reseller's); a foreign group PAL Watch
does not know is someone else's AOBO: shown, never counted.

The same read names the service principals holding an eligible role there: a multi-tenant app
identity of the partner's, linked in the customer's tenant as its principal there, is the third
path ("a PAL-linked identity in the customer's own tenant"), which Microsoft counts only while that
principal holds an eligible role on the subscription (`attribution.attribute` matches them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shared import model, roles

FOREIGN_GROUP = "ForeignGroup"
SERVICE_PRINCIPAL = "ServicePrincipal"


@dataclass(frozen=True)
class AoboState:
    """What the role assignments of one subscription say about AOBO."""

    holds: bool  # one of the partner's Admin Agents groups holds an eligible role at the subscription
    groups: tuple[str, ...] = ()  # the partner's groups holding it
    roles: tuple[str, ...] = ()  # their roles (ids)
    foreign: tuple[str, ...] = ()  # foreign groups PAL Watch does not know (someone else's AOBO)
    service_principals: tuple[str, ...] = ()  # customer-tenant service principals holding an eligible role


def _at_or_above(scope: str, subscription_id: str) -> bool:
    """The assignment applies at the subscription: at it, or at the root or a management group above."""
    s = "/" + scope.strip("/").lower()
    return s in {"/", f"/subscriptions/{subscription_id.lower()}"} or s.startswith(
        "/providers/microsoft.management/managementgroups/"
    )


def state(
    subscription_id: str,
    assignments: Iterable[model.RoleAssignment],
    own_groups: Iterable[str],
    eligible: Callable[[str], bool | None] = roles.is_eligible,
) -> AoboState:
    """AOBO at one subscription from its role assignments and the partner's Admin Agents group ids."""
    known = {g.lower() for g in own_groups}
    groups: list[str] = []
    held: list[str] = []
    foreign: list[str] = []
    principals: list[str] = []
    for a in assignments:
        if not _at_or_above(a.scope, subscription_id):
            continue
        if a.principal_type == SERVICE_PRINCIPAL and eligible(a.role_id) is True:
            principals.append(a.principal_id.lower())
        if a.principal_type != FOREIGN_GROUP:
            continue
        pid = a.principal_id.lower()
        if pid not in known:
            if pid not in foreign:
                foreign.append(pid)
        elif eligible(a.role_id) is True:
            if pid not in groups:
                groups.append(pid)
            held.append(roles.normalize_role_id(a.role_id))
    return AoboState(
        bool(groups), tuple(groups), tuple(dict.fromkeys(held)), tuple(foreign), tuple(dict.fromkeys(principals))
    )
