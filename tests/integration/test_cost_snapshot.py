"""The daily cost snapshot over the emulator's Cost Management Query API and Azurite: every delegated
scope's last full month, what cannot be read said plainly, Microsoft's QPU limits kept (counted on
the emulator's journal on a large estate), 429s survived."""

from __future__ import annotations

import html
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from shared import catalogue, model, money
from shared.azure import costs as costs_adapter
from shared.snapshots import DelegationSnapshot
from shared.usecases import at_stake, costs, coverage_view, outcomes
from tests.support import clocks, demo, triggers, world

NOW = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)


def scope_of(part: str) -> str:
    return demo.delegation(part)["scope"].lower()


def test_the_snapshot_caches_each_scope_and_says_what_it_cannot_read(emulator, palwatch):
    triggers.verify_now()
    emulator.control("POST", "/costs/qpu", {"quotas": False})
    # After the verification, Relecloud's app delegation loses every identity we act as.
    changed = {
        **demo.delegation("relecloud-app"),
        "authorizations": [demo.delegation("adventureworks")["authorizations"][0]],
    }
    emulator.control("PUT", f"/delegations/{changed['registrationAssignmentId']}", changed)
    outcome = costs.run_cost_snapshot(palwatch, NOW, pacer=clocks.fake_pacer(clocks.FakeClock()), force=True)

    cached = palwatch.store.costs.all()
    scopes = {s.scope.lower() for s in palwatch.store.list_delegations(include_removed=False)}
    assert set(cached) == scopes
    assert outcome.counts["read"] + sum(outcome.facts["unreadable"].values()) == len(scopes)
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
    before = len(world.cost_queries(emulator))
    again = costs.run_cost_snapshot(
        palwatch, NOW + timedelta(hours=2), pacer=clocks.fake_pacer(clocks.FakeClock()), force=True
    )
    assert again.counts["due"] == 0
    assert len(world.cost_queries(emulator)) == before


@pytest.mark.parametrize("status", [401, 403])
def test_view_charges_off_is_recognised_whatever_the_status(emulator, palwatch, status):
    triggers.verify_now()
    emulator.control("POST", "/config", {"assumptions": {"costViewChargesOffStatus": status}})
    emulator.control("POST", "/costs/qpu", {"quotas": False})
    costs.run_cost_snapshot(palwatch, NOW, pacer=clocks.fake_pacer(clocks.FakeClock()), force=True)
    woodgrove = palwatch.store.costs.get(demo.delegation("woodgrove-core")["scope"])
    assert woodgrove is not None
    assert woodgrove.status is money.CostStatus.VIEW_CHARGES_OFF


class EmulatorClock(clocks.FakeClock):
    """A fake clock the emulator's QPU quotas run on too: sleeping advances both, so the emulator
    judges every query by its quotas in the same virtual time (a day of pacing in seconds)."""

    def __init__(self, emulator, quotas: object = True) -> None:
        super().__init__()
        self.emulator = emulator
        emulator.control("POST", "/costs/qpu", {"quotas": quotas, "clock": self.now})

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        self.emulator.control("POST", "/costs/qpu", {"advance": seconds})


@pytest.mark.parametrize("headers", ["qpu", "both"])
def test_the_snapshot_survives_429s_by_waiting_as_the_service_says(emulator, palwatch, headers):
    triggers.verify_now()
    emulator.control("POST", "/config", {"assumptions": {"costThrottleHeaders": headers}})
    clock = EmulatorClock(emulator, [[2, 3]])  # far below the pacer's idea of the budget
    outcome = costs.run_cost_snapshot(palwatch, NOW, pacer=clocks.fake_pacer(clock), force=True)

    answers = Counter(r["status"] for r in world.cost_queries(emulator))
    assert answers[429] > 0
    assert outcome.counts["throttled"] == 0
    assert answers[200] + answers[401] + answers[403] == outcome.counts["queried"]
    assert len(palwatch.store.costs.all()) == outcome.counts["scopes"]
    assert len(clock.slept) >= answers[429]  # each 429 waited for, as the service said


def _seed_large_estate(palwatch, scenario) -> set[str]:
    """The snapshots the verification keeps for the large estate (those naming an identity of the
    partner, with their permanent roles), written in table transactions; their scopes."""
    home = scenario["tenants"][0]
    identities = {p["objectId"] for p in home["principals"] if p["type"] in ("ManagedIdentity", "ServicePrincipal")}
    seen = [d for d in scenario["delegations"] if {a["principalId"] for a in d["authorizations"]} & identities]
    palwatch.store.put_delegations(
        DelegationSnapshot(
            key=d["registrationAssignmentId"],
            assignment_id=d["registrationAssignmentId"],
            customer_tenant_id="",
            scope=d["scope"],
            managed_by_tenant_id=home["tenantId"],
            authorizations=tuple(
                model.Authorization(a["principalId"], a["roleDefinitionId"]) for a in d["authorizations"]
            ),
            updated_at=NOW,
        )
        for d in seen
    )
    return {d["scope"].lower() for d in seen}


class Journal:
    """The emulator's journal read on from where the last read stopped."""

    def __init__(self, emulator) -> None:
        self.emulator = emulator
        self.seq = 0
        self.seen: list[dict] = []

    def new_queries(self) -> list[dict]:
        requests = self.emulator.control("GET", f"/journal?since={self.seq}")["requests"]
        if requests:
            self.seq = requests[-1]["seq"]
        found = [r for r in requests if r["method"] == "POST" and r["path"].lower().endswith(world.COST_QUERY)]
        self.seen += found
        return found


def _lost(scopes: list[str]) -> list[model.RecordedFinding]:
    return [
        model.RecordedFinding(
            model.Finding(
                key=f"lost:{scope}",
                kind=catalogue.Kind.ATTRIBUTION_LOST,
                severity=model.Severity.CRITICAL,
                subject=scope,
                title="Partner credit lost",
                scope=scope,
            ),
            NOW,
        )
        for scope in scopes
    ]


def test_on_the_large_estate_the_snapshot_keeps_the_documented_limits_survives_429s_and_alerts_never_query(
    emulator, palwatch
):
    from emulator.large_scenario import large

    scenario = large(1000, 5000)  # the bench's estate (BENCHMARKS.md)
    emulator.reset(scenario)
    scopes = _seed_large_estate(palwatch, scenario)
    assert len(scopes) > 3000
    clock = EmulatorClock(emulator)  # the emulator enforces 12 QPU / 10 s, 60 / min, 600 / h on it
    pacer = clocks.fake_pacer(clock)
    journal = Journal(emulator)

    # Hourly runs until every scope is read.
    runs: list[outcomes.Outcome] = []
    at = NOW
    while True:
        outcome = costs.run_cost_snapshot(palwatch, at, pacer=pacer, force=True)
        assert len(journal.new_queries()) == outcome.counts["queried"] <= costs.MAX_QUERIES_PER_RUN
        runs.append(outcome)
        if not outcome.counts["leftForNextRun"]:
            break
        assert len(runs) < 24, "an hourly timer covers the large estate within a day"
        clock.sleep(3600)
        at += timedelta(hours=1)

    answers = Counter(r["status"] for r in journal.seen)
    assert answers[429] == 0  # the emulator, on the same clock, refused nothing: every window was kept
    assert answers[200] + answers[403] == len(journal.seen) == sum(r.counts["queried"] for r in runs)
    assert len(runs) == -(-len(journal.seen) // costs.MAX_QUERIES_PER_RUN)  # full runs until all is read
    asked = Counter((r["path"].lower(), r["objectId"]) for r in journal.seen)
    assert max(asked.values()) == 1  # no scope asked twice as the same identity
    assert set(palwatch.store.costs.all()) == scopes
    assert sum(r.counts["read"] + sum(r.facts["unreadable"].values()) for r in runs) == len(scopes)

    # The next run that day finds nothing due and asks nothing: at most one call per scope a day.
    again = costs.run_cost_snapshot(palwatch, at + timedelta(hours=1), pacer=pacer, force=True)
    assert again.counts["due"] == 0
    assert journal.new_queries() == []

    # An alert on any of those scopes reads the cache and queries nothing.
    said = [r.finding.facts["cost"] for r in at_stake.with_money(palwatch, _lost(sorted(scopes)[:50]), at)]
    assert all("/month of Azure consumed revenue" in s or "cannot be read" in s for s in said)
    assert any("/month of Azure consumed revenue" in s for s in said)
    assert journal.new_queries() == []

    # A month on, another tool in the tenant spends most of every window: the budget left is below
    # the pacer's share, so the service throttles, and the run waits each 429 out as it is told.
    # (A refused query, 403, spends no QPU: the squeeze leaves room for a fifth of the pacer's share.)
    clock = EmulatorClock(emulator, [[10, 2], [60, 12], [3600, 300]])
    squeezed = costs.run_cost_snapshot(palwatch, NOW + timedelta(days=31), pacer=clocks.fake_pacer(clock), force=True)
    throttled = journal.new_queries()
    statuses = Counter(r["status"] for r in throttled)
    assert statuses[429] > 0, (squeezed, statuses)
    assert squeezed.counts["throttled"] == 0
    assert statuses[200] + statuses[403] == squeezed.counts["queried"] <= costs.MAX_QUERIES_PER_RUN
    done = squeezed.counts["read"] + sum(squeezed.facts["unreadable"].values())
    assert squeezed.counts["leftForNextRun"] == len(scopes) - done  # the rest waits for the next run
    month = money.last_full_month(NOW + timedelta(days=31))
    assert sum(1 for c in palwatch.store.costs.all().values() if c.month == month) == done


def test_report_and_coverage_page_show_revenue_attributed_and_at_stake(emulator, palwatch, capsys):
    import json

    from shared import cli

    triggers.verify_now()
    emulator.control("POST", "/costs/qpu", {"quotas": False})
    costs.run_cost_snapshot(palwatch, NOW, pacer=clocks.fake_pacer(clocks.FakeClock()), force=True)
    mark = emulator.journal()[-1]["seq"]

    assert cli.main(["report", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)["money"]
    assert document["month"] == "2026-11"
    assert document["totals"]["attributed"]["USD"] > 0
    woodgrove = next(c for c in document["customers"] if c["customerTenantName"] == "Woodgrove Bank")
    assert woodgrove["atStake"] == {"USD": 1450}  # the dev subscription; the core one's EA view charges are off
    assert woodgrove["scopesWithoutCost"] == 1
    counted = [s for s in document["scopes"] if s["countedInTotals"] and s["monthlyRevenue"] is not None]
    assert document["totals"]["figures"] == {"observed": 0, "estimated": len(counted)}
    assert {s["figure"] for s in counted} == {"estimated (Cost Management)"}
    assert cli.main(["report"]) == 0
    out = capsys.readouterr().out
    assert "at stake" in out
    assert f"figures: {len(counted)} scopes estimated (Cost Management), none observed (Microsoft billing)." in out
    page = coverage_view.coverage_page(palwatch, "html", "")
    assert "Revenue attributed and at stake" in page.body
    csv_page = coverage_view.coverage_page(palwatch, "csv", "")
    assert "monthlyRevenue" in csv_page.body.splitlines()[0]
    assert not [r for r in emulator.journal() if r["seq"] > mark and r["path"].lower().endswith(world.COST_QUERY)]


def test_through_the_timer_what_cannot_be_read_reaches_the_cli_page_and_csv_in_plain_words(
    emulator, palwatch, monkeypatch, capsys
):
    import csv
    import io

    from azure.functions.timer import TimerRequest

    import function_app
    from shared import cli
    from shared.usecases import engine as engine_module

    triggers.verify_now()
    monkeypatch.setenv("PAL_COST", "true")
    engine_module.reset_engine()
    pacer = clocks.fake_pacer(clocks.FakeClock())
    monkeypatch.setattr(costs_adapter, "QpuPacer", lambda: pacer)  # the timer's pacing, on a fake clock
    # After the verification, Relecloud's app delegation loses every identity we act as: a 403 there.
    changed = {
        **demo.delegation("relecloud-app"),
        "authorizations": [demo.delegation("adventureworks")["authorizations"][0]],
    }
    emulator.control("PUT", f"/delegations/{changed['registrationAssignmentId']}", changed)

    function_app.cost_snapshot(TimerRequest(past_due=False))

    engine = engine_module.get_engine()
    forbidden = "no identity PAL Watch acts as may read costs there (403; Cost Management Reader or Reader is needed)"
    view_charges = "Enterprise Agreement subscription with 'account owner can view charges' off"
    currencies = "the scope is billed in more than one currency (GBP, USD), so no total is given"
    assert cli.main(["report"]) == 0
    text = capsys.readouterr().out
    for scope, words in (("relecloud-app", forbidden), ("woodgrove-core", view_charges), ("proseware", currencies)):
        line = next(ln for ln in text.splitlines() if demo.delegation(scope)["scope"] in ln and "cannot be read" in ln)
        assert words in line
    page = coverage_view.coverage_page(engine, "html", "").body
    assert "Costs PAL Watch cannot read" in page
    for words in (forbidden, view_charges, currencies):
        assert html.escape(words) in page
    rows = list(csv.DictReader(io.StringIO(coverage_view.coverage_page(engine, "csv", "").body)))
    notes = {r["scope"]: r["costNote"] for r in rows}
    assert notes[demo.delegation("relecloud-app")["scope"]] == forbidden
    assert notes[demo.delegation("woodgrove-core")["scope"]].startswith(view_charges)
    assert notes[demo.delegation("proseware")["scope"]] == currencies
    assert notes[demo.delegation("northwind")["scope"]] == ""
