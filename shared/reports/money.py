"""Revenue attributed and at stake, per scope and per customer, from the cost cache.

Called with the coverage snapshot and the cached costs (`Store.costs.all()`) by `palwatch report`
(table, JSON, CSV, HTML), the `coverage` HTTP function and the demo; the coverage reports stay as
they are and this adds the money beside them. Pure: no I/O. A scope is one subscription or
resource group however many delegations cover it; a resource group whose subscription is itself
delegated is counted inside the subscription (its cost is part of the subscription's), so totals
never count a charge twice. Currencies are never added together.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared import money, offers, snapshots, words
from shared.reports import text as text_

if TYPE_CHECKING:
    from shared.store import store

Costs = Mapping[str, money.ScopeCost]


@dataclass(frozen=True)
class ScopeMoney:
    scope: str
    customer_tenant_id: str
    customer_tenant_name: str
    attributed: bool
    cost: money.ScopeCost | None
    inside_subscription: bool  # a resource group whose subscription is delegated too
    offer_type: str = ""  # the subscription's offer category (`shared.offers`)

    @property
    def eligible_offer(self) -> bool:
        """Earns ACR through PAL at all: a scope on a trial, benefit or internal offer is neither
        attributed nor at stake."""
        return self.offer_type != offers.NOT_ELIGIBLE

    @property
    def revenue(self) -> float | None:
        return self.cost.acr if self.cost is not None and self.cost.known else None


def scope_money(rows: Sequence[snapshots.CoverageRow], costs: Costs) -> list[ScopeMoney]:
    """One entry per delegated scope, most revenue at stake first."""
    by_scope: dict[str, list[snapshots.CoverageRow]] = {}
    for row in rows:
        by_scope.setdefault(row.scope.lower(), []).append(row)
    subscriptions = {s for s in by_scope if s.count("/") == 2}
    out = []
    for key, at in by_scope.items():
        parent = "/".join(key.split("/")[:3])
        first = at[0]
        out.append(
            ScopeMoney(
                scope=first.scope,
                customer_tenant_id=first.customer_tenant_id,
                customer_tenant_name=first.customer_tenant_name,
                attributed=any(r.attributed for r in at),
                cost=costs.get(key),
                inside_subscription=key != parent and parent in subscriptions,
                offer_type=next((r.offer_type for r in at if r.offer_type), ""),
            )
        )
    return sorted(out, key=lambda s: (s.attributed, -(s.revenue or -1.0), s.customer_tenant_name.lower(), s.scope))


def _totals(entries: Sequence[ScopeMoney]) -> money.Totals:
    return money.total_at_stake(
        (e.cost, e.attributed) for e in entries if not e.inside_subscription and e.eligible_offer
    )


def basis(entries: Sequence[ScopeMoney]) -> str:
    """`retail estimate for CSP` / `actual cost`, for the scopes the totals count."""
    return money.basis(e.offer_type == offers.CSP for e in entries if e.eligible_offer and e.cost is not None)


ESTIMATED = "estimated (Cost Management)"
OBSERVED = "observed (Microsoft billing)"


def figures(entries: Sequence[ScopeMoney]) -> dict[str, int]:
    """How many of the counted figures are observed in Microsoft's billing, how many estimated.

    Every amount here comes from the Cost Management cache, so each is an estimate: what
    Microsoft billed is shown per scope beside it (the coverage's credit column), not in these sums.
    """
    counted = [e for e in entries if e.eligible_offer and not e.inside_subscription and e.revenue is not None]
    return {"observed": 0, "estimated": len(counted)}


def figures_words(entries: Sequence[ScopeMoney]) -> str:
    """`N scopes estimated (Cost Management), none observed (Microsoft billing)`, for the totals line."""
    count = figures(entries)
    observed = words.plural(count["observed"], "scope") if count["observed"] else "none"
    return f"{words.plural(count['estimated'], 'scope')} {ESTIMATED}, {observed} {OBSERVED}"


def money_json(coverage: store.Coverage | None, costs: Costs) -> dict[str, Any]:
    rows = coverage.rows if coverage is not None else ()
    return _document(scope_money(rows, costs))


def _document(entries: Sequence[ScopeMoney]) -> dict[str, Any]:
    customers: dict[str, list[ScopeMoney]] = {}
    for e in entries:
        customers.setdefault(e.customer_tenant_id, []).append(e)
    months = sorted({e.cost.month for e in entries if e.cost is not None and e.cost.known})
    return {
        "month": months[-1] if months else None,
        "basis": basis(entries),
        "totals": {**_totals(entries).to_json(), "figures": figures(entries)},
        "customers": [
            {
                "customerTenantId": tid,
                "customerTenantName": group[0].customer_tenant_name,
                **_totals(group).to_json(),
            }
            for tid, group in sorted(customers.items(), key=lambda kv: kv[1][0].customer_tenant_name.lower())
        ],
        "scopes": [_scope_json(e) for e in entries],
    }


def _scope_json(e: ScopeMoney) -> dict[str, Any]:
    cost = e.cost
    known = cost is not None and cost.known
    return {
        "scope": e.scope,
        "customerTenantId": e.customer_tenant_id,
        "customerTenantName": e.customer_tenant_name,
        "attributed": e.attributed,
        "monthlyRevenue": round(cost.acr, 2) if known and cost else None,
        "pecEligible": round(cost.pec_base, 2) if known and cost else None,
        "currency": cost.currency if known and cost else None,
        "month": cost.month if cost else None,
        "costStatus": cost.status.value if cost else "not_read",
        "byKind": {k: round(v, 2) for k, v in cost.by_kind().items()} if known and cost else {},
        "note": (money.unreadable_reason(cost) if cost and not known else "" if cost else "not read yet"),
        "insideDelegatedSubscription": e.inside_subscription,
        "offerType": e.offer_type or None,
        "basis": money.RETAIL_ESTIMATE if e.offer_type == offers.CSP else money.ACTUAL_COST,
        "figure": ESTIMATED if known else None,
        "countedInTotals": e.eligible_offer and not e.inside_subscription,
    }


def money_lines(coverage: store.Coverage | None, costs: Costs) -> list[str]:
    """Three lines for the terminal: what is attributed, what is at stake, what could not be read."""
    if coverage is None or not coverage.rows or not costs:
        return []
    entries = scope_money(coverage.rows, costs)
    totals = _totals(entries)
    month = next((e.cost.month for e in entries if e.cost is not None and e.cost.known), "")
    lines = [
        f"Azure consumed revenue, {money.month_label(month)} ({basis(entries)}): "
        f"{totals.words('attributed')}/month attributed, "
        f"{totals.words('at_stake')}/month at stake (scopes no linked identity earns credit on).",
        f"  figures: {figures_words(entries)}.",
    ]
    stake = [e for e in entries if not e.attributed and e.revenue and e.eligible_offer]
    for e in stake[:5]:
        assert e.cost is not None
        who = text_.clean(e.customer_tenant_name or e.customer_tenant_id)
        lines.append(f"  at stake: {money.amount(e.cost.acr, e.cost.currency)}/month  {who}  {e.scope}")
    for e in unreadable(entries):
        assert e.cost is not None
        who = text_.clean(e.customer_tenant_name or e.customer_tenant_id)
        lines.append(f"  cost cannot be read: {who}  {e.scope}: {money.unreadable_reason(e.cost)}")
    not_read = sum(1 for e in entries if e.cost is None and not e.inside_subscription)
    if not_read:
        lines.append(f"  {words.plural(not_read, 'scope')} not read yet (the daily cost snapshot has not covered it).")
    return lines


def unreadable(entries: Sequence[ScopeMoney]) -> list[ScopeMoney]:
    """The scopes whose cost was refused or cannot be totalled, to be said with the reason."""
    return [e for e in entries if e.cost is not None and not e.cost.known]


def money_html(coverage: store.Coverage | None, costs: Costs) -> str:
    """A section for the coverage page: totals, then per customer; every name escaped."""
    if coverage is None or not coverage.rows or not costs:
        return ""
    entries = scope_money(coverage.rows, costs)
    document = _document(entries)
    totals = _totals(entries)
    month = money.month_label(document["month"] or "")
    rows = []
    for c in document["customers"]:
        attributed = " + ".join(money.amount(v, k) for k, v in c["attributed"].items()) or "—"
        at_stake = " + ".join(money.amount(v, k) for k, v in c["atStake"].items()) or "—"
        rows.append(
            f"<tr><td>{html.escape(str(c['customerTenantName'] or c['customerTenantId'])[:200])}</td>"
            f"<td>{html.escape(attributed)}</td><td>{html.escape(at_stake)}</td>"
            f"<td>{c['scopesWithoutCost'] or ''}</td></tr>"
        )
    refused = "".join(
        f"<li>{html.escape(str(e.customer_tenant_name or e.customer_tenant_id)[:200])} "
        f"<code>{html.escape(e.scope[:300])}</code>: {html.escape(money.unreadable_reason(e.cost))}</li>"
        for e in unreadable(entries)
        if e.cost is not None
    )
    cannot = f"<h3>Costs PAL Watch cannot read</h3><ul>{refused}</ul>" if refused else ""
    return (
        '<section class="money"><h2>Revenue attributed and at stake</h2>'
        f"<p>Azure consumed revenue, {html.escape(month)} ({html.escape(document['basis'])}): "
        f"<strong>{html.escape(totals.words('attributed'))}/month attributed</strong>, "
        f"<strong>{html.escape(totals.words('at_stake'))}/month at stake</strong>.</p>"
        f"<p>Figures: {html.escape(figures_words(entries))}.</p>"
        "<table><thead><tr><th>Customer</th><th>Attributed /month</th><th>At stake /month</th>"
        "<th>Scopes without cost</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>" + cannot + "</section>"
    )


def scope_cells(costs: Costs, scope: str) -> dict[str, str]:
    """The money columns of one CSV row (its delegation's scope)."""
    cost = costs.get(scope.lower())
    if cost is None:
        return {
            "monthlyRevenue": "",
            "currency": "",
            "costMonth": "",
            "costStatus": "not_read",
            "costNote": "not read yet",
        }
    known = cost.known
    return {
        "monthlyRevenue": f"{cost.acr:.2f}" if known else "",
        "currency": cost.currency if known else "",
        "costMonth": cost.month,
        "costStatus": cost.status.value,
        "costNote": "" if known else money.unreadable_reason(cost),
    }
