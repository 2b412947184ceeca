"""Record: keep snapshots and make open findings equal to what a plan says holds now.

Used after the reconcile entry by each trigger's use case (delegations, identities, users,
verify) and by the link checks. Every write of snapshots and findings that follows a decision
goes through a `Recorder`, which also keeps the pass's `RunReport` (what opened, what resolved).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from shared import model, reconcile
from shared.snapshots import DelegationSnapshot
from shared.store import store as store_module


@dataclass
class RunReport:
    """What one pass did: the outcome value a trigger logs and the store keeps in findings."""

    delegations: dict[str, str] = field(default_factory=dict)  # key -> "attributed" | reason code
    links_written: list[str] = field(default_factory=list)  # "created|repointed identity in tenant"
    opened: list[model.RecordedFinding] = field(default_factory=list)
    resolved: list[model.RecordedFinding] = field(default_factory=list)
    said: list[model.RecordedFinding] = field(default_factory=list)  # notices kept by this pass
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        attributed = sum(1 for v in self.delegations.values() if v == "attributed")
        return (
            f"{len(self.delegations)} delegation(s), {attributed} attributed, {len(self.links_written)} link write(s), "
            f"{len(self.opened)} finding(s) opened, {len(self.resolved)} resolved"
            + (f", {len(self.said)} notice(s)" if self.said else "")
            + (f", {len(self.problems)} problem(s)" if self.problems else "")
        )

    def merge(self, other: RunReport) -> None:
        self.delegations.update(other.delegations)
        self.links_written += other.links_written
        self.opened += other.opened
        self.resolved += other.resolved
        self.said += other.said
        self.problems += other.problems


class Recorder:
    """Writes one pass's snapshots and findings and keeps its report."""

    def __init__(self, store: store_module.Store, now: datetime, report: RunReport | None = None) -> None:
        self.store = store
        self.now = now
        self.report = report if report is not None else RunReport()

    def subject(self, subject: str, findings: Iterable[model.Finding]) -> None:
        """Make `subject`'s open findings exactly `findings`."""
        opened, resolved = self.store.sync_findings(subject, list(findings), self.now)
        self.report.opened += opened
        self.report.resolved += resolved

    def plan(
        self,
        plan: reconcile.Plan,
        *,
        assessments: Iterable[reconcile.DelegationAssessment] | None = None,
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

    def outcomes(self, plan: reconcile.Plan) -> None:
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
