"""The coverage page as a partner reads it: partner name and ID, delegations PAL Watch cannot read,
one customer's statement, the trend, all from the same HTTP function the host calls."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.support import demo, triggers, world

PARTNER_NAME = demo.SCENARIO["partnerIds"][demo.PARTNER]


def test_the_page_names_the_partner_from_its_pal_link(emulator, palwatch):
    triggers.verify_now()

    page = triggers.coverage({"format": "html"}).get_body().decode()

    assert f"{PARTNER_NAME} · partner ID <strong>{demo.PARTNER}</strong>" in page.replace("&#x27;", "'")


def test_a_delegation_pal_watch_cannot_read_is_on_the_page_and_in_the_json(emulator, palwatch):
    triggers.verify_now()
    body = world.new_delegation(demo.RELECLOUD, (demo.BOB, demo.CONTRIBUTOR))
    triggers.delegation_events(world.onboard(emulator, body))
    without_us = {**body, "authorizations": body["authorizations"][1:]}  # the offer now leaves PAL Watch out
    triggers.delegation_events(
        world.onboard(emulator, without_us)
    )  # known only from its event and finding, not from the verification

    document = json.loads(triggers.coverage({}).get_body())
    unreadable = [d for d in document["delegations"] if d["status"] == "not_visible"]
    assert [d["delegationKey"].rsplit("/", 1)[-1] for d in unreadable] == [body["registrationAssignmentId"].lower()]
    assert document["totals"]["notVisible"] == 1
    page = triggers.coverage({"format": "html"}).get_body().decode()
    assert "cannot be read" in page
    assert "Add PAL Watch&#x27;s managed identity to the offer" in page  # the reason's fix
    csv_rows = triggers.coverage({"format": "csv"}).get_body().decode().splitlines()
    assert any("not_visible" in row for row in csv_rows)


def test_one_customer_statement(emulator, palwatch):
    triggers.verify_now()
    everything = json.loads(triggers.coverage({}).get_body())["delegations"]
    tenant = everything[0]["customerTenantId"]
    mine = [d for d in everything if d["customerTenantId"] == tenant]
    others = {d["customerTenantName"] for d in everything if d["customerTenantId"] != tenant}

    document = json.loads(triggers.coverage({"customer": tenant.upper()}).get_body())
    assert [d["delegationKey"] for d in document["delegations"]] == [d["delegationKey"] for d in mine]
    page = triggers.coverage({"format": "html", "customer": tenant}).get_body().decode()
    assert "Partner attribution statement" in page
    assert all(name not in page for name in others if name)
    assert "Needs attention" not in page

    assert triggers.coverage({"customer": "00000000-0000-0000-0000-000000000000"}).status_code == 404
    assert triggers.coverage({"customer": "<script>"}).status_code == 400


def test_the_trend_keeps_one_point_a_day(emulator, palwatch):
    triggers.verify_now()
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
    page = triggers.coverage({"format": "html"}).get_body().decode()
    assert "<polyline" in page
    assert "3 days with a verification" in page
