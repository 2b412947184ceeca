"""The daily digest (`PAL_ALERT_DIGEST`): once per UTC day, a summary of coverage to the outbox.

Called by the watch timer (`shared.usecases.watch`) on every tick; from `PAL_ALERT_DIGEST_HOUR`
(UTC, default 7) on, the first tick of the day reads the store's latest coverage snapshot and
the findings, builds a `shared.notify.digest.DigestSummary` with the report helpers and
enqueues it. The notice id is the date's, so overlapping or repeated ticks write it once (the
outbox's conditional insert); a cheap point read skips the store reads on the day's later
ticks. The watch's alerts step then sends it on every channel that carries it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from shared import model, money, offers, words
from shared.notify import digest as digest_
from shared.reports import coverage as coverage_
from shared.reports import findings as findings_
from shared.reports import money as money_report
from shared.usecases import alerts
from shared.usecases.engine import Engine

if TYPE_CHECKING:
    from shared.store import store as store_module

log = logging.getLogger(__name__)

CHANGES_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class DigestOutcome:
    """What the step did: `off`, `early` (before the hour), `exists` or `enqueued`."""

    state: str
    day: date | None = None
    hour: int = 0

    def __str__(self) -> str:
        if self.state == "off":
            return "digest off"
        if self.state == "early":
            return f"digest for {self.day} due from {self.hour:02d}:00 UTC"
        return f"digest for {self.day} {'enqueued' if self.state == 'enqueued' else 'already in the outbox'}"


def summarise(
    coverage: store_module.Coverage | None,
    recorded: Iterable[model.RecordedFinding],
    now: datetime,
) -> digest_.DigestSummary:
    """The digest of `now`'s UTC day from the latest coverage snapshot and the findings (open and
    resolved: the last 24 h of changes are counted from their `opened_at`/`resolved_at`)."""
    now = words.utc(now)
    rows = coverage.rows if coverage is not None else ()
    attention = [c for c in coverage_.customers(rows) if c.status != coverage_.ATTRIBUTED]
    # Worst first; `customers` already orders by name, and sorted() keeps that within a status.
    attention.sort(key=lambda c: c.status != coverage_.NOT_ATTRIBUTED)
    findings = list(recorded)
    open_ = findings_.ordered(r for r in findings if r.open)  # most severe, then oldest first
    open_counts = Counter(r.finding.severity for r in open_)
    window = now - CHANGES_WINDOW
    opened = [r for r in findings if window < words.utc(r.opened_at) <= now]
    resolved = [r for r in findings if r.resolved_at is not None and window < words.utc(r.resolved_at) <= now]
    return digest_.DigestSummary(
        day=now.date(),
        generated_at=now,
        coverage_at=words.utc(coverage.generated_at) if coverage is not None else None,
        totals=coverage_.totals(rows),
        attention=tuple(
            digest_.CustomerStatus(
                tenant_id=c.tenant_id,
                name=c.name,
                status=c.status,
                not_attributed=c.count(coverage_.NOT_ATTRIBUTED),
                at_risk=c.count(coverage_.AT_RISK),
                delegations=len(c.rows),
            )
            for c in attention[: digest_.MAX_LISTED]
        ),
        attention_total=len(attention),
        open_counts={s.value: open_counts[s] for s in model.Severity},
        open_findings=tuple(
            digest_.DigestItem(
                severity=r.finding.severity.value,
                title=r.finding.title or r.finding.kind,
                since=words.utc(r.opened_at),
                tenant_name=r.finding.tenant_name,
                tenant_id=r.finding.tenant_id,
                scope=r.finding.scope,
                key=r.finding.key,
            )
            for r in open_[: digest_.MAX_LISTED]
        ),
        opened_24h=len(opened),
        resolved_24h=len(resolved),
        opened_critical_24h=sum(1 for r in opened if r.finding.severity is model.Severity.CRITICAL),
    )


def money_sentence(coverage: store_module.Coverage | None, costs: Mapping[str, money.ScopeCost]) -> str:
    """What the digest leads with: revenue at stake and attributed, from the cost cache ("" without one)."""
    if coverage is None or not coverage.rows or not costs:
        return ""
    document = money_report.money_json(coverage, costs)
    totals = document["totals"]
    at_stake = " + ".join(money.amount(v, c) for c, v in totals["atStake"].items()) or "$0"
    attributed = " + ".join(money.amount(v, c) for c, v in totals["attributed"].items()) or "$0"
    stake_scopes = sum(
        1
        for s in document["scopes"]
        if not s["attributed"] and s["monthlyRevenue"] and s["offerType"] != offers.NOT_ELIGIBLE
    )
    unknown = f"; {totals['scopesWithoutCost']} scope(s) without a cost" if totals["scopesWithoutCost"] else ""
    return (
        f"≈ {at_stake}/month of Azure consumed revenue at stake on {stake_scopes} scope(s) "
        f"({money.month_label(document['month'] or '')}, {document['basis']}); {attributed}/month attributed{unknown}."
    )


def enqueue_digest(engine: Engine, now: datetime) -> DigestOutcome:
    """Write today's digest to the outbox if it is on, due and not there yet. Idempotent."""
    settings = engine.settings.alerts
    if not settings.digest:
        return DigestOutcome("off")
    now = words.utc(now)
    day, hour = now.date(), settings.digest_hour
    if now.hour < hour:
        return DigestOutcome("early", day, hour)
    sender = alerts.dispatcher(engine)
    get = getattr(sender.outbox, "get", None)  # the Table outbox; test doubles may not have it
    # A store failure (the outbox's included) fails this step of the watch; the others run.
    if get is not None and get(digest_.notice_id(day)) is not None:
        return DigestOutcome("exists", day, hour)
    store = engine.store
    coverage = store.get_coverage()
    summary = summarise(coverage, store.list_findings(include_resolved=True), now)
    summary = dataclasses.replace(summary, money=money_sentence(coverage, store.costs.all()))
    created = sender.enqueue([digest_.to_notice(summary)], now)
    if created:
        log.info("digest for %s enqueued", day)
    return DigestOutcome("enqueued" if created else "exists", day, hour)
