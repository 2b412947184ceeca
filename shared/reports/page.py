"""The coverage report as ONE self-contained HTML page: totals chart, then a table per customer.

Served by the `coverage` HTTP function and written to a file by `palwatch report --html`
and the demo. The page loads nothing and runs nothing: inline CSS and an inline SVG chart,
a Content-Security-Policy that forbids scripts and every external resource, no links
other than in-page anchors. Every string a customer controls (tenant, display and resource
group names) is cleaned of control characters, cut to a sane length and passed through
`html.escape(quote=True)`, in text and attributes alike. Pure: no I/O, no clock.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import TYPE_CHECKING

from shared import snapshots
from shared.notify import render
from shared.reconcile import scopes as reconcile_scopes
from shared.reports import coverage as coverage_
from shared.reports import text as text_

if TYPE_CHECKING:
    from shared.store import store

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
NAME_LIMIT = 120  # characters of a customer-controlled name shown; the rest is an ellipsis
_COLOURS = {
    coverage_.ATTRIBUTED: "#107c10",
    coverage_.AT_RISK: "#8a6100",
    coverage_.NOT_ATTRIBUTED: "#a4262c",
}
_STYLE = """
body{font-family:Segoe UI,Helvetica,Arial,sans-serif;color:#1b1b1b;margin:24px;font-size:14px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 4px}
.muted{color:#605e5c}.empty{font-size:16px;padding:16px;border:1px solid #c8c6c4;background:#faf9f8}
table{border-collapse:collapse;width:100%;margin-top:6px}
th,td{text-align:left;vertical-align:top;padding:4px 10px 4px 0;border-bottom:1px solid #edebe9}
td{overflow-wrap:anywhere}code{font-size:12px;color:#484644}
.badge{display:inline-block;padding:1px 8px;border-radius:9px;color:#fff;font-size:12px;white-space:nowrap}
ul.who{margin:0;padding-left:16px}
""" + "".join(f".{status}{{background:{colour}}}" for status, colour in _COLOURS.items())


def _e(value: object, limit: int = NAME_LIMIT) -> str:
    """Customer-controlled text for HTML: one clean line, cut, escaped (quotes too, for attributes)."""
    return html.escape(text_.fit(text_.clean(value), limit), quote=True)


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return f'<time datetime="{text_.iso_z(moment)}">{text_.minute(moment)} UTC</time>'


def _chart(totals: dict[str, int]) -> str:
    """A horizontal stacked bar with a labelled legend; counts are in the text, not only in colour."""
    parts = [
        (coverage_.ATTRIBUTED, "Attributed", totals["attributed"]),
        (coverage_.AT_RISK, "At risk", totals["atRisk"]),
        (coverage_.NOT_ATTRIBUTED, "Not attributed", totals["notAttributed"]),
    ]
    total = max(1, totals["delegations"])
    bar_width, x = 600, 0.0
    label = ", ".join(f"{count} {name.lower()}" for _, name, count in parts)
    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="600" height="76" viewBox="0 0 600 76" '
        'role="img" aria-labelledby="totals-title">',
        f'<title id="totals-title">Coverage of {text_.plural(totals["delegations"], "delegation")}: {label}</title>',
    ]
    for status, _, count in parts:
        if not count:
            continue
        # A share too thin to see still gets two pixels: one unattributed delegation in 5,000 matters.
        width = max(2.0, bar_width * count / total)
        width = min(width, bar_width - x)
        out.append(f'<rect x="{x:.2f}" y="0" width="{width:.2f}" height="28" fill="{_COLOURS[status]}"/>')
        x += width
    if not totals["delegations"]:
        out.append('<rect x="0" y="0" width="600" height="28" fill="#edebe9"/>')
    for i, (status, name, count) in enumerate(parts):
        lx = i * 200
        share = round(100 * count / total) if totals["delegations"] else 0
        out.append(f'<rect x="{lx}" y="44" width="14" height="14" fill="{_COLOURS[status]}"/>')
        out.append(
            f'<text x="{lx + 20}" y="56" font-size="14" font-family="Segoe UI,Helvetica,Arial,sans-serif">'
            f"{name}: {count} ({share}%)</text>"
        )
    out.append("</svg>")
    return "".join(out)


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
    return f'<ul class="who">{"".join(items)}</ul>'


def _customer_heading(customer: coverage_.Customer) -> str:
    name = _e(customer.name) or "Unnamed tenant"
    return f'{name} <span class="muted">tenant <code>{_e(customer.tenant_id, 60)}</code></span>'


def _customer_section(index: int, customer: coverage_.Customer) -> str:
    counts = ", ".join(f"{customer.count(s)} {coverage_.LABELS[s]}" for s in coverage_.STATUSES if customer.count(s))
    out = [
        f'<section id="c{index}"><h2>{_customer_heading(customer)}</h2>',
        f'<p class="muted">{text_.plural(len(customer.rows), "delegation")}: {counts}</p>',
        *_scope_table(customer),
        "<table><thead><tr><th>Scope</th><th>Offer</th><th>Status</th><th>Attributed by</th><th>Reason</th>"
        "<th>Since</th></tr></thead><tbody>",
    ]
    for row in customer.rows:
        status = coverage_.status(row)
        reason = _e(row.reason, 60) if status != coverage_.ATTRIBUTED else ""
        out.append(
            f'<tr><td title="{_e(row.scope, 400)}">{_e(render.describe_scope(row.scope), 200)}</td>'
            f"<td>{_e(row.definition_name) or _NONE}</td>"
            f'<td><span class="badge {status}">{coverage_.LABELS[status]}</span></td>'
            f"<td>{_attributors(row)}</td><td>{f'<code>{reason}</code>' if reason else ''}</td>"
            f"<td>{_when(row.since)}</td></tr>"
        )
    out.append("</tbody></table></section>")
    return "\n".join(out)


_NONE = '<span class="muted">-</span>'
_LEVEL_CLASS = {
    reconcile_scopes.EARNS_CREDIT: coverage_.ATTRIBUTED,
    reconcile_scopes.RECOGNISED: coverage_.AT_RISK,
    reconcile_scopes.NONE: coverage_.NOT_ATTRIBUTED,
}


def _scope_table(customer: coverage_.Customer) -> list[str]:
    """Per scope, the way Microsoft counts: two offers on one subscription are one scope."""
    out = ["<table><thead><tr><th>Scope</th><th>Partner credit</th><th>Delegations (offers)</th></tr></thead><tbody>"]
    for scope in coverage_.scopes(customer.rows):
        offers = "".join(
            f"<li>{_e(d.definition_name) or '<code>' + _e(d.key.rsplit('/', 1)[-1], 60) + '</code>'}: "
            f"{'attributed' if d.attributed else 'not attributed'}</li>"
            for d in scope.delegations
        )
        above = (
            f'<li class="muted">also covered by {text_.plural(len(scope.inherited_from), "subscription delegation")}'
            "</li>"
            if scope.inherited_from
            else ""
        )
        level = scope.level
        out.append(
            f'<tr><td title="{_e(scope.scope, 400)}">{_e(render.describe_scope(scope.scope), 200)}</td>'
            f'<td><span class="badge {_LEVEL_CLASS[level]}">{coverage_.LEVEL_LABELS[level]}</span></td>'
            f'<td><ul class="who">{offers}{above}</ul></td></tr>'
        )
    out.append("</tbody></table>")
    return out


def _attention(customers: list[coverage_.Customer]) -> str:
    """In-page links to the customers whose attribution is missing or thin, worst first."""
    needing = [(i, c) for i, c in enumerate(customers) if c.status != coverage_.ATTRIBUTED]
    if not needing:
        return "<p>Every customer is fully attributed.</p>"
    needing.sort(key=lambda ic: (ic[1].status != coverage_.NOT_ATTRIBUTED, ic[0]))
    items = "".join(
        f'<li><a href="#c{i}">{_e(c.name) or _e(c.tenant_id, 60)}</a>: '
        f'<span class="badge {c.status}">{coverage_.LABELS[c.status]}</span></li>'
        for i, c in needing
    )
    return f"<h2>Needs attention ({text_.plural(len(needing), 'customer')})</h2><ul>{items}</ul>"


def coverage_html(coverage: store.Coverage | None, *, title: str = "PAL Watch coverage", money: str = "") -> str:
    """The whole page; an explicit empty state when no verification has run or nothing is delegated.

    `money` is the revenue section (`shared.reports.money.money_html`), shown after the summary."""
    head = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="referrer" content="no-referrer"><title>{_e(title, 200)}</title>'
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>{_e(title, 200)}</h1>"
    )
    if coverage is None:
        body = (
            '<p class="empty">No verification has run yet: run <code>palwatch verify</code>, then reload this page.</p>'
        )
        return f"{head}{body}</body></html>\n"
    generated = f'<p class="muted">Verified at {_when(coverage.generated_at)}.</p>'
    if not coverage.rows:
        body = f'<p class="empty">{html.escape(coverage_.EMPTY_NO_DELEGATIONS)}</p>'
        return f"{head}{generated}{body}</body></html>\n"
    totals = coverage_.totals(coverage.rows)
    customers = coverage_.customers(coverage.rows)
    summary = (
        f"<p>{text_.plural(totals['delegations'], 'delegation')} across "
        f"{text_.plural(totals['customers'], 'customer')}: "
        f"{totals['attributed']} attributed, {totals['atRisk']} at risk, "
        f"{totals['notAttributed']} not attributed.</p>"
    )
    sections = "\n".join(_customer_section(i, c) for i, c in enumerate(customers))
    footer = (
        '<p class="muted">At risk: attributed only through users, or an identity that attributed it was lost. '
        "Generated by PAL Watch; <code>palwatch verify</code> refreshes it.</p>"
    )
    page = f"{head}{generated}{_chart(totals)}{summary}{money}{_attention(customers)}\n{sections}\n{footer}"
    return page + "</body></html>\n"
