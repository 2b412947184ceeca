"""The coverage page: one self-contained document, hostile names as text, totals as an SVG chart."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared import reports, roles
from shared.reports import page
from shared.snapshots import AttributedBy, CoverageRow
from shared.store.store import Coverage
from tests.support.html_pages import HOSTILE, assert_inert, parse

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
SUB = "22222222-2222-2222-2222-222222222222"
ROLE = f"/providers/Microsoft.Authorization/roleDefinitions/{roles.CONTRIBUTOR}"


def rows_with(name: str) -> tuple[CoverageRow, ...]:
    return (
        CoverageRow(
            delegation_key="k1",
            customer_tenant_id=name,
            customer_tenant_name=name,
            scope=f"/subscriptions/{SUB}/resourceGroups/{name}",
            attributed=True,
            status="attributed",
            attributed_by=(AttributedBy(name, ROLE, via_group=name, display_name=name, kind=name),),
            role_names=(name,),
            since=T0,
        ),
        CoverageRow(
            delegation_key="k2",
            customer_tenant_id="bbbbbbbb-2222-2222-2222-222222222222",
            customer_tenant_name="Fabrikam",
            scope=f"/subscriptions/{SUB}",
            attributed=False,
            status="not_attributed",
            reason=name,
            since=T0,
        ),
    )


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_strings_render_as_text(hostile: str) -> None:
    document = reports.coverage_html(Coverage(T0, rows_with(hostile)), title=hostile)
    parsed = parse(document)
    assert_inert(parsed)
    visible = "".join(parsed.text)
    if len(hostile) < 100 and "\x1b" not in hostile:
        assert hostile in visible  # shown, as text
    assert "\x1b" not in document
    assert "\u202e" not in document
    assert len(document) < 20_000  # a 10,000-character name is cut, not repeated in full
    # Exactly one style element, and it is ours: nothing closed it early.
    assert [t for t, _ in parsed.tags].count("style") == 1
    assert [t for t, _ in parsed.tags].count("svg") == 1


def test_the_page_is_self_contained_and_forbids_scripts() -> None:
    document = reports.coverage_html(Coverage(T0, rows_with("Contoso")))
    assert document.startswith("<!DOCTYPE html>")
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert f'<meta http-equiv="Content-Security-Policy" content="{csp}">' in document
    for needle in ("http://", "https://", "url(", "@import", "<script"):
        # The SVG namespace is an identifier, not a resource.
        assert needle not in document.replace('xmlns="http://www.w3.org/2000/svg"', ""), needle
    assert_inert(parse(document))


@pytest.mark.parametrize(
    ("statuses", "label"),
    [
        (
            ["attributed", "attributed", "at_risk", "not_attributed"],
            "4 delegations: 2 attributed, 1 at risk, 1 not attributed",
        ),
        (["attributed"], "1 delegation: 1 attributed, 0 at risk, 0 not attributed"),
        (["not_attributed"] * 3, "3 delegations: 0 attributed, 0 at risk, 3 not attributed"),
    ],
)
def test_the_chart_shows_the_totals_with_an_accessible_title(statuses: list[str], label: str) -> None:
    rows = tuple(
        CoverageRow(f"k{i}", f"t{i % 2}", f"Customer {i % 2}", f"/subscriptions/s{i}", s != "not_attributed", s)
        for i, s in enumerate(statuses)
    )
    document = reports.coverage_html(Coverage(T0, rows))
    parsed = parse(document)
    (svg,) = parsed.named("svg")
    assert svg["role"] == "img"
    assert svg["aria-labelledby"] == "totals-title"
    assert f"Coverage of {label}" in "".join(parsed.text)
    # One bar segment per non-zero status, plus three legend keys; segments fill the bar.
    segments = [r for r in parsed.named("rect") if r["y"] == "0"]
    assert len(segments) == len(set(statuses))
    assert abs(sum(float(r["width"] or 0) for r in segments) - page.CHART_WIDTH) < 0.1
    visible = "".join(parsed.text)
    for name in ("Attributed: ", "At risk: ", "Not attributed: "):
        assert name in visible


def test_one_table_per_customer_with_name_and_tenant_id_as_heading() -> None:
    rows = (
        CoverageRow(
            "k1", "aaaaaaaa-1111-1111-1111-111111111111", "Contoso", f"/subscriptions/{SUB}", True, "attributed"
        ),
        CoverageRow("k2", "bbbbbbbb-2222-2222-2222-222222222222", "Fabrikam", f"/subscriptions/{SUB}", True, "at_risk"),
        CoverageRow(
            "k3",
            "aaaaaaaa-1111-1111-1111-111111111111",
            "Contoso",
            f"/subscriptions/{SUB}/resourceGroups/rg-app",
            False,
            "not_attributed",
            reason="users_only",
        ),
    )
    document = reports.coverage_html(Coverage(T0, rows))
    parsed = parse(document)
    assert len(parsed.named("table")) == 4  # per customer: its scopes, then its delegations
    sections = document.split("<section")[1:]
    assert "Contoso" in sections[0]
    assert "aaaaaaaa-1111-1111-1111-111111111111" in sections[0]
    assert "Fabrikam" in sections[1]
    assert "resource group rg-app" in sections[0]
    assert "only users hold eligible roles" in sections[0]  # the reason in words, not its code
    assert "users_only" not in document
    # Contoso's resource group is covered by its attributed subscription delegation: it earns credit
    # (off CSP: recognised, and incentive eligible).
    assert sections[0].count("recognised, incentive eligible") == 2
    # Customers needing attention link to their section, worst first.
    hrefs = [a["href"] for a in parsed.named("a")]
    assert hrefs == ["#c0", "#c1"]
    assert {s["id"] for s in parsed.named("section")} == {"c0", "c1"}


@pytest.mark.parametrize(
    ("cov", "expected"),
    [
        (None, "No verification has run yet: run palwatch verify"),
        (Coverage(T0, ()), "No delegations"),
    ],
)
def test_empty_states_say_what_to_do(cov: Coverage | None, expected: str) -> None:
    parsed = parse(reports.coverage_html(cov))
    assert_inert(parsed)
    visible = " ".join("".join(parsed.text).split())
    assert expected in visible
    assert not parsed.named("table")
