"""The billing reduction and the credit decisions as tables of plain data: the join on EntitlementId, complete
days only, recorded versus assumed paths, the rate's source, and credit PAL Watch cannot explain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared import model, roles
from shared.decisions import billing, credit_observed
from shared.snapshots import AttributedBy, DelegationSnapshot

NOW = datetime(2026, 12, 8, 6, 0, tzinfo=UTC)  # complete days: up to 2026-12-06
AZURE_SUB = "5b82540d-8a30-4a52-b67c-b70ff304c4ef"
PLAN_SUB = "0f3e2a11-7d5c-4c6b-9a8e-1b2c3d4e5f60"  # the Azure plan's billing subscription
LINKED = "c68cbf75-e3ff-4bd0-bedc-b44d61c87e77"
CONTRIBUTOR = roles.CONTRIBUTOR


def line(day: str, cost: float, percent: float, subscription: str = AZURE_SUB, **extra: object) -> dict[str, object]:
    return {
        "EntitlementId": subscription,
        "SubscriptionId": PLAN_SUB,
        "CustomerId": "52b02585-603e-4e21-85cd-9bbea1fbcb60",
        "UsageDate": f"{day}T00:00:00",
        "BillingPreTaxTotal": cost,
        "BillingCurrency": "USD",
        "PartnerEarnedCreditPercentage": percent,
        "MpnId": "5127255",
        **extra,
    }


def snapshot(
    since: datetime, scope: str = f"/subscriptions/{AZURE_SUB}", attributed: bool = True
) -> DelegationSnapshot:
    return DelegationSnapshot(
        key=f"{scope}/providers/microsoft.managedservices/registrationassignments/a1",
        assignment_id="a1",
        customer_tenant_id="52b02585-603e-4e21-85cd-9bbea1fbcb60",
        scope=scope,
        customer_tenant_name="Fabrikam, Inc.",
        attributed_by=(AttributedBy(LINKED, CONTRIBUTOR, display_name="id-palwatch-contoso"),),
        attributed=attributed,
        since=since,
    )


def test_lines_join_on_the_azure_subscription_not_the_billing_subscription():
    usage = billing.reduce_lines([line("2026-12-05", 10, 0), line("2026-12-05", 5.5, 0, ResourceGroup="RG-App")])
    assert set(usage.days) == {
        (f"/subscriptions/{AZURE_SUB}", "2026-12-05"),
        (f"/subscriptions/{AZURE_SUB}/resourcegroups/rg-app", "2026-12-05"),
    }
    assert usage.subscriptions == {AZURE_SUB}
    assert PLAN_SUB not in str(usage.days)
    assert usage.days[(f"/subscriptions/{AZURE_SUB}", "2026-12-05")].billed == pytest.approx(15.5)


def test_lines_the_reduction_cannot_use_are_counted_not_raised():
    usage = billing.reduce_lines(
        [
            line("2026-12-05", 1, 0),
            {"EntitlementId": "", "UsageDate": "2026-12-05"},
            line("bad", 1, 0),
            line("2026-12-05", "x", 0),
        ]
    )
    assert usage.lines == 4
    assert usage.skipped == 3


@pytest.mark.parametrize(
    ("now", "day", "complete"),
    [
        (NOW, "2026-12-06", True),
        (NOW, "2026-12-07", False),  # ended six hours ago: its usage is not all in
        (datetime(2026, 12, 8, 0, 0, tzinfo=UTC), "2026-12-06", True),
        (datetime(2026, 12, 7, 23, 59, tzinfo=UTC), "2026-12-06", False),
    ],
)
def test_only_days_a_day_past_their_end_are_judged(now, day, complete):
    assert billing.complete(day, now) is complete
    assert (billing.last_complete_day(now) >= day) is complete


@pytest.mark.parametrize(
    ("since", "linked", "expected"),
    [
        (datetime(2026, 11, 1, tzinfo=UTC), None, "recorded"),  # attributed before the days began
        (NOW - timedelta(hours=1), datetime(2026, 1, 5, tzinfo=UTC), "assumed"),  # first seen today, linked long ago
        (NOW - timedelta(hours=1), datetime(2026, 12, 6, 12, tzinfo=UTC), ""),  # linked during the day: not whole
        (NOW - timedelta(hours=1), None, ""),
    ],
)
def test_a_path_held_the_whole_day_as_recorded_or_assumed(since, linked, expected):
    assert credit_observed.path_held(snapshot(since), "2026-12-06", {LINKED: linked}) == expected


def test_credit_missing_prices_the_lost_days_at_the_exports_own_rate():
    usage = billing.reduce_lines(
        [
            line("2026-12-05", 120.50, 0),
            line("2026-12-06", 80.25, 0),
            line("2026-12-07", 999, 0),  # not complete yet: not judged, not priced
            line("2026-12-06", 300, 15, subscription="8d6ebcbb-ba20-4268-b209-47e86716c87c"),
        ]
    )
    since = datetime(2026, 11, 1, tzinfo=UTC)
    judged = credit_observed.judge(usage, [snapshot(since)], {}, NOW, 0.10, "tenant")
    missing = [f for f in judged.findings if f.kind == model.Kind.CREDIT_MISSING]
    assert len(missing) == 1
    finding = missing[0]
    assert finding.severity is model.Severity.CRITICAL
    assert finding.facts["days"] == "2026-12-05, 2026-12-06"
    assert "$30.11 of partner earned credit" in finding.facts["cost"]  # 200.75 x 15 %, not PAL_PEC_RATE's 10 %
    assert finding.facts["rateSource"] == "billing"
    assert finding.facts["path"] == "recorded"
    unexplained = [f for f in judged.findings if f.kind == model.Kind.CREDIT_UNEXPLAINED]
    assert [f.scope for f in unexplained] == ["/subscriptions/8d6ebcbb-ba20-4268-b209-47e86716c87c"]
    assert all(row.day <= "2026-12-06" for row in judged.observed)


def test_without_credited_lines_the_setting_prices_it_and_says_so():
    usage = billing.reduce_lines([line("2026-12-06", 100, 0)])
    judged = credit_observed.judge(usage, [snapshot(datetime(2026, 11, 1, tzinfo=UTC))], {}, NOW, 0.15, "t")
    assert "PAL_PEC_RATE" in judged.findings[0].facts["cost"]
    assert "$15.00" in judged.findings[0].facts["cost"]
    none = credit_observed.judge(usage, [snapshot(datetime(2026, 11, 1, tzinfo=UTC))], {}, NOW, None, "t")
    assert none.findings[0].severity is model.Severity.WARNING  # no figure: no critical


def test_a_scope_not_attributed_or_credited_yields_nothing():
    usage = billing.reduce_lines([line("2026-12-06", 100, 0)])
    judged = credit_observed.judge(usage, [snapshot(NOW, attributed=False)], {}, NOW, 0.15, "t")
    assert judged.findings == []
