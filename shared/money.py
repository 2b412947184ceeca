"""What a scope is worth: the cached last-full-month cost of a delegated scope, and the sentences
and sums that alerts, pages and the digest build from it.

Pure (no I/O, no clock: `now` is a parameter). The cost adapter (`shared.azure.costs`) parses the
Cost Management answer into `ChargeLine`s, the snapshot use case (`shared.usecases.costs`) stores a
`ScopeCost` per scope, and alerts (`shared.usecases.alerts`), reports (`shared.reports.money`) and
the digest read it back. Nothing here queries costs: every number comes from the cache.

What earns partner earned credit (PEC): Azure-published, on-demand consumption. Reservations,
savings plans, Spot and Marketplace (third-party) charges earn none (Microsoft's PEC pages), so the
Cost Management rows are grouped by PricingModel and PublisherType to show them apart. Azure
consumed revenue (ACR) counts every Azure-published charge (Marketplace excluded).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from shared import model
from shared.words import plural

DAYS_PER_MONTH = 365.25 / 12  # PEC is decided per day; a month of it is this many days


class CostStatus(enum.StrEnum):
    OK = "ok"
    FORBIDDEN = "forbidden"  # 403: no identity we act as may read costs there
    VIEW_CHARGES_OFF = "view_charges_off"  # EA: "account owner can view charges" is off
    MIXED_CURRENCIES = "mixed_currencies"  # rows in more than one currency: no honest total
    UNAVAILABLE = "unavailable"  # another refusal (offer not supported, not found, ...)


@dataclass(frozen=True)
class ChargeLine:
    """One row of the answer: the cost of one pricing model from one publisher, in one currency."""

    cost: float
    pricing_model: str  # OnDemand, Reservation, SavingsPlan, Spot, ...
    publisher_type: str  # Azure, Marketplace, ...
    currency: str

    @property
    def earns_pec(self) -> bool:
        return self.publisher_type.lower() == "azure" and self.pricing_model.lower() in ("ondemand", "")

    @property
    def azure(self) -> bool:
        return self.publisher_type.lower() in ("azure", "")


@dataclass(frozen=True)
class ScopeCost:
    """A delegated scope's cost for one full month, as last read (or why it could not be read)."""

    scope: str
    month: str  # YYYY-MM: the full month the numbers are for
    read_at: datetime
    status: CostStatus = CostStatus.OK
    currency: str = ""
    lines: tuple[ChargeLine, ...] = ()
    detail: str = ""  # what the refusal said, for the status other than OK

    @property
    def known(self) -> bool:
        return self.status is CostStatus.OK

    @property
    def total(self) -> float:
        return sum(line.cost for line in self.lines)

    @property
    def acr(self) -> float:
        """Azure consumed revenue: every Azure-published charge."""
        return sum(line.cost for line in self.lines if line.azure)

    @property
    def pec_base(self) -> float:
        """What partner earned credit is computed on: Azure on-demand consumption."""
        return sum(line.cost for line in self.lines if line.earns_pec)

    def by_kind(self) -> dict[str, float]:
        """Cost per kind of charge, for pages: on-demand, reservations, savings plans, Spot, Marketplace."""
        out: dict[str, float] = {}
        for line in self.lines:
            kind = "Marketplace" if not line.azure else (line.pricing_model or "OnDemand")
            out[kind] = out.get(kind, 0.0) + line.cost
        return out


def from_lines(scope: str, month: str, read_at: datetime, lines: Sequence[ChargeLine]) -> ScopeCost:
    """A `ScopeCost` from the answer's rows; more than one currency is said, never summed."""
    currencies = sorted({line.currency.upper() for line in lines if line.currency})
    if len(currencies) > 1:
        return ScopeCost(
            scope, month, read_at, CostStatus.MIXED_CURRENCIES, "", tuple(lines), f"currencies {', '.join(currencies)}"
        )
    return ScopeCost(scope, month, read_at, CostStatus.OK, currencies[0] if currencies else "", tuple(lines))


def last_full_month(now: datetime) -> str:
    """The month `TheLastMonth` covers at `now` (UTC): the calendar month before this one."""
    first = now.astimezone(UTC).date().replace(day=1)
    previous = first - timedelta(days=1)
    return f"{previous.year:04d}-{previous.month:02d}"


def month_label(month: str) -> str:
    try:
        return date(int(month[:4]), int(month[5:7]), 1).strftime("%B %Y")
    except ValueError:
        return month


def amount(value: float, currency: str) -> str:
    """`$18,400` for USD, `18,400 EUR` otherwise (whole units: these are estimates)."""
    rounded = f"{round(value):,}"
    return f"${rounded}" if currency.upper() in ("USD", "") else f"{rounded} {currency.upper()}"


# -- what an alert says ---------------------------------------------------------------------------

AT_STAKE_KINDS = (model.Kind.ATTRIBUTION_LOST, model.Kind.UNATTRIBUTED_DELEGATION)  # credit stops on the scope
AT_RISK_KINDS = (model.Kind.IDENTITY_LOST,)  # credit still counts through another identity


@dataclass(frozen=True)
class AtStake:
    """What one finding puts at stake on its scope, from the cached cost."""

    revenue: float = 0.0  # ACR per month
    pec: float | None = None  # PEC per month, when PAL_PEC_RATE is set
    lost_so_far: float | None = None  # PEC since the finding opened, when the rate is set
    currency: str = ""
    sentence: str = ""
    known: bool = False


RETAIL_ESTIMATE = "retail estimate for CSP"  # a partner sees a CSP customer's costs at retail rates
ACTUAL_COST = "actual cost"


def basis(csp: Iterable[bool]) -> str:
    """What the numbers are, for scopes whose offer is CSP (True) or not: retail estimate or actual cost."""
    found = set(csp)
    if found == {True}:
        return RETAIL_ESTIMATE
    if True in found:
        return f"{RETAIL_ESTIMATE}, {ACTUAL_COST} otherwise"
    return ACTUAL_COST


# Said instead of an amount when the daily cost snapshot is not turned on (never "not read yet").
SNAPSHOT_OFF = (
    "Revenue on this scope: cost snapshot off: set PAL_COST=true (its identity needs Cost Management Reader "
    "on the delegated scopes; docs/deploy.md, step 2) to see what is at stake."
)


def at_stake(  # noqa: PLR0917  (the finding's kind, its scope's cost, the rate, its age, and the offer)
    kind: str,
    cost: ScopeCost | None,
    pec_rate: float | None,
    opened_at: datetime,
    now: datetime,
    csp: bool = False,
) -> AtStake:
    """What a finding of `kind` puts at stake, said as a sentence (also when the cost is unknown).
    `csp`: the scope's subscription is a CSP one, whose costs the partner sees at retail rates."""
    if kind not in AT_STAKE_KINDS + AT_RISK_KINDS:
        return AtStake()
    if cost is None:
        return AtStake(sentence="Revenue on this scope: not read yet (the daily cost snapshot has not covered it).")
    if not cost.known:
        return AtStake(sentence=f"Revenue on this scope: cannot be read: {unreadable_reason(cost)}.")
    month = month_label(cost.month)
    revenue = cost.acr
    words = (
        f"≈ {amount(revenue, cost.currency)}/month of Azure consumed revenue on this scope "
        f"(last full month, {month}, {RETAIL_ESTIMATE if csp else ACTUAL_COST})"
    )
    if kind in AT_RISK_KINDS:
        return AtStake(revenue, None, None, cost.currency, words + " rests on fewer identities.", True)
    if pec_rate is None or not csp:  # partner earned credit exists only on CSP (Azure plan) subscriptions
        return AtStake(revenue, None, None, cost.currency, words + ".", True)
    pec = cost.pec_base * pec_rate
    per_day = pec / DAYS_PER_MONTH
    days = max(0.0, (now - opened_at).total_seconds() / 86400)
    lost = per_day * days
    so_far = (
        f"≈ {amount(lost, cost.currency)} lost so far ({plural(round(days), 'day')} since the finding opened)"
        if days >= 1
        else f"PEC is decided per day: ≈ {amount(per_day, cost.currency)} is lost for each day this lasts"
    )
    sentence = (
        f"{words}; ≈ {amount(pec, cost.currency)}/month partner earned credit at stake "
        f"(PEC rate {pec_rate:.0%} on {amount(cost.pec_base, cost.currency)} of on-demand Azure usage); {so_far}."
    )
    return AtStake(revenue, pec, lost, cost.currency, sentence, True)


def unreadable_reason(cost: ScopeCost) -> str:
    if cost.status is CostStatus.FORBIDDEN:
        return "no identity PAL Watch acts as may read costs there (403; Cost Management Reader or Reader is needed)"
    if cost.status is CostStatus.VIEW_CHARGES_OFF:
        return (
            "Enterprise Agreement subscription with 'account owner can view charges' off "
            "(an EA administrator must turn on AO view charges)"
        )
    if cost.status is CostStatus.MIXED_CURRENCIES:
        currencies = cost.detail.removeprefix("currencies ")
        return f"the scope is billed in more than one currency ({currencies}), so no total is given"
    return cost.detail or "Cost Management refused the query"


# -- totals for pages ---------------------------------------------------------------------------


@dataclass
class Totals:
    """Revenue attributed and at stake, per currency (currencies are never added together)."""

    attributed: dict[str, float] = field(default_factory=dict)
    at_stake: dict[str, float] = field(default_factory=dict)
    unknown_scopes: int = 0

    def add(self, cost: ScopeCost | None, attributed: bool) -> None:
        if cost is None or not cost.known:
            self.unknown_scopes += 1
            return
        bucket = self.attributed if attributed else self.at_stake
        bucket[cost.currency] = bucket.get(cost.currency, 0.0) + cost.acr

    def to_json(self) -> dict[str, object]:
        return {
            "attributed": {k: round(v, 2) for k, v in sorted(self.attributed.items())},
            "atStake": {k: round(v, 2) for k, v in sorted(self.at_stake.items())},
            "scopesWithoutCost": self.unknown_scopes,
        }

    def words(self, which: str) -> str:
        values = self.attributed if which == "attributed" else self.at_stake
        return " + ".join(amount(v, c) for c, v in sorted(values.items())) or "$0"


def total_at_stake(costs: Iterable[tuple[ScopeCost | None, bool]]) -> Totals:
    totals = Totals()
    for cost, attributed in costs:
        totals.add(cost, attributed)
    return totals
