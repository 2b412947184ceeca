"""PAL Watch keeps its Graph change-notification subscriptions (users, groups) alive.

Created when missing, renewed before they expire (a fake clock: `now` is a parameter; the
emulator judges expirations by its own wall clock, so the scenario starts with subscriptions
close to expiry), renewed on reauthorizationRequired, recreated after removal, and after any
gap the identities are re-read, because notifications in a gap are lost.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import function_app
from shared import catalogue
from shared.usecases import engine as engine_module
from shared.usecases import graph_subscriptions, identities
from tests.support import clocks, demo, remembered, triggers, world
from tests.support.triggers import decode_event


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def graph_writes(emulator: Any) -> list[tuple[str, str]]:
    return [
        (r["method"], r["path"])
        for r in emulator.journal()
        if r["path"].startswith("/v1.0/subscriptions") and r["method"] in ("POST", "PATCH", "DELETE")
    ]


def test_subscriptions_are_created_with_the_configured_address_and_secret(emulator, palwatch):
    started = clocks.now()
    outcome = identities.ensure_graph_subscriptions(palwatch, started)

    assert outcome.status == "ok"
    subs = world.graph_subscriptions(emulator)
    assert set(subs) == {"users", "groups"}
    for sub in subs.values():
        assert sub["notificationUrl"] == emulator.env["PAL_GRAPH_NOTIFICATION_URL"]
        assert sub["lifecycleNotificationUrl"] == emulator.env["PAL_GRAPH_NOTIFICATION_URL"]
        assert sub["clientState"] == emulator.env["PAL_GRAPH_CLIENT_STATE"]
        assert set(sub["changeType"].split(",")) == {"updated", "deleted"}
        ahead = _time(sub["expirationDateTime"]) - started
        assert timedelta(days=27) < ahead <= timedelta(minutes=41_760)
    assert emulator.env["PAL_GRAPH_CLIENT_STATE"] not in str(outcome)


def test_a_second_run_keeps_them_without_writing(emulator, palwatch):
    identities.ensure_graph_subscriptions(palwatch, clocks.now())
    emulator.control("DELETE", "/journal")

    outcome = identities.ensure_graph_subscriptions(palwatch, clocks.now())

    assert graph_writes(emulator) == []
    assert "kept users, groups" in str(outcome)


def test_without_a_notification_address_upkeep_is_skipped_with_the_reason(emulator, palwatch):
    unconfigured = engine_module.Engine(
        dataclasses.replace(palwatch.settings, graph_notification_url=""), store=palwatch.store
    )
    emulator.control("DELETE", "/journal")

    outcome = identities.ensure_graph_subscriptions(unconfigured, clocks.now())

    assert outcome.status == "skipped"
    assert "PAL_GRAPH_NOTIFICATION_URL" in str(outcome)
    assert emulator.journal() == []
    assert world.graph_subscriptions(emulator) == {}


def _near_expiry_scenario(emulator: Any, left: timedelta) -> dict[str, datetime]:
    """The demo world with both our subscriptions already made, expiring `left` from now."""
    scenario = demo.scenario_copy()
    expires = clocks.now() + left
    scenario["graphSubscriptions"] = [
        {
            "resource": resource,
            "clientState": emulator.env["PAL_GRAPH_CLIENT_STATE"],
            "notificationUrl": emulator.env["PAL_GRAPH_NOTIFICATION_URL"],
            "lifecycleNotificationUrl": emulator.env["PAL_GRAPH_NOTIFICATION_URL"],
            "expirationDateTime": expires.isoformat().replace("+00:00", "Z"),
        }
        for resource in ("users", "groups")
    ]
    emulator.reset(scenario)
    return {r: _time(s["expirationDateTime"]) for r, s in world.graph_subscriptions(emulator).items()}


def test_subscriptions_are_renewed_before_they_expire(emulator, palwatch):
    before = _near_expiry_scenario(emulator, graph_subscriptions.RENEW_WHEN_LEFT + timedelta(hours=1))
    emulator.control("DELETE", "/journal")

    early = identities.ensure_graph_subscriptions(palwatch, clocks.now())
    assert graph_writes(emulator) == []
    assert "kept" in str(early)

    later = clocks.now() + timedelta(hours=2)  # the fake clock: now fewer than two days are left
    outcome = identities.ensure_graph_subscriptions(palwatch, later)

    writes = graph_writes(emulator)
    assert sorted(m for m, _ in writes) == ["PATCH", "PATCH"]
    after = world.graph_subscriptions(emulator)
    assert set(after) == {"users", "groups"}
    for resource, sub in after.items():
        assert _time(sub["expirationDateTime"]) > before[resource] + timedelta(days=20)
        assert _time(sub["expirationDateTime"]) == later + graph_subscriptions.LIFETIME
    assert "renewed users, groups" in str(outcome)


def test_reauthorization_renews_and_rereads_what_changed_meanwhile(emulator, palwatch):
    remembered.attest(palwatch, demo.ALICE.object_id)
    key = triggers.onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.ALICE, demo.CONTRIBUTOR)))
    triggers.subscribe(palwatch)
    users = world.graph_subscriptions(emulator)["users"]
    [lifecycle] = emulator.control("POST", f"/graph/subscriptions/{users['id']}/expire", {})["events"]
    assert lifecycle["type"] == "Microsoft.Graph.SubscriptionReauthorizationRequired"
    # While the subscription lapsed, Alice was deleted: no notification was published for it.
    assert world.act(emulator, demo.ALICE.object_id, "softDelete") == []
    assert remembered.findings_of(palwatch, key) == []

    function_app.identity_events(decode_event(lifecycle))

    assert "users" in world.graph_subscriptions(emulator)
    assert _time(world.graph_subscriptions(emulator)["users"]["expirationDateTime"]) > clocks.now() + timedelta(days=27)
    [finding] = remembered.findings_of(palwatch, key)
    assert finding.kind == "attribution_lost"


def test_a_removed_subscription_is_recreated_and_identities_reread(emulator, palwatch):
    remembered.attest(palwatch, demo.ALICE.object_id)
    key = triggers.onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.ALICE, demo.CONTRIBUTOR)))
    triggers.subscribe(palwatch)
    groups = world.graph_subscriptions(emulator)["groups"]
    emulator.control("POST", f"/graph/subscriptions/{groups['id']}/expire", {"lifecycleEvent": "subscriptionRemoved"})
    world.act(
        emulator, demo.ALICE.object_id, "disable"
    )  # notified through the users subscription, but nobody delivers it

    outcome = identities.ensure_graph_subscriptions(palwatch, clocks.now())

    assert set(world.graph_subscriptions(emulator)) == {"users", "groups"}
    assert world.graph_subscriptions(emulator)["groups"]["id"] != groups["id"]
    assert "created groups" in str(outcome)
    assert "re-read" in str(outcome)
    [finding] = remembered.findings_of(palwatch, key)
    assert finding.kind == "attribution_lost"
    assert "disabled" in finding.detail


def test_the_removal_notification_recreates_it_at_once(emulator, palwatch):
    triggers.subscribe(palwatch)
    users = world.graph_subscriptions(emulator)["users"]
    [removed] = emulator.control(
        "POST", f"/graph/subscriptions/{users['id']}/expire", {"lifecycleEvent": "subscriptionRemoved"}
    )["events"]
    assert "users" not in world.graph_subscriptions(emulator)

    outcome = identities.handle_identity_event(palwatch, decode_event(removed), clocks.now())

    assert outcome.status == "ok", outcome
    assert set(world.graph_subscriptions(emulator)) == {"users", "groups"}


def test_duplicates_left_by_concurrent_runs_are_removed(emulator, palwatch):
    triggers.subscribe(palwatch)
    settings = palwatch.settings
    palwatch.graph().create_subscription(
        "users", settings.graph_notification_url, clocks.now() + timedelta(days=1), settings.graph_client_state
    )
    assert len(emulator.control("GET", "/graph/subscriptions")["subscriptions"]) == 3

    outcome = identities.ensure_graph_subscriptions(palwatch, clocks.now())

    assert "removed duplicate" in str(outcome)
    assert set(world.graph_subscriptions(emulator)) == {"users", "groups"}  # at most one each (asserted inside)


def test_graph_refusing_subscriptions_is_one_configuration_finding_until_fixed(emulator, palwatch):
    emulator.control(
        "POST",
        "/faults",
        {
            "route": "^/v1\\.0/subscriptions",
            "status": 403,
            "body": {"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}},
        },
    )
    first = identities.ensure_graph_subscriptions(palwatch, clocks.now())
    second = identities.ensure_graph_subscriptions(palwatch, clocks.now())

    assert first.status == second.status == "failed"
    [finding] = [r.finding for r in palwatch.store.open_findings()]
    assert finding.key == catalogue.GRAPH_SUBSCRIPTIONS_KEY
    assert "User.Read.All" in finding.fix

    emulator.control("DELETE", "/faults")
    assert identities.ensure_graph_subscriptions(palwatch, clocks.now()).status == "ok"
    assert palwatch.store.open_findings() == []
