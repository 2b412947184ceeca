"""Offer types: the shipped quota-ID table, the cloud, and what the decisions do with them (plain data)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib import resources

import pytest

from shared import catalogue, model, money, offers, roles
from shared import decisions as rc
from shared.reports import money as money_report
from shared.snapshots import AttributedBy, CoverageRow, DelegationSnapshot

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PARTNER = "1234567"
MANAGING = "83abe5cd-bcc3-441a-bd86-e6a75360cecc"
CUSTOMER = "01c0bcd5-4f47-4e4b-b492-418b7e2a8854"
CONTRIBUTOR = roles.CONTRIBUTOR
SCOPE = "/subscriptions/0afefe50-734e-4610-8c82-a144aff49dea"
ASSIGNMENT = f"{SCOPE}/providers/Microsoft.ManagedServices/registrationAssignments/484a7d5f-9729-4b87-bc9b-26610985a013"
MI_ID = "5e6f7a8b-0000-4000-8000-00000000aaaa"
USER_ID = "7c2f5d11-3a4b-4c5d-8e9f-0a1b2c3d4e5f"


@pytest.mark.parametrize(
    ("quota_id", "category"),
    [
        ("PayAsYouGo_2014-09-01", offers.PAY_AS_YOU_GO),
        ("CSP_2015-05-01", offers.CSP),
        ("CSP_MG_2017-12-01", offers.CSP),
        ("CSPDEVTEST_2018-05-01", offers.CSP),
        ("EnterpriseAgreement_2014-09-01", offers.ENTERPRISE_AGREEMENT),
        ("AzureInOpen_2014-09-01", offers.PAY_AS_YOU_GO),
        ("MSDN_2014-09-01", offers.NOT_ELIGIBLE),
        ("msdn_2014-09-01", offers.NOT_ELIGIBLE),  # ARM ids and names are case-insensitive
        ("MPN_2014-09-01", offers.NOT_ELIGIBLE),
        ("FreeTrial_2014-09-01", offers.NOT_ELIGIBLE),
        ("FreeTrial_2031-01-01", offers.NOT_ELIGIBLE),  # a newer dated version of the same offer
        ("AzurePass_2014-09-01", offers.NOT_ELIGIBLE),
        ("Sponsored_2016-01-01", offers.NOT_ELIGIBLE),
        ("DreamSpark_2015-02-01", offers.NOT_ELIGIBLE),
        ("AzureForStudents_2018-01-01", offers.NOT_ELIGIBLE),
        ("Default_2014-09-01", offers.NOT_ELIGIBLE),
        ("Internal_2014-09-01", offers.NOT_ELIGIBLE),
        # Shared by paid Dev/Test offers and a Visual Studio benefit: no source settles it.
        ("MSDNDevTest_2014-09-01", offers.UNKNOWN),
        ("Something_2030-01-01", offers.UNKNOWN),
        ("", offers.UNKNOWN),
        ("CSPX_2015-05-01", offers.UNKNOWN),  # a name that merely starts like a known one
    ],
)
def test_quota_ids_map_to_their_category(quota_id: str, category: str) -> None:
    offer = offers.classify(quota_id)
    assert offer.category == category
    assert offer.eligible is (category != offers.NOT_ELIGIBLE)  # unknown offers stay eligible
    assert bool(offer.rule_source) is (category == offers.NOT_ELIGIBLE)


def test_every_entry_of_the_data_file_names_its_source() -> None:
    data = json.loads(resources.files("shared").joinpath("data/offer-types.json").read_text(encoding="utf-8"))
    names = [e["name"].casefold() for e in data["quotaIds"]]
    assert len(names) == len(set(names))
    assert set(data["categories"]) == set(offers.CATEGORIES)
    for entry in data["quotaIds"] + data["sovereignClouds"]:
        assert entry["category"] in offers.CATEGORIES
        assert entry["source"].startswith("https://")
        if entry["category"] == offers.NOT_ELIGIBLE:
            assert entry["why"]
    assert data["rule"]["source"].startswith("https://")
    assert data["enterpriseAgreementHint"]["assumption"]  # unsettled by Microsoft's pages: said so


@pytest.mark.parametrize(
    ("endpoint", "cloud"),
    [
        ("https://management.azure.com", ""),
        ("https://management.usgovcloudapi.net/", "Azure Government"),
        ("https://MANAGEMENT.usgovcloudapi.net", "Azure Government"),
        ("https://management.chinacloudapi.cn", "Microsoft Azure operated by 21Vianet"),
        ("https://127.0.0.1:8443", ""),
        ("https://management.usgovcloudapi.net.example.com", ""),
    ],
)
def test_the_cloud_comes_from_the_arm_endpoint(endpoint: str, cloud: str) -> None:
    assert offers.sovereign_cloud(endpoint) == cloud


def test_azure_government_earns_nothing_through_pal_whatever_the_offer() -> None:
    assert not offers.classify("PayAsYouGo_2014-09-01", "Azure Government").eligible
    assert not offers.classify("", "Azure Government").eligible
    # No source settles Azure in China: its offers are judged like the public cloud's.
    assert offers.classify("PayAsYouGo_2014-09-01", "Microsoft Azure operated by 21Vianet").eligible


# ------------------------------------------------------------------ decisions, state in -> state out


def _delegation(quota_id: str, *principals: str) -> model.Delegation:
    return model.Delegation(
        assignment_id=ASSIGNMENT,
        scope=SCOPE,
        customer_tenant_id=CUSTOMER,
        managed_by_tenant_id=MANAGING,
        customer_tenant_name="Fabrikam",
        quota_id=quota_id,
        authorizations=tuple(model.Authorization(p, CONTRIBUTOR) for p in principals),
    )


def _observation(cloud: str = "", **kwargs: object) -> rc.Observation:
    return rc.Observation(
        partner_id=PARTNER,
        managing_tenant_id=MANAGING,
        acting={MI_ID: "palwatch"},
        principals={
            MI_ID: model.Principal(MI_ID, model.PrincipalKind.MANAGED_IDENTITY, display_name="palwatch"),
            USER_ID: model.Principal(USER_ID, model.PrincipalKind.USER, display_name="Alice"),
        },
        cloud=cloud,
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_not_attributed_delegation_on_a_trial_is_one_info_finding_not_unattributed() -> None:
    plan = rc.assess_estate([_delegation("FreeTrial_2014-09-01", USER_ID)], _observation(), NOW)
    assert [(f.kind, f.severity) for f in plan.findings] == [(catalogue.Kind.NOT_ELIGIBLE_OFFER, model.Severity.INFO)]
    finding = plan.findings[0]
    assert "trial" in finding.detail
    assert "FreeTrial_2014-09-01" in finding.detail
    assert "https://" in finding.detail  # the rule's source, said in the finding
    assert finding.key == f"not_eligible_offer:{ASSIGNMENT.lower()}"
    row = plan.coverage[0]
    assert (row.status, row.offer_type, row.quota_id) == ("not_eligible_offer", "not_eligible", "FreeTrial_2014-09-01")
    assert plan.snapshots[0].quota_id == "FreeTrial_2014-09-01"


def test_the_same_delegation_on_pay_as_you_go_or_an_unknown_offer_is_not_attributed() -> None:
    for quota in ("PayAsYouGo_2014-09-01", "Brand-new_2031-01-01", ""):
        plan = rc.assess_estate([_delegation(quota, USER_ID)], _observation(), NOW)
        assert [f.kind for f in plan.findings] == [catalogue.Kind.UNATTRIBUTED_DELEGATION], quota
        assert plan.coverage[0].status == "not_attributed"


def test_losing_the_last_carrier_on_a_benefit_offer_is_no_critical() -> None:
    """The stored snapshot remembers an identity that carried it; on MSDN that loses nothing."""
    previous = DelegationSnapshot(
        key=ASSIGNMENT.lower(),
        assignment_id=ASSIGNMENT,
        customer_tenant_id=CUSTOMER,
        scope=SCOPE,
        quota_id="MSDN_2014-09-01",
        attributed_by=(AttributedBy(USER_ID, CONTRIBUTOR, "", True, None, "Alice", "User"),),
        attributed=True,
        since=NOW - timedelta(days=3),
    )
    # The event's read names no offer: the snapshot's stands in.
    current = _delegation("", USER_ID)
    obs = _observation(previous={previous.key: previous})
    plan = rc.assess_estate([current], obs, NOW)
    assert [f.kind for f in plan.findings] == [catalogue.Kind.NOT_ELIGIBLE_OFFER]
    on_payg = replace(previous, quota_id="PayAsYouGo_2014-09-01")
    plan = rc.assess_estate([current], _observation(previous={previous.key: on_payg}), NOW)
    assert [f.kind for f in plan.findings] == [catalogue.Kind.ATTRIBUTION_LOST]


def test_a_sovereign_cloud_without_credit_makes_every_scope_not_eligible() -> None:
    plan = rc.assess_estate([_delegation("PayAsYouGo_2014-09-01", USER_ID)], _observation("Azure Government"), NOW)
    assert [f.kind for f in plan.findings] == [catalogue.Kind.NOT_ELIGIBLE_OFFER]
    assert "Azure Government" in plan.findings[0].detail


def test_an_enterprise_agreement_finding_carries_the_dpor_hint_and_a_link_is_still_made() -> None:
    plan = rc.assess_estate([_delegation("EnterpriseAgreement_2014-09-01", USER_ID)], _observation(), NOW)
    (finding,) = plan.findings
    assert finding.kind == catalogue.Kind.UNATTRIBUTED_DELEGATION  # nothing hidden on EA
    assert "Digital Partner of Record (DPOR)" in finding.detail
    assert finding.facts["offerType"] == offers.ENTERPRISE_AGREEMENT
    on_payg = rc.assess_estate([_delegation("PayAsYouGo_2014-09-01", USER_ID)], _observation(), NOW)
    assert "DPOR" not in on_payg.findings[0].detail
    # An identity PAL Watch acts as is linked on a benefit offer too: the link is per identity.
    trial = rc.assess_estate([_delegation("MSDN_2014-09-01", MI_ID)], _observation(), NOW)
    assert [(a.object_id, a.operation) for a in trial.link_actions] == [(MI_ID, "ensure")]


def test_a_marketplace_plan_is_kept_on_the_snapshot_and_the_row() -> None:
    d = replace(_delegation("PayAsYouGo_2014-09-01", USER_ID), plan="contoso/managed-ops/gold")
    plan = rc.assess_estate([d], _observation(), NOW)
    assert plan.snapshots[0].plan == plan.coverage[0].plan == "contoso/managed-ops/gold"
    assert plan.snapshots[0].to_delegation().plan == "contoso/managed-ops/gold"


# ------------------------------------------------------------------ money words


def _cost(scope: str, amount: float) -> money.ScopeCost:
    return money.from_lines(scope, "2026-02", NOW, [money.ChargeLine(amount, "OnDemand", "Azure", "USD")])


def test_an_alert_says_retail_estimate_for_csp_and_actual_cost_otherwise() -> None:
    cost = _cost(SCOPE, 18_400)
    csp = money.at_stake("attribution_lost", cost, None, NOW, NOW, csp=True).sentence
    other = money.at_stake("attribution_lost", cost, None, NOW, NOW).sentence
    assert "retail estimate for CSP" in csp
    assert "actual cost" not in csp
    assert "actual cost" in other
    assert "retail" not in other


def _row(scope: str, offer_type: str, *, attributed: bool = False) -> CoverageRow:
    return CoverageRow(
        f"{scope}/providers/microsoft.managedservices/registrationassignments/a".lower(),
        CUSTOMER,
        "Fabrikam",
        scope,
        attributed,
        "attributed" if attributed else "not_attributed",
        offer_type=offer_type,
    )


def test_money_totals_leave_out_scopes_on_offers_that_earn_nothing_through_pal() -> None:
    trial, csp = f"{SCOPE[:-4]}1111", f"{SCOPE[:-4]}2222"
    rows = [_row(trial, offers.NOT_ELIGIBLE), _row(csp, offers.CSP)]
    costs = {trial.lower(): _cost(trial, 500), csp.lower(): _cost(csp, 1_000)}
    coverage = type("Coverage", (), {"rows": tuple(rows)})()
    document = money_report.money_json(coverage, costs)  # type: ignore[arg-type]
    assert document["totals"]["atStake"] == {"USD": 1000.0}
    assert document["basis"] == "retail estimate for CSP"
    by_scope = {s["scope"]: s for s in document["scopes"]}
    assert by_scope[trial]["countedInTotals"] is False
    assert by_scope[csp]["basis"] == "retail estimate for CSP"
    mixed = money_report.money_json(
        type("Coverage", (), {"rows": (_row(csp, offers.CSP), _row(trial, offers.PAY_AS_YOU_GO))})(),  # type: ignore[arg-type]
        costs,
    )
    assert mixed["basis"] == "retail estimate for CSP, actual cost otherwise"
    assert mixed["totals"]["atStake"] == {"USD": 1500.0}


def test_the_page_table_and_csv_show_each_scopes_offer() -> None:
    from shared import reports
    from shared.store.store import Coverage

    trial = replace(_row(SCOPE, offers.NOT_ELIGIBLE), status="not_eligible_offer", quota_id="FreeTrial_2014-09-01")
    csp = replace(_row(f"{SCOPE[:-4]}2222", offers.CSP, attributed=True), definition_name="Gold")
    coverage = Coverage(NOW, (trial, csp))
    page = reports.coverage_html(coverage)
    assert "Subscription offer" in page
    assert "offer earns no ACR through PAL" in page
    assert 'Gold <span class="muted">(CSP)</span>' in page
    table = reports.coverage_table(coverage)
    assert "Gold (CSP)" in table
    assert "1 on offers that earn no ACR through PAL" in table
    assert "not eligible" in table
    csv_text = reports.coverage_csv(coverage)
    assert "offerType,quotaId" in csv_text.splitlines()[0]
    assert "not_eligible,FreeTrial_2014-09-01" in csv_text


def test_a_scope_on_an_offer_that_earns_nothing_is_never_counted_as_earning_credit() -> None:
    from shared import reports
    from shared.store.store import Coverage

    # The identity holding the role is linked: on a paid offer this scope would earn partner credit.
    benefit = replace(
        _row(SCOPE, offers.NOT_ELIGIBLE, attributed=True), status="not_eligible_offer", quota_id="MSDN_2014-09-01"
    )
    csp = _row(f"{SCOPE[:-4]}2222", offers.CSP, attributed=True)
    coverage = Coverage(NOW, (benefit, csp))

    document = reports.coverage_json(coverage)
    assert document["totals"]["scopesEarningCredit"] == 1
    assert document["totals"]["scopesNotEligibleOffer"] == 1
    by_scope = {s["scope"]: s for s in document["scopes"]}
    assert by_scope[SCOPE]["level"] == "not_eligible_offer"
    assert by_scope[SCOPE]["earnsPartnerCredit"] is False
    assert by_scope[SCOPE]["recognised"] is False
    assert by_scope[csp.scope]["level"] == rc.scopes.EARNS_CREDIT
    table = reports.coverage_table(coverage)
    assert (
        "Scopes: 2 (1 earn credit, 0 recognised only, 0 not recognised, "
        "1 on an offer that earns no ACR through PAL)" in table
    )
