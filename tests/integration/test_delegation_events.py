"""End to end: delegation events through the function entry point, over the emulator and Azurite.

Each test changes the emulated world through the control API as a customer would, takes the
Event Grid events Azure would publish for it, decodes them exactly as the Functions worker
does and calls `function_app.delegation_events` with them.
"""

from __future__ import annotations

import copy

import pytest

from tests.support import demo, remembered, triggers, world
from tests.support.remembered import open_findings
from tests.support.world import links, offboard, onboard, pal_writes


def test_new_delegation_links_its_federated_principal_automatically(emulator, palwatch):
    body = world.new_delegation(demo.RELECLOUD, (demo.PIPELINE, demo.CONTRIBUTOR))
    assert demo.PIPELINE.object_id not in links(emulator)

    triggers.delegation_events(onboard(emulator, body))

    assert links(emulator).get(demo.PIPELINE.object_id) == demo.PARTNER
    snap = remembered.snapshot_of(palwatch, body["registrationAssignmentId"])
    assert snap.attributed
    assert [a.principal_id for a in snap.attributed_by if a.active] == [demo.PIPELINE.object_id]
    assert not [f for f in open_findings(palwatch).values() if f.subject == snap.key]


def test_the_link_is_visible_to_microsofts_sdk_as_that_principal(emulator, palwatch):
    from azure.identity import ClientAssertionCredential, ManagedIdentityCredential
    from azure.mgmt.managementpartner import ACEProvisioningManagementPartnerAPI

    triggers.delegation_events(
        onboard(
            emulator,
            world.new_delegation(demo.RELECLOUD, (demo.PIPELINE, demo.CONTRIBUTOR)),
        )
    )

    mi = ManagedIdentityCredential(client_id=emulator.env["AZURE_CLIENT_ID"])
    as_pipeline = ClientAssertionCredential(
        demo.MANAGING,
        demo.PIPELINE.app_id,
        lambda: mi.get_token("api://AzureADTokenExchange/.default").token,
        authority=emulator.env["AZURE_AUTHORITY_HOST"],
        disable_instance_discovery=True,
    )
    client = ACEProvisioningManagementPartnerAPI(as_pipeline, base_url=emulator.env["PAL_ARM_ENDPOINT"])
    link = client.partner.get(demo.PARTNER)
    assert link.partner_id == demo.PARTNER
    assert link.object_id == demo.PIPELINE.object_id
    assert link.tenant_id == demo.MANAGING


@pytest.mark.parametrize(
    ("authorizations", "eligible", "reason"),
    [
        pytest.param([(demo.BOB, demo.CONTRIBUTOR)], None, "users_only", id="users-only"),
        pytest.param([(demo.AUTOMATION, demo.READER)], None, "no_eligible_role", id="reader-only"),
        pytest.param(
            [],
            [
                {
                    "principalId": demo.AUTOMATION.object_id,
                    "principalIdDisplayName": "contoso-automation",
                    "roleDefinitionId": demo.CONTRIBUTOR,
                    "justInTimeAccessPolicy": {"multiFactorAuthProvider": "Azure", "maximumActivationDuration": "PT8H"},
                }
            ],
            "just_in_time_only",
            id="jit-only",
        ),
    ],
)
def test_unattributed_delegations_get_the_right_reason(emulator, palwatch, authorizations, eligible, reason):
    body = world.new_delegation(demo.RELECLOUD, *authorizations, eligible=eligible)
    triggers.delegation_events(onboard(emulator, body))

    snap = remembered.snapshot_of(palwatch, body["registrationAssignmentId"])
    assert not snap.attributed
    assert snap.reason == reason
    findings = [f for f in open_findings(palwatch).values() if f.subject == snap.key]
    assert [f.kind for f in findings] == ["unattributed_delegation"]
    assert findings[0].reason == reason
    assert findings[0].tenant_id == demo.RELECLOUD.tenant_id
    if reason == "users_only":
        assert f"az managementpartner create --partner-id {demo.PARTNER}" in findings[0].fix


def test_a_group_containing_a_linked_principal_attributes_its_delegation(emulator, palwatch):
    body = world.new_delegation(demo.RELECLOUD, (demo.OPERATORS, demo.CONTRIBUTOR))
    triggers.delegation_events(onboard(emulator, body))

    snap = remembered.snapshot_of(palwatch, body["registrationAssignmentId"])
    assert snap.attributed
    assert {a.via_group for a in snap.attributed_by if a.active} == {demo.OPERATORS.object_id}


def test_the_same_event_five_times_writes_the_link_once(emulator, palwatch):
    events = onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.PIPELINE, demo.CONTRIBUTOR)))
    emulator.control("DELETE", "/journal")

    for _ in range(5):
        triggers.delegation_events(events)

    writes = pal_writes(emulator)
    assert len(writes) == 1, writes
    assert writes[0]["objectId"] == demo.PIPELINE.object_id


def test_concurrent_duplicates_write_the_link_once(emulator, palwatch):
    from concurrent.futures import ThreadPoolExecutor

    events = onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.PIPELINE, demo.CONTRIBUTOR)))
    emulator.control("DELETE", "/journal")

    with ThreadPoolExecutor(max_workers=5) as pool:
        list(pool.map(lambda _: triggers.delegation_events(events), range(5)))

    assert len(pal_writes(emulator)) == 1
    assert links(emulator)[demo.PIPELINE.object_id] == demo.PARTNER


def test_a_delete_event_records_the_removal(emulator, palwatch):
    body = world.new_delegation(demo.RELECLOUD, (demo.PIPELINE, demo.CONTRIBUTOR))
    triggers.delegation_events(onboard(emulator, body))
    triggers.delegation_events(offboard(emulator, body["registrationAssignmentId"]))

    snap = remembered.snapshot_of(palwatch, body["registrationAssignmentId"])
    assert snap.removed
    kinds = [f.kind for f in open_findings(palwatch).values() if f.subject == snap.key]
    assert kinds == ["delegation_removed"]


def test_a_delete_delivered_before_its_write_ends_in_what_arm_shows(emulator, palwatch):
    body = world.new_delegation(demo.RELECLOUD, (demo.BOB, demo.CONTRIBUTOR))
    write_events = onboard(emulator, body)
    delete_events = offboard(emulator, body["registrationAssignmentId"])
    second = copy.deepcopy(body)
    rewrite_events = onboard(emulator, second)  # the customer delegated again

    triggers.delegation_events(rewrite_events)
    triggers.delegation_events(delete_events)  # stale: the delegation exists again
    triggers.delegation_events(write_events)

    snap = remembered.snapshot_of(palwatch, body["registrationAssignmentId"])
    assert not snap.removed
    assert snap.reason == "users_only"


def test_events_in_cloudevents_schema_are_handled_too(emulator, palwatch):
    body = world.new_delegation(demo.RELECLOUD, (demo.PIPELINE, demo.CONTRIBUTOR))
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
    triggers.delegation_events(cloud_events)

    assert links(emulator).get(demo.PIPELINE.object_id) == demo.PARTNER


def test_a_delegation_to_another_managing_tenant_is_not_ours(emulator, palwatch):
    other = next(t for t in demo.SCENARIO["tenants"] if t["displayName"] == "Fourth Coffee MSP")
    body = world.new_delegation(demo.RELECLOUD)
    body["managedByTenantId"] = other["tenantId"]
    body["authorizations"] = [
        {
            "principalId": other["principals"][0]["objectId"],
            "principalIdDisplayName": "x",
            "roleDefinitionId": demo.CONTRIBUTOR,
        }
    ]
    triggers.delegation_events(onboard(emulator, body))

    assert not [s for s in palwatch.store.list_delegations() if s.key.endswith(body["registrationAssignmentId"])]


def test_a_transient_fault_raises_so_event_grid_redelivers_and_the_retry_links_once(emulator, palwatch):
    from shared.azure import errors

    events = onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.PIPELINE, demo.CONTRIBUTOR)))
    emulator.control(
        "POST", "/faults", {"route": "Microsoft.ManagementPartner/partners", "method": "PUT", "status": 503, "rate": 1}
    )
    with pytest.raises(errors.TransientError):
        triggers.delegation_events(events)
    assert demo.PIPELINE.object_id not in links(emulator)

    emulator.control("DELETE", "/faults")
    emulator.control("DELETE", "/journal")
    triggers.delegation_events(events)  # Event Grid's redelivery of the whole batch

    assert links(emulator)[demo.PIPELINE.object_id] == demo.PARTNER
    assert len(pal_writes(emulator)) == 1


def test_throttling_with_retry_after_is_absorbed(emulator, palwatch):
    emulator.control(
        "POST",
        "/faults",
        {"route": "registrationAssignments", "status": 429, "retryAfter": 1, "rate": 1, "count": 2},
    )
    body = world.new_delegation(demo.RELECLOUD, (demo.PIPELINE, demo.CONTRIBUTOR))
    triggers.delegation_events(onboard(emulator, body))

    assert remembered.snapshot_of(palwatch, body["registrationAssignmentId"]).attributed
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
    triggers.delegation_events([event])
    assert emulator.journal() == []
    assert palwatch.store.list_delegations() == []


def test_a_write_event_for_a_delegation_already_gone_raises_no_alarm(emulator, palwatch):
    body = world.new_delegation(demo.RELECLOUD, (demo.BOB, demo.CONTRIBUTOR))
    write_events = onboard(emulator, body)
    offboard(emulator, body["registrationAssignmentId"])

    triggers.delegation_events(write_events)

    assert palwatch.store.open_findings() == []


def test_a_delegation_that_drops_pal_watch_is_reported_unreadable_not_removed(emulator, palwatch):
    body = world.new_delegation(demo.RELECLOUD, (demo.BOB, demo.CONTRIBUTOR))
    triggers.delegation_events(onboard(emulator, body))
    without_us = copy.deepcopy(body)
    without_us["authorizations"] = [a for a in body["authorizations"] if a["principalId"] != demo.MI.object_id]

    triggers.delegation_events(
        onboard(emulator, without_us)
    )  # the customer updated the offer: PAL Watch's Reader is gone

    snap = remembered.snapshot_of(palwatch, body["registrationAssignmentId"])
    assert not snap.removed
    reasons = [f.reason for f in open_findings(palwatch).values() if f.subject == snap.key]
    assert reasons == ["not_visible"]


def test_an_entra_outage_raises_for_redelivery_instead_of_a_false_alarm(emulator, palwatch):
    from shared.azure import errors

    events = onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.PIPELINE, demo.CONTRIBUTOR)))
    emulator.control("POST", "/faults", {"route": "/oauth2/v2.0/token", "status": 503, "rate": 1})

    with pytest.raises(errors.TransientError):
        triggers.delegation_events(events)

    assert palwatch.store.open_findings() == []  # nobody was told "not attributed" by mistake
