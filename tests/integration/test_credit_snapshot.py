"""The credit snapshot over the emulator's Graph partner billing export and Azurite: the join on the Azure
subscription (EntitlementId, never the billing SubscriptionId), credit_missing with the dollars from the lines,
credit_unexplained, the CSP subscriptions kept, Retry-After honoured both ways, and O(blobs) requests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared import model
from shared.azure import billing as billing_adapter
from shared.decisions import billing
from shared.usecases import coverage_view, credit
from tests.support import demo, world

PEC = "PartnerBilling.Read.All"
FABRIKAM = demo.delegation("fabrikam")["scope"].split("/")[2]  # CSP, attributed by the managed identity
NORTHWIND = demo.delegation("northwind")["scope"].split("/")[2]  # CSP, attributed and credited
STRANGER = "6a1f0c53-2d0e-4c1b-9a43-5f7c1e2b8d90"  # a CSP subscription PAL Watch does not watch
LONG_AGO = "2026-01-05T09:00:00Z"


def usage_line(subscription: str, day: str, cost: float, percent: int, **extra: object) -> dict[str, object]:
    """A daily rated usage line in Microsoft's attribute names; its billing SubscriptionId is not the Azure one."""
    return {
        "PartnerId": demo.MANAGING,
        "CustomerId": demo.FABRIKAM.tenant_id,
        "MpnId": "5127255",
        "Tier2MpnId": "",
        "SubscriptionId": str(uuid.uuid5(uuid.NAMESPACE_URL, subscription)),  # the Azure plan's, not the Azure one
        "EntitlementId": subscription,
        "EntitlementDescription": "Azure subscription 1",
        "UsageDate": f"{day}T00:00:00Z",
        "ChargeType": "new",
        "MeterCategory": "Virtual Machines",
        "BillingPreTaxTotal": cost,
        "BillingCurrency": "USD",
        "PartnerEarnedCreditPercentage": percent,
        **extra,
    }


def complete_days(now: datetime, count: int) -> list[str]:
    last = datetime.fromisoformat(billing.last_complete_day(now))
    return [(last - timedelta(days=i)).date().isoformat() for i in range(count)]


def estate(emulator, *, retry_after: str = "sent", lines_per_blob: int = 1000) -> datetime:
    """The demo world with billing access and links made long ago; the usage of two complete days."""
    scenario = demo.scenario_copy()
    mi = demo.principal_in(scenario, demo.MI)
    mi["graphAppRoles"] = sorted({*mi["graphAppRoles"], PEC})
    for link in scenario["links"]:
        link["createdTime"] = LONG_AGO
    scenario.setdefault("emulator", {})["assumptions"] = {"billingRetryAfter": retry_after}
    emulator.reset(scenario)
    now = datetime.now(UTC)
    first, second = complete_days(now, 2)
    lines = [
        usage_line(FABRIKAM, first, 120.50, 0, ResourceGroup="rg-app"),
        usage_line(FABRIKAM, second, 80.25, 0, ResourceGroup="rg-app"),
        usage_line(NORTHWIND, first, 200.0, 15),
        usage_line(NORTHWIND, second, 100.0, 15),
        usage_line(STRANGER, first, 50.0, 15),
    ]
    body = {"currency": "USD", "usage": lines, "linesPerBlob": lines_per_blob, "retryAfterSeconds": 1}
    emulator.control("PUT", "/partnerBilling", body)
    return now


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_credit_missing_joins_on_the_azure_subscription_and_prices_the_lost_days(emulator, palwatch):
    from tests.support import triggers

    now = estate(emulator)
    triggers.verify_now()
    outcome = credit.run_credit_snapshot(palwatch, now, sleep=Sleeps(), force=True)
    assert outcome.status == "ok", outcome.detail

    found = {r.finding.key: r.finding for r in palwatch.store.open_findings()}
    missing = found.get(f"credit_missing:/subscriptions/{FABRIKAM}")
    assert missing is not None, sorted(found)  # a join on SubscriptionId finds no delegated scope
    assert missing.severity is model.Severity.CRITICAL
    assert missing.facts["path"] == "assumed"  # the days predate PAL Watch's first verification
    assert "$200.75 billed" in missing.facts["cost"]
    assert "$30.11 of partner earned credit" in missing.facts["cost"]  # 200.75 x 15 %, the export's own rate
    assert "the same export" in missing.facts["cost"]
    assert "2026-01-05" in missing.fix  # linked since, from the link's createdTime
    assert f"credit_missing:/subscriptions/{NORTHWIND}" not in found
    unexplained = found.get(f"credit_unexplained:/subscriptions/{STRANGER}")
    assert unexplained is not None
    assert unexplained.severity is model.Severity.INFO
    assert "AOBO" in unexplained.fix

    assert palwatch.store.billing.csp_subscriptions() == {FABRIKAM, NORTHWIND, STRANGER}
    latest = palwatch.store.billing.latest()
    assert latest[f"/subscriptions/{NORTHWIND}"].percent == pytest.approx(15)
    assert latest[f"/subscriptions/{FABRIKAM}/resourcegroups/rg-app"].billed == pytest.approx(120.50)

    # The coverage says what Microsoft's billing shows beside PAL Watch's verdict.
    observed = {r.scope.lower(): r.credit_observed for r in coverage_view.current(palwatch).rows}
    day = complete_days(now, 1)[0]
    assert observed[f"/subscriptions/{NORTHWIND}"] == f"credited {day}: 15 % of $200.00 (Microsoft billing)"
    assert observed[f"/subscriptions/{FABRIKAM}"] == f"not credited {day}: 0 % of $120.50 (Microsoft billing)"
    assert observed[demo.delegation("woodgrove-core")["scope"].lower()] == "not in billing"

    # The next day's run, with the days credited after all: the findings resolve.
    first, second = complete_days(now, 2)
    lines = [usage_line(FABRIKAM, day, 10.0, 15) for day in (first, second)]
    emulator.control("PUT", "/partnerBilling", {"currency": "USD", "usage": lines, "retryAfterSeconds": 0})
    credit.run_credit_snapshot(palwatch, now, sleep=Sleeps(), force=True)
    still = {r.finding.key for r in palwatch.store.open_findings()}
    assert f"credit_missing:/subscriptions/{FABRIKAM}" not in still
    assert f"credit_unexplained:/subscriptions/{STRANGER}" not in still


@pytest.mark.parametrize("retry_after", ["sent", "absent"])
def test_the_operation_is_polled_as_retry_after_says(emulator, palwatch, retry_after):
    now = estate(emulator, retry_after=retry_after)
    sleeps = Sleeps()
    outcome = credit.run_credit_snapshot(palwatch, now, sleep=sleeps, force=True)
    assert outcome.status == "ok", outcome.detail
    expected = 1.0 if retry_after == "sent" else billing_adapter.DEFAULT_POLL_SECONDS
    assert sleeps
    assert set(sleeps) == {expected}


def billing_requests(emulator, since: int = 0) -> list[dict[str, object]]:
    return [
        r
        for r in emulator.control("GET", f"/journal?since={since}")["requests"]
        if "/reports/partners/billing/" in str(r["path"]) or str(r["path"]).startswith("/partnerbillingblobs/")
    ]


def test_the_snapshot_makes_one_request_per_blob_plus_a_constant(emulator, palwatch):
    now = estate(emulator, lines_per_blob=2)  # five lines: three blobs
    emulator.control("DELETE", "/journal")
    outcome = credit.run_credit_snapshot(palwatch, now, sleep=Sleeps(), force=True)
    sent = billing_requests(emulator)
    blobs = [r for r in sent if str(r["path"]).startswith("/partnerbillingblobs/")]
    exports = len(credit.periods(now))
    assert outcome.counts["blobs"] == len(blobs) == 3
    assert all(int(r["status"]) < 400 for r in sent)
    # per export: one POST, three polls (notStarted, running, succeeded), one manifest; then one GET per blob
    assert len(sent) == exports * 5 + len(blobs)

    lines = [usage_line(FABRIKAM, complete_days(now, 1)[0], 1.0, 0) for _ in range(40)]
    emulator.control("PUT", "/partnerBilling", {"currency": "USD", "usage": lines, "linesPerBlob": 10})
    emulator.control("DELETE", "/journal")
    outcome = credit.run_credit_snapshot(palwatch, now, sleep=Sleeps(), force=True)
    assert outcome.counts["lines"] == 40
    assert len(billing_requests(emulator)) == exports * 5 + 4


def test_without_the_permission_the_snapshot_fails_plainly(emulator, palwatch):
    scenario = demo.scenario_copy()
    mi = demo.principal_in(scenario, demo.MI)
    mi["graphAppRoles"] = [role for role in mi["graphAppRoles"] if role != PEC]
    emulator.reset(scenario)
    now = datetime.now(UTC)
    outcome = credit.run_credit_snapshot(palwatch, now, sleep=Sleeps(), force=True)
    assert outcome.status == "failed"
    assert "PartnerBilling.Read.All" in outcome.detail
    assert world.links(emulator)  # nothing else touched


def test_off_unless_enabled(palwatch):
    assert credit.run_credit_snapshot(palwatch, datetime.now(UTC), sleep=Sleeps()).status == "off"


def test_transient_failures_are_retried_and_a_lasting_one_is_said_plainly(emulator, palwatch):
    now = estate(emulator, lines_per_blob=2)
    emulator.control(
        "POST", "/faults", [{"route": "^/partnerbillingblobs/", "status": 503, "retryAfter": 0, "count": 2}]
    )
    outcome = credit.run_credit_snapshot(palwatch, now, sleep=Sleeps(), force=True)
    assert outcome.status == "ok", outcome.detail  # two 503s on the blobs: retried by the HTTP client
    assert outcome.counts["lines"] == 5

    world.fail_requests(emulator, 1.0, "^/partnerbillingblobs/")
    outcome = credit.run_credit_snapshot(palwatch, now, sleep=Sleeps(), force=True)
    assert outcome.status == "failed"
    assert "could not be read" in outcome.detail
    assert "sig=" not in outcome.detail  # the SAS never reaches a message
