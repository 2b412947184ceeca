"""Attribution per scope, the way Microsoft counts it.

Pure: called by `reconcile.estate` (the verification), by the attribution pipeline's event path
(`shared.usecases.attribution`) and by the coverage reports. Microsoft credits a subscription or
resource group when *any* linked identity holds a qualifying role at that scope or above it,
through *any* delegation: a subscription delegation covers its resource groups, and two offers on
one subscription are one scope. So a delegation losing its last carrier is a loss of credit only if
no other delegation covering its scope still earns it.

Two levels per scope: **recognised** (a linked identity holds any permanent role: PAL association
counts for every RBAC role) and **earns partner credit** (a linked identity holds a PEC-eligible
permanent role). Alerts follow the stricter level.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CREDITED_ELSEWHERE = (
    "This delegation no longer attributes the scope itself; the scope keeps earning credit through "
    "another delegation (offer) that covers it."
)
EARNS_CREDIT = "earns_credit"
RECOGNITION_CSP = "csp"
RECOGNITION_PAL = "pal"
CSP_OFFER = "csp"  # `shared.offers.CSP`
RECOGNISED = "recognised"
NONE = "none"


def scope_key(scope: str) -> str:
    """`/subscriptions/{id}[/resourceGroups/{name}]`, case-folded (ARM ids are case-insensitive)."""
    return "/" + scope.strip("/").lower()


def subscription_id(scope: str) -> str:
    """The subscription id of a subscription or resource-group scope, lower case ('' for anything else)."""
    parts = scope_key(scope).strip("/").split("/")
    return parts[1] if len(parts) >= 2 and parts[0] == "subscriptions" else ""


def parent_subscription(scope: str) -> str:
    """The subscription scope of a resource-group scope ('' for a subscription or anything else)."""
    parts = scope_key(scope).strip("/").split("/")
    if len(parts) >= 4 and parts[0] == "subscriptions" and parts[2] == "resourcegroups":
        return f"/subscriptions/{parts[1]}"
    return ""


def covers(outer: str, inner: str) -> bool:
    """Does a delegation at `outer` grant access at `inner` (the same scope, or its subscription)?"""
    return scope_key(outer) == scope_key(inner) or scope_key(outer) == parent_subscription(inner)


@dataclass(frozen=True)
class Standing:
    """What one delegation contributes to its scope, as decided (or as last stored)."""

    key: str
    scope: str
    attributed: bool  # earns partner credit through this delegation
    carriers: frozenset[str] = frozenset()  # identities attributing it (PEC-eligible role, linked)
    recognised: bool = False  # a linked identity holds any permanent role through it
    customer_tenant_id: str = ""
    customer_tenant_name: str = ""
    definition_name: str = ""
    offer_type: str = ""  # the subscription's offer category (`shared.offers`); "" unknown
    aobo: bool = False  # CSP subscription: the partner's Admin Agents hold an eligible role there
    csp_customer: bool = False  # the customer is the partner's own CSP business
    customer_tenant_pal: bool = False  # CSP: our identity linked in the customer's tenant holds an eligible role


def credited_elsewhere(key: str, scope: str, standings: Iterable[Standing]) -> frozenset[str]:
    """Identities that attribute `scope` through delegations other than `key` (same scope or above)."""
    found: set[str] = set()
    for s in standings:
        if s.key != key and s.attributed and covers(s.scope, scope):
            found |= s.carriers
    return frozenset(found)


@dataclass(frozen=True)
class ScopeCredit:
    """One subscription or resource group with the delegations at it and what it earns."""

    scope: str
    customer_tenant_id: str
    customer_tenant_name: str
    delegations: tuple[Standing, ...]  # the delegations at this very scope
    inherited_from: tuple[str, ...]  # keys of subscription delegations that also cover it
    earns_credit: bool
    recognised: bool
    offer_type: str = ""  # the subscription's offer category, as its delegations last read it
    aobo: bool = False  # CSP subscription: the partner's Admin Agents hold an eligible role there
    csp_customer: bool = False  # the customer is the partner's own CSP business
    customer_tenant_pal: bool = False  # CSP: our identity linked in the customer's tenant holds an eligible role

    @property
    def level(self) -> str:
        return EARNS_CREDIT if self.earns_credit else RECOGNISED if self.recognised else NONE

    @property
    def pec_applies(self) -> bool:
        """Partner earned credit exists only on CSP (Azure plan) subscriptions."""
        return self.offer_type == CSP_OFFER

    @property
    def recognition(self) -> str:
        """`csp` (the partner's own CSP business), `pal` (a linked identity holds any role), or `none`."""
        return RECOGNITION_CSP if self.csp_customer else RECOGNITION_PAL if self.recognised else NONE

    @property
    def pec_paths(self) -> tuple[str, ...]:
        """The paths to partner earned credit that hold now (CSP only): `aobo`, `lighthouse_pal`,
        `customer_tenant_pal`."""
        if not self.pec_applies:
            return ()
        held = {"aobo": self.aobo, "lighthouse_pal": self.earns_credit, "customer_tenant_pal": self.customer_tenant_pal}
        return tuple(p for p, holds in held.items() if holds)

    @property
    def incentive_eligible(self) -> bool:
        """Not CSP: a linked identity holds an eligible role (what the role decides off CSP)."""
        return not self.pec_applies and self.earns_credit


def scope_credit(standings: Iterable[Standing]) -> list[ScopeCredit]:
    """Every scope some delegation is at, with its two levels, in a stable order (scope key)."""
    items = list(standings)
    by_scope: dict[str, list[Standing]] = {}
    for s in items:
        by_scope.setdefault(scope_key(s.scope), []).append(s)
    result = []
    for key in sorted(by_scope):
        here = by_scope[key]
        above = [s for s in items if scope_key(s.scope) == parent_subscription(key)]
        covering = here + above
        result.append(
            ScopeCredit(
                scope=here[0].scope,
                customer_tenant_id=here[0].customer_tenant_id,
                customer_tenant_name=next((s.customer_tenant_name for s in here if s.customer_tenant_name), ""),
                delegations=tuple(sorted(here, key=lambda s: (s.definition_name.casefold(), s.key))),
                inherited_from=tuple(sorted(s.key for s in above)),
                earns_credit=any(s.attributed for s in covering),
                recognised=any(s.recognised or s.attributed for s in covering),
                offer_type=next((s.offer_type for s in covering if s.offer_type), ""),
                aobo=any(s.aobo for s in covering),
                csp_customer=any(s.csp_customer for s in covering),
                customer_tenant_pal=any(s.customer_tenant_pal for s in covering),
            )
        )
    return result


def elsewhere_counts(standings: Iterable[Standing], keys: Iterable[str]) -> Mapping[str, int]:
    """For each delegation key in `keys`: how many identities attribute its scope through others."""
    items = list(standings)
    by_key = {s.key: s for s in items}
    counts: dict[str, int] = {}
    for key in keys:
        mine = by_key.get(key)
        if mine is None:
            continue
        others = credited_elsewhere(key, mine.scope, items)
        if others:
            counts[key] = len(others)
    return counts
