"""Observe mode in the words: a plan's findings and coverage say what PAL Watch would link.

Pure: called by the reconcile entry (`shared.usecases.pipeline`) with the identities whose link
write the guard withheld in observe mode, after the plan is decided. A delegation that waits for
a link PAL Watch would make (`link_pending`) reads "would link" instead of "links it next pass".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from shared import catalogue, model
from shared.decisions.delegation import DelegationAssessment
from shared.decisions.estate import Plan
from shared.snapshots import CoverageRow


def annotate(plan: Plan, withheld_ids: Iterable[str]) -> Plan:
    """The plan, its findings and coverage saying what PAL Watch would link (`withheld_ids`: the
    identities whose write observe mode withheld in this pass)."""
    withheld = {w.lower() for w in withheld_ids}
    if not withheld:
        return plan
    offers = offers_to_name(plan.assessments)
    assessments = tuple(
        replace(a, findings=tuple(observe_findings(a.findings, withheld, offers))) for a in plan.assessments
    )
    findings = observe_findings(plan.delegation_findings, withheld, offers)
    return replace(
        plan,
        assessments=assessments,
        delegation_findings=tuple(findings),
        coverage=observe_coverage(plan.coverage, findings),
    )


def observe_findings(
    findings: Iterable[model.Finding], withheld_ids: Iterable[str], offers: Mapping[str, str] | None = None
) -> list[model.Finding]:
    """Findings in observe mode say what PAL Watch would link instead of 'links it next pass';
    `offers` (delegation key -> offer name) names the offer where a scope has several."""
    withheld, offers = {w.lower() for w in withheld_ids}, offers or {}
    return [
        catalogue.as_would_link(f, offer=offers.get(f.subject, "")) if _pending_for(f, withheld) else f
        for f in findings
    ]


def offers_to_name(assessments: Iterable[DelegationAssessment]) -> dict[str, str]:
    """Delegation key -> offer name, for the delegations that share their scope with another one."""
    by_scope: dict[str, list[model.Delegation]] = {}
    for a in assessments:
        by_scope.setdefault(a.delegation.scope.rstrip("/").lower(), []).append(a.delegation)
    return {
        d.key: d.definition_name
        for delegations in by_scope.values()
        if len(delegations) > 1
        for d in delegations
        if d.definition_name
    }


def _pending_for(finding: model.Finding, withheld: set[str]) -> bool:
    if finding.kind != model.Kind.UNATTRIBUTED_DELEGATION or finding.reason != "link_pending":
        return False
    ids = {p for p in (finding.facts.get("principals", "") or finding.principal_id).split(",") if p}
    return bool(ids & withheld)


def would_link_keys(findings: Iterable[model.Finding]) -> Mapping[str, str]:
    """Delegation key -> reason for every delegation whose finding says 'would link'."""
    return {f.subject: f.reason for f in findings if f.reason == catalogue.WOULD_LINK}


def observe_coverage(rows: Iterable[CoverageRow], findings: Iterable[model.Finding]) -> tuple[CoverageRow, ...]:
    """Coverage rows whose delegation PAL Watch would link say so (reason `would_link`)."""
    would = would_link_keys(findings)
    return tuple(replace(r, reason=would[r.delegation_key]) if r.delegation_key in would else r for r in rows)
