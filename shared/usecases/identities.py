"""Identity deleted, disabled, restored, or out of a group: what it costs in partner credit.

Called by function_app.py (`identity_events`: Graph change and lifecycle notifications from the
partner topic) and by the watch timer (shared.usecases.watch: `poll_identities`, then
`ensure_graph_subscriptions`). The event is a hint: the handler finds the stored delegations
that the identity attributes (or attributed, or is authorized on) and re-runs the attribution
pipeline on them (shared.usecases.pipeline.reconcile) with what Graph shows now, so
attribution_lost / identity_lost and their resolution come from the same decisions as every
other pass. Service principals and managed identities have no notifications: the poll reads
the identities that attribute a delegation (batched per-type reads) and re-assesses
the delegations whose identities changed since the last poll.

Nested groups: a delegation may be attributed by a user through a group nested in the
authorized one (the snapshot keeps only that top group). A notification therefore also
matches the delegations of every group the identity is transitively in (one
transitiveMemberOf read); a deleted group, or one whose memberships Graph will not show us,
is matched by re-reading the members of the stored top groups instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from shared import catalogue, decisions, events, model
from shared.azure import errors
from shared.snapshots import AttributedBy, DelegationSnapshot
from shared.store import errors as store_errors
from shared.usecases import alerts, graph_subscriptions, outcomes, pipeline, recorder
from shared.usecases.engine import Engine

log = logging.getLogger(__name__)

LIFECYCLE_LEASE = "graph-lifecycle-upkeep"  # one upkeep (and re-read) per window, however many notifications
LIFECYCLE_WINDOW = timedelta(minutes=10)  # the watch timer keeps subscriptions and polls identities anyway
POLL_STATE = "identity-poll"  # object id -> state, for the watched identities that are not active


# -- the Event Grid trigger ------------------------------------------------------------------------


def handle_identity_event(engine: Engine, event: object, now: datetime) -> outcomes.Outcome:
    """One Graph notification (either delivery schema). Raises only TransientError (Event Grid redelivers)."""
    secret = engine.settings.graph_client_state
    if not secret:
        log.warning("Graph notification refused: PAL_GRAPH_CLIENT_STATE is not set, so it cannot be verified")
        return outcomes.Outcome("rejected", "PAL_GRAPH_CLIENT_STATE is not set: notifications cannot be verified")
    parsed = events.parse_graph_event(event, expected_client_state=secret, expected_tenant_id=engine.managing_tenant_id)
    if isinstance(parsed, events.Ignored):
        log.info("Graph notification %s ignored: %s", parsed.event_id or "?", parsed.reason)
        return outcomes.Outcome("ignored", parsed.reason)
    if isinstance(parsed, events.Rejected):
        # The reason never contains the clientState (events.py); a spoof is worth a warning.
        log.warning("Graph notification %s (%s) rejected: %s", parsed.event_id or "?", parsed.event_type, parsed.reason)
        return outcomes.Outcome("rejected", parsed.reason)
    try:
        if isinstance(parsed, events.GraphSubscriptionLifecycle):
            return _lifecycle(engine, parsed, now)
        return reconcile_identity(
            engine, parsed.object_id, now, change=f"{parsed.kind} {parsed.change}", kind=parsed.kind
        )
    except errors.TransientError:
        raise
    except errors.PermanentError as e:
        log.warning("Graph notification %s could not be handled: %s", parsed.event_id or "?", e)
        return outcomes.Outcome("failed", str(e))


def reconcile_identity(
    engine: Engine, object_id: str, now: datetime, *, change: str = "", kind: str = ""
) -> outcomes.Outcome:
    """Re-assess every stored delegation that depends on `object_id`, from Graph's current state.

    `kind` ("user" | "group", from the notification) says whether the identity can stand between
    a delegation and its carriers (only a group can).
    """
    oid = object_id.lower()
    prefix = f"{change} {oid}" if change else oid
    snapshots = engine.store.list_delegations(include_removed=False)
    if not snapshots:
        # Nothing delegated is known yet: no Graph read for the change.
        log.info("identity %s attributes no known delegation", oid)
        return outcomes.Outcome("no_impact", f"{prefix}: no known delegation depends on it")
    principals: dict[str, model.Principal] = {}
    affected = dependents(engine, snapshots, oid, principals, kind=kind)
    if not affected:
        log.info("identity %s attributes no known delegation", oid)
        return outcomes.Outcome("no_impact", f"{prefix}: no known delegation depends on it")
    if oid not in principals:
        # A carrier in a nested group is no authorization principal: the decision would only see
        # it missing from the group, not deleted or disabled, and say so in the finding.
        principals.update(engine.graph().get_principals([oid]))
    report = reassess(engine, affected, now, principals)
    alerts.enqueue(engine, report.opened, report.resolved, now, said=report.said)
    principal = principals.get(oid)
    state = _describe(principal) if principal is not None else "state unknown"
    detail = f"{prefix}: {state}; {len(affected)} delegation(s) of {_customers(affected)}: {report.summary()}"
    log.info("identity change %s", detail)
    return outcomes.Outcome("reconciled", detail, report)


def dependents(
    engine: Engine,
    snapshots: list[DelegationSnapshot],
    object_id: str,
    principals: dict[str, model.Principal],
    *,
    kind: str = "",
) -> list[DelegationSnapshot]:
    """The delegations that depend on the identity itself or on any group it is transitively in.

    Reads, as the managed identity: one transitiveMemberOf; for a group that is gone (or whose
    memberships we may not read) its state, and the transitive members of the stored top groups.
    Never a read per delegation. The principals it reads are added to `principals`.
    """
    oid = object_id.lower()
    graph = engine.graph()
    refused = False
    try:
        groups = set(graph.list_transitive_member_of_ids(oid, kind or "user")) - {oid}
    except errors.TransientError:
        raise
    except errors.PermanentError as e:
        # Graph documents Directory.Read.All for a group's memberships; with Group.Read.All only,
        # the stored top groups' members still tell who fell out (or came back).
        log.warning("memberships of %s unreadable (%s); matching through the stored groups", oid, e.code or e)
        groups, refused = set(), True
    wanted = groups | {oid}
    found = {s.key: s for s in snapshots if _referenced(s) & wanted}
    if kind == "user" or groups:
        return list(found.values())
    # A group that is in no group, or is gone, or unreadable: only Graph's state tells which.
    if not refused:
        principals.update(graph.get_principals([oid]))
        if principals[oid].usable:
            return list(found.values())  # a top-level group: its own delegations are all
    for snapshot in _membership_changed(engine, snapshots, principals, skip=oid):
        found.setdefault(snapshot.key, snapshot)
    return list(found.values())


def _referenced(snapshot: DelegationSnapshot) -> set[str]:
    """Every object id the delegation names: authorized principals, carriers and their top groups."""
    ids = {a.principal_id.lower() for a in (*snapshot.authorizations, *snapshot.eligible_authorizations)}
    ids.update(oid for e in snapshot.attributed_by for oid in (e.principal_id, e.via_group) if oid)
    return ids


def _membership_changed(
    engine: Engine, snapshots: list[DelegationSnapshot], principals: dict[str, model.Principal], *, skip: str
) -> list[DelegationSnapshot]:
    """Delegations whose stored carriers through a top group are (or are not) in it now, unlike before.

    One transitiveMembers read per distinct stored top group (with one bulk read for their state).
    """
    through: dict[str, list[tuple[DelegationSnapshot, AttributedBy]]] = {}
    for snapshot in snapshots:
        for entry in snapshot.attributed_by:
            if entry.via_group and entry.via_group != skip:
                through.setdefault(entry.via_group, []).append((snapshot, entry))
    if not through:
        return []
    graph = engine.graph()
    principals.update(graph.get_principals(sorted(through.keys() - principals.keys())))
    changed: dict[str, DelegationSnapshot] = {}
    for group_id, entries in sorted(through.items()):
        group = principals.get(group_id)
        members = set(graph.list_transitive_member_ids(group_id)) if group is not None and group.usable else set()
        for snapshot, entry in entries:
            if (entry.principal_id in members) != entry.active:
                changed.setdefault(snapshot.key, snapshot)
    return list(changed.values())


def reassess(
    engine: Engine, snapshots: list[DelegationSnapshot], now: datetime, principals: Mapping[str, model.Principal]
) -> outcomes.RunReport:
    """The reconcile entry on stored delegations, with the `principals` this pass already read.

    Only what changed is written: a steady estate re-checked (verification, a gap) costs reads only.
    """
    record = recorder.Recorder(engine.store, now)
    # A delegation ARM shows as not in effect stays ARM's to decide (the snapshot has no state).
    snapshots = [s for s in snapshots if s.reason != "not_in_effect"]
    if not snapshots:
        return record.report
    before = {s.key: s for s in snapshots}
    result = pipeline.reconcile(
        engine, pipeline.Delegations.stored(snapshots), now=now, known=pipeline.Known(principals=principals)
    )
    open_now: dict[str, set[tuple[str, ...]]] = {}
    for recorded in engine.store.open_findings():
        open_now.setdefault(recorded.finding.subject, set()).add(_essence(recorded.finding))
    assessments = result.plan.assessments
    changed = [a for a in assessments if _differs(a, before[a.key], open_now.get(a.key, set()))]
    record.record(result, assessments=changed)
    return record.report


def _essence(finding: model.Finding) -> tuple[str, ...]:
    return (finding.key, finding.kind, finding.severity.value, finding.title, finding.detail, finding.fix)


def _differs(
    assessment: decisions.DelegationAssessment, before: DelegationSnapshot, open_now: set[tuple[str, ...]]
) -> bool:
    if replace(assessment.snapshot, updated_at=before.updated_at) != before:
        return True
    return {_essence(f) for f in assessment.findings if f.subject == assessment.key} != open_now


# -- the poll (service principals and managed identities have no notifications) -------------------


def poll_identities(engine: Engine, now: datetime, *, full: bool = False) -> outcomes.Outcome:
    """Existence and accountEnabled of the identities that attribute a delegation (and their groups).

    Light (watch cadence): one bulk read; only delegations whose identities changed since the last
    poll (or that still count a now-unusable identity as attributing) are re-assessed. `full`
    (verification, and after a gap in notifications) re-assesses every delegation, group
    memberships included.
    """
    snapshots = [s for s in engine.store.list_delegations(include_removed=False) if s.authorizations]
    watched = sorted({oid for s in snapshots for e in s.attributed_by for oid in (e.principal_id, e.via_group) if oid})
    states = engine.graph().get_principals(watched) if watched else {}
    last: dict[str, str] = engine.store.get_state(POLL_STATE) or {}
    stale = snapshots if full else [s for s in snapshots if _stale(s, states, last)]
    report = reassess(engine, stale, now, states) if stale else outcomes.RunReport()
    _remember_states(engine, states, last)
    alerts.enqueue(engine, report.opened, report.resolved, now, said=report.said)
    unusable = sorted(f"{oid} {p.state.value}" for oid, p in states.items() if not p.usable)
    unknown = sorted(oid for oid, p in states.items() if p.state is model.PrincipalState.UNKNOWN)
    detail = (
        f"{'full' if full else 'light'} check of {len(watched)} identit{'y' if len(watched) == 1 else 'ies'}"
        f"{' (not usable: ' + ', '.join(unusable[:10]) + ')' if unusable else ''}"
        f"{' (state unknown: ' + ', '.join(unknown[:10]) + ')' if unknown else ''}; "
        f"{len(stale)} delegation(s) re-assessed; {report.summary()}"
    )
    if unknown:
        log.warning("identity poll: Graph did not say whether %d identit(ies) are enabled", len(unknown))
    if stale:
        log.info("identity poll: %s", detail)
    return outcomes.Outcome("ok", detail, report)


def _stale(snapshot: DelegationSnapshot, states: Mapping[str, model.Principal], last: Mapping[str, str]) -> bool:
    for entry in snapshot.attributed_by:
        for oid in (entry.principal_id, entry.via_group):
            principal = states.get(oid) if oid else None
            if principal is None:
                continue
            if entry.active and not principal.usable:
                return True  # counted as attributing, but Graph says it cannot
            if last.get(oid, model.PrincipalState.ACTIVE.value) != principal.state.value:
                return True  # changed since the last poll (e.g. restored or re-enabled)
    return False


def _remember_states(engine: Engine, states: Mapping[str, model.Principal], last: Mapping[str, str]) -> None:
    current = {oid: p.state.value for oid, p in states.items() if not p.confirmed}
    if current == dict(last):
        return
    try:
        engine.store.put_state(POLL_STATE, current)
    except store_errors.PermanentStoreError as e:
        # Thousands of lost identities at once: restores are then found by events and verification.
        log.warning("identity poll state not kept (%s); the next poll re-assesses them again", e)


# -- Graph subscription upkeep ----------------------------------------------------------------------


def ensure_graph_subscriptions(engine: Engine, now: datetime) -> outcomes.Outcome:
    """Keep the users and groups subscriptions alive; after a gap, re-read every identity we care about."""
    return _ensure(engine, now)[0]


def _ensure(engine: Engine, now: datetime) -> tuple[outcomes.Outcome, bool]:
    """(outcome, whether identities were re-read)."""
    why = graph_subscriptions.missing_settings(engine)
    if why:
        return outcomes.Outcome("skipped", why), False
    store = engine.store
    try:
        done = graph_subscriptions.upkeep(engine, now)
    except errors.TransientError:
        raise
    except errors.PermanentError as e:
        opened, resolved = store.sync_findings(
            catalogue.GRAPH_SUBSCRIPTIONS_SUBJECT,
            [catalogue.graph_subscriptions_failed(engine.managing_tenant_id, e.code or type(e).__name__, str(e))],
            now,
        )
        alerts.enqueue(engine, opened, resolved, now)
        log.warning("Graph subscriptions could not be kept: %s", e)
        return outcomes.Outcome("failed", str(e), outcomes.RunReport(opened=opened, resolved=resolved)), False
    opened, resolved = store.sync_findings(catalogue.GRAPH_SUBSCRIPTIONS_SUBJECT, [], now)
    alerts.enqueue(engine, opened, resolved, now)
    report = outcomes.RunReport(opened=opened, resolved=resolved)
    detail = done.summary()
    if done.gap:
        detail += f"; notifications may have been missed, identities re-read: {_reread(engine, now, report)}"
    return outcomes.Outcome("ok", detail, report), done.gap


def _reread(engine: Engine, now: datetime, report: outcomes.RunReport) -> str:
    outcome = poll_identities(engine, now, full=True)
    if outcome.report is not None:
        report.merge(outcome.report)
    return outcome.detail


def _lifecycle(engine: Engine, parsed: events.GraphSubscriptionLifecycle, now: datetime) -> outcomes.Outcome:
    """reauthorizationRequired: renew that subscription; removed or missed: upkeep, and re-read."""
    why = graph_subscriptions.missing_settings(engine)
    if why:
        return outcomes.Outcome("skipped", f"{parsed.lifecycle_event}: {why}")
    what = f"{parsed.lifecycle_event} for subscription {parsed.subscription_id}"
    if parsed.lifecycle_event == "reauthorizationRequired":
        # Renewing also reauthorizes; one that is gone (or not ours) is left to the upkeep below.
        subscription = graph_subscriptions.get_ours(engine, parsed.subscription_id)
        if subscription is not None and graph_subscriptions.renew(
            engine, subscription.subscription_id, subscription.resource, now
        ):
            return outcomes.Outcome("renewed", f"{what}: renewed")
    if not engine.store.try_acquire(LIFECYCLE_LEASE, parsed.event_id or what, LIFECYCLE_WINDOW, now):
        return outcomes.Outcome(
            "skipped", f"{what}: upkeep and re-read already ran in the last {LIFECYCLE_WINDOW}; the watch timer follows"
        )
    outcome, reread = _ensure(engine, now)
    detail = f"{what}: {outcome.detail}"
    if parsed.lifecycle_event == "missed" and not reread and outcome.status == "ok":
        report = outcome.report or outcomes.RunReport()
        detail += f"; notifications were missed, identities re-read: {_reread(engine, now, report)}"
        return outcomes.Outcome(outcome.status, detail, report)
    return outcomes.Outcome(outcome.status, detail, outcome.report)


# -- words for the outcome line -------------------------------------------------------------------------


def _describe(principal: model.Principal) -> str:
    name = principal.display_name or principal.user_principal_name or principal.object_id
    return f"{principal.kind.value.lower()} {name} is {principal.state.value}"


def _customers(snapshots: list[DelegationSnapshot]) -> str:
    listed = [f"{s.customer_tenant_name or '?'} ({s.customer_tenant_id}) {s.scope}" for s in snapshots[:5]]
    more = f" and {len(snapshots) - 5} more" if len(snapshots) > 5 else ""
    return "; ".join(listed) + more
