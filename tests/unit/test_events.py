"""Untrusted Event Grid payloads -> domain events, built exactly as the Functions worker does."""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any

import pytest
from azure.functions import meta
from azure.functions.eventgrid import EventGridEventInConverter
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import events

SUB = "0afefe50-734e-4610-8c82-a144aff49dea"
ASSIGN = "484a7d5f-9729-4b87-bc9b-26610985a013"
TENANT = "83abe5cd-bcc3-441a-bd86-e6a75360cecc"
USER = "7c2f5d11-3a4b-4c5d-8e9f-0a1b2c3d4e5f"
SECRET = "s3cr3t-client-state-value"
SUB_SCOPE = f"/subscriptions/{SUB}"
RG_SCOPE = f"/subscriptions/{SUB}/resourceGroups/rg-Prod.1"


def assignment(scope: str) -> str:
    return f"{scope}/providers/Microsoft.ManagedServices/registrationAssignments/{ASSIGN}"


def arm_event(scope: str = SUB_SCOPE, change: str = "write", *, cloud: bool = False) -> dict[str, Any]:
    kind = "Write" if change == "write" else "Delete"
    body = {
        "subject": assignment(scope),
        "eventType": f"Microsoft.Resources.Resource{kind}Success",
        "eventTime": "2026-03-01T10:00:00.1234567Z",
        "id": "4db48cba-50a2-455a-93b4-de41a3b5b7f6",
        "data": {
            "operationName": f"Microsoft.ManagedServices/registrationAssignments/{change}",
            "resourceUri": assignment(scope),
            "status": "Succeeded",
            "subscriptionId": SUB,
            "tenantId": TENANT,
            "resourceProvider": "Microsoft.ManagedServices",
        },
        "dataVersion": "2",
        "metadataVersion": "1",
        "topic": f"/subscriptions/{SUB}",
    }
    if cloud:
        body = {
            "specversion": "1.0",
            "id": body["id"],
            "type": body["eventType"],
            "source": body["topic"],
            "subject": body["subject"],
            "time": body["eventTime"],
            "data": body["data"],
        }
    return body


def graph_event(
    kind: str = "User", change: str = "Updated", *, state: str = SECRET, tenant: str = TENANT, with_type: bool = True
) -> dict[str, Any]:
    resource = f"{kind}s/{USER}"
    body = {
        "id": "00d8a100-2e92-4bfa-86e1-0056dacd0fce",
        "type": f"Microsoft.Graph.{kind}{change}",
        "source": f"/tenants/{tenant}/applications/5b5a4c1e-1f2f-4d6e-9d1a-0b6c1d2e3f40",
        "subject": resource,
        "time": "2022-05-24T22:24:31.3062901Z",
        "datacontenttype": "application/json",
        "specversion": "1.0",
        "data": {
            "changeType": change.lower(),
            "clientState": state,
            "resource": resource,
            "resourceData": {
                "@odata.type": f"#Microsoft.Graph.{kind}",
                "@odata.id": resource,
                "id": USER,
                "organizationId": tenant,
            },
            "subscriptionId": "a1b2c3d4-0000-4000-8000-000000000001",
            "tenantId": tenant,
        },
    }
    if not with_type:
        del body["type"]
    return body


def as_worker(body: Any) -> Any:
    """What the azure-functions 1.26 trigger hands the function."""
    return EventGridEventInConverter.decode(meta.Datum(json.dumps(body), "json"), trigger_metadata={})


def delegation(body: Any, *, worker: bool = True) -> Any:
    return events.parse_delegation_event(as_worker(body) if worker else body)


@pytest.mark.parametrize("worker", [True, False], ids=["worker", "dict"])
@pytest.mark.parametrize("cloud", [False, True], ids=["eventgrid", "cloudevents"])
@pytest.mark.parametrize("scope", [SUB_SCOPE, RG_SCOPE], ids=["subscription", "resource-group"])
@pytest.mark.parametrize("change", ["write", "delete"])
def test_delegation_events_parse(worker: bool, cloud: bool, scope: str, change: str) -> None:
    parsed = delegation(arm_event(scope, change, cloud=cloud), worker=worker)
    assert isinstance(parsed, events.DelegationChanged), parsed
    assert parsed.assignment_id == assignment(scope)
    assert parsed.scope == scope
    assert parsed.subscription_id == SUB
    assert parsed.change == change
    assert parsed.key == assignment(scope).lower()
    assert parsed.event_time is not None
    assert parsed.event_time.microsecond == 123456


def test_delegation_ids_are_canonicalised() -> None:
    body = arm_event(RG_SCOPE)
    body["subject"] = body["subject"].upper().replace("RG-PROD.1", "rg-Prod.1")
    body["data"]["resourceUri"] = body["subject"]
    body["data"]["operationName"] = body["data"]["operationName"].upper()
    parsed = delegation(body)
    assert isinstance(parsed, events.DelegationChanged)
    assert parsed.assignment_id == assignment(RG_SCOPE)


def _mutate(path: list[str], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(arm_event())
    node = body
    for part in path[:-1]:
        node = node[part]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (_mutate(["eventType"], "Microsoft.Resources.ResourceWriteFailure"), "not a resource write/delete success"),
        (_mutate(["eventType"], "Microsoft.Storage.BlobCreated"), "not a resource write/delete success"),
        (_mutate(["data", "operationName"], "Microsoft.Storage/storageAccounts/write"), "not a registration"),
        (
            _mutate(["data", "operationName"], "Microsoft.ManagedServices/registrationAssignments/delete"),
            "does not match",
        ),
        (_mutate(["data", "operationName"], KeyError), "operationName is missing"),
        (_mutate(["data", "operationName"], 42), "operationName is missing"),
        (
            _mutate(
                ["subject"],
                "/subscriptions/" + SUB + "/providers/Microsoft.ManagedServices/registrationDefinitions/" + ASSIGN,
            ),
            "different resources",
        ),
        (
            {
                **_mutate(["subject"], f"{SUB_SCOPE}/providers/Microsoft.Storage/storageAccounts/x"),
                "data": {
                    **arm_event()["data"],
                    "resourceUri": f"{SUB_SCOPE}/providers/Microsoft.Storage/storageAccounts/x",
                },
            },
            "is not a registration assignment",
        ),
        (
            {
                **_mutate(["subject"], assignment(SUB_SCOPE).replace(ASSIGN, "not-a-guid")),
                "data": {**arm_event()["data"], "resourceUri": assignment(SUB_SCOPE).replace(ASSIGN, "not-a-guid")},
            },
            "is not a registration assignment",
        ),
        (
            {
                **_mutate(["subject"], assignment(SUB_SCOPE) + "/extra"),
                "data": {**arm_event()["data"], "resourceUri": assignment(SUB_SCOPE) + "/extra"},
            },
            "is not a registration assignment",
        ),
        (_mutate(["topic"], "/subscriptions/11111111-1111-1111-1111-111111111111"), "different subscription"),
        (_mutate(["data", "status"], "Failed"), "not Succeeded"),
        (_mutate(["data"], "a string"), "data is str"),
        (_mutate(["data"], None), "data is NoneType"),
        (_mutate(["data"], [1, 2]), "data is list"),
        (_mutate(["subject"], 12345), "subject is int"),
        (_mutate(["subject"], "x" * 100_000), "100000 characters"),
        (_mutate(["id"], {"nested": True}), "id is dict"),
    ],
)
def test_bad_delegation_events_are_ignored_with_a_reason(body: dict[str, Any], why: str) -> None:
    for candidate in (body, as_worker(body)):
        parsed = events.parse_delegation_event(candidate)
        assert isinstance(parsed, events.Ignored), parsed
        assert why in parsed.reason
        assert len(parsed.reason) <= 400


@pytest.mark.parametrize("thing", [None, 42, "text", [1], object(), {"specversion": "1.0"}, {}])
def test_non_events_are_ignored(thing: Any) -> None:
    assert isinstance(events.parse_delegation_event(thing), events.Ignored)
    assert isinstance(events.parse_graph_event(thing), events.Ignored)


def test_reasons_never_echo_much_of_a_huge_input() -> None:
    huge = "A" * 5000
    body = _mutate(["data", "operationName"], "Microsoft.X/" + huge)
    parsed = delegation(body)
    assert isinstance(parsed, events.Ignored)
    assert len(parsed.reason) < 300


# ---------------------------------------------------------------- Graph


@pytest.mark.parametrize(
    ("kind", "change"), [("User", "Updated"), ("User", "Deleted"), ("Group", "Updated"), ("Group", "Deleted")]
)
@pytest.mark.parametrize("with_type", [True, False], ids=["type", "data-only"])
def test_graph_identity_events(kind: str, change: str, with_type: bool) -> None:
    body = graph_event(kind, change, with_type=with_type)
    parsed = events.parse_graph_event(as_worker(body), expected_client_state=SECRET, expected_tenant_id=TENANT)
    assert isinstance(parsed, events.IdentityChanged), parsed
    assert (parsed.object_id, parsed.kind, parsed.change) == (USER, kind.lower(), change.lower())
    assert parsed.tenant_id == TENANT
    assert parsed.client_state_ok
    assert parsed.subscription_id == "a1b2c3d4-0000-4000-8000-000000000001"


def test_graph_without_configured_secret_is_unverified() -> None:
    parsed = events.parse_graph_event(graph_event())
    assert isinstance(parsed, events.IdentityChanged)
    assert not parsed.client_state_ok


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (graph_event(state="wrong-value"), "clientState does not match"),
        (graph_event(state=""), "clientState is missing"),
        (graph_event(tenant="11111111-1111-1111-1111-111111111111"), "is not the managing tenant"),
    ],
)
def test_spoofed_graph_notifications_are_rejected(body: dict[str, Any], why: str) -> None:
    parsed = events.parse_graph_event(as_worker(body), expected_client_state=SECRET, expected_tenant_id=TENANT)
    assert isinstance(parsed, events.Rejected)
    assert why in parsed.reason
    assert SECRET not in repr(parsed)
    assert "wrong-value" not in repr(parsed)


def test_mixed_tenants_are_rejected() -> None:
    body = graph_event()
    body["data"]["tenantId"] = "11111111-1111-1111-1111-111111111111"
    assert isinstance(events.parse_graph_event(body), events.Rejected)


def test_client_state_never_appears_in_outcomes() -> None:
    for body in (graph_event(), graph_event(state="x" * 5000), graph_event("Group", "Deleted")):
        for expected in (SECRET, None, "other"):
            parsed = events.parse_graph_event(body, expected_client_state=expected, expected_tenant_id=TENANT)
            assert SECRET not in repr(parsed)
            assert "xxxxxxxxxx" not in repr(parsed)


@pytest.mark.parametrize("with_type", [True, False])
def test_lifecycle_notification(with_type: bool) -> None:
    body = {
        "id": "1",
        "specversion": "1.0",
        "source": f"/tenants/{TENANT}/applications/x",
        "subject": "Subscriptions/a1b2",
        "time": "2026-03-01T00:00:00Z",
        "data": {
            "lifecycleEvent": "reauthorizationRequired",
            "subscriptionId": "a1b2",
            "tenantId": TENANT,
            "clientState": SECRET,
        },
    }
    if with_type:
        body["type"] = "Microsoft.Graph.SubscriptionReauthorizationRequired"
    parsed = events.parse_graph_event(as_worker(body), expected_client_state=SECRET, expected_tenant_id=TENANT)
    assert parsed == events.GraphSubscriptionLifecycle(
        "a1b2", "reauthorizationRequired", TENANT, True, "1", parsed.event_time
    )
    body["data"]["clientState"] = "bad"
    assert isinstance(events.parse_graph_event(body, expected_client_state=SECRET), events.Rejected)


@pytest.mark.parametrize(
    ("mutation", "why"),
    [
        (lambda b: b.update(type="Microsoft.Graph.UserCreated"), "needs no action"),
        (lambda b: b.update(type="Microsoft.Graph.Chat"), "not a Graph user/group change"),
        (lambda b: b["data"].update(resource="Devices/" + USER), "is not Users/"),
        (lambda b: b.update(subject="Groups/" + USER), "name different objects"),
        (lambda b: b.update(type="Microsoft.Graph.GroupUpdated"), "does not match resource kind"),
        (lambda b: b["data"]["resourceData"].update(id="11111111-1111-1111-1111-111111111111"), "differs"),
    ],
)
def test_odd_graph_events_are_ignored(mutation: Any, why: str) -> None:
    body = graph_event()
    mutation(body)
    parsed = events.parse_graph_event(body, expected_client_state=SECRET)
    assert isinstance(parsed, events.Ignored)
    assert why in parsed.reason


def test_each_parser_reads_its_own_kind() -> None:
    assert isinstance(events.parse_delegation_event(arm_event()), events.DelegationChanged)
    assert isinstance(events.parse_graph_event(graph_event(), expected_client_state=SECRET), events.IdentityChanged)


# ---------------------------------------------------------------- fuzzing: never raise

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=300),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=5),
    max_leaves=25,
)
FIELDS = [
    "id",
    "eventType",
    "type",
    "subject",
    "topic",
    "source",
    "eventTime",
    "time",
    "data",
    "specversion",
    "dataVersion",
]


@settings(max_examples=300, deadline=None)
@given(
    base=st.sampled_from(
        [
            arm_event(),
            arm_event(RG_SCOPE, "delete", cloud=True),
            graph_event(),
            graph_event("Group", "Deleted", with_type=False),
        ]
    ),
    overrides=st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4),
    data_overrides=st.dictionaries(
        st.sampled_from(
            [
                "operationName",
                "resourceUri",
                "clientState",
                "tenantId",
                "resource",
                "resourceData",
                "subscriptionId",
                "status",
                "lifecycleEvent",
                "changeType",
            ]
        ),
        json_values,
        max_size=4,
    ),
)
def test_parsers_never_raise(base: dict[str, Any], overrides: dict[str, Any], data_overrides: dict[str, Any]) -> None:
    body = copy.deepcopy(base)
    body.update(overrides)
    if isinstance(body.get("data"), dict):
        body["data"].update(data_overrides)
    candidates: list[Any] = [body]
    # The worker's own converter refuses some payloads (e.g. a bad time); those never reach us.
    with contextlib.suppress(Exception):
        candidates.append(as_worker(body))
    for candidate in candidates:
        for parsed in (
            events.parse_delegation_event(candidate),
            events.parse_graph_event(candidate, expected_client_state=SECRET, expected_tenant_id=TENANT),
        ):
            assert isinstance(
                parsed,
                events.DelegationChanged
                | events.IdentityChanged
                | events.GraphSubscriptionLifecycle
                | events.Ignored
                | events.Rejected,
            )
            if isinstance(parsed, events.Ignored | events.Rejected):
                assert len(parsed.reason) <= 500


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=3000))
def test_any_subject_string_is_handled(subject: str) -> None:
    body = arm_event()
    body["subject"] = subject
    body["data"]["resourceUri"] = subject
    parsed = events.parse_delegation_event(body)
    if isinstance(parsed, events.DelegationChanged):
        assert parsed.assignment_id.lower() == subject.lower()
    else:
        assert len(parsed.reason) <= 500
