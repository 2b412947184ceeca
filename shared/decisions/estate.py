"""The plan for a set of delegations: every finding that holds now, links to make, snapshots, coverage.

Pure: called by the one reconcile entry (`shared.usecases.pipeline.reconcile`) for every
trigger, with the delegations it brings in line and the frozen `Observation` of the pass. Its
findings are a function of that observed state only, so a verify can open and resolve to
exactly this set (`Store.sync_all_findings(findings, subjects, now)`) and end equal to a fresh
install's verify. Removals (stored delegations Azure confirms have ended) are returned apart,
each with its notice: a fresh install could not know them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from shared import catalogue, model, roles, words
from shared.decisions import attribution, scopes
from shared.decisions import delegation as decide
from shared.decisions.attribution import Attribution
from shared.decisions.observation import Observation
from shared.snapshots import CoverageRow, DelegationSnapshot


@dataclass(frozen=True)
class RemovalAssessment:
    finding: model.Finding
    snapshot: DelegationSnapshot
    subjects: frozenset[str]


@dataclass(frozen=True)
class Plan:
    """What the decisions ask for: links to make, snapshots and findings to record, coverage."""

    assessments: tuple[decide.DelegationAssessment, ...]
    delegation_findings: tuple[model.Finding, ...]
    link_findings: tuple[model.Finding, ...]  # link_failed of the identities we act as
    link_subjects: frozenset[str]  # link:{tenant}:{object} of every identity we act as
    removals: tuple[RemovalAssessment, ...]  # stored delegations that ended (newly removed)
    subjects: frozenset[str]  # every subject the plan decides completely
    coverage: tuple[CoverageRow, ...]
    link_actions: tuple[decide.LinkAction, ...]

    @property
    def findings(self) -> tuple[model.Finding, ...]:
        """Every finding that holds now, most severe first, each key once."""
        unique: dict[str, model.Finding] = {}
        for f in (*self.delegation_findings, *self.link_findings):
            unique.setdefault(f.key, f)
        return tuple(sorted(unique.values(), key=lambda f: (f.severity.rank, f.key)))

    @classmethod
    def nothing(cls) -> Plan:
        """A plan that decides nothing (the partner ID guard stopped the pass)."""
        return cls((), (), (), frozenset(), (), frozenset(), (), ())

    @property
    def removed(self) -> tuple[DelegationSnapshot, ...]:
        return tuple(r.snapshot for r in self.removals)

    @property
    def snapshots(self) -> tuple[DelegationSnapshot, ...]:
        """One per delegation seen, plus the removed ones."""
        return tuple(a.snapshot for a in self.assessments) + self.removed


def assess_removal(snapshot: DelegationSnapshot, now: datetime) -> RemovalAssessment:
    """A delegation is gone: its attribution findings resolve, one info notice opens."""
    where = catalogue.Where(
        snapshot.key,
        snapshot.customer_tenant_id,
        snapshot.customer_tenant_name,
        snapshot.scope,
        subscription_name=snapshot.subscription_name,
    )
    finding = catalogue.delegation_removed(where, words.when(now), snapshot.attributed)
    gone = replace(snapshot, removed=True, attributed=False, since=now, updated_at=now, reason="removed")
    return RemovalAssessment(finding, gone, frozenset({snapshot.key}))


def link_findings(observation: Observation) -> tuple[list[model.Finding], set[str]]:
    """link_failed for each identity we act as whose last link attempt failed; their subjects.

    Only identities whose link this pass read or made are judged (an event reads only the links
    of the identities its delegations name; the others keep their findings as they are)."""
    tenant_id = observation.managing_tenant_id
    findings: list[model.Finding] = []
    subjects: set[str] = set()
    for object_id in sorted(o for o in observation.acting if o in observation.links):
        subjects.add(catalogue.link_subject(tenant_id, object_id))
        status = observation.links.get(object_id)
        if status is not None and status.error_code:
            findings.append(
                catalogue.link_failed(
                    catalogue.Link(tenant_id, object_id, observation.acting.get(object_id, ""), managing=True),
                    code=status.error_code,
                    message=status.error_message,
                    partner_id=observation.partner_id,
                )
            )
    return findings, subjects


def coverage_row(assessment: decide.DelegationAssessment, role_names: Mapping[str, str] | None = None) -> CoverageRow:
    """Attributed, at risk (attributed but an identity was lost, or only users carry it), or not."""
    d, a = assessment.delegation, assessment.attribution
    active = tuple(a for a in assessment.attributed_by if a.active)
    lost = any(not a.active for a in assessment.attributed_by)
    users_only = bool(active) and all(a.kind == model.PrincipalKind.USER.value for a in active)
    status = "not_attributed"
    if assessment.attributed:
        status = "at_risk" if lost or users_only else "attributed"
    if not assessment.offer.eligible:
        status = catalogue.Kind.NOT_ELIGIBLE_OFFER.value  # earns nothing through PAL either way
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
        definition_name=d.definition_name,
        recognised=assessment.recognised,
        subscription_name=assessment.snapshot.subscription_name,
        quota_id=assessment.offer.quota_id,
        offer_type=assessment.offer.category,
        plan=d.plan,
        aobo=bool(a and a.pec_applies and a.aobo),
        csp_customer=bool(a and a.csp_customer),
        foreign_aobo=a.foreign_aobo if a else (),
        customer_tenant_pal=bool(a and a.pec_applies and a.customer_tenant_pal),
    )


def standing(decided: decide.DelegationAssessment | Attribution) -> scopes.Standing:
    """What a delegation contributes to its scope (its attribution suffices: findings do not change it)."""
    d = decided.delegation
    attributed = decided if isinstance(decided, Attribution) else decided.attribution
    return scopes.Standing(
        key=d.key,
        scope=d.scope,
        attributed=decided.attributed,
        carriers=frozenset(a.principal_id for a in decided.attributed_by if a.active),
        recognised=decided.recognised,
        customer_tenant_id=d.customer_tenant_id,
        customer_tenant_name=d.customer_tenant_name,
        definition_name=d.definition_name,
        offer_type=decided.offer.category,
        aobo=bool(attributed and attributed.aobo),
        csp_customer=bool(attributed and attributed.csp_customer),
        customer_tenant_pal=bool(attributed and attributed.customer_tenant_pal),
    )


def snapshot_standing(snapshot: DelegationSnapshot) -> scopes.Standing:
    """What a stored delegation contributed when it was last decided (for passes that see a few)."""
    return scopes.Standing(
        key=snapshot.key,
        scope=snapshot.scope,
        attributed=snapshot.attributed and not snapshot.removed,
        carriers=frozenset(a.principal_id for a in snapshot.attributed_by if a.active),
        aobo=snapshot.aobo and not snapshot.removed,
        customer_tenant_id=snapshot.customer_tenant_id,
        customer_tenant_name=snapshot.customer_tenant_name,
        definition_name=snapshot.definition_name,
    )


def losing_credit(assessments: Iterable[decide.DelegationAssessment | Attribution]) -> list[str]:
    """Keys of delegations that lost their last carrier (their scope loses credit unless another path
    still earns it)."""
    return [
        a.key
        for a in (x.attribution if isinstance(x, decide.DelegationAssessment) else x for x in assessments)
        if a is not None and a.loses_credit
    ]


def credit_elsewhere(
    attributions: Mapping[str, Attribution], others: Iterable[scopes.Standing] | Callable[[], Iterable[scopes.Standing]]
) -> Mapping[str, int]:
    """For each delegation that lost its last carrier: identities still attributing its scope through
    other delegations. `others` (what a pass that sees only a few delegations knows of the rest, or
    a function reading it) is asked for only when the delegations seen leave a scope uncredited."""
    losing = losing_credit(attributions.values())
    if not losing:
        return {}
    seen = [standing(a) for a in attributions.values()]
    counts = scopes.elsewhere_counts(seen, losing)
    if all(key in counts for key in losing):
        return counts
    rest = others() if callable(others) else others
    return scopes.elsewhere_counts([s for s in rest if s.key not in attributions] + seen, losing)


def assess_estate(
    delegations: Iterable[model.Delegation],
    observation: Observation,
    now: datetime,
    *,
    others: Iterable[scopes.Standing] | Callable[[], Iterable[scopes.Standing]] = (),
) -> Plan:
    """Decide every delegation seen (each key once); the observation's stored snapshots add only
    remembered links of identities that can no longer be read, and its `gone` keys the removals.

    Attribution first for all, then credit per scope, then findings once: a delegation that lost
    its last carrier loses no credit while another delegation covering its scope still earns it
    (one of these, or of `others`)."""
    attributions: dict[str, Attribution] = {}
    for d in delegations:
        if d.key not in attributions:
            attributions[d.key] = attribution.attribute(d, observation, now)
    elsewhere = credit_elsewhere(attributions, others)
    seen = {key: decide.judge(a, observation, now, elsewhere=elsewhere.get(key, 0)) for key, a in attributions.items()}
    findings: dict[str, model.Finding] = {}
    subjects: set[str] = set()
    for a in seen.values():
        subjects |= a.subjects
        for f in a.findings:
            findings.setdefault(f.key, f)
    extra, link_subjects = link_findings(observation)
    removals: list[RemovalAssessment] = []
    for key in sorted(observation.gone - seen.keys()):
        snap = observation.previous.get(key)
        if snap is None:
            continue
        subjects.add(key)  # whatever was open about it no longer holds
        if not snap.removed:
            removals.append(assess_removal(snap, now))
    actions: dict[tuple[str, str], decide.LinkAction] = {}
    for a in seen.values():
        for action in a.link_actions:
            actions.setdefault((action.tenant_id, action.object_id), action)
    return Plan(
        assessments=tuple(seen.values()),
        delegation_findings=tuple(findings.values()),
        link_findings=tuple(extra),
        link_subjects=frozenset(link_subjects),
        removals=tuple(removals),
        subjects=frozenset(subjects | link_subjects),
        coverage=tuple(coverage_row(a, observation.role_names) for a in seen.values()),
        link_actions=tuple(actions.values()),
    )
