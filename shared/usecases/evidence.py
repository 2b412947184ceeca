"""Attribution evidence: what a partner hands Microsoft (or a distributor) to prove its PAL links.

Called by `palwatch evidence`. For every identity the app acts as (the configured ones and the
federated identities it discovered, in the managing tenant; multi-tenant identities also in each
customer tenant where it was found), the link it reports — read live, as that identity, since
nobody else can read it — and every delegated scope where it holds a permanent PEC-eligible role,
directly or through a group, from the stored delegation snapshots. Nothing is written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from shared import model, roles
from shared.azure import errors
from shared.snapshots import DelegationSnapshot
from shared.usecases.engine import Engine

log = logging.getLogger(__name__)

_PRINCIPAL_TYPE = {"managedIdentity": "ManagedIdentity"}  # every other kind is an app's service principal


@dataclass(frozen=True)
class EligibleScope:
    """A delegated scope where the identity holds a permanent PEC-eligible role."""

    scope: str
    customer_tenant_id: str
    customer_tenant_name: str
    role_id: str
    role_name: str
    via_group: str = ""  # the group's object id when the role is held through a group


@dataclass(frozen=True)
class IdentityEvidence:
    """One acting identity in one tenant, its link as it reports it, and its eligible scopes."""

    name: str
    credential: str  # how the app acts as it: managedIdentity, federated, certificate, secret
    tenant_id: str
    object_id: str = ""
    principal_type: str = ""
    link: model.PartnerLink | None = None
    scopes: tuple[EligibleScope, ...] = ()
    problem: str = ""  # why the link (or the identity) could not be read

    def to_json(self) -> dict[str, Any]:
        link = self.link
        return {
            "identity": self.name,
            "credential": self.credential,
            "tenantId": self.tenant_id,
            "objectId": self.object_id,
            "type": self.principal_type,
            "partnerId": link.partner_id if link else "",
            "partnerName": link.partner_name if link else "",
            "linkState": (link.state if link else "") if not self.problem else "unknown",
            "linkCreated": _iso(link.created_time if link else None),
            "linkUpdated": _iso(link.updated_time if link else None),
            "scopeCount": len(self.scopes),
            "problem": self.problem,
            "scopes": [
                {
                    "scope": s.scope,
                    "customerTenantId": s.customer_tenant_id,
                    "customerTenantName": s.customer_tenant_name,
                    "roleDefinitionId": s.role_id,
                    "roleName": s.role_name,
                    "viaGroup": s.via_group,
                }
                for s in self.scopes
            ],
        }


@dataclass
class Evidence:
    identities: list[IdentityEvidence] = field(default_factory=list)

    def to_json(self) -> list[dict[str, Any]]:
        return [i.to_json() for i in self.identities]


def collect_evidence(engine: Engine, only: str | None = None) -> Evidence:
    """Every acting identity (or only the one named `only`), with its link and eligible scopes."""
    snapshots = engine.store.list_delegations(include_removed=False)
    managing = engine.managing_tenant_id.lower()
    evidence = Evidence()
    for acting, tenant_id in _acting_in_tenants(engine):
        if only is not None and acting.name != only:
            continue
        found = _one(engine, acting, tenant_id)
        if found.object_id and tenant_id == managing:
            found = replace(found, scopes=tuple(eligible_scopes(found.object_id, snapshots)))
        evidence.identities.append(found)
    return evidence


def eligible_scopes(object_id: str, snapshots: Iterable[DelegationSnapshot]) -> list[EligibleScope]:
    """Scopes where `object_id` holds a permanent eligible role: in the authorizations, or as an
    attributor the last assessment recorded (which includes roles held through a group)."""
    oid = object_id.lower()
    found: dict[tuple[str, str, str], EligibleScope] = {}
    for snap in snapshots:
        for auth in snap.authorizations:
            if (
                auth.principal_id.lower() == oid
                and not auth.just_in_time
                and roles.is_eligible(auth.role_definition_id)
            ):
                rid = roles.normalize_role_id(auth.role_definition_id)
                found.setdefault((snap.scope.lower(), rid, ""), _scope(snap, rid, ""))
        for by in snap.active_attributors:
            if by.principal_id.lower() == oid:
                rid = roles.normalize_role_id(by.role_id)
                found.setdefault((snap.scope.lower(), rid, by.via_group.lower()), _scope(snap, rid, by.via_group))
    return sorted(found.values(), key=lambda s: (s.customer_tenant_name.lower(), s.scope.lower(), s.role_name))


def _scope(snap: DelegationSnapshot, role_id: str, via_group: str) -> EligibleScope:
    return EligibleScope(
        snap.scope, snap.customer_tenant_id, snap.customer_tenant_name, role_id, roles.role_name(role_id), via_group
    )


def _acting_in_tenants(engine: Engine) -> list[tuple[model.ActingIdentity, str]]:
    """(identity, tenant) pairs: each identity in the managing tenant, multi-tenant ones also where found."""
    managing = engine.managing_tenant_id.lower()
    configured = list(engine.settings.identities)
    known = {(i.kind, i.client_id.lower()) for i in configured}
    remembered = engine.store.list_remembered_identities()
    for r in remembered:
        if r.tenant_id.lower() == managing and r.client_id and ("federated", r.client_id.lower()) not in known:
            configured.append(model.ActingIdentity(name=r.name or r.client_id, kind="federated", client_id=r.client_id))
            known.add(("federated", r.client_id.lower()))
    pairs = [(acting, managing) for acting in configured]
    by_client = {i.client_id.lower(): i for i in configured if i.multi_tenant and i.client_id}
    for r in sorted(remembered, key=lambda r: r.tenant_id):
        acting = by_client.get(r.client_id.lower())
        if acting is not None and r.tenant_id.lower() != managing:
            pairs.append((acting, r.tenant_id.lower()))
    return pairs


def _one(engine: Engine, acting: model.ActingIdentity, tenant_id: str) -> IdentityEvidence:
    base = IdentityEvidence(
        acting.name, acting.kind, tenant_id, principal_type=_PRINCIPAL_TYPE.get(acting.kind, "ServicePrincipal")
    )
    try:
        who = engine.whoami(acting, tenant_id)
    except errors.AzureError as e:
        return replace(base, problem=f"cannot get a token: {e}")
    try:
        link = engine.pal_for(acting, tenant_id).get_link()
    except errors.AzureError as e:
        log.warning("reading the link of %s in %s failed: %s", acting.name, tenant_id, e)
        return replace(base, object_id=who.object_id.lower(), problem=f"link: {e}")
    problem = "" if link is not None and link.active else "no PAL link"
    return replace(base, object_id=who.object_id.lower(), link=link, problem=problem)


def _iso(at: datetime | None) -> str:
    return at.isoformat().replace("+00:00", "Z") if at else ""
