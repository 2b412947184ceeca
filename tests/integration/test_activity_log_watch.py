"""The activity-log watcher learns of new and removed delegations without Event Grid.

Over the emulator's tenant activity log (paged) and Azurite. The watcher's cursor must move
forward only and never re-process a record once the cursor passed it.
"""

from __future__ import annotations

from shared.usecases import delegations
from tests.support import clocks, demo, world
from tests.support.world import links, offboard, onboard

ACTIVITY_LOG = "/providers/microsoft.insights/eventtypes/management/values"


def activity_log_reads(emulator) -> int:
    return sum(1 for r in emulator.journal() if r["path"].lower().startswith(ACTIVITY_LOG))


def test_first_watch_reconciles_every_delegation_in_the_log_across_pages(emulator, palwatch):
    emulator.control("POST", "/config", {"pageSize": 2})

    outcome = delegations.watch_delegations(palwatch, clocks.now())

    assert outcome.status == "ok"
    assert activity_log_reads(emulator) > 1, "the log was read in more than one page"
    stored = {s.key.rsplit("/", 1)[-1] for s in palwatch.store.list_delegations()}
    ours = {
        d["registrationAssignmentId"]: d
        for d in demo.SCENARIO["delegations"]
        if d["managedByTenantId"] == demo.MANAGING
    }
    # The old Adventure Works offer does not name any identity of ours: it cannot be read, and says so.
    hidden = {a for a, d in ours.items() if d["registrationDefinitionName"].endswith("(2019)")}
    assert len(hidden) == 1
    assert stored == set(ours) - hidden
    not_visible = [r.finding for r in palwatch.store.open_findings() if r.finding.reason == "not_visible"]
    # A record names the delegated scope, not the assignment: the finding is about that scope.
    assert [f.subject for f in not_visible] == [ours[a]["scope"].lower() for a in hidden]
    assert not_visible[0].tenant_id == demo.tenant("Adventure Works").tenant_id, "the ops inbox learns which customer"


def test_a_new_delegation_is_linked_on_the_next_watch_and_not_processed_again(emulator, palwatch):
    delegations.watch_delegations(palwatch, clocks.now())
    body = world.new_delegation(demo.RELECLOUD, (demo.PIPELINE, demo.CONTRIBUTOR))
    onboard(emulator, body)  # no Event Grid topic: only the activity log tells

    first = delegations.watch_delegations(palwatch, clocks.now())
    assert first.counts["records"] == 1
    assert links(emulator).get(demo.PIPELINE.object_id) == demo.PARTNER

    emulator.control("DELETE", "/journal")
    again = delegations.watch_delegations(palwatch, clocks.now())
    assert again.counts["records"] == 0
    assert again.facts["scopes"] == []
    assert not [r for r in emulator.journal() if "registrationAssignments" in r["path"]]


def test_an_unregister_record_marks_the_delegation_removed(emulator, palwatch):
    body = world.new_delegation(demo.RELECLOUD, (demo.BOB, demo.CONTRIBUTOR))
    onboard(emulator, body)
    delegations.watch_delegations(palwatch, clocks.now())
    offboard(emulator, body["registrationAssignmentId"])

    outcome = delegations.watch_delegations(palwatch, clocks.now())

    assert outcome.counts["records"] == 1
    snap = next(s for s in palwatch.store.list_delegations() if s.key.endswith(body["registrationAssignmentId"]))
    assert snap.removed


def test_without_monitoring_reader_one_finding_then_quiet_until_verification(emulator, palwatch):
    scenario = demo.scenario_copy()
    demo.principal_in(scenario, demo.MI)["rootRoles"] = []
    emulator.reset(scenario)

    first = delegations.watch_delegations(palwatch, clocks.now())
    second = delegations.watch_delegations(palwatch, clocks.now())

    assert first.status == "blocked"
    assert second.status == "blocked"
    assert activity_log_reads(emulator) == 1
    open_keys = [r.finding.key for r in palwatch.store.open_findings()]
    assert open_keys.count("config:activity-log-unreadable") == 1

    emulator.reset()  # Monitoring Reader granted again
    delegations.clear_activity_log_block(palwatch)
    third = delegations.watch_delegations(palwatch, clocks.now())
    assert third.status == "ok"
    assert "config:activity-log-unreadable" not in [r.finding.key for r in palwatch.store.open_findings()]


def test_a_corrupt_cursor_restarts_from_the_lookback_window(emulator, palwatch):
    palwatch.store.set_cursor(delegations.CURSOR, "{not json", None)
    outcome = delegations.watch_delegations(palwatch, clocks.now())
    assert outcome.status == "ok"
    assert outcome.counts["records"] > 0


OUTSIDER = {"tenantId": "5e0c1f3a-7b2d-4c8e-9f60-1a2b3c4d5e6f", "displayName": "Outsider Ltd"}
OUTSIDER_SUB = "6f1d2e4b-8c3e-4d9f-a071-2b3c4d5e6f70"


def test_an_announced_scope_none_of_our_identities_can_read_is_reported_once_per_scope(emulator, palwatch):
    emulator.control(
        "PUT", f"/tenants/{OUTSIDER['tenantId']}", {**OUTSIDER, "subscriptions": [{"subscriptionId": OUTSIDER_SUB}]}
    )
    delegations.watch_delegations(palwatch, clocks.now())
    hidden = world.new_delegation(demo.RELECLOUD, (demo.BOB, demo.CONTRIBUTOR))
    hidden["authorizations"] = [
        a for a in hidden["authorizations"] if a["principalId"] == demo.BOB.object_id
    ]  # not the MI
    hidden["scope"] = f"/subscriptions/{OUTSIDER_SUB}"
    onboard(emulator, hidden)

    delegations.watch_delegations(palwatch, clocks.now())

    not_visible = {
        r.finding.subject: r.finding for r in palwatch.store.open_findings() if r.finding.reason == "not_visible"
    }
    assert hidden["scope"].lower() in not_visible
    assert not_visible[hidden["scope"].lower()].tenant_id == OUTSIDER["tenantId"]

    offboard(emulator, hidden["registrationAssignmentId"])
    delegations.watch_delegations(palwatch, clocks.now())

    still = {r.finding.subject for r in palwatch.store.open_findings() if r.finding.reason == "not_visible"}
    assert hidden["scope"].lower() not in still, "the unregister record for that scope ends it"
