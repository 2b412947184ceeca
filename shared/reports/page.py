"""The coverage report as ONE self-contained HTML page: who it is for, totals, trend, then each customer.

Served by the `coverage` HTTP function and written to a file by `palwatch report --html`
and the demo. The page loads nothing and runs nothing: inline CSS and inline SVG charts,
a Content-Security-Policy that forbids scripts and every external resource, no links
other than in-page anchors. It reads on a phone (tables become stacked cards under 700 px)
and prints; `customer=` narrows it to one customer's one-page statement. Every string a
customer controls (tenant, subscription, offer, display and resource group names) is cleaned
of control characters, cut to a sane length and passed through `html.escape(quote=True)`,
in text and attributes alike. Pure: no I/O, no clock.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from shared import snapshots, words
from shared.decisions import scopes as reconcile_scopes
from shared.reports import coverage as coverage_
from shared.reports import text as text_

if TYPE_CHECKING:
    from shared.store import store

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
NAME_LIMIT = 120  # characters of a customer-controlled name shown; the rest is an ellipsis
CHART_WIDTH = 360  # SVG units: a phone shows the charts at about their size, a desktop up to 600 px
TITLE = "PAL Watch coverage"
STATEMENT_TITLE = "Partner attribution statement"
_COLOURS = {
    coverage_.ATTRIBUTED: "#107c10",
    coverage_.AT_RISK: "#8a6100",
    coverage_.NOT_ATTRIBUTED: "#a4262c",
    coverage_.NOT_VISIBLE: "#605e5c",
    coverage_.NOT_ELIGIBLE: "#605e5c",
}
_STYLE = """
body{font-family:Segoe UI,Helvetica,Arial,sans-serif;color:#1b1b1b;margin:0 auto;max-width:1100px;
padding:12px 16px;font-size:15px;line-height:1.4;overflow-wrap:break-word}
h1{font-size:22px;margin:0 0 2px}h2{font-size:18px;margin:28px 0 4px}h3{font-size:15px;margin:16px 0 4px}
.muted{color:#605e5c}.empty{font-size:16px;padding:16px;border:1px solid #c8c6c4;background:#faf9f8}
.partner{font-size:16px;margin:0 0 4px}
svg{display:block;width:100%;max-width:480px;height:auto;margin:8px 0}
table{border-collapse:collapse;width:100%;margin-top:6px}
th,td{text-align:left;vertical-align:top;padding:6px 10px 6px 0;border-bottom:1px solid #edebe9}
th,time{white-space:nowrap}
code{font-size:12px;color:#484644;overflow-wrap:anywhere}
.badge{display:inline-block;padding:1px 8px;border-radius:9px;color:#fff;font-size:12px;white-space:nowrap}
.fix{margin:4px 0 0;padding:4px 6px;background:#f3f2f1;font-family:Consolas,Menlo,monospace;font-size:12px;
white-space:pre-wrap;overflow-wrap:anywhere}
ul.who{margin:0;padding-left:16px}
@media (max-width:700px){
table.rows thead{display:none}
table.rows tr{display:block;border-bottom:1px solid #c8c6c4;padding:8px 0}
table.rows td{display:block;border:0;padding:2px 0}
table.rows td[data-label]::before{content:attr(data-label) ": ";color:#605e5c;font-size:13px}
}
@media print{.noprint{display:none}body{max-width:none;font-size:11pt;padding:0}section{break-inside:avoid}
a{color:inherit;text-decoration:none}.badge{color:#000;border:1px solid #000}}
""" + "".join(f".{status}{{background:{colour}}}" for status, colour in _COLOURS.items())


@dataclass(frozen=True)
class PageContext:
    """What the page knows besides the snapshot: whose page it is, the fix for each reason, the trend."""

    partner_id: str = ""
    partner_name: str = ""  # as Microsoft returns it with the PAL link; "" unknown
    fixes: Mapping[str, str] = field(default_factory=dict)  # reason code -> the fix in words
    trend: Sequence[store.TrendPoint] = ()


def _e(value: object, limit: int = NAME_LIMIT) -> str:
    """Customer-controlled text for HTML: one clean line, cut, escaped (quotes too, for attributes)."""
    return html.escape(text_.fit(text_.clean(value), limit), quote=True)


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return f'<time datetime="{words.iso_z(moment)}">{words.minute(moment)} UTC</time>'


_PARTS = (
    (coverage_.ATTRIBUTED, "Attributed", "attributed"),
    (coverage_.AT_RISK, "At risk", "atRisk"),
    (coverage_.NOT_ATTRIBUTED, "Not attributed", "notAttributed"),
    (coverage_.NOT_VISIBLE, "Cannot be read", "notVisible"),
    (coverage_.NOT_ELIGIBLE, "Offer not eligible", "notEligibleOffer"),
)


def _chart(totals: dict[str, int]) -> str:
    """A horizontal stacked bar with a labelled legend; counts are in the text, not only in colour."""
    parts = [(status, name, totals.get(key, 0)) for status, name, key in _PARTS]
    shown = [p for p in parts if p[2] or p[0] not in (coverage_.NOT_VISIBLE, coverage_.NOT_ELIGIBLE)]
    total = max(1, totals["delegations"])
    bar_width, x = CHART_WIDTH, 0.0
    label = ", ".join(f"{count} {name.lower()}" for _, name, count in shown)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="96" viewBox="0 0 {CHART_WIDTH} 96" '
        'role="img" aria-labelledby="totals-title">',
        f'<title id="totals-title">Coverage of {words.plural(totals["delegations"], "delegation")}: {label}</title>',
    ]
    for status, _, count in shown:
        if not count:
            continue
        # A share too thin to see still gets two pixels: one unattributed delegation in 5,000 matters.
        width = min(max(2.0, bar_width * count / total), bar_width - x)
        out.append(f'<rect x="{x:.2f}" y="0" width="{width:.2f}" height="28" fill="{_COLOURS[status]}"/>')
        x += width
    if not totals["delegations"]:
        out.append(f'<rect x="0" y="0" width="{CHART_WIDTH}" height="28" fill="#edebe9"/>')
    for i, (status, name, count) in enumerate(shown):
        lx, ly = (i % 2) * CHART_WIDTH // 2, 42 + (i // 2) * 26
        share = round(100 * count / total) if totals["delegations"] else 0
        out.append(f'<rect x="{lx}" y="{ly}" width="14" height="14" fill="{_COLOURS[status]}"/>')
        out.append(
            f'<text x="{lx + 20}" y="{ly + 12}" font-size="13" font-family="Segoe UI,Helvetica,Arial,sans-serif">'
            f"{name}: {count} ({share}%)</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _share(point: store.TrendPoint) -> float:
    """The share of delegations that earn credit (attributed, at risk included) on that day."""
    total = point.delegations
    if not total:
        return 0.0
    return (point.counts.get(coverage_.ATTRIBUTED, 0) + point.counts.get(coverage_.AT_RISK, 0)) / total


def trend_svg(points: Sequence[store.TrendPoint]) -> str:
    """Coverage over time: a line of the attributed share per day, with its first and last values
    in the accessible title and the text beside it. Fewer than two days: a sentence instead."""
    if len(points) < 2:
        return '<p class="muted">The trend appears once verifications have run on two different days.</p>'
    width, height, left, top, plot_h = CHART_WIDTH, 120, 34, 8, 88
    step = (width - left - 10) / (len(points) - 1)

    def y(share: float) -> float:
        return top + plot_h * (1 - share)

    coords = [(left + i * step, y(_share(p))) for i, p in enumerate(points)]
    first, last = points[0], points[-1]
    summary = (
        f"Attributed share of delegations from {round(100 * _share(first))}% on {first.day} "
        f"to {round(100 * _share(last))}% on {last.day} ({len(points)} days with a verification)"
    )
    font = 'font-size="12" font-family="Segoe UI,Helvetica,Arial,sans-serif" fill="#605e5c"'
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="trend-title">',
        f'<title id="trend-title">{html.escape(summary)}</title>',
    ]
    for share in (0.0, 0.5, 1.0):
        out.append(f'<line x1="{left}" y1="{y(share):.1f}" x2="{width - 10}" y2="{y(share):.1f}" stroke="#edebe9"/>')
        out.append(f'<text x="0" y="{y(share) + 4:.1f}" {font}>{round(share * 100)}%</text>')
    path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
    out.append(f'<polyline points="{path}" fill="none" stroke="{_COLOURS[coverage_.ATTRIBUTED]}" stroke-width="2"/>')
    out += [f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="2.5" fill="#107c10"/>' for cx, cy in coords]
    out.append(f'<text x="{left}" y="{height - 4}" {font}>{html.escape(first.day)}</text>')
    out.append(f'<text x="{width - 10}" y="{height - 4}" text-anchor="end" {font}>{html.escape(last.day)}</text>')
    out.append("</svg>")
    return "".join(out) + f'<p class="muted">{html.escape(summary)}.</p>'


def _attributors(row: snapshots.CoverageRow) -> str:
    if not row.attributed_by:
        return '<span class="muted">none</span>'
    items = []
    for i, entry in enumerate(row.attributed_by):
        who = _e(entry.display_name) or f"<code>{_e(entry.principal_id)}</code>"
        kind = f' <span class="muted">({_e(entry.kind, 40)})</span>' if entry.kind else ""
        role = _e(coverage_.role_name(row, i))
        via = f" via group <code>{_e(entry.via_group, 60)}</code>" if entry.via_group else ""
        ident = f' <code title="object id">{_e(entry.principal_id, 60)}</code>' if entry.display_name else ""
        items.append(f"<li>{who}{kind}{ident} as {role}{via}</li>")
    if row.locations:  # the partner's location IDs the attributing links carry
        items.append(f'<li class="muted">partner location {_e(", ".join(row.locations), 200)}</li>')
    return f'<ul class="who">{"".join(items)}</ul>'


def scope_html(row: snapshots.CoverageRow) -> str:
    """`Production` (its id beneath) and the resource group: names first, ids where people look them up."""
    subscription, group = words.scope_parts(row.scope)
    if not subscription:
        return f"<code>{_e(row.scope, 400)}</code>"
    name = _e(row.subscription_name)
    sub = (
        f"{name}<br><code>{_e(subscription, 60)}</code>"
        if name
        else f"subscription <code>{_e(subscription, 60)}</code>"
    )
    return sub + (f"<br>resource group {_e(group)}" if group else "")


def _reason(row: snapshots.CoverageRow, context: PageContext, *, with_fix: bool = True) -> str:
    reason = coverage_.reason_text(row)
    if not reason:
        return ""
    fix = context.fixes.get(row.reason, "") if with_fix else ""
    fix_html = f'<div class="fix">{html.escape(text_.fit(fix, 2000))}</div>' if fix else ""
    return f"{html.escape(reason)}{fix_html}"


def _rows_table(rows: Sequence[snapshots.CoverageRow], context: PageContext, *, with_fix: bool = True) -> str:
    out = [
        '<table class="rows"><thead><tr><th>Scope</th><th>Offer</th><th>Status</th><th>Attributed by</th>'
        f"<th>{'Why not, and the fix' if with_fix else 'Why not'}</th><th>Since</th></tr></thead><tbody>"
    ]
    for row in rows:
        status = coverage_.status(row)
        offer = _e(row.definition_name) or '<span class="muted">-</span>'
        if row.offer_type:
            offer += f' <span class="muted">({_e(coverage_.offer_label(row.offer_type))})</span>'
        reason = _reason(row, context, with_fix=with_fix)
        if row.credit_observed:  # what Microsoft's billing says, beside PAL Watch's verdict
            reason += f'<div class="muted">{_e(row.credit_observed)}</div>'
        out.append(
            f'<tr><td data-label="Scope" title="{_e(row.scope, 400)}">{scope_html(row)}</td>'
            f'<td data-label="Offer">{offer}</td>'
            f'<td data-label="Status"><span class="badge {status}">{coverage_.LABELS[status]}</span></td>'
            f'<td data-label="Attributed by">{_attributors(row)}</td>'
            + (f'<td data-label="Why not">{reason}</td>' if reason else "<td></td>")
            + f'<td data-label="Since">{_when(row.since)}</td></tr>'
        )
    out.append("</tbody></table>")
    return "".join(out)


def _counts(customer: coverage_.Customer) -> str:
    return ", ".join(f"{customer.count(s)} {coverage_.LABELS[s]}" for s in coverage_.STATUSES if customer.count(s))


def _customer_heading(customer: coverage_.Customer) -> str:
    name = _e(customer.name) or "Unnamed tenant"
    return f'{name} <span class="muted">tenant <code>{_e(customer.tenant_id, 60)}</code></span>'


_LEVEL_CLASS = {
    reconcile_scopes.EARNS_CREDIT: coverage_.ATTRIBUTED,
    reconcile_scopes.RECOGNISED: coverage_.AT_RISK,
    reconcile_scopes.NONE: coverage_.NOT_ATTRIBUTED,
    coverage_.NOT_ELIGIBLE: coverage_.NOT_ELIGIBLE,
}


def _scope_words(scope: str, names: dict[str, str]) -> str:
    """`subscription Production, resource group rg-app`: the subscription's name when a row gave it."""
    subscription, group = words.scope_parts(scope)
    name = names.get(subscription.lower(), "")
    if not name:
        return _e(words.describe_scope(scope), 200)
    return f"subscription {_e(name)}" + (f", resource group {_e(group)}" if group else "")


def _scope_table(customer: coverage_.Customer) -> str:
    """Per scope, the way Microsoft counts: two offers on one subscription are one scope."""
    unreadable = {r.delegation_key for r in customer.rows if coverage_.status(r) == coverage_.NOT_VISIBLE}
    names = {words.scope_parts(r.scope)[0].lower(): r.subscription_name for r in customer.rows if r.subscription_name}
    out = [
        '<table class="rows"><thead><tr><th>Scope</th><th>Subscription offer</th><th>Credit</th>'
        "<th>Delegations (offers)</th></tr></thead><tbody>"
    ]
    for scope in coverage_.scopes(customer.rows):
        offers = "".join(
            f"<li>{_e(d.definition_name) or '<code>' + _e(d.key.rsplit('/', 1)[-1], 60) + '</code>'}: "
            f"{'attributed' if d.attributed else 'not attributed'}</li>"
            for d in scope.delegations
        )
        above = (
            f'<li class="muted">also covered by {words.plural(len(scope.inherited_from), "subscription delegation")}'
            "</li>"
            if scope.inherited_from
            else ""
        )
        level = coverage_.level(scope)
        badge, label = _LEVEL_CLASS[level], coverage_.credit_label(scope)
        if level == reconcile_scopes.NONE and all(d.key in unreadable for d in scope.delegations):
            badge, label = coverage_.NOT_VISIBLE, "unknown: cannot be read"  # not "not recognised": unknown
        kind = _e(coverage_.offer_label(scope.offer_type)) or '<span class="muted">-</span>'
        out.append(
            f'<tr><td data-label="Scope" title="{_e(scope.scope, 400)}">{_scope_words(scope.scope, names)}</td>'
            f'<td data-label="Subscription offer">{kind}</td>'
            f'<td data-label="Credit"><span class="badge {badge}">{_e(label)}</span>{_foreign(customer, scope)}</td>'
            f'<td data-label="Delegations"><ul class="who">{offers}{above}</ul></td></tr>'
        )
    out.append("</tbody></table>")
    return "".join(out)


def _foreign(customer: coverage_.Customer, scope: reconcile_scopes.ScopeCredit) -> str:
    """Foreign groups PAL Watch does not know holding roles at the scope's subscription: someone
    else's admin on behalf of (another partner's AOBO), shown, never counted."""
    subscription = words.scope_parts(scope.scope)[0].lower()
    found = sorted(
        {g for r in customer.rows if words.scope_parts(r.scope)[0].lower() == subscription for g in r.foreign_aobo}
    )
    if not found:
        return ""
    ids = ", ".join(f"<code>{_e(g, 60)}</code>" for g in found)
    return f'<br><span class="muted">another partner\'s AOBO (not counted): {ids}</span>'


def _customer_section(index: int, customer: coverage_.Customer, context: PageContext) -> str:
    return (
        f'<section id="c{index}"><h2>{_customer_heading(customer)}</h2>'
        f'<p class="muted">{words.plural(len(customer.rows), "delegation")}: {_counts(customer)}</p>'
        f"<h3>Scopes</h3>{_scope_table(customer)}<h3>Delegations</h3>"
        f"{_rows_table(customer.rows, context)}</section>"
    )


def _attention(customers: list[coverage_.Customer]) -> str:
    """In-page links to the customers whose attribution is missing, unknown or thin, worst first."""
    needing = [(i, c) for i, c in enumerate(customers) if c.status != coverage_.ATTRIBUTED]
    if not needing:
        return "<p>Every customer is fully attributed.</p>"
    rank = {coverage_.NOT_ATTRIBUTED: 0, coverage_.NOT_VISIBLE: 1, coverage_.AT_RISK: 2}
    needing.sort(key=lambda ic: (rank.get(ic[1].status, 3), ic[0]))
    items = "".join(
        f'<li><a href="#c{i}">{_e(c.name) or _e(c.tenant_id, 60)}</a>: '
        f'<span class="badge {c.status}">{coverage_.LABELS[c.status]}</span></li>'
        for i, c in needing
    )
    heading = f"Needs attention ({words.plural(len(needing), 'customer')})"
    return f'<nav class="noprint"><h2>{heading}</h2><ul>{items}</ul></nav>'


def _partner_line(context: PageContext) -> str:
    if not context.partner_id:
        return ""
    name = f"{_e(context.partner_name, 200)} · " if context.partner_name else ""
    return f'<p class="partner">{name}partner ID <strong>{_e(context.partner_id, 40)}</strong></p>'


def _head(title: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="referrer" content="no-referrer"><title>{_e(title, 200)}</title>'
        f"<style>{_STYLE}</style></head><body>"
    )


FOOTER = (
    '<p class="muted">Attributed: an identity linked to the partner ID through Partner Admin Link holds an '
    "eligible role on the scope, so Microsoft credits the partner for it: partner earned credit on CSP (Azure "
    "plan) subscriptions, where AOBO (the partner's Admin Agents as Owner) is a path too; recognition and "
    "incentive eligibility on every other agreement. At risk: attributed only through "
    "users, or an identity that attributed it was lost, or the delegation carries no credit itself while another "
    "delegation still earns its scope's. Cannot be read: Azure announced the delegation but none "
    "of PAL Watch's identities is in its offer. Generated by PAL Watch; <code>palwatch verify</code> refreshes it.</p>"
)


def coverage_html(
    coverage: store.Coverage | None,
    *,
    title: str = TITLE,
    context: PageContext | None = None,
    customer: str = "",
    money: str = "",
) -> str:
    """The whole page, or with `customer` (a tenant id) that customer's one-page statement; an
    explicit empty state when no verification has run or nothing is delegated.

    `money` is the revenue section (`shared.reports.money.money_html`), shown after the summary."""
    context = context or PageContext()
    if customer:
        title = STATEMENT_TITLE
    head = _head(title) + f"<header><h1>{_e(title, 200)}</h1>{_partner_line(context)}"
    if coverage is None:
        body = (
            '<p class="empty">No verification has run yet: run <code>palwatch verify</code>, then reload this page.</p>'
        )
        return f"{head}</header>{body}</body></html>\n"
    head += f'<p class="muted">Verified at {_when(coverage.generated_at)}.</p></header>'
    if customer:
        return head + _statement(coverage, customer, context) + "</body></html>\n"
    if not coverage.rows:
        body = f'<p class="empty">{html.escape(coverage_.EMPTY_NO_DELEGATIONS)}</p>'
        return f"{head}{body}</body></html>\n"
    totals = coverage_.totals(coverage.rows)
    customers = coverage_.customers(coverage.rows)
    unreadable = f", {totals['notVisible']} PAL Watch cannot read" if totals["notVisible"] else ""
    summary = (
        f"<p>{words.plural(totals['delegations'], 'delegation')} across "
        f"{words.plural(totals['customers'], 'customer')}: "
        f"{totals['attributed']} attributed, {totals['atRisk']} at risk, "
        f"{totals['notAttributed']} not attributed{unreadable}.</p>"
    )
    trend = f"<h2>Trend</h2>{trend_svg(context.trend)}"
    sections = "\n".join(_customer_section(i, c, context) for i, c in enumerate(customers))
    return f"{head}{_chart(totals)}{summary}{money}{trend}{_attention(customers)}\n{sections}\n{FOOTER}</body></html>\n"


def _statement(coverage: store.Coverage, tenant_id: str, context: PageContext) -> str:
    """One customer's attribution statement: what is delegated to the partner and what earns credit."""
    found = [c for c in coverage_.customers(coverage.rows) if c.tenant_id.lower() == tenant_id.lower()]
    if not found:
        return (
            f'<p class="empty">No delegation of customer tenant <code>{_e(tenant_id, 60)}</code> is known. '
            "Check the tenant id, or run <code>palwatch verify</code> if it was onboarded recently.</p>"
        )
    customer = found[0]
    partner = _e(context.partner_name, 200) or "the partner"
    earning = customer.count(coverage_.ATTRIBUTED) + customer.count(coverage_.AT_RISK)
    return (
        f"<section><h2>{_customer_heading(customer)}</h2>"
        f"<p>{words.plural(len(customer.rows), 'delegation')} to {partner}"
        f"{' (partner ID ' + _e(context.partner_id, 40) + ')' if context.partner_id else ''}: "
        f"{earning} of them attributed to the partner through Partner Admin Link ({_counts(customer)}).</p>"
        f"{_rows_table(customer.rows, context, with_fix=False)}</section>{FOOTER}"
    )
