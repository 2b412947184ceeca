"""Offer types through the entry points Azure calls: a subscription on a benefit offer (its
`subscriptionPolicies.quotaId`) is reported as `not_eligible_offer`, never as not attributed, and
reading the offer costs one request per subscription on the event path and none in the
verification (the subscriptions list already carries it).
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime

import pytest

from shared import reports
from shared.usecases import costs
from tests.support import clocks, demo, engines, mail, remembered, triggers, world
from tests.support.remembered import open_findings

SUBSCRIPTION_ID = demo.RELECLOUD.subscription_id
SUBSCRIPTION = f"/subscriptions/{SUBSCRIPTION_ID}"


def _on_offer(emulator, quota_id: str) -> None:
    """The customer's subscription moves to another offer (the emulator's scenario field `quotaId`)."""
    subscriptions = copy.deepcopy(demo.RELECLOUD.raw["subscriptions"])
    subscriptions[0]["quotaId"] = quota_id
    emulator.control(
        "PUT", f"/tenants/{demo.RELECLOUD.tenant_id}", {**demo.RELECLOUD.raw, "subscriptions": subscriptions}
    )


def _offer(name: str) -> dict:
    body = world.new_delegation(demo.RELECLOUD, (demo.ALICE, demo.CONTRIBUTOR))  # a user nobody attested
    body["registrationDefinitionName"] = name
    body["registrationAssignmentId"] = str(uuid.uuid4())
    return body


def _subscription_reads(emulator) -> list[dict]:
    return [
        r for r in emulator.journal() if r["method"] == "GET" and r["path"].rstrip("/").lower() == SUBSCRIPTION.lower()
    ]


def _about(engine, key: str) -> list[tuple[str, str]]:
    return sorted((f.kind, f.severity.value) for f in open_findings(engine).values() if f.subject == key)


def test_a_benefit_subscription_is_not_eligible_and_its_offer_is_read_once(emulator, palwatch):
    _on_offer(emulator, "MSDN_2014-09-01")
    emulator.control("DELETE", "/journal")

    first = triggers.onboard(emulator, _offer("Contoso Managed Azure"))

    assert _about(palwatch, first) == [("not_eligible_offer", "info")]
    (finding,) = [f for f in open_findings(palwatch).values() if f.subject == first]
    assert "MSDN_2014-09-01" in finding.detail
    assert "Visual Studio" in finding.detail
    assert "This exclusion is an assumption" in finding.detail  # no Microsoft Learn page states the rule
    assert len(_subscription_reads(emulator)) == 1  # the event's read names no offer: one GET
    stored = palwatch.store.get_delegation(first)
    assert stored is not None
    assert stored.quota_id == "MSDN_2014-09-01"

    # The same delegation announced again: the stored snapshot knows the offer, nothing more is read.
    emulator.control("DELETE", "/journal")
    again = _offer("Contoso Managed Azure")
    again["registrationAssignmentId"] = first.rsplit("/", 1)[-1]
    triggers.onboard(emulator, again)
    assert not _subscription_reads(emulator)

    second = triggers.onboard(emulator, _offer("Contoso Premier Support"))
    emulator.control("DELETE", "/journal")
    triggers.verify_now()

    assert not _subscription_reads(emulator), "the verification takes the offer from the subscriptions list"
    for key in (first, second):
        assert _about(palwatch, key) == [("not_eligible_offer", "info")]
    assert not [
        f
        for f in open_findings(palwatch).values()
        if f.kind == "unattributed_delegation" and f.subject in (first, second)
    ]
    document = reports.coverage_json(palwatch.store.get_coverage())
    (scope,) = [s for s in document["scopes"] if s["scope"].lower() == SUBSCRIPTION.lower()]
    assert scope["offerType"] == "not_eligible"
    rows = [d for d in document["delegations"] if d["delegationKey"] in (first, second)]
    assert {(d["status"], d["quotaId"], d["offerSource"]) for d in rows} == {
        ("not_eligible_offer", "MSDN_2014-09-01", "template")
    }
    assert document["totals"]["notEligibleOffer"] >= 2
    table = reports.coverage_table(palwatch.store.get_coverage())
    assert f"{document['totals']['notEligibleOffer']} on offers that earn no ACR through PAL" in table

    # Back on a paid offer: the verification reads the new quota ID and the finding turns into "not attributed".
    _on_offer(emulator, "PayAsYouGo_2014-09-01")
    triggers.verify_now()
    assert _about(palwatch, first) == [("unattributed_delegation", "warning")]


def test_a_watcher_pass_over_several_new_delegations_reads_their_subscription_once(emulator, palwatch):
    from shared.usecases import delegations as delegations_
    from tests.support import world

    _on_offer(emulator, "FreeTrial_2014-09-01")
    bodies = [_offer(f"Offer {i}") for i in range(3)]
    for body in bodies:
        world.onboard(emulator, body)  # no events delivered: only the scope is known
    emulator.control("DELETE", "/journal")

    report = delegations_.reconcile_targets(
        palwatch, [delegations_.Target(SUBSCRIPTION, announced=True)], datetime.now(UTC)
    )

    assert len(report.delegations) >= 3
    assert len(_subscription_reads(emulator)) == 1
    kinds = {f.kind for f in open_findings(palwatch).values() if f.scope.lower() == SUBSCRIPTION.lower()}
    assert kinds == {"not_eligible_offer"}


@pytest.fixture
def alerting(emulator, palwatch, monkeypatch, tmp_path):
    """Mail to a directory, the cost snapshot on."""
    return engines.rebuilt(monkeypatch, PAL_ALERT_OUTBOX_DIR=str(tmp_path), PAL_COST="true"), tmp_path


def _mails(outbox) -> list[str]:
    return [" ".join(m.get_body(preferencelist=("plain",)).get_content().split()) for m in mail.eml_files(outbox)]


@pytest.mark.parametrize(
    ("quota_id", "basis"),
    [("CSP_2015-05-01", "retail estimate for CSP"), ("PayAsYouGo_2014-09-01", "actual cost")],
)
def test_the_money_in_an_alert_says_what_kind_of_number_it_is(emulator, alerting, quota_id, basis):
    engine, outbox = alerting
    _on_offer(emulator, quota_id)
    emulator.control("POST", "/costs/qpu", {"quotas": False})
    remembered.attest(engine, demo.ALICE.object_id)
    triggers.onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.ALICE, demo.CONTRIBUTOR)))
    triggers.subscribe(engine)
    costs.run_cost_snapshot(engine, datetime.now(UTC), pacer=clocks.fake_pacer(clocks.FakeClock()))

    triggers.identity_events(world.act(emulator, demo.ALICE.object_id, "softDelete"))
    triggers.watch_now()

    lost = [m for m in _mails(outbox) if "Alice Operator" in m and "Relecloud" in m]
    assert lost
    assert "of Azure consumed revenue on this scope (last full month," in lost[0]
    assert f", {basis})" in lost[0]
    other = "actual cost" if basis != "actual cost" else "retail estimate"
    assert other not in lost[0]


def test_the_demo_estates_offers_reach_findings_coverage_and_money(emulator, palwatch):
    """The demo is an MSP's estate: CSP customers, one Enterprise Agreement, one Visual Studio
    subscription; each offer changes what the verification and the money say."""
    from shared.reports import money as money_report

    triggers.verify_now()
    emulator.control("POST", "/costs/qpu", {"quotas": False})
    costs.run_cost_snapshot(palwatch, datetime.now(UTC), pacer=clocks.fake_pacer(clocks.FakeClock()), force=True)
    findings = open_findings(palwatch).values()
    coverage = palwatch.store.get_coverage()
    document = reports.coverage_json(coverage)

    benefit = demo.delegation("fabrikam-dev")
    assert _about(palwatch, world.delegation_key(benefit)) == [("not_eligible_offer", "info")]
    (scope,) = [s for s in document["scopes"] if s["scope"].lower() == benefit["scope"].lower()]
    assert (scope["level"], scope["offerType"]) == ("not_eligible_offer", "not_eligible")
    assert document["totals"]["scopesNotEligibleOffer"] == 1

    woodgrove = [f for f in findings if f.tenant_name == "Woodgrove Bank" and f.kind == "unattributed_delegation"]
    assert len(woodgrove) == 2
    assert all("Digital Partner of Record (DPOR)" in f.detail for f in woodgrove)
    assert not [f for f in findings if "DPOR" in f.detail and f.tenant_name != "Woodgrove Bank"]

    money = money_report.money_json(coverage, palwatch.store.costs.all())
    by_scope = {s["scope"].lower(): s for s in money["scopes"]}
    assert by_scope[benefit["scope"].lower()]["monthlyRevenue"] == 135
    assert by_scope[benefit["scope"].lower()]["countedInTotals"] is False
    fabrikam = next(c for c in money["customers"] if c["customerTenantName"] == "Fabrikam, Inc.")
    production = by_scope[demo.delegation("fabrikam")["scope"].lower()]
    assert fabrikam["attributed"] == {"USD": production["monthlyRevenue"]}  # the Visual Studio $135 left out
    assert by_scope[demo.delegation("tailwind-shared")["scope"].lower()]["basis"] == "retail estimate for CSP"
    assert by_scope[demo.delegation("woodgrove-dev")["scope"].lower()]["basis"] == "actual cost"
    assert money["basis"] == "retail estimate for CSP, actual cost otherwise"
