"""Subscription names reach the coverage and the alerts from the subscriptions list, with no extra read."""

from __future__ import annotations

import json

from shared.usecases import engine as engine_module
from tests.support import demo, triggers

NAMES = {
    s["subscriptionId"].lower(): s["displayName"]
    for t in demo.SCENARIO["tenants"]
    for s in t.get("subscriptions", [])
    if s.get("displayName")
}


def _coverage() -> dict:
    return json.loads(triggers.coverage().get_body())


def test_every_delegated_subscription_is_shown_by_its_name(emulator, palwatch):
    triggers.verify_now()

    rows = _coverage()["delegations"]
    assert rows
    for row in rows:
        subscription = row["scope"].strip("/").split("/")[1].lower()
        assert row["subscriptionName"] == NAMES[subscription]
    # The names come with the subscriptions list: no subscription is read on its own for them.
    single_reads = [
        r
        for r in emulator.journal()
        if r["method"] == "GET" and r["path"].rstrip("/").lower() in {f"/subscriptions/{s}" for s in NAMES}
    ]
    assert single_reads == []


def test_findings_about_a_delegation_carry_its_subscription_name(emulator, palwatch):
    triggers.verify_now()

    store = engine_module.get_engine().store
    scoped = [r.finding for r in store.open_findings() if r.finding.scope.lower().startswith("/subscriptions/")]
    assert scoped
    for finding in scoped:
        subscription = finding.scope.strip("/").split("/")[1].lower()
        assert finding.facts.get("subscriptionName") == NAMES[subscription]
