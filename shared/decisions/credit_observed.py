"""Credit observed: PAL Watch's verdicts checked against what Microsoft's billing export says it credited.

Called by the credit snapshot (`shared.usecases.credit`) with the reduced export
(`shared.decisions.billing`), the stored delegation snapshots and the creation times of the links
of the identities PAL Watch acts as. Pure: data and `now` in, findings and per-scope rows out.

A complete day of a scope is judged when Microsoft billed something on it:
- a PEC path held that whole day and Microsoft applied 0 %: `credit_missing`. "Held" is what PAL
  Watch recorded (the delegation attributed since before the day began), or, for days before its
  first record, what the link's `createdTime` (before the day) and today's delegation imply, which
  the finding calls assumed;
- credit applied where PAL Watch knows no path: `credit_unexplained` (its model misses a path).
The money of `credit_missing` is the scope's billed amount on those days times the rate Microsoft
applied on the partner's credited lines in the same export, else `PAL_PEC_RATE`, and says which.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared import catalogue, model
from shared.decisions import billing
from shared.snapshots import DelegationSnapshot, ObservedCredit


@dataclass(frozen=True)
class Rate:
    """The credit percentage money is computed with, and where it came from."""

    percent: float | None
    source: str  # "billing" (the export's credited lines) | "setting" (PAL_PEC_RATE) | "" (none)


@dataclass
class Judgement:
    """What the credit snapshot decided: findings, the rows it stores, and the subscriptions seen."""

    findings: list[model.Finding] = field(default_factory=list)
    observed: list[ObservedCredit] = field(default_factory=list)
    subjects: set[str] = field(default_factory=set)  # every scope judged (its findings are exactly these)


def rate(usage: billing.Usage, pec_rate: float | None) -> Rate:
    """The export's own rate on credited lines, else the setting (a fraction, e.g. 0.15), else none."""
    if usage.credited_rate is not None:
        return Rate(usage.credited_rate, "billing")
    if pec_rate is not None:
        return Rate(pec_rate * 100, "setting")
    return Rate(None, "")


def observed_rows(usage: billing.Usage, now: datetime) -> list[ObservedCredit]:
    """One row per scope and complete day, as the store keeps them."""
    rows = []
    for (scope, day), d in sorted(usage.days.items()):
        if billing.complete(day, now):
            rows.append(
                ObservedCredit(
                    scope,
                    day,
                    round(d.billed, 4),
                    round(d.percent, 4),
                    d.currency,
                    tuple(sorted(d.mpn_ids)),
                    tuple(sorted(d.tier2_mpn_ids)),
                )
            )
    return rows


def _start(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def path_held(snap: DelegationSnapshot, day: str, linked_since: Mapping[str, datetime | None]) -> str:
    """ "recorded" when PAL Watch recorded the PEC path across `day`, "assumed" when only the link's
    createdTime and today's delegation imply it, "" when no path is known to have held."""
    if not snap.attributed or snap.removed:
        return ""
    if snap.since is not None and snap.since <= _start(day):
        return "recorded"
    created = [linked_since.get(a.principal_id.lower()) for a in snap.active_attributors]
    if any(c is not None and c < _start(day) for c in created):
        return "assumed"
    return ""


def judge(  # noqa: PLR0917 - the export, the snapshots, the links' ages, the clock and the two rates
    usage: billing.Usage,
    snapshots: Sequence[DelegationSnapshot],
    linked_since: Mapping[str, datetime | None],
    now: datetime,
    pec_rate: float | None,
    managing_tenant_id: str,
) -> Judgement:
    """Findings for the scopes the export and the snapshots share, and each credited scope PAL Watch cannot explain."""
    out = Judgement(observed=observed_rows(usage, now))
    by_scope = _by_scope(usage, now)
    money_rate = rate(usage, pec_rate)
    explained: set[str] = set()
    for snap in snapshots:
        if snap.removed:
            continue
        scope = snap.scope.lower()
        if snap.attributed:  # a path PAL Watch knows: credit on that subscription is explained
            explained.add(_subscription_of(scope))
        days = by_scope.get(scope, {})
        out.subjects.add(catalogue.credit_subject(scope))
        missing = [
            (day, d, held)
            for day, d in sorted(days.items())
            if d.billed > 0 and not d.credit_applied
            for held in [path_held(snap, day, linked_since)]
            if held
        ]
        if missing:
            out.findings.append(_missing(snap, missing, money_rate, linked_since))
    for scope, days in sorted(by_scope.items()):
        if "/resourcegroups/" in scope:
            continue
        out.subjects.add(catalogue.credit_subject(scope))
        credited = [day for day, d in sorted(days.items()) if d.credit_applied]
        if credited and scope not in explained:
            subscription = scope.rsplit("/", 1)[-1]
            out.findings.append(
                catalogue.credit_unexplained(
                    scope,
                    customer_id=usage.customers.get(subscription, ""),
                    name=usage.names.get(subscription, ""),
                    days=credited,
                    percent=days[credited[-1]].percent,
                    managing_tenant_id=managing_tenant_id,
                )
            )
    return out


def _by_scope(usage: billing.Usage, now: datetime) -> dict[str, dict[str, billing.ScopeDay]]:
    found: dict[str, dict[str, billing.ScopeDay]] = {}
    for (scope, day), d in usage.days.items():
        if billing.complete(day, now):
            found.setdefault(scope, {})[day] = d
    return found


def _subscription_of(scope: str) -> str:
    return "/".join(scope.split("/")[:3])


def _missing(
    snap: DelegationSnapshot,
    missing: Iterable[tuple[str, billing.ScopeDay, str]],
    money_rate: Rate,
    linked_since: Mapping[str, datetime | None],
) -> model.Finding:
    days = list(missing)
    billed = sum(d.billed for _day, d, _held in days)
    currency = next((d.currency for _day, d, _held in days if d.currency), "")
    lost = billed * money_rate.percent / 100 if money_rate.percent is not None else None
    holders = [
        catalogue.CreditHolder(
            a.display_name or a.principal_id, a.principal_id, a.role_id, linked_since.get(a.principal_id.lower())
        )
        for a in snap.active_attributors
    ]
    return catalogue.credit_missing(
        catalogue.Where(
            snap.key, snap.customer_tenant_id, snap.customer_tenant_name, snap.scope, snap.subscription_name
        ),
        catalogue.CreditLoss(
            days=tuple(day for day, _d, _held in days),
            assumed=any(held == "assumed" for _day, _d, held in days),
            billed=billed,
            currency=currency,
            lost=lost,
            percent=money_rate.percent,
            rate_source=money_rate.source,
            mpn_ids=tuple(sorted({m for _day, d, _held in days for m in d.mpn_ids})),
        ),
        holders,
    )
