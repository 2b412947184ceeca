"""The coverage page for people: whose it is, every delegation with its reason and fix in words,
offers, the trend, a phone-sized layout and one customer's printable statement."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest

from shared import catalogue, reports, roles
from shared.reports import page
from shared.snapshots import AttributedBy, CoverageRow
from shared.store.store import Coverage, TrendPoint
from tests.support.html_pages import HOSTILE, assert_inert, parse

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
ROLE = f"/providers/Microsoft.Authorization/roleDefinitions/{roles.CONTRIBUTOR}"
CONTOSO = "aaaaaaaa-1111-1111-1111-111111111111"
FABRIKAM = "bbbbbbbb-2222-2222-2222-222222222222"
SUB = "22222222-2222-2222-2222-222222222222"
OPS = AttributedBy("0b0b0b0b-0000-0000-0000-000000000001", ROLE, display_name="Ops Automation", kind="ServicePrincipal")
CONTEXT = page.PageContext(
    partner_id="5127255",
    partner_name="Contoso MSP (Seattle)",
    fixes={r: catalogue.fix_for(r, "mmmmmmmm-0000-0000-0000-000000000000", "5127255") for r in catalogue.REASONS},
)


def row(key: str, tenant: str, name: str, status: str, **kw) -> CoverageRow:
    return CoverageRow(
        key, tenant, name, kw.pop("scope", f"/subscriptions/{SUB}"), status in ("attributed", "at_risk"), status, **kw
    )


ROWS = (
    row(
        "k1",
        CONTOSO,
        "Contoso",
        "attributed",
        attributed_by=(OPS,),
        role_names=("Contributor",),
        subscription_name="Contoso Production",
        definition_name="Managed Services Gold",
    ),
    row(
        "k2",
        CONTOSO,
        "Contoso",
        "not_attributed",
        reason="users_only",
        definition_name="Managed Services Gold",
        scope="/subscriptions/7c7c7c7c-0000-0000-0000-000000000002/resourceGroups/rg-app",  # not under k1
    ),
    row("k3", FABRIKAM, "Fabrikam", "not_visible", reason="not_visible"),
)


def test_the_header_names_the_partner_and_its_id() -> None:
    document = reports.coverage_html(Coverage(T0, ROWS), context=CONTEXT)
    assert "Contoso MSP (Seattle) · partner ID <strong>5127255</strong>" in document
    unnamed = reports.coverage_html(Coverage(T0, ROWS), context=page.PageContext(partner_id="5127255"))
    assert '<p class="partner">partner ID <strong>5127255</strong></p>' in unnamed


def test_every_delegation_is_shown_even_those_pal_watch_cannot_read() -> None:
    document = reports.coverage_html(Coverage(T0, ROWS), context=CONTEXT)
    assert document.count('data-label="Status"') == 3
    assert '<span class="badge not_visible">cannot be read</span>' in document
    assert "1 PAL Watch cannot read" in document
    totals = reports.coverage_json(Coverage(T0, ROWS))["totals"]
    assert totals["notVisible"] == 1
    assert totals["customersNotVisible"] == 1


def test_reasons_are_words_with_their_fix() -> None:
    document = reports.coverage_html(Coverage(T0, ROWS), context=CONTEXT)
    assert "only users hold eligible roles; they must link by hand" in document
    assert html.escape(catalogue.fix_for("users_only", "mmmmmmmm-0000-0000-0000-000000000000", "5127255")) in document
    assert "PAL Watch cannot read this delegation" in document
    assert "users_only" not in document
    assert "<pre" not in document


def test_offers_and_subscription_names_are_shown_and_escaped() -> None:
    document = reports.coverage_html(Coverage(T0, ROWS), context=CONTEXT)
    assert "Managed Services Gold" in document
    assert "Contoso Production<br><code>22222222-2222-2222-2222-222222222222</code>" in document
    for hostile in HOSTILE:
        evil = (row("k9", CONTOSO, hostile, "at_risk", subscription_name=hostile, definition_name=hostile),)
        assert_inert(parse(reports.coverage_html(Coverage(T0, evil), context=CONTEXT)))


def points(shares: list[int]) -> list[TrendPoint]:
    return [
        TrendPoint((T0 + timedelta(days=i)).strftime("%Y-%m-%d"), None, {"attributed": s, "not_attributed": 10 - s})
        for i, s in enumerate(shares)
    ]


def test_the_trend_is_an_inline_svg_line_with_its_numbers_in_words() -> None:
    svg = page.trend_svg(points([5, 6, 8, 10]))
    assert svg.startswith("<svg")
    (polyline,) = re.findall(r'<polyline points="([^"]+)"', svg)
    ys = [float(p.split(",")[1]) for p in polyline.split()]
    assert len(ys) == 4
    assert ys == sorted(ys, reverse=True)  # a rising share is drawn going up
    assert "from 50% on 2025-03-01 to 100% on 2025-03-04" in svg
    assert "two different days" in page.trend_svg(points([5]))
    document = reports.coverage_html(Coverage(T0, ROWS), context=page.PageContext(trend=points([1, 2])))
    assert "<polyline" in document


def test_the_page_reflows_on_a_phone() -> None:
    document = reports.coverage_html(Coverage(T0, ROWS), context=CONTEXT)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in document
    assert "@media (max-width:700px)" in document
    assert re.search(r"svg\{[^}]*width:100%", document)
    assert not re.search(r'<(?:table|td|th|div|p)[^>]*\bwidth="', document)


def test_one_customer_statement_shows_only_that_customer_without_internal_fixes() -> None:
    document = reports.coverage_html(Coverage(T0, ROWS), context=CONTEXT, customer=CONTOSO.upper())
    assert "<title>Partner attribution statement</title>" in document
    assert "Contoso" in document
    assert "Fabrikam" not in document
    assert "Needs attention" not in document
    assert "2 delegations to Contoso MSP (Seattle) (partner ID 5127255): 1 of them attributed" in document
    assert "only users hold eligible roles" in document
    assert "PAL_ATTESTED_USERS" not in document  # the partner's own runbook is not the customer's business
    assert "@media print" in document
    missing = reports.coverage_html(
        Coverage(T0, ROWS), context=CONTEXT, customer="cccccccc-0000-0000-0000-000000000000"
    )
    assert "No delegation of customer tenant" in missing


@pytest.mark.parametrize("customer", ["", CONTOSO])
def test_the_page_stays_self_contained(customer: str) -> None:
    document = reports.coverage_html(
        Coverage(T0, ROWS), context=page.PageContext(partner_id="1", trend=points([1, 3])), customer=customer
    )
    for needle in ("http://", "https://", "url(", "@import", "<script"):
        assert needle not in document.replace('xmlns="http://www.w3.org/2000/svg"', ""), needle


def test_a_scope_only_unreadable_delegations_cover_is_unknown_not_unrecognised() -> None:
    document = reports.coverage_html(Coverage(T0, ROWS), context=CONTEXT)
    fabrikam = document.split('id="c1"')[1]
    assert "unknown: cannot be read" in fabrikam
    assert "not recognised" not in fabrikam
