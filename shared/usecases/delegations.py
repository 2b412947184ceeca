"""New, changed and removed Lighthouse delegations: the event handler and the activity-log watcher.

Called by function_app.py (`delegation_events`, `watch_delegations`) and the CLI. Events are
hints: the handler re-reads the delegations at the event's scope as ARM shows them now, so
duplicates, reordering and stale events all end in the state ARM holds.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared import events, model
from shared.azure import activity_log, errors
from shared.snapshots import DelegationSnapshot
from shared.usecases import alerts, attribution
from shared.usecases.engine import Engine

log = logging.getLogger(__name__)

CURSOR = "activity-log"
OVERLAP = timedelta(minutes=15)  # the activity log can deliver records late
FIRST_LOOKBACK = timedelta(days=1)
BLOCKED_STATE = "activity-log-blocked"
SEEN_LIMIT = 5000


@dataclass(frozen=True)
class EventOutcome:
    """What a delegation event led to: `reconciled`, `ignored` (with why) or `failed` (recorded)."""

    status: str
    detail: str
    report: attribution.RunReport | None = None

    def __str__(self) -> str:
        return f"{self.status}: {self.detail}"


def handle_delegation_event(engine: Engine, event: object, now: datetime) -> EventOutcome:
    """One Event Grid delivery (either schema). Raises only what is transient (Event Grid redelivers)."""
    parsed = events.parse_delegation_event(event)
    if isinstance(parsed, events.Ignored):
        log.info("delegation event %s ignored: %s", parsed.event_id or "?", parsed.reason)
        return EventOutcome("ignored", parsed.reason)
    try:
        report = reconcile_scope(engine, parsed.scope, now, only=parsed.assignment_id)
    except errors.TransientError:
        raise
    except errors.PermanentError as e:
        log.warning("delegation event %s for %s could not be reconciled: %s", parsed.event_id, parsed.scope, e)
        return EventOutcome("failed", f"{parsed.scope}: {e}")
    alerts.enqueue(engine, report.opened, report.resolved, now)
    return EventOutcome("reconciled", f"{parsed.change} {parsed.assignment_id}: {report.summary()}", report)


@dataclass(frozen=True)
class Target:
    """What to bring in line: every delegation at `scope`, or only the assignment `assignment_id`.

    `announced` says Azure told us the delegation exists (a write event or a register record),
    so one that none of our identities can read is worth a finding.
    """

    scope: str
    assignment_id: str = ""
    announced: bool = False
    customer_tenant_id: str = field(default="", compare=False)

    def covers(self, snapshot_key: str, snapshot_scope: str) -> bool:
        if self.assignment_id:
            return snapshot_key == self.assignment_id.lower()
        return _at_scope(snapshot_scope, self.scope)


def reconcile_scope(engine: Engine, scope: str, now: datetime, *, only: str = "") -> attribution.RunReport:
    """Bring every delegation at `scope` (or just the assignment `only`) in line with what ARM shows now."""
    # An event alone does not say whether an unreadable assignment exists (it may be gone already):
    # the watcher, which sees the last register/unregister record, reports unreadable ones.
    return reconcile_targets(engine, [Target(scope, only)], now)


def reconcile_targets(engine: Engine, targets: list[Target], now: datetime) -> attribution.RunReport:
    """One pass over several targets: read each as ARM shows it now, decide once, record.

    Delegations remembered for a target that no identity of ours can read any more are
    recorded as removed. An announced delegation that none of our identities can read is
    reported, since nothing can be verified or linked for it.
    """
    stored_all = engine.store.list_delegations()
    current: dict[str, model.Delegation] = {}
    stored: dict[str, DelegationSnapshot] = {}
    unseen: list[tuple[Target, list[str]]] = []
    for target in targets:
        found, refused = read_delegations(engine, target.scope, only=target.assignment_id)
        for delegation in found:
            current.setdefault(delegation.key, delegation)
        stored.update({s.key: s for s in stored_all if target.covers(s.key, s.scope)})
        if target.assignment_id and target.announced and not found and refused:
            unseen.append((target, refused))
    run = attribution.Run(engine, now)
    run.record(run.assess(list(current.values()), stored))
    run.record_links()
    for key, snapshot in stored.items():
        if key not in current and not snapshot.removed:
            run.record_removal(snapshot)
    for target, refused in unseen:
        if target.assignment_id.lower() not in stored:
            run.record_not_visible(target.assignment_id, target.scope, refused, target.customer_tenant_id)
    return run.report


def read_delegations(engine: Engine, scope: str, *, only: str = "") -> tuple[list[model.Delegation], list[str]]:
    """The delegations to our managing tenant at `scope` (or `only`), as any of our identities sees them.

    Returns them with the names of the identities that were refused (for the not-visible report);
    none when a reader could see the subscription and the assignment is simply gone.
    """
    managing = engine.managing_tenant_id.lower()
    found: dict[str, model.Delegation] = {}
    refused: list[str] = []
    for name, reader in engine.lighthouse_readers():
        try:
            if only:
                delegation = reader.get_assignment(only)
                if delegation.managed_by_tenant_id.lower() in ("", managing):
                    found[delegation.key] = delegation
                    break
            else:
                for delegation in reader.list_assignments(scope, managed_by_tenant_id=engine.managing_tenant_id):
                    if _at_scope(delegation.scope, scope):
                        found.setdefault(delegation.key, delegation)
        except errors.NotFoundError as e:
            if e.code.lower() == "registrationassignmentnotfound":
                return list(found.values()), []  # the subscription is readable and the assignment is gone
            refused.append(name)
        except errors.ForbiddenError:
            refused.append(name)
        except errors.CredentialError as e:
            log.warning("identity %s cannot read delegations: %s", name, e)
            refused.append(name)
    return list(found.values()), refused


def _at_scope(delegation_scope: str, scope: str) -> bool:
    return delegation_scope.rstrip("/").lower() == scope.rstrip("/").lower()


@dataclass
class WatchOutcome:
    status: str  # "ok" | "blocked" | "skipped"
    records: int = 0
    scopes: list[str] = field(default_factory=list)
    report: attribution.RunReport = field(default_factory=attribution.RunReport)
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.status}: {self.records} record(s), {len(self.scopes)} scope(s); {self.report.summary()}" + (
            f"; {self.detail}" if self.detail else ""
        )


def watch_delegations(engine: Engine, now: datetime) -> WatchOutcome:
    """Read the tenant activity log since the cursor and reconcile every scope registered or removed.

    The cursor moves only forward and only after the scopes were reconciled, with an overlap
    window for late records; record ids seen inside the window are remembered so no record is
    processed twice. Without Monitoring Reader at root, one configuration finding is opened and
    the watcher stays quiet until the next verification clears the block.
    """
    store = engine.store
    if store.get_state(BLOCKED_STATE):
        return WatchOutcome("blocked", detail="activity log unreadable; waiting for the next verification")
    value, etag = store.get_cursor(CURSOR)
    state = _CursorState.parse(value, now)
    since = state.position - OVERLAP
    run = attribution.Run(engine, now)
    try:
        records = list(engine.activity_log().list_delegation_records(since))
    except errors.ForbiddenError as e:
        store.put_state(BLOCKED_STATE, {"since": now.isoformat(), "error": str(e)[:300]})
        run._sync(ACTIVITY_LOG_SUBJECT, [_activity_log_finding(engine, str(e))])
        log.warning("activity log unreadable (%s): watcher paused until the next verification", e.code)
        return WatchOutcome("blocked", report=run.report, detail=str(e))
    run._sync(ACTIVITY_LOG_SUBJECT, [])
    fresh = [r for r in records if r.event_id not in state.seen and r.succeeded and r.scope]
    latest: dict[Target, activity_log.DelegationRecord] = {}
    for record in sorted(fresh, key=lambda r: r.timestamp):
        latest[_target(record, announced=False)] = record  # the last record per delegation says how it ends
    targets = [_target(r) for r in latest.values()]
    report = attribution.RunReport()
    report.merge(run.report)
    if targets:
        report.merge(reconcile_targets(engine, targets, now))
    newest = max((r.timestamp for r in records), default=state.position)
    position = max(state.position, min(newest, now))
    seen = {eid: ts for eid, ts in state.seen.items() if datetime.fromisoformat(ts) >= position - OVERLAP}
    seen.update({r.event_id: r.timestamp.isoformat() for r in fresh if r.event_id})
    if not store.set_cursor(CURSOR, _CursorState(position, seen).dump(), etag):
        log.info("activity-log cursor moved by a concurrent watcher; its run counts")
    return WatchOutcome("ok", records=len(fresh), scopes=sorted({t.scope for t in targets}), report=report)


def _target(record: activity_log.DelegationRecord, *, announced: bool = True) -> Target:
    match = _ASSIGNMENT_ID.search(record.delegation_resource_id)
    if match:
        return Target(
            record.scope,
            match.group(0),
            announced=announced and record.operation == "register",
            customer_tenant_id=record.customer_tenant_id,
        )
    return Target(record.scope)


_ASSIGNMENT_ID = re.compile(
    r"/subscriptions/[^/]+(/resourceGroups/[^/]+)?/providers/Microsoft\.ManagedServices/registrationAssignments/[^/?#]+",
    re.IGNORECASE,
)


def clear_activity_log_block(engine: Engine) -> None:
    """Verification calls this so the watcher tries the activity log again."""
    engine.store.put_state(BLOCKED_STATE, None)


ACTIVITY_LOG_SUBJECT = "config:activity-log"


def _activity_log_finding(engine: Engine, error: str) -> model.Finding:
    tenant = engine.managing_tenant_id
    return model.Finding(
        key="config:activity-log-unreadable",
        kind="configuration",
        severity=model.Severity.WARNING,
        subject=ACTIVITY_LOG_SUBJECT,
        title="PAL Watch cannot read the tenant activity log: new customers are found only by verification",
        reason="monitoring_reader_missing",
        detail=(
            "The watcher reads the managing tenant's activity log every few minutes to learn of new and removed "
            "Lighthouse delegations. Azure refused: " + error[:200]
        ),
        fix=(
            "Grant the function app's managed identity Monitoring Reader at root scope (needs elevated access):\n"
            "  az role assignment create --assignee <managed identity object id> "
            "--role 'Monitoring Reader' --scope /\n"
            f"in tenant {tenant}. The watcher retries after the next verification."
        ),
        tenant_id=tenant,
    )


@dataclass
class _CursorState:
    position: datetime
    seen: dict[str, str]

    @classmethod
    def parse(cls, value: str | None, now: datetime) -> _CursorState:
        import json

        if value:
            try:
                data = json.loads(value)
                return cls(datetime.fromisoformat(data["position"]), dict(data.get("seen") or {}))
            except (ValueError, KeyError, TypeError):
                log.warning("activity-log cursor unreadable; starting from %s", FIRST_LOOKBACK)
        return cls(now - FIRST_LOOKBACK, {})

    def dump(self) -> str:
        import json

        seen = dict(sorted(self.seen.items(), key=lambda kv: kv[1])[-SEEN_LIMIT:])
        return json.dumps({"position": self.position.isoformat(), "seen": seen})
