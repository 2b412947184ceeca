"""Hostile Event Grid deliveries through the triggers: spoofed Graph notifications cost nothing,
genuine lifecycle storms cost one upkeep, and no id or subject forges a log line."""

from __future__ import annotations

import copy
import logging
from typing import Any

import function_app
from shared import roles
from tests import campaign
from tests.support import demo, remembered, triggers, world
from tests.support.triggers import decode_event
from tests.support.world import onboard


def requests_made(emulator: Any) -> int:
    return len(emulator.journal())


def test_graph_notifications_without_their_client_state_are_rejected_and_cost_no_request(emulator, palwatch, caplog):
    caplog.set_level(logging.INFO)
    remembered.attest(palwatch, demo.ALICE.object_id)
    triggers.onboard(
        emulator,
        world.new_delegation(demo.RELECLOUD, (demo.ALICE.object_id, "Alice Operator", roles.CONTRIBUTOR)),
    )
    triggers.subscribe(palwatch)
    users = world.graph_subscriptions(emulator)["users"]
    genuine = []
    for event in ("reauthorizationRequired", "missed", "subscriptionRemoved"):
        genuine += emulator.control("POST", f"/graph/subscriptions/{users['id']}/expire", {"lifecycleEvent": event})[
            "events"
        ]
    genuine += world.act(emulator, demo.ALICE.object_id, "disable")
    spoofs = []
    for original in genuine:
        for state in (None, "", "guessed-secret"):
            spoof = copy.deepcopy(original)
            if state is None:
                spoof["data"].pop("clientState", None)
            else:
                spoof["data"]["clientState"] = state
            spoofs.append(spoof)
    emulator.control("DELETE", "/journal")
    for spoof in spoofs:
        function_app.identity_events(decode_event(spoof))
    requests = requests_made(emulator)
    rejected = [o for o in campaign.trigger_outcomes(caplog.records, "identity_events") if o["status"] == "rejected"]
    campaign.record(
        "spoofed_graph_notifications", tried=len(spoofs), accepted=len(spoofs) - len(rejected), requests=requests
    )
    assert requests == 0
    assert len(rejected) == len(spoofs)
    assert not [f for f in palwatch.store.open_findings() if f.finding.principal_id == demo.ALICE.object_id]


def test_a_storm_of_genuine_missed_notifications_costs_one_upkeep(emulator, palwatch):
    triggers.subscribe(palwatch)
    users = world.graph_subscriptions(emulator)["users"]
    storm = [
        emulator.control("POST", f"/graph/subscriptions/{users['id']}/expire", {"lifecycleEvent": "missed"})["events"][
            0
        ]
        for _ in range(10)
    ]
    function_app.identity_events(decode_event(storm[0]))
    emulator.control("DELETE", "/journal")
    for event in storm[1:]:
        function_app.identity_events(decode_event(event))
    campaign.record("lifecycle_storm", notifications=len(storm), requests_after_the_first=requests_made(emulator))
    assert requests_made(emulator) == 0  # the first did the upkeep and the re-read; the watch timer follows


def forged(text: str) -> str:
    return text + "\r\nERROR palwatch.triggers forged line\u2028\u202eevil"


def test_no_event_id_or_subject_forges_a_log_line(emulator, palwatch, caplog):
    caplog.set_level(logging.DEBUG)
    events = onboard(emulator, world.new_delegation(demo.RELECLOUD))
    hostile = []
    for original in events:
        with_id = copy.deepcopy(original)
        with_id["id"] = forged(original["id"])
        with_id["subject"] = forged(original.get("subject", ""))
        hostile.append(with_id)
        trailing = copy.deepcopy(original)
        trailing["subject"] = trailing.get("subject", "") + "\n"
        trailing["id"] = "trailing-newline"
        hostile.append(trailing)
    emulator.control("DELETE", "/journal")
    triggers.delegation_events(hostile[1::2])  # a subject with a trailing newline is no assignment id
    assert requests_made(emulator) == 0
    triggers.delegation_events(hostile[::2])
    lines = [r.getMessage() for r in caplog.records if r.name.startswith(("palwatch", "shared"))]
    forged_lines = sum(1 for line in lines if set(line) & {"\n", "\r", "\u2028", "\u202e"})
    campaign.record("log_forging", hostile_events=len(hostile), lines=len(lines), forged=forged_lines)
    assert any("forged line" in line for line in lines)  # the id was logged ...
    for line in lines:  # ... on its own line, controls escaped
        assert not set(line) & {"\n", "\r", "\u2028", "\u202e"}, line


def test_a_fabricated_delegation_event_costs_at_most_one_read(emulator, palwatch):
    import uuid

    template = onboard(emulator, world.new_delegation(demo.RELECLOUD))[0]
    deliver_once = function_app.delegation_events
    deliver_once(decode_event(template))  # tokens cached, the real one stored
    fabricated = []
    for i in range(12):
        event = copy.deepcopy(template)
        sub = str(uuid.uuid4()) if i % 2 else template["subject"].split("/")[2]  # unknown, and known subscription
        subject = f"/subscriptions/{sub}/providers/Microsoft.ManagedServices/registrationAssignments/{uuid.uuid4()}"
        event["subject"] = subject
        event["id"] = str(uuid.uuid4())
        if "topic" in event:
            event["topic"] = f"/subscriptions/{sub}"
        data = event["data"]
        data["resourceUri"], data["subscriptionId"] = subject, sub
        fabricated.append(event)
    emulator.control("DELETE", "/journal")
    for event in fabricated:
        deliver_once(decode_event(event))
    reads = [r for r in emulator.journal() if "/oauth2/" not in r["path"] and "/msi/" not in r["path"]]
    campaign.record("fabricated_arm_events", events=len(fabricated), requests=len(reads))
    assert len(reads) <= len(fabricated), [(r["method"], r["path"], r["status"]) for r in reads]
    assert not [r for r in reads if r["method"] != "GET"]  # nothing written, no link made
