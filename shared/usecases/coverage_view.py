"""The coverage as people read it: the stored snapshot, the delegations PAL Watch cannot read, the
partner's name and the trend.

Called by the `coverage` HTTP function (`verify.coverage_page`) and `palwatch report`. A verify
writes the coverage of what it could enumerate; a delegation Azure announced but none of our
identities can read is only known from its open `not_visible` finding, so it is added here as a
row of its own. The partner's name is what the last PAL link read said (`partnerName`), kept by
`remember_partner`; nothing here makes a request to Azure.
"""

from __future__ import annotations

from dataclasses import replace

from shared import catalogue
from shared.reports import coverage as reports_coverage
from shared.reports import page
from shared.snapshots import CoverageRow
from shared.store import store as store_module
from shared.usecases.engine import Engine

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
