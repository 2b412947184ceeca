"""Record: keep snapshots and make open findings equal to what a pass says holds now.

Used after the reconcile entry by each trigger's use case (delegations, identities, users,
verify) and by the link checks. Every write of snapshots and findings that follows a decision
goes through a `Recorder`, which also keeps the pass's `outcomes.RunReport` (what opened, what
resolved, what was said). `record` takes a reconcile pass's result whole, the plan and what the
partner ID guard found alike, so whatever a pass opens is in its report, and the caller hands
that report to `alerts.enqueue` (alerts and telemetry records) in the same pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from shared import decisions, model
from shared.snapshots import DelegationSnapshot
from shared.store import store as store_module
from shared.usecases import links as link_writer
from shared.usecases import outcomes, pipeline


@dataclass(frozen=True)
class Estate:
    """What a verification adds to its pass's plan: the link checks' findings and subjects, the
    subjects it found stale, the notices of drift put back, and the snapshots as they were before
    (only the changed are written)."""

    findings: tuple[model.Finding, ...] = ()
    subjects: frozenset[str] = frozenset()
    notices: tuple[model.Finding, ...] = ()
    previous: Mapping[str, DelegationSnapshot] = field(default_factory=dict)


class Recorder:
    """Writes one pass's snapshots and findings and keeps its report."""

    def __init__(self, store: store_module.Store, now: datetime, report: outcomes.RunReport | None = None) -> None:
        self.store = store
        self.now = now
        self.report = report if report is not None else outcomes.RunReport()

    def record(
        self,
        result: pipeline.Reconciled,
        *,
        assessments: Iterable[decisions.DelegationAssessment] | None = None,
        links: bool = True,
        estate: Estate | None = None,
    ) -> None:
        """One reconcile pass, whole: its plan (each assessment, or only `assessments`; the link
        findings unless `links` is False; with `estate`, the verification's sync of every subject),
        what the partner ID guard found, and the links written and problems for the report."""
        self.report.links_written += result.links_written
        self.report.problems += [p for p in result.problems if p not in self.report.problems]
        if result.halted:
            pass  # nothing was decided: only the guard's finding holds
        elif estate is None:
            self.plan(result.plan, assessments=assessments, links=links)
        else:
            plan = result.plan
            self.estate([*plan.findings, *estate.findings], set(plan.subjects) | estate.subjects)
            self.snapshots(plan.snapshots, estate.previous)
            self.notices([*estate.notices, *(r.finding for r in plan.removals)])
        self.said(result.said)

    def said(self, said: link_writer.Said) -> None:
        """What the partner ID guard found: its finding per subject, and the notices it owes."""
        for subject, findings in sorted(said.findings.items()):
            self.subject(subject, findings)
        self.notices(said.notices)

    def subject(self, subject: str, findings: Iterable[model.Finding]) -> None:
        """Make `subject`'s open findings exactly `findings`."""
        opened, resolved = self.store.sync_findings(subject, list(findings), self.now)
        self.report.opened += opened
        self.report.resolved += resolved

    def plan(
        self,
        plan: decisions.Plan,
        *,
        assessments: Iterable[decisions.DelegationAssessment] | None = None,
        links: bool = True,
    ) -> None:
        """Each assessment's snapshot and findings (all of them, or only `assessments`), the link
        findings of the identities we act as (unless `links` is False), and each removal."""
        for assessment in plan.assessments if assessments is None else assessments:
            self.store.put_delegation(assessment.snapshot)
            by_subject: dict[str, list[model.Finding]] = {s: [] for s in assessment.subjects}
            for finding in assessment.findings:
                by_subject.setdefault(finding.subject, []).append(finding)
            for subject, findings in by_subject.items():
                self.subject(subject, findings)
        if links:
            by_link: dict[str, list[model.Finding]] = {s: [] for s in plan.link_subjects}
            for finding in plan.link_findings:
                by_link.setdefault(finding.subject, []).append(finding)
            for subject, findings in by_link.items():
                self.subject(subject, findings)
        for removal in plan.removals:
            self.store.put_delegation(removal.snapshot)
            self.report.delegations[removal.snapshot.key] = "removed"
            for subject in removal.subjects:
                self.subject(subject, [removal.finding] if removal.finding.subject == subject else [])
        self.outcomes(plan)

    def outcomes(self, plan: decisions.Plan) -> None:
        """How each delegation of the plan ended, for the report."""
        for assessment in plan.assessments:
            self.report.delegations[assessment.key] = "attributed" if assessment.attributed else assessment.reason

    def estate(self, findings: Iterable[model.Finding], subjects: Iterable[str]) -> None:
        """The verification's sync: for every subject in `subjects`, exactly the `findings` that hold."""
        opened, resolved = self.store.sync_all_findings(findings, subjects, self.now)
        self.report.opened += opened
        self.report.resolved += resolved

    def snapshots(self, snapshots: Iterable[DelegationSnapshot], previous: Mapping[str, DelegationSnapshot]) -> None:
        """Write the snapshots that changed (a steady estate writes none), in table transactions."""
        changed = [s for s in snapshots if not same_snapshot(s, previous.get(s.key))]
        if changed:
            self.store.put_delegations(changed)

    def notices(self, notices: Iterable[model.Finding]) -> None:
        """Keep each notice (never open, so never resolved or reminded) before its alert is enqueued:
        the alert sweep finds it there if the pass dies in between."""
        for notice in notices:
            kept = self.store.record_notice(notice, self.now)
            if kept is not None:
                self.report.said.append(kept)


def same_snapshot(snapshot: DelegationSnapshot, before: DelegationSnapshot | None) -> bool:
    """Equal but for when it was written."""
    return before is not None and replace(snapshot, updated_at=before.updated_at) == before
