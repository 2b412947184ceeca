"""The money at stake, as data: sentences, totals per customer and scope, orders, the digest's lead."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from shared import model, money, reports
from shared.notify import digest as digest_
from shared.reports import money as money_report
from shared.snapshots import CoverageRow
from shared.store.store import Coverage
from shared.usecases import at_stake
from shared.usecases import digest as digest_usecase

NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
SUB = "/subscriptions/11111111-1111-1111-1111-111111111111"
RG = SUB + "/resourceGroups/rg-data"
OTHER = "/subscriptions/22222222-2222-2222-2222-222222222222"
EURO = "/subscriptions/33333333-3333-3333-3333-333333333333"


def cost(scope: str, *lines: tuple[float, str, str, str]) -> money.ScopeCost:
    return money.from_lines(scope, "2026-11", NOW, [money.ChargeLine(*line) for line in lines])


def row(scope: str, tenant: str, name: str, attributed: bool, key: str = "") -> CoverageRow:
    return CoverageRow(
        delegation_key=key or scope, customer_tenant_id=tenant, customer_tenant_name=name, scope=scope,
        attributed=attributed, status="attributed" if attributed else "not_attributed",
    )  # fmt: skip


COSTS = {
    SUB: cost(
        SUB, (16100, "OnDemand", "Azure", "USD"), (2300, "SavingsPlan", "Azure", "USD"), (410, "Spot", "Azure", "USD")
    ),
    RG: cost(RG, (5400, "OnDemand", "Azure", "USD")),
    OTHER: cost(OTHER, (1000, "OnDemand", "Azure", "USD"), (640, "OnDemand", "Marketplace", "USD")),
    EURO: cost(EURO, (4300, "OnDemand", "Azure", "EUR")),
}  # fmt: skip
ROWS = (
    row(SUB, "t1", "Northwind <Traders>", False),
    row(RG, "t1", "Northwind <Traders>", True),
    row(OTHER, "t2", "Fabrikam", True),
    row(EURO, "t3", "Litware", False),
)


def test_what_earns_pec_and_what_counts_as_revenue():
    c = COSTS[OTHER]
    assert c.acr == 1000  # Marketplace is not Azure consumed revenue
    assert c.pec_base == 1000
    assert COSTS[SUB].pec_base == 16100  # savings plans and Spot earn no PEC
    assert c.by_kind() == {"OnDemand": 1000, "Marketplace": 640}


def test_more_than_one_currency_is_said_never_summed():
    mixed = cost(SUB, (10, "OnDemand", "Azure", "USD"), (5, "OnDemand", "Azure", "GBP"))
    assert mixed.status is money.CostStatus.MIXED_CURRENCIES
    sentence = money.at_stake("attribution_lost", mixed, None, NOW, NOW).sentence
    assert "GBP, USD" in sentence
    assert "$" not in sentence


def test_the_alert_sentence_with_and_without_a_pec_rate():
    opened = NOW - timedelta(days=10)
    plain = money.at_stake("attribution_lost", COSTS[SUB], None, opened, NOW)
    assert plain.sentence.startswith(
        "≈ $18,810/month of Azure consumed revenue on this scope (last full month, November 2026"
    )
    assert "partner earned credit" not in plain.sentence
    rated = money.at_stake("attribution_lost", COSTS[SUB], 0.15, opened, NOW, True)
    assert rated.pec == pytest.approx(2415)
    assert rated.lost_so_far == pytest.approx(2415 / money.DAYS_PER_MONTH * 10)
    assert "≈ $2,415/month partner earned credit at stake" in rated.sentence
    assert "≈ $793 lost so far (10 days since the finding opened)" in rated.sentence  # 2,415 a month, per day
    fresh = money.at_stake("attribution_lost", COSTS[SUB], 0.15, NOW - timedelta(hours=2), NOW, True)
    assert fresh.lost_so_far == pytest.approx(2415 / money.DAYS_PER_MONTH / 12)
    assert "PEC is decided per day: ≈ $79 is lost for each day this lasts" in fresh.sentence
    assert "lost so far" not in fresh.sentence  # not "$0 lost so far (0 days …)" on the day it opens
    not_csp = money.at_stake("attribution_lost", COSTS[SUB], 0.15, opened, NOW)
    assert not_csp.pec is None  # partner earned credit exists only on CSP subscriptions
    assert "PEC" not in not_csp.sentence
    assert "partner earned credit" not in not_csp.sentence
    risk = money.at_stake("identity_lost", COSTS[SUB], 0.15, opened, NOW)
    assert risk.pec is None
    assert "fewer identities" in risk.sentence
    assert money.at_stake("link_failed", COSTS[SUB], 0.15, opened, NOW).sentence == ""
    assert "not read yet" in money.at_stake("unattributed_delegation", None, None, opened, NOW).sentence


def test_last_full_month():
    assert money.last_full_month(datetime(2026, 1, 3, tzinfo=UTC)) == "2025-12"
    assert money.last_full_month(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == "2026-11"


def test_totals_per_customer_count_a_resource_group_inside_its_delegated_subscription_once():
    document = money_report.money_json(Coverage(NOW, ROWS), COSTS)
    assert document["totals"]["atStake"] == {"EUR": 4300, "USD": 18810}  # the RG is inside SUB
    assert document["totals"]["attributed"] == {"USD": 1000}
    northwind = next(c for c in document["customers"] if c["customerTenantId"] == "t1")
    assert northwind["atStake"] == {"USD": 18810}
    assert northwind["attributed"] == {}
    scopes = {s["scope"]: s for s in document["scopes"]}
    assert scopes[RG]["insideDelegatedSubscription"] is True
    assert scopes[SUB]["byKind"] == {"OnDemand": 16100, "SavingsPlan": 2300, "Spot": 410}
    assert document["scopes"][0]["scope"] == SUB  # not attributed, most money first


def test_the_page_section_escapes_customer_names_and_the_csv_carries_the_money():
    section = money_report.money_html(Coverage(NOW, ROWS), COSTS)
    assert "Northwind &lt;Traders&gt;" in section
    assert "<Traders>" not in section
    page = reports.coverage_html(Coverage(NOW, ROWS), money=section)
    assert "Revenue attributed and at stake" in page
    parsed = list(csv.DictReader(io.StringIO(reports.coverage_csv(Coverage(NOW, ROWS), COSTS))))
    assert {r["scope"]: r["monthlyRevenue"] for r in parsed}[SUB] == "18810.00"
    assert {r["scope"]: r["costStatus"] for r in parsed}[EURO] == "ok"
    assert "monthlyRevenue" not in reports.coverage_csv(Coverage(NOW, ROWS)).splitlines()[0]


def _recorded(key: str, scope: str, severity: model.Severity, opened: datetime) -> model.RecordedFinding:
    finding = model.Finding(key=key, kind="attribution_lost", severity=severity, subject=key, title=key, scope=scope)
    return model.RecordedFinding(finding, opened)


def test_findings_are_sorted_by_money_within_a_severity():
    recorded = [
        _recorded("small-old", OTHER, model.Severity.CRITICAL, NOW - timedelta(days=9)),
        _recorded("big-new", SUB, model.Severity.CRITICAL, NOW - timedelta(days=1)),
        _recorded("warning-biggest", SUB, model.Severity.WARNING, NOW - timedelta(days=20)),
        _recorded("unknown", "/subscriptions/44444444-4444-4444-4444-444444444444", model.Severity.CRITICAL, NOW),
    ]
    revenue = at_stake.revenue_at_stake(recorded, COSTS)
    order = [f["key"] for f in reports.findings_json(recorded, revenue=revenue)]
    assert order == ["big-new", "small-old", "unknown", "warning-biggest"]
    assert reports.findings_json(recorded)[0]["key"] == "small-old"  # without costs: oldest first


def test_the_digest_leads_with_the_money_at_stake():
    coverage = Coverage(NOW, ROWS)
    sentence = digest_usecase.money_sentence(coverage, COSTS)
    assert sentence.startswith("≈ 4,300 EUR + $18,810/month of Azure consumed revenue at stake on 2 scope(s)")
    summary = digest_usecase.summarise(coverage, [], NOW)
    summary = digest_.DigestSummary.from_dict({**summary.to_dict(), "money": sentence})
    assert digest_.headline(summary).startswith("≈ 4,300 EUR + $18,810/month of Azure consumed revenue at stake")
    lines = digest_.text_lines([digest_.to_notice(summary)])
    assert lines[2] == f"Money at stake: {sentence}"
    assert digest_usecase.money_sentence(coverage, {}) == ""


def test_an_accepted_delegation_puts_nothing_at_stake_in_the_digest():
    coverage = Coverage(NOW, ROWS)
    sentence = digest_usecase.money_sentence(coverage, COSTS, waived=[EURO])  # Litware's finding is accepted
    assert sentence.startswith("≈ $18,810/month of Azure consumed revenue at stake on 1 scope(s)")
    assert "EUR" not in sentence
