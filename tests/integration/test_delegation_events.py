"""End to end: delegation events through the function entry point, over the emulator and Azurite.

Each test changes the emulated world through the control API as a customer would, takes the
Event Grid events Azure would publish for it, decodes them exactly as the Functions worker
does and calls `function_app.delegation_events` with them.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

import function_app
from tests.conftest import decode_event
from tests.support import demo
from tests.support.remembered import open_findings
from tests.support.world import links, offboard, onboard, pal_writes

# The demo's actors (tests.support.demo), under the names these tests and their importers use.
SCENARIO = demo.SCENARIO
MANAGING, PARTNER, CONTRIBUTOR, READER = demo.MANAGING, demo.PARTNER, demo.CONTRIBUTOR, demo.READER
PRINCIPALS = {a.name: a.raw for a in demo.ACTORS.values()}
MI, AUTOMATION, BOB, OPERATORS = (a.object_id for a in (demo.MI, demo.AUTOMATION, demo.BOB, demo.OPERATORS))
PIPELINE = demo.PIPELINE.raw  # federated trust to our MI, not configured: found by discovery
CUSTOMER = demo.RELECLOUD.raw
CUSTOMER_SUB = demo.RELECLOUD.subscription_id


def delegation(
    *authorizations: tuple[str, str, str],
    eligible: list[dict[str, Any]] | None = None,
    scope: str = f"/subscriptions/{CUSTOMER_SUB}",
) -> dict[str, Any]:
    """A new delegation body for the control API: the MI as Reader (so PAL Watch can see it) plus `authorizations`."""
    return {
        "registrationAssignmentId": str(uuid.uuid4()),
        "scope": scope,
        "registrationDefinitionId": str(uuid.uuid4()),
        "registrationDefinitionName": "Contoso Managed Azure (test)",
        "managedByTenantId": MANAGING,
        "authorizations": [
            {"principalId": MI, "principalIdDisplayName": "id-palwatch-contoso", "roleDefinitionId": READER},
            *({"principalId": p, "principalIdDisplayName": n, "roleDefinitionId": r} for p, n, r in authorizations),
        ],
        "eligibleAuthorizations": eligible or [],
    }


def deliver(events: list[dict[str, Any]]) -> None:
    for event in events:
        function_app.delegation_events(decode_event(event))


def snapshot_of(engine: Any, assignment_id: str) -> Any:
    return next(s for s in engine.store.list_delegations() if s.key.endswith(assignment_id.lower()))


def test_new_delegation_links_its_federated_principal_automatically(emulator, palwatch):
    body = delegation((PIPELINE["objectId"], "contoso-pipeline", CONTRIBUTOR))
    assert PIPELINE["objectId"] not in links(emulator)

    deliver(onboard(emulator, body))

    assert links(emulator).get(PIPELINE["objectId"]) == PARTNER
    snap = snapshot_of(palwatch, body["registrationAssignmentId"])
    assert snap.attributed
    assert [a.principal_id for a in snap.attributed_by if a.active] == [PIPELINE["objectId"]]
    assert not [f for f in open_findings(palwatch).values() if f.subject == snap.key]


def test_the_link_is_visible_to_microsofts_sdk_as_that_principal(emulator, palwatch):
    from azure.identity import ClientAssertionCredential, ManagedIdentityCredential
    from azure.mgmt.managementpartner import ACEProvisioningManagementPartnerAPI

    deliver(onboard(emulator, delegation((PIPELINE["objectId"], "contoso-pipeline", CONTRIBUTOR))))

    mi = ManagedIdentityCredential(client_id=emulator.env["AZURE_CLIENT_ID"])
    as_pipeline = ClientAssertionCredential(
        MANAGING,
        PIPELINE["appId"],
        lambda: mi.get_token("api://AzureADTokenExchange/.default").token,
        authority=emulator.env["AZURE_AUTHORITY_HOST"],
        disable_instance_discovery=True,
    )
    client = ACEProvisioningManagementPartnerAPI(as_pipeline, base_url=emulator.env["PAL_ARM_ENDPOINT"])
    link = client.partner.get(PARTNER)
    assert link.partner_id == PARTNER
    assert link.object_id == PIPELINE["objectId"]
    assert link.tenant_id == MANAGING


@pytest.mark.parametrize(
    ("authorizations", "eligible", "reason"),
    [
        pytest.param([(BOB, "Bob Engineer", CONTRIBUTOR)], None, "users_only", id="users-only"),
        pytest.param([(AUTOMATION, "contoso-automation", READER)], None, "no_eligible_role", id="reader-only"),
        pytest.param(
            [],
            [
                {
                    "principalId": AUTOMATION,
                    "principalIdDisplayName": "contoso-automation",
                    "roleDefinitionId": CONTRIBUTOR,
                    "justInTimeAccessPolicy": {"multiFactorAuthProvider": "Azure", "maximumActivationDuration": "PT8H"},
                }
            ],
            "just_in_time_only",
            id="jit-only",
        ),
    ],
)
def test_unattributed_delegations_get_the_right_reason(emulator, palwatch, authorizations, eligible, reason):
    body = delegation(*authorizations, eligible=eligible)
    deliver(onboard(emulator, body))

    snap = snapshot_of(palwatch, body["registrationAssignmentId"])
    assert not snap.attributed
    assert snap.reason == reason
    findings = [f for f in open_findings(palwatch).values() if f.subject == snap.key]
    assert [f.kind for f in findings] == ["unattributed_delegation"]
    assert findings[0].reason == reason
    assert findings[0].tenant_id == CUSTOMER["tenantId"]
    if reason == "users_only":
        assert f"az managementpartner create --partner-id {PARTNER}" in findings[0].fix


def test_a_group_containing_a_linked_principal_attributes_its_delegation(emulator, palwatch):
    body = delegation((OPERATORS, "Contoso MSP Operators", CONTRIBUTOR))
    deliver(onboard(emulator, body))

    snap = snapshot_of(palwatch, body["registrationAssignmentId"])
    assert snap.attributed
    assert {a.via_group for a in snap.attributed_by if a.active} == {OPERATORS}


def test_the_same_event_five_times_writes_the_link_once(emulator, palwatch):
    events = onboard(emulator, delegation((PIPELINE["objectId"], "contoso-pipeline", CONTRIBUTOR)))
    emulator.control("DELETE", "/journal")

    for _ in range(5):
        deliver(events)

    writes = pal_writes(emulator)
    assert len(writes) == 1, writes
    assert writes[0]["objectId"] == PIPELINE["objectId"]


def test_concurrent_duplicates_write_the_link_once(emulator, palwatch):
    from concurrent.futures import ThreadPoolExecutor

    events = onboard(emulator, delegation((PIPELINE["objectId"], "contoso-pipeline", CONTRIBUTOR)))
    emulator.control("DELETE", "/journal")

    with ThreadPoolExecutor(max_workers=5) as pool:
        list(pool.map(lambda _: deliver(events), range(5)))

    assert len(pal_writes(emulator)) == 1
    assert links(emulator)[PIPELINE["objectId"]] == PARTNER


def test_a_delete_event_records_the_removal(emulator, palwatch):
    body = delegation((PIPELINE["objectId"], "contoso-pipeline", CONTRIBUTOR))
    deliver(onboard(emulator, body))
    deliver(offboard(emulator, body["registrationAssignmentId"]))

    snap = snapshot_of(palwatch, body["registrationAssignmentId"])
    assert snap.removed
    kinds = [f.kind for f in open_findings(palwatch).values() if f.subject == snap.key]
    assert kinds == ["delegation_removed"]


def test_a_delete_delivered_before_its_write_ends_in_what_arm_shows(emulator, palwatch):
    body = delegation((BOB, "Bob Engineer", CONTRIBUTOR))
    write_events = onboard(emulator, body)
    delete_events = offboard(emulator, body["registrationAssignmentId"])
    second = copy.deepcopy(body)
    rewrite_events = onboard(emulator, second)  # the customer delegated again

    deliver(rewrite_events)
    deliver(delete_events)  # stale: the delegation exists again
    deliver(write_events)

    snap = snapshot_of(palwatch, body["registrationAssignmentId"])
    assert not snap.removed
    assert snap.reason == "users_only"


def test_events_in_cloudevents_schema_are_handled_too(emulator, palwatch):
    body = delegation((PIPELINE["objectId"], "contoso-pipeline", CONTRIBUTOR))
    cloud_events = []
    for event in onboard(emulator, body):
        cloud_events.append(
            {
                "specversion": "1.0",
                "id": event["id"],
                "source": event["topic"],
                "subject": event["subject"],
                "type": event["eventType"],
                "time": event["eventTime"],
                "data": event["data"],
            }
        )
    deliver(cloud_events)

    assert links(emulator).get(PIPELINE["objectId"]) == PARTNER


def test_a_delegation_to_another_managing_tenant_is_not_ours(emulator, palwatch):
    other = next(t for t in SCENARIO["tenants"] if t["displayName"] == "Fourth Coffee MSP")
    body = delegation()
    body["managedByTenantId"] = other["tenantId"]
    body["authorizations"] = [
        {
            "principalId": other["principals"][0]["objectId"],
            "principalIdDisplayName": "x",
            "roleDefinitionId": CONTRIBUTOR,
        }
    ]
    deliver(onboard(emulator, body))

    assert not [s for s in palwatch.store.list_delegations() if s.key.endswith(body["registrationAssignmentId"])]


def test_a_transient_fault_raises_so_event_grid_redelivers_and_the_retry_links_once(emulator, palwatch):
    from shared.azure import errors

    events = onboard(emulator, delegation((PIPELINE["objectId"], "contoso-pipeline", CONTRIBUTOR)))
    emulator.control(
        "POST", "/faults", {"route": "Microsoft.ManagementPartner/partners", "method": "PUT", "status": 503, "rate": 1}
    )
    with pytest.raises(errors.TransientError):
        deliver(events)
    assert PIPELINE["objectId"] not in links(emulator)

    emulator.control("DELETE", "/faults")
    emulator.control("DELETE", "/journal")
    deliver(events)  # Event Grid's redelivery of the whole batch

    assert links(emulator)[PIPELINE["objectId"]] == PARTNER
    assert len(pal_writes(emulator)) == 1


def test_throttling_with_retry_after_is_absorbed(emulator, palwatch):
    emulator.control(
        "POST",
        "/faults",
        {"route": "registrationAssignments", "status": 429, "retryAfter": 1, "rate": 1, "count": 2},
    )
    body = delegation((PIPELINE["objectId"], "contoso-pipeline", CONTRIBUTOR))
    deliver(onboard(emulator, body))

    assert snapshot_of(palwatch, body["registrationAssignmentId"]).attributed
    throttled = [r for r in emulator.journal() if r["status"] == 429]
    assert len(throttled) == 2


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(
            {
                "id": "1",
                "eventType": "Microsoft.Resources.ResourceWriteSuccess",
                "subject": "/subscriptions/x",
                "data": {},
                "eventTime": "2026-01-01T00:00:00Z",
                "dataVersion": "2",
                "topic": "t",
            },
            id="no-assignment",
        ),
        pytest.param(
            {
                "id": "2",
                "eventType": "Microsoft.Storage.BlobCreated",
                "subject": "/blob",
                "data": {},
                "eventTime": "2026-01-01T00:00:00Z",
                "dataVersion": "1",
                "topic": "t",
            },
            id="other-type",
        ),
        pytest.param(
            {
                "id": "3",
                "eventType": "Microsoft.Resources.ResourceWriteSuccess",
                "subject": "/subscriptions/" + "a" * 100_000,
                "data": "not a dict",
                "eventTime": "2026-01-01T00:00:00Z",
                "dataVersion": "2",
                "topic": "t",
            },
            id="huge-and-wrong-types",
        ),
    ],
)
def test_malformed_events_are_ignored_without_an_exception_or_a_request(emulator, palwatch, event):
    emulator.control("DELETE", "/journal")
    deliver([event])
    assert emulator.journal() == []
    assert palwatch.store.list_delegations() == []


def test_a_write_event_for_a_delegation_already_gone_raises_no_alarm(emulator, palwatch):
    body = delegation((BOB, "Bob Engineer", CONTRIBUTOR))
    write_events = onboard(emulator, body)
    offboard(emulator, body["registrationAssignmentId"])

    deliver(write_events)

    assert palwatch.store.open_findings() == []


def test_a_delegation_that_drops_pal_watch_is_reported_unreadable_not_removed(emulator, palwatch):
    body = delegation((BOB, "Bob Engineer", CONTRIBUTOR))
    deliver(onboard(emulator, body))
    without_us = copy.deepcopy(body)
    without_us["authorizations"] = [a for a in body["authorizations"] if a["principalId"] != MI]

    deliver(onboard(emulator, without_us))  # the customer updated the offer: PAL Watch's Reader is gone

    snap = snapshot_of(palwatch, body["registrationAssignmentId"])
    assert not snap.removed
    reasons = [f.reason for f in open_findings(palwatch).values() if f.subject == snap.key]
    assert reasons == ["not_visible"]


def test_an_entra_outage_raises_for_redelivery_instead_of_a_false_alarm(emulator, palwatch):
    from shared.azure import errors

    events = onboard(emulator, delegation((PIPELINE["objectId"], "contoso-pipeline", CONTRIBUTOR)))
    emulator.control("POST", "/faults", {"route": "/oauth2/v2.0/token", "status": 503, "rate": 1})

    with pytest.raises(errors.TransientError):
        deliver(events)

    assert palwatch.store.open_findings() == []  # nobody was told "not attributed" by mistake
