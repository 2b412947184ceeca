"""New, changed and removed Lighthouse delegations: the event handler and the activity-log watcher.

Called by function_app.py (`delegation_events`, `watch_delegations`) and the CLI. Events are
hints: the handler re-reads the delegations at the event's scope as ARM shows them now, so
duplicates, reordering and stale events all end in the state ARM holds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from shared import catalogue, decisions, events, model
from shared.azure import activity_log, errors
from shared.decisions import scopes
from shared.snapshots import DelegationSnapshot
from shared.store import errors as store_errors
from shared.usecases import alerts, outcomes, pipeline, recorder
from shared.usecases.engine import Engine

log = logging.getLogger(__name__)

CURSOR = "activity-log"
OVERLAP = timedelta(minutes=15)  # the activity log can deliver records late
FIRST_LOOKBACK = timedelta(days=1)
BLOCKED_STATE = "activity-log-blocked"
SEEN_BUDGET = 25_000  # characters of seen-record memory in the cursor row (a property holds 32K)
WATCH_BATCH = 25  # delegations reconciled together; a failure costs the next run only these
WATCH_BUDGET = timedelta(minutes=2)  # no batch starts after this: the run ends inside its 5-minute interval


def handle_delegation_event(engine: Engine, event: object, now: datetime) -> outcomes.Outcome:
    """One Event Grid delivery (either schema). Raises only what is transient (Event Grid redelivers)."""
    parsed = events.parse_delegation_event(event)
    if isinstance(parsed, events.Ignored):
        log.info("delegation event %s ignored: %s", parsed.event_id or "?", parsed.reason)
        return outcomes.Outcome("ignored", parsed.reason)
    try:
        # An assignment we never saw is read by one identity: an event is no proof that anything
        # exists, and a fabricated one must not cost a read per identity (the watcher and the
        # verification, which know what Azure announced, try every identity).
        known = engine.store.get_delegation(parsed.assignment_id.lower()) is not None
        target = Target(parsed.scope, parsed.assignment_id, ended=parsed.change == "delete", probe=not known)
        report = reconcile_targets(engine, [target], now)
    except errors.TransientError:
        raise
    except errors.PermanentError as e:
        log.warning("delegation event %s for %s could not be reconciled: %s", parsed.event_id, parsed.scope, e)
        return outcomes.Outcome("failed", f"{parsed.scope}: {e}")
    alerts.enqueue(engine, report.opened, report.resolved, now, said=report.said)
    return outcomes.Outcome("reconciled", f"{parsed.change} {parsed.assignment_id}: {report.summary()}", report)


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
    ended: bool = False  # Azure said it was removed (a delete event, an unregister record)
    probe: bool = field(default=False, compare=False)  # one identity reads it; a refusal ends there

    def covers(self, snapshot_key: str, snapshot_scope: str) -> bool:
        if self.assignment_id:
            return snapshot_key == self.assignment_id.lower()
        return _at_scope(snapshot_scope, self.scope)


def reconcile_targets(engine: Engine, targets: list[Target], now: datetime) -> outcomes.RunReport:
    """One pass over several targets: read each as ARM shows it now, decide once, record.

    A remembered delegation that ARM no longer shows is recorded as removed when that is
    certain: a reader saw the scope without it, or Azure said it ended (a delete event, an
    unregister record). When our identities were merely refused, it may still exist without
    PAL Watch in it: that, like an announced delegation none of them can read, is reported as
    unreadable, since nothing can be verified or linked for it.
    """
    stored_all = _remembered(engine, targets)
    current: dict[str, model.Delegation] = {}
    stored: dict[str, DelegationSnapshot] = {}
    certain: set[str] = set()  # keys whose absence is known for sure
    unseen: list[tuple[Target, list[str]]] = []
    readable_scopes: list[str] = []  # scope targets no longer "announced but unreadable"
    workers = max(1, min(engine.settings.max_concurrency, len(targets)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="watch-read") as pool:
        reads = list(
            pool.map(lambda t: read_delegations(engine, t.scope, only=t.assignment_id, probe=t.probe), targets)
        )
    for target, read in zip(targets, reads, strict=True):
        for delegation in read.found:
            current.setdefault(delegation.key, delegation)
        covered = {s.key: s for s in stored_all if target.covers(s.key, s.scope)}
        stored.update(covered)
        if read.confirmed or target.ended:
            certain.update(covered)
        elif target.assignment_id and not read.found and read.refused and (target.announced or covered):
            unseen.append((target, read.refused))
        if not target.assignment_id:
            if target.announced and not read.found and read.refused and not read.confirmed:
                unseen.append((target, read.refused))
            else:
                readable_scopes.append(target.scope)
    if not current and not stored and not unseen and not readable_scopes:
        return outcomes.RunReport()  # nothing there, nothing remembered: nothing to decide or link
    # An assignment read names no offer: what a snapshot under the same subscription remembers stands
    # in (the reconcile entry reads the others, one request per subscription).
    offers_known = _remembered_offers(stored_all)
    current = {
        k: d if d.quota_id else replace(d, quota_id=offers_known.get(d.subscription_id.lower(), ""))
        for k, d in current.items()
    }
    batch = pipeline.Delegations(tuple(current.values()), stored, frozenset(certain - current.keys()))
    result = pipeline.reconcile(engine, batch, now=now)
    record = recorder.Recorder(engine.store, now)
    record.record(result)
    for target, refused in unseen:
        # An activity-log record names a scope, an event an assignment: the finding is keyed by what we were told.
        key = target.assignment_id or target.scope
        finding = decisions.not_visible_finding(
            key, target.scope, refused, engine.managing_tenant_id, target.customer_tenant_id
        )
        record.report.delegations[key.lower()] = "not_visible"
        record.subject(finding.subject, [finding])
    for scope in readable_scopes:
        record.subject(scope.rstrip("/").lower(), [])
    return record.report


def _remembered_offers(remembered: list[DelegationSnapshot]) -> dict[str, str]:
    """Subscription id -> the offer (quota ID) a stored snapshot under it remembers."""
    known: dict[str, str] = {}
    for snapshot in remembered:
        subscription = scopes.subscription_id(snapshot.scope)
        if snapshot.quota_id and subscription:
            known.setdefault(subscription, snapshot.quota_id)
    return known


def _remembered(engine: Engine, targets: list[Target]) -> list[DelegationSnapshot]:
    """The stored snapshots the targets cover: point reads for single assignments (an event),
    one listing when a target is a whole scope (the watcher)."""
    if all(t.assignment_id for t in targets) and len(targets) <= 20:
        found = (engine.store.get_delegation(t.assignment_id.lower()) for t in targets)
        return [s for s in found if s is not None]
    return engine.store.list_delegations()


@dataclass
class _Read:
    found: list[model.Delegation]
    refused: list[str]  # identities that were not allowed to look
    confirmed: bool  # some identity could look: what it did not find is not there


def read_delegations(engine: Engine, scope: str, *, only: str = "", probe: bool = False) -> _Read:
    """The delegations to our managing tenant at `scope` (or `only`), as any of our identities sees them.

    `probe`: only until the first identity is refused (an unknown assignment from an event)."""
    managing = engine.managing_tenant_id.lower()
    found: dict[str, model.Delegation] = {}
    refused: list[str] = []
    confirmed = False
    for name, reader in engine.lighthouse_readers():
        try:
            if only:
                delegation = reader.get_assignment(only)
                confirmed = True
                if delegation.managed_by_tenant_id.lower() in ("", managing):
                    found[delegation.key] = delegation
                    break
            else:
                for delegation in reader.list_assignments(scope, managed_by_tenant_id=engine.managing_tenant_id):
                    if _at_scope(delegation.scope, scope):
                        found.setdefault(delegation.key, delegation)
                confirmed = True
        except errors.NotFoundError as e:
            if e.code.lower() == "registrationassignmentnotfound":
                return _Read(list(found.values()), [], True)  # the scope is readable: the assignment is gone
            refused.append(name)
        except errors.ForbiddenError:
            refused.append(name)
        except errors.CredentialError as e:
            log.warning("identity %s cannot read delegations: %s", name, e)
            refused.append(name)
        if probe and refused:
            break
    return _Read(list(found.values()), refused, confirmed)


def _at_scope(delegation_scope: str, scope: str) -> bool:
    return delegation_scope.rstrip("/").lower() == scope.rstrip("/").lower()


def _watched(
    status: str,
    report: outcomes.RunReport,
    *,
    records: int = 0,
    scopes: Sequence[str] = (),
    detail: str = "",
) -> outcomes.Outcome:
    """The watcher's outcome: records read, scopes reconciled, what was recorded (status ok | blocked | partial)."""
    text = f"{records} record(s), {len(scopes)} scope(s); {report.summary()}" + (f"; {detail}" if detail else "")
    return outcomes.Outcome(
        status,
        text,
        report,
        counts={"records": records},
        problems=(detail,) if detail else (),
        facts={"scopes": list(scopes)},
    )


def watch_delegations(engine: Engine, now: datetime) -> outcomes.Outcome:
    """Read the tenant activity log since the cursor and reconcile every scope registered or removed.

    The cursor moves only forward and only after the scopes were reconciled, with an overlap
    window for late records; record ids seen inside the window are remembered so no record is
    processed twice. Without Monitoring Reader at root, one configuration finding is opened and
    the watcher stays quiet until the next verification clears the block.
    """
    store = engine.store
    if store.get_state(BLOCKED_STATE):
        return _watched(
            "blocked", outcomes.RunReport(), detail="activity log unreadable; waiting for the next verification"
        )
    value, etag = store.get_cursor(CURSOR)
    state = _CursorState.parse(value, now)
    since = state.position - OVERLAP
    recording = recorder.Recorder(store, now)
    try:
        records = list(engine.activity_log().list_delegation_records(since))
    except errors.ForbiddenError as e:
        store.put_state(BLOCKED_STATE, {"since": now.isoformat(), "error": str(e)[:300]})
        recording.subject(
            catalogue.ACTIVITY_LOG_SUBJECT, [catalogue.activity_log_unreadable(engine.managing_tenant_id, str(e))]
        )
        log.warning("activity log unreadable (%s): watcher paused until the next verification", e.code)
        return _watched("blocked", recording.report, detail=str(e))
    recording.subject(catalogue.ACTIVITY_LOG_SUBJECT, [])
    fresh = [r for r in records if _seen_key(r.event_id) not in state.seen and r.succeeded and r.scope]
    latest: dict[Target, activity_log.DelegationRecord] = {}
    for record in sorted(fresh, key=lambda r: r.timestamp):
        latest[_target(record, announced=False)] = record  # the last record per delegation says how it ends
    report = recording.report
    done, kept, error = _reconcile_in_batches(engine, list(latest.items()), now, report)
    # Every fresh record of a delegation that was reconciled is done; the others wait for the next run.
    done_keys = {_target(r, announced=False) for r in done}
    finished = [r for r in fresh if _target(r, announced=False) in done_keys]
    if kept and not done:
        raise error or errors.TransientError("no delegation of the activity log could be reconciled")
    newest = max((r.timestamp for r in records), default=state.position)
    position = max(state.position, min(newest, now))
    if kept:  # not past the oldest record still owed (a day at most: verification covers the rest)
        position = max(state.position, min(position, max(min(r.timestamp for r in kept), now - FIRST_LOOKBACK)))
    horizon = int((position - OVERLAP).timestamp())
    seen = {key: at for key, at in state.seen.items() if at >= horizon}
    seen.update({_seen_key(r.event_id): int(r.timestamp.timestamp()) for r in finished if r.event_id})
    if not store.set_cursor(CURSOR, _CursorState(position, seen).dump(), etag):
        log.info("activity-log cursor moved by a concurrent watcher; its run counts")
    scopes = sorted({_target(r).scope for r in done})
    if kept:
        detail = f"{len(kept)} delegation(s) kept for the next run ({error or 'time budget spent'})"
        return _watched("partial", report, records=len(finished), scopes=scopes, detail=detail)
    return _watched("ok", report, records=len(finished), scopes=scopes)


def _reconcile_in_batches(
    engine: Engine,
    latest: list[tuple[Target, activity_log.DelegationRecord]],
    now: datetime,
    report: outcomes.RunReport,
) -> tuple[list[activity_log.DelegationRecord], list[activity_log.DelegationRecord], Exception | None]:
    """Reconcile the records' delegations a batch at a time, oldest first, inside the time budget.

    Returns (records done, records kept for the next run, the last failure). A batch that fails
    after its retries is kept whole; the next batches still run, so sustained faults slow the
    watcher down instead of stopping it."""
    started = time.monotonic()
    done: list[activity_log.DelegationRecord] = []
    kept: list[activity_log.DelegationRecord] = []
    error: Exception | None = None
    ordered = sorted((record for _, record in latest), key=lambda r: r.timestamp)
    for start in range(0, len(ordered), WATCH_BATCH):
        batch = ordered[start : start + WATCH_BATCH]
        if start and time.monotonic() - started > WATCH_BUDGET.total_seconds():
            kept += batch
            continue
        try:
            report.merge(reconcile_targets(engine, [_target(r) for r in batch], now))
        except (errors.AzureError, store_errors.StoreError) as e:
            log.warning("activity-log watcher: %d delegation(s) kept for the next run: %s", len(batch), e)
            kept += batch
            error = e
        else:
            done += batch
    return done, kept, error


def _target(record: activity_log.DelegationRecord, *, announced: bool = True) -> Target:
    """A record names the delegated scope (not the assignment): every delegation there is re-read."""
    return Target(
        record.scope,
        announced=announced and record.operation == "register",
        customer_tenant_id=record.customer_tenant_id,
        ended=announced and record.operation == "unregister",
    )


def clear_activity_log_block(engine: Engine) -> None:
    """Verification calls this so the watcher tries the activity log again."""
    engine.store.put_state(BLOCKED_STATE, None)


def _seen_key(event_id: str) -> str:
    """A short, fixed-size stand-in for a record id, so the cursor row remembers hundreds of them."""
    return hashlib.sha256(event_id.encode()).hexdigest()[:16]


@dataclass
class _CursorState:
    """Where the watcher is: the newest record time, and the records seen in the overlap window
    (short id -> epoch seconds) so that no record is processed twice."""

    position: datetime
    seen: dict[str, int]

    @classmethod
    def parse(cls, value: str | None, now: datetime) -> _CursorState:
        if value:
            try:
                data = json.loads(value)
                seen = {str(k): int(v) for k, v in dict(data.get("seen") or {}).items()}
                return cls(datetime.fromisoformat(data["position"]), seen)
            except (ValueError, KeyError, TypeError, AttributeError):
                log.warning("activity-log cursor unreadable; starting from %s", FIRST_LOOKBACK)
        return cls(now - FIRST_LOOKBACK, {})

    def dump(self) -> str:
        """Newest seen records first, as many as fit the budget (older ones lie behind the cursor)."""
        kept: dict[str, int] = {}
        size = 0
        for key, at in sorted(self.seen.items(), key=lambda kv: kv[1], reverse=True):
            size += len(key) + len(str(at)) + 6
            if size > SEEN_BUDGET:
                break
            kept[key] = at
        return json.dumps({"position": self.position.isoformat(), "seen": kept})
