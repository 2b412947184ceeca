"""Observe, decide, act, remember: the one pipeline behind every trigger.

An event handler, the activity-log watcher and the verification all end here with a list of
delegations. A `Run` reads what the decisions need (principals and groups from Graph, role
eligibility, the identities we can act as and their PAL links), asks the pure decisions in
shared.reconcile what holds, makes the links it can (one write per identity and tenant,
serialised by a lease in the store), decides again, and records snapshots and findings.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from shared import model, reconcile, roles
from shared.azure import errors
from shared.snapshots import DelegationSnapshot
from shared.store import store as store_module
from shared.usecases.engine import Engine

log = logging.getLogger(__name__)

LINK_LEASE_TTL = timedelta(minutes=2)
LINK_LEASE_WAIT_SECONDS = 20.0
FEDERATION_RETRY_AFTER = timedelta(hours=6)
FEDERATION_TRIED_KEPT = 300  # ~23K characters: the state row stays under the store's 30K per property


@dataclass
class RunReport:
    """What one pass did: the outcome value a trigger logs and the store keeps in findings."""

    delegations: dict[str, str] = field(default_factory=dict)  # key -> "attributed" | reason code
    links_written: list[str] = field(default_factory=list)  # "created|repointed identity in tenant"
    opened: list[model.RecordedFinding] = field(default_factory=list)
    resolved: list[model.RecordedFinding] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        attributed = sum(1 for v in self.delegations.values() if v == "attributed")
        return (
            f"{len(self.delegations)} delegation(s), {attributed} attributed, {len(self.links_written)} link write(s), "
            f"{len(self.opened)} finding(s) opened, {len(self.resolved)} resolved"
            + (f", {len(self.problems)} problem(s)" if self.problems else "")
        )

    def merge(self, other: RunReport) -> None:
        self.delegations.update(other.delegations)
        self.links_written += other.links_written
        self.opened += other.opened
        self.resolved += other.resolved
        self.problems += other.problems


class Run:
    """One pass of observation with its caches: nothing read twice within a pass."""

    def __init__(self, engine: Engine, now: datetime, *, defer_transient: bool = False) -> None:
        """`defer_transient`: a link that cannot be read or made for now is left unknown and the pass
        goes on (the verification: one throttled identity must not stop the estate); event handlers
        leave it False so the failure raises and Event Grid redelivers."""
        self.engine = engine
        self.defer_transient = defer_transient
        self.settings = engine.settings
        self.now = now
        self.owner = uuid.uuid4().hex
        self.principals: dict[str, model.Principal] = {}
        self.eligibility: dict[str, bool | None] = {}
        self.role_names: dict[str, str] = {}  # roles newer than the shipped list, named by their definition
        self._acting: dict[str, model.ActingIdentity] | None = None
        self.links: dict[str, reconcile.LinkStatus] = {}
        self.report = RunReport()

    # -- who we can act as ----------------------------------------------------------------------

    def acting(self) -> dict[str, model.ActingIdentity]:
        """Object id (managing tenant) -> identity, for every identity the app can authenticate as."""
        if self._acting is None:
            found: dict[str, model.ActingIdentity] = {}
            for acting in self._candidates():
                try:
                    who = self.engine.whoami(acting)
                except errors.TransientError:
                    # Deciding without an identity we normally act as would raise false alarms
                    # ("nobody attributes this"): better to try the whole pass again.
                    raise
                except errors.AzureError as e:
                    self.report.problems.append(f"identity {acting.name} cannot get a token: {e}")
                    log.warning("identity %s cannot get a token: %s", acting.name, e)
                    continue
                found[who.object_id.lower()] = acting
            self._acting = found
        return self._acting

    def _candidates(self) -> list[model.ActingIdentity]:
        configured = list(self.settings.identities)
        known = {(i.kind, i.client_id.lower()) for i in configured}
        for remembered in self.engine.store.list_remembered_identities():
            if remembered.tenant_id.lower() != self.settings.managing_tenant_id.lower():
                continue
            if ("federated", remembered.client_id.lower()) in known or not remembered.client_id:
                continue
            configured.append(
                model.ActingIdentity(
                    name=remembered.name or remembered.client_id, kind="federated", client_id=remembered.client_id
                )
            )
        return configured

    def names(self) -> dict[str, str]:
        return {oid: acting.name for oid, acting in self.acting().items()}

    # -- what the decisions need -----------------------------------------------------------------

    def resolve_principals(self, delegations: Iterable[model.Delegation]) -> dict[str, model.Principal]:
        """Every principal in the delegations' authorizations, groups with their transitive members."""
        wanted = {
            a.principal_id.lower()
            for d in delegations
            for a in (*d.authorizations, *d.eligible_authorizations)
            if roles.is_guid(a.principal_id)
        }
        self._fetch(wanted - self.principals.keys())
        groups = [
            p
            for p in self.principals.values()
            if p.kind is model.PrincipalKind.GROUP and p.usable and not p.member_ids and p.object_id in wanted
        ]
        members: set[str] = set()
        graph = self.engine.graph()
        for group in groups:
            ids = tuple(graph.list_transitive_member_ids(group.object_id))
            self.principals[group.object_id] = replace(group, member_ids=ids)
            members.update(ids)
        self._fetch(members - self.principals.keys())
        return self.principals

    def _fetch(self, object_ids: set[str]) -> None:
        if object_ids:
            self.principals.update(self.engine.graph().get_principals(sorted(object_ids)))

    def resolve_roles(self, delegations: Iterable[model.Delegation]) -> dict[str, bool | None]:
        """Eligibility of every permanent role; roles newer than the list are decided by their actions."""
        for role_id in {roles.normalize_role_id(a.role_definition_id) for d in delegations for a in d.authorizations}:
            if role_id in self.eligibility:
                continue
            verdict = roles.is_eligible(role_id)
            if verdict is None:
                try:
                    definition = self.engine.arm().get_role_definition(role_id)
                    verdict = roles.is_eligible(role_id, {"permissions": [{"actions": list(definition.actions)}]})
                    if definition.role_name:
                        self.role_names[role_id] = definition.role_name[:200]
                except errors.PermanentError as e:
                    log.warning("role definition %s unreadable: %s", role_id, e)
            self.eligibility[role_id] = verdict
        return self.eligibility

    def discover_federated(self, delegations: Iterable[model.Delegation]) -> None:
        """Service principals holding an eligible role that we do not act as yet: try federation."""
        if not self.settings.federation_discovery:
            return
        acting = self.acting()
        store = self.engine.store
        tried: dict[str, str] = store.get_state("federation-tried") or {}
        changed = False
        for d in delegations:
            for auth in d.authorizations:
                principal = self.principals.get(auth.principal_id.lower())
                if (
                    principal is None
                    or principal.kind is not model.PrincipalKind.SERVICE_PRINCIPAL
                    or not principal.app_id
                    or principal.object_id in acting
                    or not principal.usable
                    or self.eligibility.get(roles.normalize_role_id(auth.role_definition_id)) is not True
                ):
                    continue
                last = tried.get(principal.app_id.lower())
                if last and datetime.fromisoformat(last) > self.now - FEDERATION_RETRY_AFTER:
                    continue
                candidate = model.ActingIdentity(
                    name=principal.display_name or principal.app_id, kind="federated", client_id=principal.app_id
                )
                try:
                    who = self.engine.whoami(candidate)
                except errors.TransientError:
                    raise  # not an answer: do not remember this app as "does not trust us"
                except errors.AzureError as e:
                    tried[principal.app_id.lower()] = self.now.isoformat()
                    changed = True
                    self.engine.forget("whoami", "federated", principal.app_id.lower())
                    log.info("service principal %s does not trust our identity (%s)", principal.object_id, e.code or e)
                    continue
                acting[who.object_id.lower()] = candidate
                store.remember_identity(
                    store_module.RememberedIdentity(
                        tenant_id=self.settings.managing_tenant_id,
                        object_id=who.object_id.lower(),
                        client_id=principal.app_id,
                        name=candidate.name,
                        kind="federated",
                        discovered_at=self.now,
                    )
                )
                log.info("discovered federated identity %s (%s)", candidate.name, principal.app_id)
        if changed:
            store.put_state("federation-tried", _recent(tried, self.now - FEDERATION_RETRY_AFTER))

    def read_links(self, object_ids: Iterable[str] | None = None) -> dict[str, reconcile.LinkStatus]:
        """The PAL link of each identity we act as (in the managing tenant), one GET each per pass."""
        acting = self.acting()
        for object_id in object_ids if object_ids is not None else list(acting):
            if object_id in self.links or object_id not in acting:
                continue
            self.links[object_id] = self._read_link(acting[object_id])
        return self.links

    def _read_link(self, acting: model.ActingIdentity, tenant_id: str | None = None) -> reconcile.LinkStatus:
        try:
            return reconcile.LinkStatus.from_link(self.engine.pal_for(acting, tenant_id).get_link())
        except errors.TransientError as e:
            return self._deferred(acting, e)
        except errors.AzureError as e:
            return reconcile.LinkStatus(partner_id=None, error_code=e.code or "Unreadable", error_message=str(e))

    # -- acting ----------------------------------------------------------------------------------

    def apply(self, actions: Iterable[reconcile.LinkAction]) -> None:
        """Make the links the decisions asked for, each under a lease so concurrent passes write once."""
        acting = self.acting()
        for action in actions:
            identity = acting.get(action.object_id.lower())
            if identity is None:
                continue
            status = self.ensure_link(identity, action.tenant_id, action.object_id)
            self.links[action.object_id.lower()] = status

    def ensure_link(self, identity: model.ActingIdentity, tenant_id: str, object_id: str) -> reconcile.LinkStatus:
        """GET, then PUT/PATCH only if needed, holding `link:{tenant}:{object}` while doing it."""
        lease = f"link:{tenant_id.lower()}:{object_id.lower()}"
        store = self.engine.store
        deadline = time.monotonic() + LINK_LEASE_WAIT_SECONDS
        while not store.try_acquire(lease, self.owner, LINK_LEASE_TTL, self._lease_now()):
            if time.monotonic() > deadline:
                busy = errors.TransientError(f"another invocation is still linking {identity.name}; try again later")
                return self._deferred(identity, busy)
            time.sleep(0.25)
        try:
            result = self.engine.pal_for(identity, tenant_id).ensure_link(self.settings.partner_id)
        except errors.TransientError as e:
            return self._deferred(identity, e)
        except errors.AzureError as e:
            log.warning("linking %s in %s failed: %s", identity.name, tenant_id, e)
            return reconcile.LinkStatus(partner_id=None, error_code=e.code or type(e).__name__, error_message=str(e))
        finally:
            store.release(lease, self.owner)
        if result.wrote:
            self.report.links_written.append(f"{result.action} {identity.name} in {tenant_id}")
            log.info(
                "PAL link %s for %s in tenant %s (partner %s)",
                result.action,
                identity.name,
                tenant_id,
                self.settings.partner_id,
            )
        return reconcile.LinkStatus.from_link(result.link)

    def _deferred(self, identity: model.ActingIdentity, error: errors.TransientError) -> reconcile.LinkStatus:
        """Raise (Event Grid redelivers), or with `defer_transient` note it and treat the link as unknown."""
        if not self.defer_transient:
            raise error
        self.report.problems.append(f"PAL link of {identity.name}: {error} (retried on the next run)")
        log.warning("PAL link of %s deferred: %s", identity.name, error)
        return reconcile.LinkStatus(partner_id=None)

    def _lease_now(self) -> datetime:
        # Leases compare against wall time: a waiting pass must see the holder's lease expire.
        return max(self.now, datetime.now(self.now.tzinfo))

    # -- the pass --------------------------------------------------------------------------------

    def attested_users(self) -> set[str]:
        tenant = self.settings.managing_tenant_id.lower()
        stored = {
            a.object_id.lower()
            for a in self.engine.store.list_attested_users()
            if a.tenant_id.lower() == tenant and a.partner_id == self.settings.partner_id
        }
        return stored | {u.lower() for u in self.settings.attested_users}

    def assess(
        self,
        delegations: list[model.Delegation],
        previous: Mapping[str, DelegationSnapshot] | None = None,
        *,
        act: bool = True,
    ) -> list[reconcile.DelegationAssessment]:
        """Decide each delegation; make the links it asks for; decide again with what we linked."""
        self.resolve_principals(delegations)
        self.resolve_roles(delegations)
        self.discover_federated(delegations)
        self.read_links()
        attested = self.attested_users()
        prior = previous or {}

        def decide() -> list[reconcile.DelegationAssessment]:
            return [
                reconcile.assess_delegation(
                    d,
                    self.principals,
                    self.links,
                    self.acting().keys(),
                    attested,
                    self.eligibility,
                    self.settings.partner_id,
                    self.now,
                    previous=prior.get(d.key),
                )
                for d in delegations
            ]

        assessments = decide()
        if act:
            actions = {(a.tenant_id, a.object_id): a for x in assessments for a in x.link_actions}
            if actions:
                self.apply(actions.values())
                assessments = decide()
        return assessments

    def record(self, assessments: Iterable[reconcile.DelegationAssessment]) -> None:
        """Keep each snapshot and make each subject's open findings equal to what holds now."""
        store = self.engine.store
        for assessment in assessments:
            store.put_delegation(assessment.snapshot)
            self.report.delegations[assessment.key] = "attributed" if assessment.attributed else assessment.reason
            by_subject: dict[str, list[model.Finding]] = {s: [] for s in assessment.subjects}
            for finding in assessment.findings:
                by_subject.setdefault(finding.subject, []).append(finding)
            for subject, findings in by_subject.items():
                self._sync(subject, findings)

    def record_links(self) -> None:
        """link_failed findings for the identities we act as (and their resolution)."""
        findings, subjects = reconcile.link_findings(
            self.acting().keys(), self.links, self.settings.managing_tenant_id, self.settings.partner_id, self.names()
        )
        by_subject: dict[str, list[model.Finding]] = {s: [] for s in subjects}
        for finding in findings:
            by_subject.setdefault(finding.subject, []).append(finding)
        for subject, items in by_subject.items():
            self._sync(subject, items)

    def record_removal(self, snapshot: DelegationSnapshot) -> None:
        removal = reconcile.assess_removal(snapshot, self.now)
        self.engine.store.put_delegation(removal.snapshot)
        self.report.delegations[snapshot.key] = "removed"
        for subject in removal.subjects:
            self._sync(subject, [removal.finding] if removal.finding.subject == subject else [])

    def record_not_visible(
        self, assignment_id: str, scope: str, refused: list[str], customer_tenant_id: str = ""
    ) -> None:
        """A delegation event for an assignment none of our identities can read."""
        finding = reconcile.not_visible_finding(
            assignment_id, scope, refused, self.settings.managing_tenant_id, customer_tenant_id
        )
        self.report.delegations[assignment_id.lower()] = "not_visible"
        self._sync(finding.subject, [finding])

    def _sync(self, subject: str, findings: list[model.Finding]) -> None:
        opened, resolved = self.engine.store.sync_findings(subject, findings, self.now)
        self.report.opened += opened
        self.report.resolved += resolved


def _recent(tried: dict[str, str], cutoff: datetime) -> dict[str, str]:
    """The federation attempts still inside the retry window, newest first, bounded in number."""
    recent = sorted(((at, app) for app, at in tried.items() if datetime.fromisoformat(at) > cutoff), reverse=True)
    return {app: at for at, app in recent[:FEDERATION_TRIED_KEPT]}
