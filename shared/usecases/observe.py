"""Observe: read what the decisions need and freeze it into one `decisions.Observation`.

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

from shared import decisions, model, offers, roles
from shared.azure import errors
from shared.snapshots import DelegationSnapshot
from shared.usecases.engine import Engine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identities:
    """Object id (managing tenant) -> identity, for every identity the app can authenticate as."""

    acting: Mapping[str, model.ActingIdentity]
    problems: tuple[str, ...] = ()
    # Identities whose token failed for now (names): kept by the object id they had, if it is known.
    unknown: tuple[str, ...] = ()

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
    # What could not be read for now (principal, group and role definition ids): a delegation that
    # depends on one is not judged in this pass (`held`); its last judgement stands.
    unreadable: frozenset[str] = frozenset()
    problems: tuple[str, ...] = ()

    def held(self, delegations: Iterable[model.Delegation]) -> frozenset[str]:
        """Keys of the delegations whose judgement needs something this read could not get."""
        if not self.unreadable:
            return frozenset()
        held: set[str] = set()
        for d in delegations:
            for a in (*d.authorizations, *d.eligible_authorizations):
                principal = self.principals.get(a.principal_id.lower())
                members = principal.member_ids if principal else ()
                ids = {a.principal_id.lower(), roles.normalize_role_id(a.role_definition_id), *members}
                if ids & self.unreadable:
                    held.add(d.key)
                    break
        return frozenset(held)


ACTING_STATE = "acting-identities"  # "kind:client id" -> object id, as the last token said


def acting_identities(engine: Engine, *, tolerate: bool = False) -> Identities:
    """The configured identities and the federated ones discovered before, each by its own token.

    A transient token failure raises (an event is delivered again): deciding without an identity
    we normally act as would raise false alarms ("nobody attributes this"). With `tolerate` (the
    verification, the watch) the token is asked once more, then the identity is kept by the object
    id its last token gave (its link reads as unknown) and named in `unknown`: one identity's token
    never stops the estate.
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
    unknown: list[str] = []
    remembered: dict[str, str] = (engine.store.get_state(ACTING_STATE) or {}) if tolerate else {}
    learnt: dict[str, str] = {}
    for acting in configured:
        key = f"{acting.kind}:{acting.client_id.lower()}"
        try:
            object_id = _object_id(engine, acting, attempts=2 if tolerate else 1)
        except errors.TransientError as e:
            if not tolerate:
                raise
            unknown.append(acting.name)
            kept = remembered.get(key)
            problems.append(
                f"identity {acting.name}: no token for now ({e}); "
                + ("its link is unknown in this run" if kept else "what it attributes is unknown in this run")
            )
            log.warning("identity %s has no token for now: %s", acting.name, e)
            if kept:
                found[kept] = acting
            continue
        except errors.AzureError as e:
            problems.append(f"identity {acting.name} cannot get a token: {e}")
            log.warning("identity %s cannot get a token: %s", acting.name, e)
            continue
        found[object_id] = acting
        learnt[key] = object_id
    if tolerate and learnt and {**remembered, **learnt} != remembered:
        engine.store.put_state(ACTING_STATE, {**remembered, **learnt})
    return Identities(found, tuple(problems), tuple(unknown))


def _object_id(engine: Engine, acting: model.ActingIdentity, *, attempts: int) -> str:
    """The identity's object id from its token, asked up to `attempts` times while it fails transiently."""
    for attempt in range(attempts):
        try:
            return engine.whoami(acting).object_id.lower()
        except errors.TransientError:
            if attempt + 1 == attempts:
                raise
    raise AssertionError("unreachable")


def read_directory(
    engine: Engine,
    delegations: Iterable[model.Delegation],
    *,
    known: Mapping[str, model.Principal] | None = None,
    remembered: Iterable[str] = (),
    tolerate: bool = False,
) -> Directory:
    """Every principal of the delegations' authorizations (`known` ones not read again), the
    `remembered` carriers' own state (a lost carrier is described by what it is now, whichever
    principal an event named), and the eligibility of every permanent role; roles newer than the
    list are decided by their actions. A read that fails transiently raises, or with `tolerate`
    leaves what it was for in `unreadable` (the verification judges the rest)."""
    delegations = list(delegations)
    principals = {k.lower(): v for k, v in (known or {}).items()}
    wanted = {
        a.principal_id.lower()
        for d in delegations
        for a in (*d.authorizations, *d.eligible_authorizations)
        if roles.is_guid(a.principal_id)
    }
    unreadable: set[str] = set()
    problems: list[str] = []
    read = _Reader(engine, unreadable, problems, tolerate)
    read.principals(principals, wanted - principals.keys())
    groups = [
        p
        for p in principals.values()
        if p.kind is model.PrincipalKind.GROUP and p.usable and not p.member_ids and p.object_id in wanted
    ]
    members: set[str] = set()
    # Side by side: one round trip for every group, not one each.
    workers = max(1, min(len(groups), engine.settings.max_concurrency))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="groups") as pool:
        listed = list(pool.map(read.members, groups))
    for group, ids in zip(groups, listed, strict=True):
        if ids is not None:
            principals[group.object_id] = replace(group, member_ids=ids)
            members.update(ids)
    extra = {r.lower() for r in remembered if roles.is_guid(r)}
    read.principals(principals, (members | extra) - principals.keys())
    eligibility: dict[str, bool | None] = {}
    role_names: dict[str, str] = {}
    for role_id in {roles.normalize_role_id(a.role_definition_id) for d in delegations for a in d.authorizations}:
        eligibility[role_id] = read.role(role_id, role_names)
    return Directory(principals, eligibility, role_names, frozenset(unreadable), tuple(problems))


@dataclass
class _Reader:
    """The directory's reads, each failing alone: raised, or (`tolerate`) noted as unreadable."""

    engine: Engine
    unreadable: set[str]
    problems: list[str]
    tolerate: bool

    def _failed(self, what: str, ids: Iterable[str], error: errors.TransientError) -> None:
        if not self.tolerate:
            raise error
        self.unreadable.update(ids)
        self.problems.append(f"{what} could not be read for now ({error}): what depends on it is unknown in this run")
        log.warning("%s could not be read for now: %s", what, error)

    def principals(self, principals: dict[str, model.Principal], object_ids: set[str]) -> None:
        if not object_ids:
            return
        try:
            principals.update(self.engine.graph().get_principals(sorted(object_ids)))
        except errors.TransientError as e:
            if not self.tolerate:
                raise
            # Once more in parts: only the parts that fail again stay unknown.
            ordered = sorted(object_ids)
            for start in range(0, len(ordered), PRINCIPALS_PER_PART):
                part = ordered[start : start + PRINCIPALS_PER_PART]
                try:
                    principals.update(self.engine.graph().get_principals(part))
                except errors.TransientError as again:
                    self._failed(f"{len(part)} principal(s)", part, again)
            log.info("principals read again in parts after: %s", e)

    def members(self, group: model.Principal) -> tuple[str, ...] | None:
        try:
            return tuple(self.engine.graph().list_transitive_member_ids(group.object_id))
        except errors.TransientError as e:
            self._failed(f"the members of group {group.object_id}", [group.object_id], e)
            return None

    def role(self, role_id: str, role_names: dict[str, str]) -> bool | None:
        verdict = roles.is_eligible(role_id)
        if verdict is not None:
            return verdict
        try:
            definition = self.engine.arm().get_role_definition(role_id)
        except errors.PermanentError as e:
            log.warning("role definition %s unreadable: %s", role_id, e)
            return None
        except errors.TransientError as e:
            self._failed(f"role definition {role_id}", [role_id], e)
            return None
        if definition.role_name:
            role_names[role_id] = definition.role_name[:200]
        return roles.is_eligible(role_id, {"permissions": [{"actions": list(definition.actions)}]})


PRINCIPALS_PER_PART = 45  # three `id in (...)` filters: a part is one small $batch


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
    links: Mapping[str, decisions.LinkStatus],
    *,
    previous: Mapping[str, DelegationSnapshot],
    gone: Iterable[str] = (),
) -> decisions.Observation:
    """Freeze what this pass read, with the attestations and the stored snapshots, into one value."""
    settings = engine.settings
    return decisions.Observation(
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
        partner_ids=settings.partner_ids,
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
