"""The daily digest (`PAL_ALERT_DIGEST`): once per UTC day, a summary of coverage to the outbox.

Called by the watch timer (`shared.usecases.watch`) on every tick; from `PAL_ALERT_DIGEST_HOUR`
(UTC, default 7) on, the first tick of the day reads the store's latest coverage snapshot and
the findings, builds a `shared.notify.digest.DigestSummary` with the report helpers and
enqueues it. Exempted findings are not action: they are listed apart as "accepted: reason, until
date" and put nothing at stake. The notice id is the date's, so overlapping or repeated ticks write it once (the
outbox's conditional insert); a cheap point read skips the store reads on the day's later
ticks. The watch's alerts step then sends it on every channel that carries it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from shared import model, money, offers, words
from shared.notify import digest as digest_
from shared.reports import coverage as coverage_
from shared.reports import findings as findings_
from shared.reports import money as money_report
from shared.snapshots import CoverageRow
from shared.usecases import alerts, exemptions, outcomes
from shared.usecases.engine import Engine

if TYPE_CHECKING:
    from shared.store import store as store_module

log = logging.getLogger(__name__)

CHANGES_WINDOW = timedelta(hours=24)


def _digest(status: str, day: date | None = None, hour: int = 0) -> outcomes.Outcome:
    """The step's outcome: `off`, `early` (before the hour), `exists` or `enqueued`."""
    if status == "off":
        return outcomes.Outcome(status, "digest off")
    if status == "early":
        detail = f"digest for {day} due from {hour:02d}:00 UTC"
    else:
        detail = f"digest for {day} {'enqueued' if status == 'enqueued' else 'already in the outbox'}"
    return outcomes.Outcome(status, detail, facts={"day": str(day), "hour": hour})


def summarise(
    coverage: store_module.Coverage | None,
    recorded: Iterable[model.RecordedFinding],
    now: datetime,
    accepted: Mapping[str, str] | None = None,
) -> digest_.DigestSummary:
    """The digest of `now`'s UTC day from the latest coverage snapshot and the findings (open and
    resolved: the last 24 h of changes are counted from their `opened_at`/`resolved_at`).

    `accepted` (finding key -> "accepted: reason, until date", from the exemptions) keeps those
    findings, and the delegations only they hold back, out of what needs action: they are listed
    apart, and their scopes count in neither the customers needing attention nor the money at stake.
    """
    now = words.utc(now)
    accepted = accepted or {}
    findings = list(recorded)
    rows = coverage.rows if coverage is not None else ()
    waived = accepted_delegations(findings, accepted)
    attention = [
        c for c in coverage_.customers(r for r in rows if not _waived(r, waived)) if c.status != coverage_.ATTRIBUTED
    ]
    # Worst first; `customers` already orders by name, and sorted() keeps that within a status.
    attention.sort(key=lambda c: c.status != coverage_.NOT_ATTRIBUTED)
    open_all = findings_.ordered(r for r in findings if r.open)  # most severe, then oldest first
    open_ = [r for r in open_all if r.finding.key not in accepted]
    kept = [r for r in open_all if r.finding.key in accepted]
    open_counts = Counter(r.finding.severity for r in open_)
    window = now - CHANGES_WINDOW
    opened = [
        r for r in findings if window < words.utc(r.opened_at) <= now and not (r.open and r.finding.key in accepted)
    ]
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
        open_findings=tuple(_item(r) for r in open_[: digest_.MAX_LISTED]),
        accepted=tuple(_item(r, accepted[r.finding.key]) for r in kept[: digest_.MAX_LISTED]),
        accepted_total=len(kept),
        opened_24h=len(opened),
        resolved_24h=len(resolved),
        opened_critical_24h=sum(1 for r in opened if r.finding.severity is model.Severity.CRITICAL),
    )


def _item(r: model.RecordedFinding, accepted: str = "") -> digest_.DigestItem:
    return digest_.DigestItem(
        severity=r.finding.severity.value,
        title=r.finding.title or r.finding.kind,
        since=words.utc(r.opened_at),
        tenant_name=r.finding.tenant_name,
        tenant_id=r.finding.tenant_id,
        scope=r.finding.scope,
        key=r.finding.key,
        accepted=accepted,
    )


def accepted_delegations(recorded: Iterable[model.RecordedFinding], accepted: Mapping[str, str]) -> frozenset[str]:
    """Delegation keys whose open findings are all accepted: nothing on them calls for action."""
    held = {r.finding.subject for r in recorded if r.open and r.finding.key in accepted}
    acting = {r.finding.subject for r in recorded if r.open and r.finding.key not in accepted}
    return frozenset(held - acting)


def _waived(row: CoverageRow, waived: frozenset[str]) -> bool:
    """A row short of attributed only because of accepted findings."""
    return coverage_.status(row) != coverage_.ATTRIBUTED and row.delegation_key in waived


def money_sentence(
    coverage: store_module.Coverage | None, costs: Mapping[str, money.ScopeCost], waived: Iterable[str] = ()
) -> str:
    """What the digest leads with: revenue at stake and attributed, from the cost cache ("" without one).
    Delegations in `waived` (their findings are accepted) put nothing at stake."""
    if coverage is None or not coverage.rows or not costs:
        return ""
    skip = frozenset(waived)
    if skip:
        rows = tuple(r for r in coverage.rows if r.attributed or r.delegation_key not in skip)
        coverage = dataclasses.replace(coverage, rows=rows)
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


def enqueue_digest(engine: Engine, now: datetime) -> outcomes.Outcome:
    """Write today's digest to the outbox if it is on, due and not there yet. Idempotent."""
    settings = engine.settings.alerts
    if not settings.digest:
        return _digest("off")
    now = words.utc(now)
    day, hour = now.date(), settings.digest_hour
    if now.hour < hour:
        return _digest("early", day, hour)
    sender = alerts.dispatcher(engine)
    get = getattr(sender.outbox, "get", None)  # the Table outbox; test doubles may not have it
    # A store failure (the outbox's included) fails this step of the watch; the others run.
    if get is not None and get(digest_.notice_id(day)) is not None:
        return _digest("exists", day, hour)
    store = engine.store
    coverage = store.get_coverage()
    recorded = store.list_findings(include_resolved=True)
    accepted = exemptions.in_force(engine).accepted([r for r in recorded if r.open], now)  # not alerted: not action
    summary = summarise(coverage, recorded, now, accepted)
    waived = accepted_delegations(recorded, accepted)
    observed = coverage_.billing_sentence(store.billing.latest())  # what Microsoft credited, when read
    money = " ".join(x for x in (money_sentence(coverage, store.costs.all(), waived), observed) if x)
    summary = dataclasses.replace(summary, money=money)
    created = sender.enqueue([digest_.to_notice(summary)], now)
    if created:
        log.info("digest for %s enqueued", day)
    return _digest("enqueued" if created else "exists", day, hour)
