"""The coverage page as a partner reads it: partner name and ID, delegations PAL Watch cannot read,
one customer's statement, the trend, all from the same HTTP function the host calls."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import azure.functions as func

import function_app
from tests.integration.test_delegation_events import BOB, CONTRIBUTOR, deliver, onboard
from tests.integration.test_delegation_events import delegation as new_delegation
from tests.integration.verify_helpers import PARTNER, SCENARIO, verify_now

PARTNER_NAME = SCENARIO["partnerIds"][PARTNER]


def get(params: dict[str, str]) -> func.HttpResponse:
    request = func.HttpRequest("GET", "/api/coverage", params=params, headers={}, body=b"")
    return function_app.coverage(request)


def test_the_page_names_the_partner_from_its_pal_link(emulator, palwatch):
    verify_now()

    page = get({"format": "html"}).get_body().decode()

    assert f"{PARTNER_NAME} · partner ID <strong>{PARTNER}</strong>" in page.replace("&#x27;", "'")


def test_a_delegation_pal_watch_cannot_read_is_on_the_page_and_in_the_json(emulator, palwatch):
    verify_now()
    body = new_delegation((BOB, "Bob Engineer", CONTRIBUTOR))
    deliver(onboard(emulator, body))
    without_us = {**body, "authorizations": body["authorizations"][1:]}  # the offer now leaves PAL Watch out
    deliver(onboard(emulator, without_us))  # known only from its event and finding, not from the verification

    document = json.loads(get({}).get_body())
    unreadable = [d for d in document["delegations"] if d["status"] == "not_visible"]
    assert [d["delegationKey"].rsplit("/", 1)[-1] for d in unreadable] == [body["registrationAssignmentId"].lower()]
    assert document["totals"]["notVisible"] == 1
    page = get({"format": "html"}).get_body().decode()
    assert "cannot be read" in page
    assert "Add PAL Watch&#x27;s managed identity to the offer" in page  # the reason's fix
    csv_rows = get({"format": "csv"}).get_body().decode().splitlines()
    assert any("not_visible" in row for row in csv_rows)


def test_one_customer_statement(emulator, palwatch):
    verify_now()
    everything = json.loads(get({}).get_body())["delegations"]
    tenant = everything[0]["customerTenantId"]
    mine = [d for d in everything if d["customerTenantId"] == tenant]
    others = {d["customerTenantName"] for d in everything if d["customerTenantId"] != tenant}

    document = json.loads(get({"customer": tenant.upper()}).get_body())
    assert [d["delegationKey"] for d in document["delegations"]] == [d["delegationKey"] for d in mine]
    page = get({"format": "html", "customer": tenant}).get_body().decode()
    assert "Partner attribution statement" in page
    assert all(name not in page for name in others if name)
    assert "Needs attention" not in page

    assert get({"customer": "00000000-0000-0000-0000-000000000000"}).status_code == 404
    assert get({"customer": "<script>"}).status_code == 400


def test_the_trend_keeps_one_point_a_day(emulator, palwatch):
    verify_now()
    store = palwatch.store
    coverage = store.get_coverage()
    assert len(store.list_trend()) == 1
    noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    store.put_coverage(coverage.rows, noon - timedelta(days=2))
    store.put_coverage(coverage.rows[:1], noon - timedelta(days=1))
    store.put_coverage(coverage.rows, noon - timedelta(days=1) + timedelta(hours=1))  # the day's last one wins

    trend = store.list_trend()
    assert [p.day for p in trend] == sorted(p.day for p in trend)
    assert len(trend) == 3
    assert trend[1].delegations == len(coverage.rows)
    page = get({"format": "html"}).get_body().decode()
    assert "<polyline" in page
    assert "3 days with a verification" in page
