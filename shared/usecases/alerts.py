"""Alerts: what a pass opened or resolved goes to the outbox, and the outbox goes to the channels.

Event handlers only enqueue (one Event Grid batch runs as many invocations; sending there
would split it into many messages); the watch and verify timers enqueue reminders and
dispatch. The outbox lives beside the store in Table Storage, so nothing is lost when a
channel is down.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from shared import catalogue, model, telemetry
from shared.notify import dispatch, factory, notices
from shared.usecases import at_stake, exemptions
from shared.usecases.engine import Engine

log = logging.getLogger(__name__)

SWEEP_WINDOW = timedelta(days=2)  # far longer than any crash gap; far shorter than the outbox's memory
OUTBOX_RETENTION = timedelta(days=30)  # a notice id is remembered this long, so it is never sent twice


def dispatcher(engine: Engine) -> dispatch.Dispatcher:
    """The dispatcher for the configured channels (cached on the engine)."""

    def build() -> dispatch.Dispatcher:
        channels = factory.channels_for(
            engine.settings, graph_mail=engine.graph(), eventgrid_credential=engine.credentials.managed_identity()
        )
        return dispatch.Dispatcher(
            engine.store.outbox(),
            channels,
            remind_every=engine.settings.alerts.remind_every,
        )

    return engine.cached(("dispatcher",), build)


def enqueue(
    engine: Engine,
    opened: list[model.RecordedFinding],
    resolved: list[model.RecordedFinding],
    now: datetime,
    *,
    said: Sequence[model.RecordedFinding] = (),
) -> int:
    """Write the notices a pass owes to the outbox (idempotent: the same notice is written once).

    Every pass that opens or resolves findings, or keeps a notice (`said`), comes through here, so
    this is also where each becomes a `PalWatch.FindingOpened` / `PalWatch.FindingResolved` /
    `PalWatch.Notice` record for Azure Monitor. Exempted findings owe no notice: someone accepted
    them until their exemption expires.
    """
    record_findings(opened, resolved, said)
    if not opened and not resolved and not said:
        return 0
    exempt = exemptions.in_force(engine)
    opened, resolved = exempt.alertable(opened, now), exempt.alertable(resolved, now)
    opened = at_stake.with_money(engine, opened, now)
    said = exempt.alertable(list(said), now)
    batch = notices.notices_for([*opened, *said], _worth_announcing(resolved, opened))
    if not batch:
        return 0
    return dispatcher(engine).enqueue(batch, now)


def finding_dimensions(recorded: model.RecordedFinding) -> dict[str, object]:
    """The stable dimensions of a finding record (no detail text: it can be long and customer-named)."""
    f = recorded.finding
    return {
        "key": f.key,
        "kind": str(f.kind),
        "severity": f.severity.value,
        "reason": f.reason,
        "tenantId": f.tenant_id,
        "tenantName": f.tenant_name,
        "scope": f.scope,
        "principalId": f.principal_id,
        "title": f.title,
    }


def record_findings(
    opened: list[model.RecordedFinding],
    resolved: list[model.RecordedFinding],
    said: Sequence[model.RecordedFinding] = (),
) -> None:
    for recorded in opened:
        level = logging.WARNING if recorded.finding.severity.value == "critical" else logging.INFO
        telemetry.emit(telemetry.FINDING_OPENED, finding_dimensions(recorded), level=level)
    for recorded in resolved:
        telemetry.emit(telemetry.FINDING_RESOLVED, finding_dimensions(recorded))
    for recorded in said:
        telemetry.emit(telemetry.NOTICE, finding_dimensions(recorded))


def deliver(
    engine: Engine, now: datetime, *, sweep_resolved: bool = False, purge: bool = False
) -> dispatch.DispatchReport:
    """Make sure recent findings and notices are in the outbox, enqueue due reminders, send everything pending.

    The sweep closes the gap between "the store opened a finding" (or kept a notice) and "its
    notice is in the outbox": a pass that crashed in between (host recycled, storage hiccup)
    would otherwise lose that alert for good, since the next pass finds the finding already open
    or the link already put back. Re-enqueueing is free of duplicates: notice ids are
    deterministic and the outbox inserts each once.
    """
    sender = dispatcher(engine)
    every_open = engine.store.open_findings()
    exempt = exemptions.in_force(engine)
    open_now = at_stake.with_money(engine, exempt.alertable(every_open, now), now)
    cutoff = now - SWEEP_WINDOW
    coming_back = exempt.returning(every_open, now)  # alerted as of their exemption's end
    back_keys = {n.finding.key for n in coming_back}
    recent_open = [r for r in open_now if r.opened_at >= cutoff and r.finding.key not in back_keys]
    recent_open += exempt.alertable(engine.store.list_notices(cutoff), now)
    recent_resolved = (
        exempt.alertable(
            [
                r
                for r in engine.store.list_findings(include_resolved=True)
                if r.resolved_at is not None and r.resolved_at >= cutoff
            ],
            now,
        )
        if sweep_resolved
        else []
    )
    swept = sender.enqueue(notices.notices_for(recent_open, _worth_announcing(recent_resolved, open_now)), now)
    if swept:
        log.warning("alerts: %d notice(s) were missing from the outbox and are sent now", swept)
    back = sender.enqueue(coming_back, now)
    if back:
        log.info("alerts: %d finding(s) alerted again: their exemption expired", back)
    # One "opened" notice when an exemption ends, not a reminder beside it: reminders count from the return.
    sender.remind(exempt.reminded_from_return(open_now, now), now)
    report = sender.dispatch(now)
    for name, stats in report.channels.items():
        if stats.dead:
            telemetry.emit(telemetry.OUTBOX_DEAD_LETTER, {"channel": name, "count": stats.dead}, level=logging.WARNING)
    opened, resolved = _record_channel_health(engine, report, now)
    if opened or resolved:  # told on the other channels in this same run
        enqueue(engine, opened, resolved, now)
        again = sender.dispatch(now)
        for name, stats in again.channels.items():
            report.channels[name].sent += stats.sent
            report.channels[name].messages += stats.messages
            report.channels[name].pending = stats.pending
    if purge:
        sender.outbox.purge(now - OUTBOX_RETENTION)
    log.info("alerts: %s", report)
    return report


FAILING_AFTER = 3  # consecutive failed attempts on a channel ...
FAILING_SPAN = timedelta(minutes=15)  # ... spread over at least this long, before it is declared failing
STREAKS_STATE = "channel-failures"  # channel -> {"first": iso, "count": n}: its current run of failures


def _record_channel_health(
    engine: Engine, report: dispatch.DispatchReport, now: datetime
) -> tuple[list[model.RecordedFinding], list[model.RecordedFinding]]:
    """Open the channel's finding once it failed as a whole `FAILING_AFTER` times in a row across
    `FAILING_SPAN` (one refused send, a POST Graph does not let us retry, is no outage); resolve it
    and forget the streak once it delivers again."""
    opened: list[model.RecordedFinding] = []
    resolved: list[model.RecordedFinding] = []
    touched = [n for n, stats in report.channels.items() if stats.down or stats.messages]
    if not touched:
        return opened, resolved
    streaks: dict[str, dict[str, object]] = engine.store.get_state(STREAKS_STATE) or {}
    before = {k: dict(v) for k, v in streaks.items()}
    for name in touched:
        stats = report.channels[name]
        if stats.down:
            streak = streaks.setdefault(name, {"first": now.isoformat(), "count": 0})
            streak["count"] = int(str(streak.get("count") or 0)) + 1
            first = datetime.fromisoformat(str(streak["first"]))
            if int(streak["count"]) < FAILING_AFTER or now - first < FAILING_SPAN:
                log.info("alerts: channel %s failed (%s attempt(s) in a row): retried", name, streak["count"])
                continue
            attempts = (int(streak["count"]), first)
            wanted = [catalogue.alert_channel_failing(name, stats.pending, stats.down, attempts=attempts)]
            log.warning("alerts: channel %s is failing; %d alert(s) kept pending", name, stats.pending)
        else:
            streaks.pop(name, None)
            wanted = []
        o, r = engine.store.sync_findings(f"channel:{name}", wanted, now)
        opened += o
        resolved += r
    if streaks != before:
        engine.store.put_state(STREAKS_STATE, streaks)
    return opened, resolved


def _worth_announcing(
    resolved: list[model.RecordedFinding], open_now: list[model.RecordedFinding]
) -> list[model.RecordedFinding]:
    """Resolved findings that deserve a "resolved" notice.

    An `identity_lost` warning that gave way to `attribution_lost` on the same delegation (the last
    attributing identity went too) is not resolved in any sense a person would recognise.
    """
    lost = {r.finding.subject for r in open_now if r.open and r.finding.kind == catalogue.Kind.ATTRIBUTION_LOST}
    return [r for r in resolved if not (r.finding.kind == catalogue.Kind.IDENTITY_LOST and r.finding.subject in lost)]
