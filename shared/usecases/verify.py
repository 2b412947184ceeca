"""The verification: the whole estate re-checked, drift repaired, findings made true, coverage stored.

Called by function_app (`verify_attribution` timer, `coverage` HTTP function, and the watch
timer's `watch_links` step) and by the CLI (`palwatch verify|report`). Events are hints; this
is the truth. One run, under a store lease so only one runs at a time:

1. enumerate subscriptions and every delegation our identities can see, and so the customer
   tenants (estate_scan);
2. check the PAL link of every identity we act as, in the managing tenant and, for multi-tenant
   app identities, in each customer tenant where the app has a principal (tenant_links);
3. decide every delegation through the one reconcile entry (`pipeline.reconcile`: observe,
   decide, make the links the plan asks for, decide again). Observing reads every principal of
   every authorization (and every group's members) from Graph in bulk and the decisions judge
   losses against the stored snapshots, so no separate identity poll is needed;
4. make the open findings exactly those that hold now (`Store.sync_all_findings`), store the
   snapshots that changed and the coverage, clear the activity-log block;
5. enqueue and deliver alerts.

Every step writes what it learnt before the next starts, and every write is idempotent, so a
crash at any point leaves a state the next run (or an event handler) simply continues from.
A scope that could not be read keeps its last known snapshot: it is never taken as removed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from shared import catalogue, decisions, model
from shared.azure import errors
from shared.decisions import locations
from shared.snapshots import DelegationSnapshot
from shared.usecases import (
    alerts,
    coverage_view,
    delegations,
    estate_scan,
    leases,
    observe,
    outcomes,
    permissions,
    pipeline,
    recorder,
    tenant_links,
)
from shared.usecases import (
    links as link_writer,
)
from shared.usecases.engine import Engine

log = logging.getLogger(__name__)

LEASE = "verify"
LAST_STATE = "verify-last"
OWNED_KINDS = frozenset(
    {
        catalogue.Kind.UNATTRIBUTED_DELEGATION,
        catalogue.Kind.ATTRIBUTION_LOST,
        catalogue.Kind.IDENTITY_LOST,
        catalogue.Kind.LINK_FAILED,
        catalogue.Kind.DELEGATION_REMOVED,
        catalogue.Kind.LINK_LOCATION,
    }
)
Progress = Callable[[str, int, int], None]
DRY_RUN = "dry-run"  # the mode a run reports when its store writes nothing (`Engine.read_only`)


@dataclass
class _Tally:
    """What one verification sees and does as it goes; `outcome()` is what the run returns (logged by
    the timer, printed by `palwatch verify`)."""

    status: str  # ok | partial (something could not be read or done) | skipped (another run holds the lease)
    tenants: int = 0
    subscriptions: int = 0
    delegations: int = 0
    attributed: int = 0
    at_risk: int = 0
    not_attributed: int = 0
    removed: int = 0
    links_checked: int = 0
    links_written: list[str] = field(default_factory=list)
    drift_repaired: list[str] = field(default_factory=list)
    link_failures: list[str] = field(default_factory=list)
    withheld: list[str] = field(default_factory=list)  # writes the guard or observe mode did not make
    repointed: list[str] = field(default_factory=list)  # links moved from PAL_PARTNER_ID_PREVIOUS
    mode: str = "repair"
    customer_tenants: dict[str, list[str]] = field(default_factory=dict)
    opened: int = 0
    resolved: int = 0
    incomplete_scopes: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)  # delegations not judged: what they need was unreadable
    halted: str = ""  # why the run judged and wrote nothing (the partner ID guard), "" when it did not stop
    steps: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def _detail(self) -> str:
        if self.status == "skipped":
            return "; ".join(self.problems)
        if self.halted:  # nothing was counted: counts of zero would read as an empty estate
            return (
                f"halted before judging {self.subscriptions} subscription(s): {self.halted[:300]}; "
                f"nothing judged or written; {self.opened} finding(s) opened, {self.resolved} resolved; "
                f"{self.seconds:.1f}s"
            )
        dry = self.mode == DRY_RUN
        text = (
            f"{self.delegations} delegation(s) in {self.subscriptions} subscription(s): "
            f"{self.attributed} attributed, {self.at_risk} at risk, {self.not_attributed} not attributed; "
            f"{len(self.links_written)} link write(s), {len(self.drift_repaired)} drift repaired, "
            f"{len(self.link_failures)} link failure(s); "
            + (
                f"{self.opened} finding(s) would open, {self.resolved} would resolve"
                if dry
                else f"{self.opened} finding(s) opened, {self.resolved} resolved"
            )
            + f"; {self.seconds:.1f}s"
        )
        if self.withheld:
            text += f"; {len(self.withheld)} link write(s) withheld ({'dry run' if dry else 'PAL_MODE=' + self.mode})"
        if self.unknown:
            text += f"; {len(self.unknown)} delegation(s) unknown (not judged: part of the directory unreadable)"
        if dry:
            text += "; dry run: nothing was written (no link, finding, snapshot, coverage or alert)"
        if self.problems:
            text += f"; {len(self.problems)} problem(s): " + "; ".join(p[:160] for p in self.problems[:3])
        return text

    def outcome(self) -> outcomes.Outcome:
        counts = {
            "tenants": self.tenants,
            "subscriptions": self.subscriptions,
            "delegations": self.delegations,
            "attributed": self.attributed,
            "atRisk": self.at_risk,
            "notAttributed": self.not_attributed,
            "removed": self.removed,
            "linksChecked": self.links_checked,
            "findingsOpened": self.opened,
            "findingsResolved": self.resolved,
        }
        facts = {
            "linksWritten": list(self.links_written),
            "driftRepaired": list(self.drift_repaired),
            "linkFailures": list(self.link_failures),
            "mode": self.mode,
            "wouldWrite": list(self.withheld),
            "repointed": list(self.repointed),
            "customerTenants": dict(self.customer_tenants),
            "incompleteScopes": [{"scope": s, "error": e} for s, e in sorted(self.incomplete_scopes.items())],
            "unknown": list(self.unknown),
            "halted": self.halted,
            "steps": dict(self.steps),
            "seconds": round(self.seconds, 3),
        }
        return outcomes.Outcome(self.status, self._detail(), counts=counts, problems=tuple(self.problems), facts=facts)


def run_verify(
    engine: Engine, now: datetime, *, past_due: bool = False, progress: Progress | None = None
) -> outcomes.Outcome:
    """One verification of the whole estate. Raises only when the run as a whole failed."""
    if past_due:
        log.info("verification is past due; running now")
    wall = _wall(now)
    held = leases.HeldLease.acquire(engine.store, LEASE, wall)
    if held is None:
        why = leases.describe_holder(engine.store, LEASE, wall)
        log.info("verification skipped: %s", why)
        return _Tally("skipped", problems=[why]).outcome()
    with held:
        return _verify(engine, now, progress)


def _verify(engine: Engine, now: datetime, progress: Progress | None) -> outcomes.Outcome:
    started = time.monotonic()
    store = engine.store
    dry = getattr(store, "read_only", False)
    out = _Tally("ok", mode=DRY_RUN if dry else engine.settings.mode)
    say = progress or (lambda _stage, _done, _total: None)

    # What we knew before looking: read first, so that a delegation an event handler stores while
    # this run enumerates is not taken for one that disappeared.
    previous = {s.key: s for s in store.list_delegations()}

    # 1. What exists. No reader at all: the whole run fails (raises).
    say("enumerate", 0, 1)
    inventory = estate_scan.enumerate_estate(engine, progress=progress, previous=previous.values(), now=now)
    _describe_inventory(out, inventory)

    # 2. Links of every identity we act as: drift in the managing tenant, then customer tenants.
    say("links", 0, 1)
    links = link_writer.LinkWriter(engine, now, defer_transient=True, whole_estate=True)
    identities = observe.acting_identities(engine, tolerate=True)
    check = tenant_links.check_managing_links(engine, identities, links)
    candidates = tenant_links.candidate_tenants(engine, inventory.tenants, previous.values())
    customer = tenant_links.check_customer_tenants(
        engine, links, now, candidates, workers=engine.settings.max_concurrency
    )
    check.merge(customer)
    out.customer_tenants = customer.tenants
    out.problems += check.problems

    # 3. Decide every delegation, link what it asks for, decide again.
    say("assess", 0, 1)
    current = _current(inventory, previous)
    gone = frozenset(previous.keys() - {d.key for d in current})
    result = _judge(
        engine,
        pipeline.Delegations(
            tuple(current),
            previous,
            gone,
            aobo=inventory.aobo,
            tenant_pal=tenant_links.linked_in_customer_tenants(engine),
        ),
        now=now,
        links=links,
        known=pipeline.Known(identities=identities, links=check.statuses),
    )
    if isinstance(result, errors.ForbiddenError):
        return _refused(engine, out, result, now, started)
    record = recorder.Recorder(store, now)
    if result.halted:
        record.record(result)
        return _halted(engine, out, record.report, now, started)
    result = replace(result, plan=_without(result.plan, result.held, store))
    plan = result.plan
    out.unknown = sorted(result.held)

    # 4. Findings: exactly those that hold now, for everything this run could judge.
    say("record", 0, 1)
    decided = plan.subjects | result.held  # held: not judged, and not stale either
    stale = _stale_subjects(engine, inventory, check, decided, now)
    coverage, misplaced = _by_location(engine, plan.coverage, result.observation.links)
    estate = recorder.Estate(
        (*check.findings, *misplaced),
        frozenset(check.subjects | stale | {f.subject for f in misplaced}),
        tuple(check.drift),
        previous,
    )
    record.record(result, estate=estate)
    record.subject(permissions.SUBJECT, [])  # Graph answered every read: a missing permission was granted
    store.put_coverage(coverage, now)
    _remember_links(links, result.observation.links)
    delegations.clear_activity_log_block(engine)

    _describe_result(out, plan, check, result)
    opened, resolved, said = record.report.opened, record.report.resolved, record.report.said
    out.opened, out.resolved = len(opened), len(resolved)

    # 5. Alerts: what opened or resolved, then deliver everything pending (a dry run sends nothing).
    _alert(engine, out, now, (opened, resolved, said), sweep=True)
    if out.problems or out.incomplete_scopes or out.unknown:
        out.status = "partial"
    out.seconds = time.monotonic() - started
    done = out.outcome()
    store.put_state(LAST_STATE, {"at": now.isoformat(), "outcome": str(done)[:2000]})
    log.info("verification %s", done)
    return done


def _judge(
    engine: Engine,
    batch: pipeline.Delegations,
    *,
    now: datetime,
    links: link_writer.LinkWriter,
    known: pipeline.Known,
) -> pipeline.Reconciled | errors.ForbiddenError:
    """The reconcile entry, or the Graph refusal that kept it from judging (a missing permission)."""
    try:
        return pipeline.reconcile(engine, batch, now=now, links=links, known=known)
    except errors.ForbiddenError as e:
        if not permissions.is_graph_refusal(e):
            raise
        return e


def _refused(
    engine: Engine, out: _Tally, error: errors.ForbiddenError, now: datetime, started: float
) -> outcomes.Outcome:
    """Graph refused a read the decisions need: nothing can be judged; one configuration finding says
    which permission, for which call, and how to grant it (the links were checked already)."""
    finding = permissions.graph_refused(engine, error)
    record = recorder.Recorder(engine.store, now)
    record.subject(permissions.SUBJECT, [finding])
    record.report.problems.append(f"{finding.title}: {error.call} refused")
    return _halted(engine, out, record.report, now, started)


def _halted(engine: Engine, out: _Tally, report: outcomes.RunReport, now: datetime, started: float) -> outcomes.Outcome:
    """Nothing could be judged (PAL_PARTNER_ID is wrong, or Graph refuses a read): say so and alert it."""
    out.status = "partial"
    out.problems += [p for p in report.problems if p not in out.problems]
    out.halted = next((p for p in out.problems if "PAL_PARTNER_ID" in p), "the partner ID guard stopped the run")
    opened, resolved = report.opened, report.resolved
    out.opened, out.resolved = len(opened), len(resolved)
    _alert(engine, out, now, (opened, resolved, report.said), sweep=False)
    out.seconds = time.monotonic() - started
    done = out.outcome()
    engine.store.put_state(LAST_STATE, {"at": now.isoformat(), "outcome": str(done)[:2000]})
    log.warning("verification stopped: %s", done)
    return done


def _alert(engine: Engine, out: _Tally, now: datetime, changes: tuple[list, list, list], *, sweep: bool) -> None:
    """Enqueue what opened or resolved (`changes`: opened, resolved, said) and deliver what is
    pending; a dry run enqueues and sends nothing."""
    if out.mode == DRY_RUN:
        out.steps["alerts"] = "dry run: no alert enqueued or sent"
        return
    opened, resolved, said = changes
    alerting = outcomes.Steps()
    alerting.run("alerts-enqueue", lambda: alerts.enqueue(engine, opened, resolved, now, said=said))
    alerting.run("alerts", lambda: alerts.deliver(engine, now, sweep_resolved=sweep, purge=sweep))
    out.steps.update(alerting.steps)
    out.problems += [f"{name}: {error}" for name, error in alerting.errors.items()]


def _without(plan: decisions.Plan, held: frozenset[str], store: Any) -> decisions.Plan:
    """The plan less what it decided on unknowns: no finding or snapshot for a held delegation,
    and its coverage row as the last verification stored it (if any)."""
    if not held:
        return plan
    stored = store.get_coverage()
    before = {r.delegation_key: r for r in (stored.rows if stored else ())}
    return replace(
        plan,
        assessments=tuple(a for a in plan.assessments if a.delegation.key not in held),
        delegation_findings=tuple(f for f in plan.delegation_findings if f.subject not in held),
        subjects=frozenset(plan.subjects - held),
        coverage=tuple(before.get(r.delegation_key, r) if r.delegation_key in held else r for r in plan.coverage),
    )


def _by_location(
    engine: Engine, rows: tuple[decisions.CoverageRow, ...], links: Mapping[str, decisions.LinkStatus]
) -> tuple[tuple[decisions.CoverageRow, ...], list[model.Finding]]:
    """The coverage rows with the partner location each is credited to, and the customers credited
    to another of the partner's locations than PAL_PARTNER_ID_BY_CUSTOMER names."""
    settings = engine.settings
    where = locations.Locations(settings.partner_ids, settings.location_names, settings.expected_locations)
    rows = locations.with_locations(rows, links, where)
    return rows, locations.misplaced(rows, links, where)


def _current(inventory: estate_scan.Inventory, previous: dict[str, DelegationSnapshot]) -> list[model.Delegation]:
    """What was seen, plus what we last saw where a scope could not be read (never taken as removed)."""
    kept = [
        snap.to_delegation()
        for key, snap in previous.items()
        if key not in inventory.delegations and not snap.removed and not inventory.covers(snap.scope)
    ]
    return list(inventory.delegations.values()) + kept


def _describe_inventory(out: _Tally, inventory: estate_scan.Inventory) -> None:
    out.tenants = len(inventory.tenants)
    out.subscriptions = len(inventory.subscriptions)
    out.incomplete_scopes = dict(inventory.incomplete_scopes)
    out.problems += inventory.problems
    out.problems += [f"identity {n} could not enumerate: {e}" for n, e in inventory.failed_readers.items()]
    out.steps["enumerate"] = f"{len(inventory.delegations)} delegation(s) seen by {', '.join(inventory.readers)}" + (
        f"; {len(inventory.incomplete_scopes)} scope(s) unreadable" if inventory.incomplete_scopes else ""
    )


def _describe_result(
    out: _Tally, plan: decisions.Plan, links: tenant_links.LinkCheck, result: pipeline.Reconciled
) -> None:
    out.delegations = len(plan.coverage)
    for row in plan.coverage:
        if row.status == "attributed":
            out.attributed += 1
        elif row.status == "at_risk":
            out.at_risk += 1
        else:
            out.not_attributed += 1
    out.removed = len(plan.removals)
    out.problems += [p for p in result.problems if p not in out.problems]  # e.g. a link deferred
    out.links_checked = links.checked
    out.links_written = list(result.links_written)
    out.withheld = list(result.withheld)
    out.repointed = list(result.repointed)
    out.drift_repaired = links.repaired
    out.link_failures = links.failed + [
        f"{f.principal_id} in {f.tenant_id}: {f.reason}" for f in plan.findings if f.kind == catalogue.Kind.LINK_FAILED
    ]


def _stale_subjects(
    engine: Engine,
    inventory: estate_scan.Inventory,
    links: tenant_links.LinkCheck,
    decided: frozenset[str],
    started: datetime,
) -> set[str]:
    """Subjects of open findings this run owns but did not decide: they no longer hold.

    Left alone: findings of other subsystems (configuration, Graph subscriptions), a delegation
    announced by an event that none of our identities can read (`not_visible`: verify cannot see
    it either), scopes that could not be read, customer-tenant links that were not checked, and
    findings an event handler opened or saw after this run `started` (it knows better).
    """
    managing = engine.managing_tenant_id.lower()
    stale: set[str] = set()
    for recorded in engine.store.open_findings():
        f = recorded.finding
        if f.subject in decided or f.kind not in OWNED_KINDS or f.reason == "not_visible":
            continue
        if max(recorded.opened_at, recorded.last_seen_at or recorded.opened_at) > started:
            continue
        if f.subject.startswith("/subscriptions/"):
            scope = f.subject.split("/providers/", 1)[0]
            if inventory.covers(scope):
                stale.add(f.subject)
        elif f.kind == catalogue.Kind.LINK_LOCATION:
            stale.add(f.subject)  # judged on every verification's coverage
        elif f.subject.startswith("link:"):
            tenant = f.subject.split(":")[1]
            if tenant == managing or not links.problems:
                stale.add(f.subject)
    return stale


def _wall(now: datetime) -> datetime:
    # Leases compare against wall time; `now` may be a test's fixed instant in the past.
    return max(now, datetime.now(now.tzinfo))


def _remember_links(links: link_writer.LinkWriter, statuses: Mapping[str, decisions.LinkStatus]) -> None:
    """The managing tenant's links as read now (the drift baseline), and the partner's name they gave."""
    engine = links.engine
    tenant_links.remember_managing_links(links, statuses)
    ours = engine.settings.partner_ids
    name = next((s.partner_name for s in statuses.values() if s.points_to(ours) and s.partner_name), "")
    coverage_view.remember_partner(engine, name)
