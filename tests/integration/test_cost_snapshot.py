"""The daily cost snapshot over the emulator's Cost Management Query API and Azurite: every delegated
scope's last full month, what cannot be read said plainly, Microsoft's QPU limits kept (counted on
the emulator's journal on a large estate), 429s survived."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from shared import money
from shared.azure import costs as costs_adapter
from shared.snapshots import DelegationSnapshot
from shared.usecases import costs
from tests.integration.verify_helpers import delegation, verify_now

NOW = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
QUERY = "/providers/microsoft.costmanagement/query"


class FakeClock:
    """Virtual seconds: sleeping advances them, so a day of pacing runs in no time."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def fake_pacer(clock: FakeClock) -> costs_adapter.QpuPacer:
    return costs_adapter.QpuPacer(clock=clock.clock, sleep=clock.sleep)


def queries(emulator) -> list[dict]:
    return [r for r in emulator.journal() if r["method"] == "POST" and r["path"].lower().endswith(QUERY)]


def scope_of(part: str) -> str:
    return delegation(part)["scope"].lower()


def test_the_snapshot_caches_each_scope_and_says_what_it_cannot_read(emulator, palwatch):
    verify_now()
    emulator.control("POST", "/costs/qpu", {"quotas": False})
    # After the verification, Relecloud's app delegation loses every identity we act as.
    changed = {**delegation("relecloud-app"), "authorizations": [delegation("adventureworks")["authorizations"][0]]}
    emulator.control("PUT", f"/delegations/{changed['registrationAssignmentId']}", changed)
    outcome = costs.run_cost_snapshot(palwatch, NOW, pacer=fake_pacer(FakeClock()), force=True)

    cached = palwatch.store.costs.all()
    scopes = {s.scope.lower() for s in palwatch.store.list_delegations(include_removed=False)}
    assert set(cached) == scopes
    assert outcome.read + sum(outcome.unreadable.values()) == len(scopes)
    northwind = cached[scope_of("northwind")]
    assert northwind.known
    assert northwind.month == "2026-11"
    assert northwind.currency == "USD"
    assert northwind.acr == pytest.approx(16100 + 2300 + 410)
    assert northwind.pec_base == pytest.approx(16100)
    tailwind_data = cached[scope_of("tailwind-data")]
    assert tailwind_data.acr == pytest.approx(5400 + 1200)  # the resource group's own charges only
    assert cached[scope_of("woodgrove-core")].status is money.CostStatus.VIEW_CHARGES_OFF
    assert cached[scope_of("proseware")].status is money.CostStatus.MIXED_CURRENCIES
    assert cached[scope_of("relecloud-app")].status is money.CostStatus.FORBIDDEN
    assert (
        "cannot be read"
        in money.at_stake("attribution_lost", cached[scope_of("woodgrove-core")], None, NOW, NOW).sentence
    )

    # The next run the same day asks for nothing: at most one call per scope per day.
    before = len(queries(emulator))
    again = costs.run_cost_snapshot(palwatch, NOW + timedelta(hours=2), pacer=fake_pacer(FakeClock()), force=True)
    assert again.due == 0
    assert len(queries(emulator)) == before


@pytest.mark.parametrize("status", [401, 403])
def test_view_charges_off_is_recognised_whatever_the_status(emulator, palwatch, status):
    verify_now()
    emulator.control("POST", "/config", {"assumptions": {"costViewChargesOffStatus": status}})
    emulator.control("POST", "/costs/qpu", {"quotas": False})
    costs.run_cost_snapshot(palwatch, NOW, pacer=fake_pacer(FakeClock()), force=True)
    woodgrove = palwatch.store.costs.get(delegation("woodgrove-core")["scope"])
    assert woodgrove is not None
    assert woodgrove.status is money.CostStatus.VIEW_CHARGES_OFF


@pytest.mark.parametrize("headers", ["qpu", "both"])
def test_the_snapshot_survives_429s_by_waiting_as_the_service_says(emulator, palwatch, headers):
    verify_now()
    emulator.control("POST", "/config", {"assumptions": {"costThrottleHeaders": headers}})
    emulator.control("POST", "/costs/qpu", {"quotas": [[2, 3]]})  # far below the pacer's idea of the budget
    outcome = costs.run_cost_snapshot(palwatch, NOW, force=True)  # the real clock: the waits are real

    answers = Counter(r["status"] for r in queries(emulator))
    assert answers[429] > 0
    assert outcome.throttled == 0
    assert answers[200] + answers[401] + answers[403] == outcome.queried
    assert len(palwatch.store.costs.all()) == outcome.scopes


def _windows_kept(instants: list[float]) -> bool:
    for window, cap in costs_adapter.DOCUMENTED_QUOTAS:
        for i, start in enumerate(instants):
            if sum(1 for t in instants[i:] if t < start + window) > cap:
                return False
    return True


def test_on_a_large_estate_one_run_stays_within_the_documented_limits(emulator, palwatch):
    from emulator.large_scenario import large

    scenario = large(120, 600)
    emulator.reset(scenario)
    emulator.control("POST", "/costs/qpu", {"quotas": False})  # the engine's own pacing is under test
    home = scenario["tenants"][0]["tenantId"]
    for d in scenario["delegations"]:
        palwatch.store.put_delegation(
            DelegationSnapshot(
                key=d["registrationAssignmentId"], assignment_id=d["registrationAssignmentId"],
                customer_tenant_id="", scope=d["scope"], managed_by_tenant_id=home, updated_at=NOW,
            )
        )  # fmt: skip
    scopes = {d["scope"].lower() for d in scenario["delegations"]}
    clock = FakeClock()
    pacer = fake_pacer(clock)

    first = costs.run_cost_snapshot(palwatch, NOW, pacer=pacer, force=True)
    sent = queries(emulator)
    assert len(sent) == first.queried == len(pacer.sent) <= costs.MAX_QUERIES_PER_RUN
    assert first.left_for_next_run > 0
    assert _windows_kept(sorted(pacer.sent))
    assert clock.now - min(pacer.sent) <= costs.RUN_SECONDS + 60

    emulator.control("DELETE", "/journal")
    clock.now += 3600
    second = costs.run_cost_snapshot(palwatch, NOW + timedelta(hours=1), pacer=pacer, force=True)
    again = queries(emulator)
    assert len(again) == second.queried <= costs.MAX_QUERIES_PER_RUN
    assert _windows_kept(sorted(pacer.sent))
    asked = Counter((r["path"].lower(), r["objectId"]) for r in sent + again)
    assert max(asked.values()) == 1  # no scope asked twice as the same identity
    assert len(palwatch.store.costs.all()) == min(
        len(scopes), first.due - first.left_for_next_run + second.due - second.left_for_next_run
    )


def test_report_and_coverage_page_show_revenue_attributed_and_at_stake(emulator, palwatch, capsys):
    import json

    from shared import cli
    from shared.usecases import verify

    verify_now()
    emulator.control("POST", "/costs/qpu", {"quotas": False})
    costs.run_cost_snapshot(palwatch, NOW, pacer=fake_pacer(FakeClock()), force=True)
    mark = emulator.journal()[-1]["seq"]

    assert cli.main(["report", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)["money"]
    assert document["month"] == "2026-11"
    assert document["totals"]["attributed"]["USD"] > 0
    woodgrove = next(c for c in document["customers"] if c["customerTenantName"] == "Woodgrove Bank")
    assert woodgrove["atStake"] == {"USD": 1450}  # the dev subscription; the core one's EA view charges are off
    assert woodgrove["scopesWithoutCost"] == 1
    assert cli.main(["report"]) == 0
    assert "at stake" in capsys.readouterr().out
    page = verify.coverage_page(palwatch, "html", "")
    assert "Revenue attributed and at stake" in page.body
    csv_page = verify.coverage_page(palwatch, "csv", "")
    assert "monthlyRevenue" in csv_page.body.splitlines()[0]
    assert not [r for r in emulator.journal() if r["seq"] > mark and r["path"].lower().endswith(QUERY)]
