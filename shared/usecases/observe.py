"""Observe: read what the decisions need and freeze it into one `reconcile.Observation`.

Used by the reconcile entry (`shared.usecases.pipeline.reconcile`) and the link checks
(`shared.usecases.tenant_links`, which need the identities we act as). Reads only: principals
and groups from Graph, role definitions from ARM, tokens (who we can act as), attestations from
the store. Links are read by `shared.usecases.links`; federation discovery, which writes what
it learns, is its own step (`shared.usecases.federation`) between the directory and the links.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from shared import model, offers, reconcile, roles
from shared.azure import errors
from shared.snapshots import DelegationSnapshot
from shared.usecases.engine import Engine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identities:
    """Object id (managing tenant) -> identity, for every identity the app can authenticate as."""

    acting: Mapping[str, model.ActingIdentity]
    problems: tuple[str, ...] = ()

    def names(self) -> dict[str, str]:
        return {oid: acting.name for oid, acting in self.acting.items()}

    def adding(self, object_id: str, identity: model.ActingIdentity) -> Identities:
        return replace(self, acting={**self.acting, object_id.lower(): identity})


@dataclass(frozen=True)
class Directory:
    """Who holds what: principals (groups with transitive members), role eligibility, role names."""

    principals: Mapping[str, model.Principal]
    eligibility: Mapping[str, bool | None]
    role_names: Mapping[str, str]  # roles newer than the shipped list, named by their definition


def acting_identities(engine: Engine) -> Identities:
    """The configured identities and the federated ones discovered before, each by its own token.

    A transient token failure raises: deciding without an identity we normally act as would
    raise false alarms ("nobody attributes this"), so the whole pass is better tried again.
    """
    settings = engine.settings
    configured = list(settings.identities)
    known = {(i.kind, i.client_id.lower()) for i in configured}
    for remembered in engine.store.list_remembered_identities():
        if remembered.tenant_id.lower() != settings.managing_tenant_id.lower():
            continue
        if ("federated", remembered.client_id.lower()) in known or not remembered.client_id:
            continue
        configured.append(
            model.ActingIdentity(
                name=remembered.name or remembered.client_id, kind="federated", client_id=remembered.client_id
            )
        )
    found: dict[str, model.ActingIdentity] = {}
    problems: list[str] = []
    for acting in configured:
        try:
            who = engine.whoami(acting)
        except errors.TransientError:
            raise
        except errors.AzureError as e:
            problems.append(f"identity {acting.name} cannot get a token: {e}")
            log.warning("identity %s cannot get a token: %s", acting.name, e)
            continue
        found[who.object_id.lower()] = acting
    return Identities(found, tuple(problems))


def read_directory(
    engine: Engine,
    delegations: Iterable[model.Delegation],
    *,
    known: Mapping[str, model.Principal] | None = None,
) -> Directory:
    """Every principal of the delegations' authorizations (`known` ones not read again), and the
    eligibility of every permanent role; roles newer than the list are decided by their actions."""
    delegations = list(delegations)
    principals = {k.lower(): v for k, v in (known or {}).items()}
    wanted = {
        a.principal_id.lower()
        for d in delegations
        for a in (*d.authorizations, *d.eligible_authorizations)
        if roles.is_guid(a.principal_id)
    }
    graph = engine.graph()
    _fetch(engine, principals, wanted - principals.keys())
    groups = [
        p
        for p in principals.values()
        if p.kind is model.PrincipalKind.GROUP and p.usable and not p.member_ids and p.object_id in wanted
    ]
    members: set[str] = set()
    # Side by side: one round trip for every group, not one each.
    workers = max(1, min(len(groups), engine.settings.max_concurrency))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="groups") as pool:
        listed = list(pool.map(lambda g: tuple(graph.list_transitive_member_ids(g.object_id)), groups))
    for group, ids in zip(groups, listed, strict=True):
        principals[group.object_id] = replace(group, member_ids=ids)
        members.update(ids)
    _fetch(engine, principals, members - principals.keys())
    eligibility: dict[str, bool | None] = {}
    role_names: dict[str, str] = {}
    for role_id in {roles.normalize_role_id(a.role_definition_id) for d in delegations for a in d.authorizations}:
        verdict = roles.is_eligible(role_id)
        if verdict is None:
            try:
                definition = engine.arm().get_role_definition(role_id)
                verdict = roles.is_eligible(role_id, {"permissions": [{"actions": list(definition.actions)}]})
                if definition.role_name:
                    role_names[role_id] = definition.role_name[:200]
            except errors.PermanentError as e:
                log.warning("role definition %s unreadable: %s", role_id, e)
        eligibility[role_id] = verdict
    return Directory(principals, eligibility, role_names)


def read_offers(engine: Engine, delegations: Iterable[model.Delegation]) -> dict[str, str]:
    """Subscription id -> quota ID for the delegations whose offer is not known (an assignment read
    names none): one read per subscription, never per delegation. One that cannot be read is left
    out: its offer stays unknown, which counts as eligible."""
    missing = sorted({d.subscription_id.lower() for d in delegations if not d.quota_id and d.subscription_id})
    if not missing:
        return {}

    def read(subscription_id: str) -> str:
        try:
            return engine.arm().get_subscription(subscription_id).quota_id
        except errors.AzureError as e:
            log.info("offer of subscription %s unreadable (treated as eligible): %s", subscription_id, e)
            return ""

    workers = max(1, min(len(missing), engine.settings.max_concurrency))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="offers") as pool:
        return {sid: quota for sid, quota in zip(missing, pool.map(read, missing), strict=True) if quota}


def with_offers(delegations: Iterable[model.Delegation], quota_ids: Mapping[str, str]) -> tuple[model.Delegation, ...]:
    """The delegations with the offers just read in place of the unknown ones."""
    return tuple(
        d if d.quota_id else replace(d, quota_id=quota_ids.get(d.subscription_id.lower(), "")) for d in delegations
    )


def _fetch(engine: Engine, principals: dict[str, model.Principal], object_ids: set[str]) -> None:
    if object_ids:
        principals.update(engine.graph().get_principals(sorted(object_ids)))


def named(
    delegations: Iterable[model.Delegation],
    acting: Mapping[str, model.ActingIdentity],
    principals: Mapping[str, model.Principal] | None = None,
) -> dict[str, model.ActingIdentity]:
    """The identities we act as that hold an authorization in `delegations`, directly or (with
    `principals`, groups resolved) through a group."""
    found: dict[str, model.ActingIdentity] = {}
    for d in delegations:
        for a in (*d.authorizations, *d.eligible_authorizations):
            principal_id = a.principal_id.lower()
            principal = (principals or {}).get(principal_id)
            for object_id in (principal_id, *(m.lower() for m in (principal.member_ids if principal else ()))):
                if object_id in acting:
                    found[object_id] = acting[object_id]
    return found


def attested_users(engine: Engine) -> frozenset[str]:
    """Users recorded as linked to our partner ID in the managing tenant (store, and settings)."""
    settings = engine.settings
    tenant = settings.managing_tenant_id.lower()
    stored = {
        a.object_id.lower()
        for a in engine.store.list_attested_users()
        if a.tenant_id.lower() == tenant and a.partner_id == settings.partner_id
    }
    return frozenset(stored | {u.lower() for u in settings.attested_users})


def observe(
    engine: Engine,
    directory: Directory,
    identities: Identities,
    links: Mapping[str, reconcile.LinkStatus],
    *,
    previous: Mapping[str, DelegationSnapshot],
    gone: Iterable[str] = (),
) -> reconcile.Observation:
    """Freeze what this pass read, with the attestations and the stored snapshots, into one value."""
    settings = engine.settings
    return reconcile.Observation(
        partner_id=settings.partner_id,
        managing_tenant_id=settings.managing_tenant_id,
        acting=identities.names(),
        principals=keep_names(directory.principals, previous.values()),
        eligibility=directory.eligibility,
        role_names=directory.role_names,
        links=links,
        attested=attested_users(engine),
        previous=previous,
        gone=gone,
        cloud=offers.sovereign_cloud(settings.arm_endpoint),
        csp_tenants=settings.csp_tenants,
    )


def keep_names(
    principals: Mapping[str, model.Principal], snapshots: Iterable[DelegationSnapshot]
) -> dict[str, model.Principal]:
    """Graph forgets a permanently deleted object entirely; the snapshots still know what it was."""
    names: dict[str, str] = {}
    kinds: dict[str, model.PrincipalKind] = {}
    for snap in snapshots:
        for auth in (*snap.authorizations, *snap.eligible_authorizations):
            names.setdefault(auth.principal_id.lower(), auth.principal_display_name)
        for entry in snap.attributed_by:
            if entry.display_name:
                names[entry.principal_id] = entry.display_name
            if entry.kind in {k.value for k in model.PrincipalKind}:
                kinds[entry.principal_id] = model.PrincipalKind(entry.kind)
            if entry.via_group:
                kinds[entry.via_group] = model.PrincipalKind.GROUP
    kept = dict(principals)
    for oid, principal in principals.items():
        if principal.state is model.PrincipalState.DELETED and principal.kind is model.PrincipalKind.UNKNOWN:
            kept[oid] = replace(
                principal,
                kind=kinds.get(oid, model.PrincipalKind.UNKNOWN),
                display_name=principal.display_name or names.get(oid, ""),
            )
    return kept
