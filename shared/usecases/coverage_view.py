"""The coverage as people read it: the stored snapshot, the delegations PAL Watch cannot read, the
partner's name and the trend.

Called by the `coverage` HTTP function (`coverage_page`, here) and `palwatch report`. A verify
writes the coverage of what it could enumerate; a delegation Azure announced but none of our
identities can read is only known from its open `not_visible` finding, so it is added here as a
row of its own. The partner's name is what the last PAL link read said (`partnerName`), kept by
`remember_partner`; nothing here makes a request to Azure.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace

from shared import catalogue, roles
from shared.reports import coverage as reports_coverage
from shared.reports import page
from shared.snapshots import CoverageRow
from shared.store import errors as store_errors
from shared.store import store as store_module
from shared.usecases import outcomes
from shared.usecases.engine import Engine

log = logging.getLogger(__name__)

PARTNER_STATE = "partner"  # {"partnerId": ..., "partnerName": ...} as the last PAL link read gave it
NOT_VISIBLE = "not_visible"


def current(engine: Engine) -> store_module.Coverage | None:
    """The latest snapshot with a row for every open `not_visible` delegation not in it."""
    coverage = engine.store.get_coverage()
    unreadable = [r for r in engine.store.open_findings() if r.finding.reason == NOT_VISIBLE]
    if coverage is None:
        return None
    seen = {r.delegation_key for r in coverage.rows}
    extra = tuple(
        CoverageRow(
            delegation_key=r.finding.subject,
            customer_tenant_id=r.finding.tenant_id,
            customer_tenant_name=r.finding.tenant_name,
            scope=r.finding.scope,
            attributed=False,
            status=NOT_VISIBLE,
            reason=NOT_VISIBLE,
            since=r.opened_at,
        )
        for r in unreadable
        if r.finding.subject not in seen
    )
    coverage = replace(coverage, rows=coverage.rows + extra) if extra else coverage
    return with_observed_credit(engine, coverage)


def with_observed_credit(engine: Engine, coverage: store_module.Coverage) -> store_module.Coverage:
    """Each row with what Microsoft's billing export says of its scope (nothing when it was never read)."""
    latest = engine.store.billing.latest()
    if not latest:
        return coverage
    billed = engine.store.billing.csp_subscriptions()
    rows = []
    for row in coverage.rows:
        scope = row.scope.lower()
        subscription = scope.split("/")[2] if scope.count("/") >= 2 else ""
        words = reports_coverage.credit_words(latest.get(scope), subscription in billed)
        rows.append(replace(row, credit_observed=words))
    return replace(coverage, rows=tuple(rows))


def for_customer(coverage: store_module.Coverage, tenant_id: str) -> store_module.Coverage:
    """Only the delegations of one customer tenant (case-insensitive id)."""
    tenant = tenant_id.strip().lower()
    return replace(coverage, rows=tuple(r for r in coverage.rows if r.customer_tenant_id.lower() == tenant))


def match_customer(coverage: store_module.Coverage, wanted: str) -> tuple[str, tuple[str, ...]]:
    """The customer tenant `wanted` names: its tenant id, its name, or a unique start of its name
    (any case). Returns (tenant id, ()) when one matches, else ("", the names that match: several
    when it is ambiguous, none when nothing does)."""
    text = " ".join(wanted.split()).lower()
    customers: dict[str, str] = {}
    for row in coverage.rows:
        customers.setdefault(row.customer_tenant_id.lower(), row.customer_tenant_name or row.customer_tenant_id)
    if text in customers:
        return text, ()
    exact = [t for t, name in customers.items() if name.lower() == text]
    starting = exact or [t for t, name in customers.items() if text and name.lower().startswith(text)]
    if len(starting) == 1:
        return starting[0], ()
    return "", tuple(sorted(customers[t] for t in starting))


def needing_attention(coverage: store_module.Coverage) -> store_module.Coverage:
    """Only the delegations that need someone: at risk, not attributed, or not readable."""
    calm = ("attributed", "not_eligible_offer")
    return replace(coverage, rows=tuple(r for r in coverage.rows if r.status not in calm))


def customer_names(coverage: store_module.Coverage) -> tuple[str, ...]:
    """Every customer's name (its tenant id where no name is known), sorted."""
    return tuple(sorted({r.customer_tenant_name or r.customer_tenant_id for r in coverage.rows}))


def context(engine: Engine) -> page.PageContext:
    """Who the page is for (partner name and ID), how to fix each reason, and the trend."""
    settings = engine.settings
    known = engine.store.get_state(PARTNER_STATE) or {}
    name = known.get("partnerName", "") if known.get("partnerId") == settings.partner_id else ""
    return page.PageContext(
        partner_id=settings.partner_id,
        partner_name=str(name or ""),
        trend=tuple(engine.store.list_trend()),
        fixes={
            reason: catalogue.fix_for(reason, settings.managing_tenant_id, settings.partner_id)
            for reason in catalogue.REASONS
        },
    )


def remember_partner(engine: Engine, partner_name: str) -> None:
    """Keep the partner's name as Microsoft returned it with a link to our partner ID."""
    if not partner_name:
        return
    value = {"partnerId": engine.settings.partner_id, "partnerName": partner_name[:200]}
    if engine.store.get_state(PARTNER_STATE) != value:
        engine.store.put_state(PARTNER_STATE, value)


# -- the coverage HTTP function ------------------------------------------------------------------


def coverage_page(engine: Engine, fmt: str, accept: str, customer: str = "") -> outcomes.Answer:
    """The latest coverage as JSON (default), the HTML page (`format=html` or Accept) or CSV, with the
    delegations PAL Watch cannot read; `customer` (a tenant id) narrows it to one customer's statement."""
    from shared import reports
    from shared.reports import page

    headers = {
        "Content-Security-Policy": page.CSP,
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    wanted = (fmt or "").strip().lower()
    if wanted not in ("", "json", "html", "csv"):
        body = {"error": {"code": "UnsupportedFormat", "message": "format must be json, html or csv"}}
        return outcomes.Answer(400, "application/json", json.dumps(body), headers)
    tenant = (customer or "").strip().lower()
    if tenant and not roles.is_guid(tenant):
        body = {"error": {"code": "InvalidCustomer", "message": "customer must be a customer tenant id (a GUID)"}}
        return outcomes.Answer(400, "application/json", json.dumps(body), headers)
    as_html = wanted == "html" or (not wanted and prefers_html(accept))
    from shared.reports import money as money_report

    try:
        coverage = current(engine)
        context_ = context(engine) if as_html else None
        costs = engine.store.costs.all()
    except store_errors.StoreError as e:
        log.warning("coverage unreadable: %s", e)
        body = {"error": {"code": "StoreUnavailable", "message": "the coverage snapshot cannot be read now"}}
        return outcomes.Answer(503, "application/json", json.dumps(body), {**headers, "Retry-After": "30"})
    status = 200 if coverage is not None else 404
    if coverage is not None and tenant:
        coverage = for_customer(coverage, tenant)
        status = 200 if coverage.rows else 404
    if as_html:
        money = money_report.money_html(coverage, costs)
        page_html = reports.coverage_html(coverage, context=context_, customer=tenant, money=money)
        return outcomes.Answer(status, "text/html", page_html, headers)
    if wanted == "csv":
        download = {**headers, "Content-Disposition": 'attachment; filename="palwatch-coverage.csv"'}
        return outcomes.Answer(status, "text/csv", reports.coverage_csv(coverage, costs), download)
    document = {**reports.coverage_json(coverage), "money": money_report.money_json(coverage, costs)}
    if coverage is None:
        document["error"] = {
            "code": "NoVerificationYet",
            "message": "No verification has run yet: wait for the verify_attribution timer or run `palwatch verify`.",
        }
    elif status == 404:
        document["error"] = {"code": "CustomerNotFound", "message": "no delegation of this customer tenant is known"}
    return outcomes.Answer(status, "application/json", json.dumps(document), headers)


def prefers_html(accept: str) -> bool:
    """Whether an Accept header ranks text/html above JSON (browsers do; curl's */* does not)."""
    html_q = json_q = 0.0
    for part in (accept or "").split(","):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        q = 1.0
        for param in pieces[1:]:
            if param.lower().startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if media == "text/html":
            html_q = max(html_q, q)
        elif media in ("application/json", "application/*"):
            json_q = max(json_q, q)
    return html_q > 0 and html_q > json_q
