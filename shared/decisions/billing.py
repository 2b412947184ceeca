"""The partner billing export, reduced: per scope and per day, what was billed and what credit Microsoft applied.

Fed line by line by the credit snapshot (`shared.usecases.credit`) from the Graph partner billing
export (`shared.azure.billing`); read by the credit decisions (`shared.decisions.credit_observed`).
Pure: no I/O, and memory grows with scopes x days, never with the number of lines.

The join key. A daily rated usage line names two subscriptions: `SubscriptionId` is "the unique
identifier for a subscription in the Microsoft billing platform. Not used for reconciliation. This
identifier isn't the same as the Subscription ID on the partner admin console" (for Azure plan,
the plan's own subscription), while `EntitlementId` "represents the Azure Subscription ID" (and
`EntitlementDescription` its name): Partner Center, "Learn how to read daily rated usage
reconciliation files" (learn.microsoft.com/partner-center/billing/daily-rated-usage-recon-files).
So lines join PAL Watch's scopes (ARM subscription ids) on `EntitlementId`, never `SubscriptionId`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

JOIN_KEY = "EntitlementId"  # the Azure subscription id (see the module docstring)
LATE = timedelta(hours=24)  # daily rated usage is available about 24 h after the day ends
_MAX_IDS = 8  # MpnId/Tier2MpnId values kept per scope and day (a scope has one or two in practice)


@dataclass(slots=True)
class ScopeDay:
    """One scope's usage on one day, summed over its lines."""

    billed: float = 0.0  # BillingPreTaxTotal, in `currency`
    credited: float = 0.0  # the part of `billed` on lines with PartnerEarnedCreditPercentage > 0
    weighted: float = 0.0  # sum of BillingPreTaxTotal x PartnerEarnedCreditPercentage
    lines: int = 0
    currency: str = ""
    mpn_ids: set[str] = field(default_factory=set)
    tier2_mpn_ids: set[str] = field(default_factory=set)

    @property
    def percent(self) -> float:
        """The credit Microsoft applied that day, weighted by cost (0 when none, or nothing billed)."""
        return self.weighted / self.billed if self.billed > 0 else 0.0

    @property
    def credit_applied(self) -> bool:
        return self.weighted > 0


@dataclass
class Usage:
    """The reduced export. Keys are (scope in lower case, ISO day)."""

    days: dict[tuple[str, str], ScopeDay] = field(default_factory=dict)
    customers: dict[str, str] = field(default_factory=dict)  # subscription id -> CustomerId (tenant)
    names: dict[str, str] = field(default_factory=dict)  # subscription id -> EntitlementDescription
    currency: str = ""
    lines: int = 0
    skipped: int = 0  # lines without an Azure subscription, a day or a number
    credited_billed: float = 0.0  # over every credited line of the export
    credited_weighted: float = 0.0

    @property
    def subscriptions(self) -> frozenset[str]:
        """The Azure subscriptions in the partner's billing: its own CSP business."""
        return frozenset(self.customers)

    @property
    def credited_rate(self) -> float | None:
        """The percentage Microsoft applied on the partner's credited lines (None when none was credited)."""
        if self.credited_billed <= 0:
            return None
        return self.credited_weighted / self.credited_billed

    def scope_days(self, scope: str) -> dict[str, ScopeDay]:
        wanted = scope.lower()
        return {day: d for (s, day), d in self.days.items() if s == wanted}


def subscription_scope(subscription_id: str) -> str:
    return f"/subscriptions/{subscription_id.lower()}"


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _day(value: Any) -> str | None:
    text = str(value or "")[:10]
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        return None


class Reducer:
    """Adds lines one at a time; `usage` is the result so far."""

    def __init__(self) -> None:
        self.usage = Usage()

    def add(self, line: Mapping[str, Any]) -> None:
        usage = self.usage
        usage.lines += 1
        subscription = str(line.get(JOIN_KEY) or "").strip().lower()
        day = _day(line.get("UsageDate"))
        billed = _number(line.get("BillingPreTaxTotal"))
        if not subscription or day is None or billed is None:
            usage.skipped += 1
            return
        percent = _number(line.get("PartnerEarnedCreditPercentage")) or 0.0
        currency = str(line.get("BillingCurrency") or "")
        usage.currency = usage.currency or currency
        usage.customers.setdefault(subscription, str(line.get("CustomerId") or "").lower())
        if line.get("EntitlementDescription"):
            usage.names.setdefault(subscription, str(line["EntitlementDescription"])[:120])
        if percent > 0:
            usage.credited_billed += billed
            usage.credited_weighted += billed * percent
        scopes = [subscription_scope(subscription)]
        group = str(line.get("ResourceGroup") or "").strip().lower()
        if group:
            scopes.append(f"{scopes[0]}/resourcegroups/{group}")
        for scope in scopes:
            entry = usage.days.get((scope, day))
            if entry is None:
                entry = usage.days[(scope, day)] = ScopeDay(currency=currency)
            entry.billed += billed
            entry.weighted += billed * percent
            entry.lines += 1
            if percent > 0:
                entry.credited += billed
            for name, ids in (("MpnId", entry.mpn_ids), ("Tier2MpnId", entry.tier2_mpn_ids)):
                value = str(line.get(name) or "").strip()
                if value and len(ids) < _MAX_IDS:
                    ids.add(value)


def reduce_lines(lines: Iterable[Mapping[str, Any]]) -> Usage:
    """Every line of the export, reduced (streams: one line in memory at a time)."""
    reducer = Reducer()
    for line in lines:
        reducer.add(line)
    return reducer.usage


def complete(day: str, now: datetime) -> bool:
    """A day is judged once its rated usage is in: a day after it ended (Partner Center: "allow up to 24 hours")."""
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return start + timedelta(days=1) + LATE <= now


def last_complete_day(now: datetime) -> str:
    """The most recent day `complete` accepts at `now`."""
    moment = now.astimezone(UTC) - LATE - timedelta(days=1)
    return moment.date().isoformat()
