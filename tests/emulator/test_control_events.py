"""The control API's changes answer the Event Grid payloads Azure would publish, in shapes
the Functions worker decodes; links by hand, journal and Graph subscription lifecycle."""

from __future__ import annotations

import json

import azure.functions as func
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.meta import Datum

from tests.support.callers import caller

GRAPH = "https://graph.microsoft.com"


def decode(event: dict):
    return EventGridEventInConverter.decode(Datum(json.dumps(event), "json"), trigger_metadata={})


def subscribe(emulator, demo, resource: str) -> dict:
    g = caller(emulator, demo.principal("id-palwatch-contoso")["objectId"], audience=GRAPH)
    from datetime import UTC, datetime, timedelta

    body = {
        "changeType": "updated,deleted",
        "resource": resource,
        "clientState": "state-1",
        "notificationUrl": "EventGrid:?azuresubscriptionid=a&resourcegroup=b&partnertopic=c&location=d",
        "expirationDateTime": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
    }
    response = g.request("POST", emulator.info["graph"] + "/v1.0/subscriptions", json=body)
    assert response.status_code == 201
    return response.json()


def test_delegation_put_and_delete_publish_arm_events(emulator, demo):
    new = dict(demo.delegation("northwind"))
    new["registrationAssignmentId"] = "7d2c6b9e-0f4a-4f7e-9a59-2d0c1e4b8a61"
    new["scope"] = f"/subscriptions/{demo.tenant('Northwind')['subscriptions'][0]['subscriptionId']}"
    events = emulator.control("PUT", f"/delegations/{new['registrationAssignmentId']}", new)["events"]
    assert len(events) == 1
    decoded = decode(events[0])
    assert isinstance(decoded, func.EventGridEvent)
    assert decoded.event_type == "Microsoft.Resources.ResourceWriteSuccess"
    assert decoded.subject.endswith(
        f"/providers/Microsoft.ManagedServices/registrationAssignments/{new['registrationAssignmentId']}"
    )
    data = decoded.get_json()
    assert data["operationName"] == "Microsoft.ManagedServices/registrationAssignments/write"
    assert data["tenantId"] == demo.tenant("Northwind")["tenantId"]
    assert decoded.topic == new["scope"]

    deleted = emulator.control("DELETE", f"/delegations/{new['registrationAssignmentId']}")["events"]
    gone = decode(deleted[0])
    assert gone.event_type == "Microsoft.Resources.ResourceDeleteSuccess"
    assert gone.get_json()["httpRequest"]["method"] == "DELETE"


def test_graph_notifications_only_with_a_subscription(emulator, demo):
    bob = demo.principal("Bob Engineer")["objectId"]
    assert emulator.control("POST", f"/principals/{bob}", {"action": "disable"})["events"] == []
    sub = subscribe(emulator, demo, "users")
    events = emulator.control("POST", f"/principals/{bob}", {"action": "softDelete"})["events"]
    assert len(events) == 1
    decoded = decode(events[0])
    assert isinstance(decoded, func.CloudEvent)
    assert decoded.type == "Microsoft.Graph.UserUpdated"
    assert decoded.get_json()["clientState"] == "state-1"
    assert decoded.get_json()["subscriptionId"] == sub["id"]
    assert decoded.get_json()["tenantId"] == demo.home
    assert decoded.get_json()["resourceData"]["id"] == bob
    hard = decode(emulator.control("POST", f"/principals/{bob}", {"action": "hardDelete"})["events"][0])
    assert hard.type == "Microsoft.Graph.UserDeleted"
    assert hard.get_json()["changeType"] == "deleted"
    # a users subscription says nothing of groups
    operators = demo.principal("Contoso MSP Operators")["objectId"]
    alice = demo.principal("Alice Operator")["objectId"]
    assert emulator.control("DELETE", f"/groups/{operators}/members/{alice}")["events"] == []


def test_group_member_change_notifies_group_subscriptions(emulator, demo):
    subscribe(emulator, demo, "groups")
    operators = demo.principal("Contoso MSP Operators")["objectId"]
    alice = demo.principal("Alice Operator")["objectId"]
    events = emulator.control("DELETE", f"/groups/{operators}/members/{alice}")["events"]
    assert [decode(e).type for e in events] == ["Microsoft.Graph.GroupUpdated"]
    assert emulator.control("DELETE", f"/groups/{operators}/members/{alice}")["events"] == []  # already out
    g = caller(emulator, demo.principal("id-palwatch-contoso")["objectId"], audience=GRAPH)
    members = g.get(emulator.info["graph"] + f"/v1.0/groups/{operators}/transitiveMembers").json()["value"]
    assert alice not in {m["id"] for m in members}


def test_expire_graph_subscription_gives_lifecycle_event(emulator, demo):
    sub = subscribe(emulator, demo, "users")
    events = emulator.control("POST", f"/graph/subscriptions/{sub['id']}/expire", {})["events"]
    decoded = decode(events[0])
    assert decoded.type == "Microsoft.Graph.SubscriptionReauthorizationRequired"
    assert decoded.get_json()["subscriptionId"] == sub["id"]
    bob = demo.principal("Bob Engineer")["objectId"]
    assert emulator.control("POST", f"/principals/{bob}", {"action": "disable"})["events"] == []  # expired: silent


def test_links_by_hand_and_journal(emulator, demo):
    mi = demo.principal("id-palwatch-contoso")["objectId"]
    emulator.control("PUT", f"/links/{demo.home}/{mi}", {"partnerId": "1234567"})
    me = caller(emulator, mi)
    mark = emulator.journal()[-1]["seq"] if emulator.journal() else 0
    response = me.get("/providers/Microsoft.ManagementPartner/partners", params={"api-version": "2018-02-01"})
    assert response.json()["properties"]["partnerId"] == "1234567"
    assert response.json()["properties"]["version"] == 2
    emulator.control("DELETE", f"/links/{demo.home}/{mi}")
    assert (
        me.get("/providers/Microsoft.ManagementPartner/partners", params={"api-version": "2018-02-01"}).status_code
        == 404
    )
    entries = emulator.control("GET", f"/journal?since={mark}")["requests"]
    assert [(e["method"], e["status"], e["objectId"], e["tenantId"]) for e in entries] == [
        ("GET", 200, mi, demo.home),
        ("GET", 404, mi, demo.home),
    ]
    emulator.control("DELETE", "/journal")
    assert emulator.journal() == []
