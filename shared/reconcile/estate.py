"""The whole estate at once: every finding that holds now, the coverage rows, the snapshots.

Pure: called by the verification use case (issue 5) and the CLI's `verify` with everything the
run observed. Its findings are a function of that observed state only, so a verify can open
and resolve to exactly this set (`Store.sync_all_findings(findings, subjects, now)`) and end
equal to a fresh install's verify. Removals it notices are returned apart, not as findings:
a fresh install could not know them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from shared import model, roles
from shared.reconcile import delegation as decide
from shared.reconcile import messages
from shared.snapshots import CoverageRow, DelegationSnapshot


@dataclass(frozen=True)
class EstateAssessment:
    assessments: tuple[decide.DelegationAssessment, ...]
    findings: tuple[model.Finding, ...]
    subjects: frozenset[str]
    coverage: tuple[CoverageRow, ...]
    link_actions: tuple[decide.LinkAction, ...]
    snapshots: tuple[DelegationSnapshot, ...]  # one per delegation seen, plus removed ones
    removed: tuple[DelegationSnapshot, ...]  # stored delegations no longer seen (newly removed)


@dataclass(frozen=True)
class RemovalAssessment:
    finding: model.Finding
    snapshot: DelegationSnapshot
    subjects: frozenset[str]


def assess_removal(snapshot: DelegationSnapshot, now: datetime) -> RemovalAssessment:
    """A delegation is gone: its attribution findings resolve, one info notice opens."""
    where = messages.Where(snapshot.key, snapshot.customer_tenant_id, snapshot.customer_tenant_name, snapshot.scope)
    finding = messages.delegation_removed(where, now.isoformat(), snapshot.attributed)
    gone = replace(snapshot, removed=True, attributed=False, since=now, updated_at=now, reason="removed")
    return RemovalAssessment(finding, gone, frozenset({snapshot.key}))


def link_findings(
    acting: Iterable[str],
    linked: Mapping[str, decide.LinkStatus],
    tenant_id: str,
    partner_id: str,
    names: Mapping[str, str] | None = None,
) -> tuple[list[model.Finding], set[str]]:
    """link_failed for each identity we act as whose last link attempt failed; their subjects."""
    findings: list[model.Finding] = []
    subjects: set[str] = set()
    for object_id in sorted({a.lower() for a in acting}):
        subjects.add(messages.link_subject(tenant_id, object_id))
        status = linked.get(object_id)
        if status is not None and status.error_code:
            findings.append(
                messages.link_failed(
                    tenant_id,
                    object_id,
                    name=(names or {}).get(object_id, ""),
                    code=status.error_code,
                    message=status.error_message,
                    partner_id=partner_id,
                )
            )
    return findings, subjects


def coverage_row(assessment: decide.DelegationAssessment, role_names: Mapping[str, str] | None = None) -> CoverageRow:
    """Attributed, at risk (attributed but an identity was lost, or only users carry it), or not."""
    d = assessment.delegation
    active = tuple(a for a in assessment.attributed_by if a.active)
    lost = any(not a.active for a in assessment.attributed_by)
    users_only = bool(active) and all(a.kind == model.PrincipalKind.USER.value for a in active)
    status = "not_attributed"
    if assessment.attributed:
        status = "at_risk" if lost or users_only else "attributed"
    return CoverageRow(
        delegation_key=d.key,
        customer_tenant_id=d.customer_tenant_id,
        customer_tenant_name=d.customer_tenant_name,
        scope=d.scope,
        attributed=assessment.attributed,
        status=status,
        attributed_by=active,
        role_names=tuple(
            (role_names or {}).get(roles.normalize_role_id(a.role_id)) or roles.role_name(a.role_id) for a in active
        ),
        reason=assessment.reason,
        since=assessment.snapshot.since,
    )


def assess_estate(  # noqa: PLR0917  (mirrors assess_delegation)
    delegations: Iterable[model.Delegation],
    principals: Mapping[str, model.Principal],
    linked: Mapping[str, decide.LinkStatus],
    acting: Iterable[str],
    attested_users: Iterable[str],
    role_eligibility: decide.Eligibility,
    partner_id: str,
    now: datetime,
    *,
    managing_tenant_id: str = "",
    previous: Mapping[str, DelegationSnapshot] | None = None,
    acting_names: Mapping[str, str] | None = None,
    role_names: Mapping[str, str] | None = None,
) -> EstateAssessment:
    """Decide every delegation seen; `previous` (stored snapshots by key) only adds remembered
    links of identities that can no longer be read, and tells which delegations disappeared."""
    acting_set = frozenset(a.lower() for a in acting)
    attested = frozenset(a.lower() for a in attested_users)
    eligible = decide.eligibility_function(role_eligibility)
    links = {k.lower(): v for k, v in linked.items()}
    prior = previous or {}
    seen: dict[str, decide.DelegationAssessment] = {}
    for d in delegations:
        if d.key in seen:
            continue
        seen[d.key] = decide.assess_delegation(
            d, principals, links, acting_set, attested, eligible, partner_id, now, previous=prior.get(d.key)
        )
    findings: dict[str, model.Finding] = {}
    subjects: set[str] = set()
    for a in seen.values():
        subjects |= a.subjects
        for f in a.findings:
            findings.setdefault(f.key, f)
    extra, link_subjects = link_findings(acting_set, links, managing_tenant_id, partner_id, acting_names)
    subjects |= link_subjects
    for f in extra:
        findings.setdefault(f.key, f)
    removed: list[DelegationSnapshot] = []
    for key, snap in prior.items():
        if key in seen:
            continue
        subjects.add(key)  # whatever was open about it no longer holds
        if not snap.removed:
            removed.append(assess_removal(snap, now).snapshot)
    actions: dict[tuple[str, str], decide.LinkAction] = {}
    for a in seen.values():
        for action in a.link_actions:
            actions.setdefault((action.tenant_id, action.object_id), action)
    ordered = sorted(findings.values(), key=lambda f: (f.severity.rank, f.key))
    return EstateAssessment(
        assessments=tuple(seen.values()),
        findings=tuple(ordered),
        subjects=frozenset(subjects),
        coverage=tuple(coverage_row(a, role_names) for a in seen.values()),
        link_actions=tuple(actions.values()),
        snapshots=tuple(a.snapshot for a in seen.values()) + tuple(removed),
        removed=tuple(removed),
    )
