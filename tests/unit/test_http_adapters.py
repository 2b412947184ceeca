"""Adapters turn Azure's wire formats into model values, and their verbs behave as the SDK guidelines say.

Wire examples come from the reference facts (§1, §2); a scripted loopback server plays ARM/Graph.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import pytest

from shared import model, roles
from shared.azure import errors
from shared.azure.activity_log import ActivityLogClient, parse_record
from shared.azure.graph import GraphClient, parse_principal
from shared.azure.lighthouse import parse_assignment
from shared.azure.pal import PARTNERS, PartnerLinkClient
from tests.support.scripted_http import FakeService, Reply, Seen, client
from tests.support.world import allow_every_write

SUB = "0afefe50-734e-4610-8c82-a144aff49dea"
CUSTOMER = "01c0bcd5-4f47-4e4b-b492-418b7e2a8854"
MANAGING = "83abe5cd-bcc3-441a-bd86-e6a75360cecc"


def assignment(sub: str = SUB, rg: str = "", name: str = "484a7d5f-9729-4b87-bc9b-26610985a013") -> dict:
    scope = f"/subscriptions/{sub}" + (f"/resourceGroups/{rg}" if rg else "")
    return {
        "id": f"{scope}/providers/Microsoft.ManagedServices/registrationAssignments/{name}",
        "type": "Microsoft.ManagedServices/registrationAssignments",
        "name": name,
        "properties": {
            "registrationDefinitionId": f"{scope}/providers/Microsoft.ManagedServices/registrationDefinitions/26c1",
            "provisioningState": "Succeeded",
            "registrationDefinition": {
                "id": f"{scope}/providers/Microsoft.ManagedServices/registrationDefinitions/26c1",
                "properties": {
                    "registrationDefinitionName": "DefinitionName",
                    "authorizations": [
                        {
                            "principalId": "F98D86A2-4cc4-4e9d-ad47-b3e80a1bcdfc",
                            "principalIdDisplayName": "Support",
                            "roleDefinitionId": roles.READER,
                        },
                        {
                            "principalId": "f98d86a2-4cc4-4e9d-ad47-b3e80a1bcdfc",
                            "roleDefinitionId": roles.USER_ACCESS_ADMINISTRATOR,
                            "delegatedRoleDefinitionIds": [roles.CONTRIBUTOR],
                        },
                        {"principalIdDisplayName": "broken entry"},
                    ],
                    "eligibleAuthorizations": [
                        {
                            "principalId": "3e0ed8c6-e902-4fc5-863c-e3ddbb2ae2a2",
                            "roleDefinitionId": roles.APPLICATION_INSIGHTS_COMPONENT_CONTRIBUTOR,
                            "justInTimeAccessPolicy": {"multiFactorAuthProvider": "Azure"},
                        }
                    ],
                    "manageeTenantId": CUSTOMER,
                    "manageeTenantName": "Fabrikam",
                    "managedByTenantId": MANAGING,
                    "managedByTenantName": "Contoso Corp.",
                },
            },
        },
    }


def test_assignment_becomes_a_delegation() -> None:
    d = parse_assignment(assignment(rg="rg1"))
    assert d.scope == f"/subscriptions/{SUB}/resourceGroups/rg1"
    assert d.subscription_id == SUB
    assert (d.customer_tenant_id, d.customer_tenant_name, d.managed_by_tenant_id) == (CUSTOMER, "Fabrikam", MANAGING)
    assert d.definition_name == "DefinitionName"
    assert [a.principal_id for a in d.authorizations] == ["f98d86a2-4cc4-4e9d-ad47-b3e80a1bcdfc"] * 2
    assert d.authorizations[0].principal_display_name == "Support"
    assert not any(a.just_in_time for a in d.authorizations)
    assert [(a.role_definition_id, a.just_in_time) for a in d.eligible_authorizations] == [
        (roles.APPLICATION_INSIGHTS_COMPONENT_CONTRIBUTOR, True)
    ]


def test_something_that_is_not_an_assignment_is_permanent() -> None:
    with pytest.raises(errors.PermanentError):
        parse_assignment({"id": "/subscriptions/x/providers/Microsoft.Storage/storageAccounts/y"})


def link_body(pid: str, state: str = "Active", version: int = 18) -> dict:
    return {
        "id": f"/providers/microsoft.managementpartner/partners/{pid}",
        "name": pid,
        "etag": version,
        "type": "Microsoft.ManagementPartner/partners",
        "properties": {
            "partnerId": pid,
            "partnerName": "Contoso MSP",
            "tenantId": MANAGING,
            "objectId": "ac9a0626-3ff0-46e2-9974-bbfba246f6dc",
            "version": version,
            "state": state,
        },
    }


NOT_LINKED = Reply(
    404, {"error": {"code": "ManagementPartnerNotFound", "message": "not linked"}, "code": "ManagementPartnerNotFound"}
)


def methods(service: FakeService) -> list[str]:
    return [f"{s.method} {s.path.split('?')[0]}" for s in service.seen]


def test_get_link_returns_none_when_not_linked(service: FakeService) -> None:
    service.on(PARTNERS, NOT_LINKED)
    assert PartnerLinkClient(client(service)).get_link() is None


@pytest.mark.parametrize(
    ("current", "action", "writes"),
    [
        (None, "created", ["PUT"]),
        (link_body("5127255", state="Deleted"), "created", ["PUT"]),
        (link_body("1111111"), "repointed", ["PATCH"]),
        (link_body("5127255"), "unchanged", []),
    ],
)
def test_ensure_link_writes_at_most_once(
    service: FakeService, current: dict | None, action: str, writes: list[str]
) -> None:
    service.on(PARTNERS, Reply(200, current) if current else NOT_LINKED)
    service.on(f"{PARTNERS}/5127255", Reply(200, link_body("5127255", version=19)))
    result = PartnerLinkClient(client(service)).ensure_link("5127255", may_write=allow_every_write)
    assert result.action == action
    assert result.link.partner_id == "5127255"
    assert [m.split()[0] for m in methods(service)[1:]] == writes
    put = [s for s in service.seen if s.method == "PUT"]
    assert all(s.body == b"" and s.headers.get("Content-Length") == "0" for s in put)


def test_ensure_link_rereads_once_after_a_conflict(service: FakeService) -> None:
    service.on(PARTNERS, NOT_LINKED, Reply(200, link_body("5127255")))
    service.on(f"{PARTNERS}/5127255", Reply(409, {"error": {"code": "Conflict", "message": "already linked"}}))
    result = PartnerLinkClient(client(service)).ensure_link("5127255", may_write=allow_every_write)
    assert result.action == "unchanged"
    assert methods(service) == [f"GET {PARTNERS}", f"PUT {PARTNERS}/5127255", f"GET {PARTNERS}"]


def test_partner_id_invalid_is_its_own_error(service: FakeService) -> None:
    service.on(PARTNERS, NOT_LINKED)
    service.on(
        f"{PARTNERS}/1234567",
        Reply(
            400,
            {
                "error": {"code": "PartnerIdInvalid", "message": "not valid"},
                "code": "PartnerIdInvalid",
                "message": "not valid",
            },
        ),
    )
    with pytest.raises(errors.PartnerIdInvalidError):
        PartnerLinkClient(client(service)).ensure_link("1234567", may_write=allow_every_write)


USER = "7c2f5d11-3a4b-4c5d-8e9f-0a1b2c3d4e5f"
SP = "5b5a4c1e-1f2f-4d6e-9d1a-0b6c1d2e3f40"
MI = "00d8a100-2e92-4bfa-86e1-0056dacd0fce"
GONE = "a1b2c3d4-0000-4000-8000-000000000001"
SOFT = "a1b2c3d4-0000-4000-8000-000000000002"


COLLECTIONS = {"users": "#microsoft.graph.user", "servicePrincipals": "#microsoft.graph.servicePrincipal"}
OBJECTS = {
    USER: {
        "@odata.type": "#microsoft.graph.user",
        "id": USER,
        "displayName": "Ann",
        "userPrincipalName": "ann@contoso.com",
        "accountEnabled": False,
    },
    SP: {
        "@odata.type": "#microsoft.graph.servicePrincipal",
        "id": SP,
        "appId": "APP",
        "accountEnabled": True,
        "servicePrincipalType": "Application",
    },
    MI: {
        "@odata.type": "#microsoft.graph.servicePrincipal",
        "id": MI,
        "accountEnabled": True,
        "servicePrincipalType": "ManagedIdentity",
    },
}
DELETED = {SOFT: {"@odata.type": "#microsoft.graph.group", "id": SOFT, "displayName": "Ops"}}


def answer_read(url: str) -> dict:
    """One per-type read (`/users?$filter=id in (...)&$select=...`) against the objects above."""
    path, _, query = url.partition("?")
    params = dict(parse_qsl(query))
    ids = set(re.findall(r"'([^']+)'", params["$filter"]))
    selected = set(params["$select"].split(","))
    deleted = path.startswith("/directory/deletedItems/")
    pool = DELETED if deleted else OBJECTS
    odata = "#microsoft.graph." + path.rsplit(".", 1)[1] if deleted else COLLECTIONS.get(path.strip("/"), "")
    found = [o for i, o in pool.items() if i in ids and o["@odata.type"].lower() == odata.lower()]
    return {"value": [{k: v for k, v in o.items() if k in selected} for o in found]}


def graph_handler(seen: Seen) -> Reply:
    assert seen.path.split("?")[0] == "/v1.0/$batch", seen.path
    requests = json.loads(seen.body)["requests"]
    return Reply(200, {"responses": [{"id": r["id"], "status": 200, "body": answer_read(r["url"])} for r in requests]})


def test_principals_are_resolved_with_their_state(service: FakeService) -> None:
    service.handler = graph_handler
    graph = GraphClient(client(service))

    def read(object_id: str) -> model.Principal:
        return graph.get_principals([object_id])[object_id.lower()]

    assert read(USER).state is model.PrincipalState.DISABLED
    assert read(MI).kind is model.PrincipalKind.MANAGED_IDENTITY
    soft = read(SOFT)
    assert (soft.kind, soft.state, soft.display_name) == (
        model.PrincipalKind.GROUP,
        model.PrincipalState.SOFT_DELETED,
        "Ops",
    )
    gone = read(GONE)
    assert (gone.kind, gone.state) == (model.PrincipalKind.UNKNOWN, model.PrincipalState.DELETED)


def test_get_principals_reads_per_type_with_select_then_deleted_items(service: FakeService) -> None:
    service.handler = graph_handler
    found = GraphClient(client(service)).get_principals([USER, SP.upper(), SOFT, GONE, USER])
    assert set(found) == {USER, SP, SOFT, GONE}
    assert found[SP].kind is model.PrincipalKind.SERVICE_PRINCIPAL
    assert found[SP].usable
    assert found[SOFT].state is model.PrincipalState.SOFT_DELETED
    assert found[GONE].state is model.PrincipalState.DELETED
    batches = [json.loads(s.body)["requests"] for s in service.seen]
    assert [[r["url"].split("?")[0] for r in b] for b in batches] == [
        ["/users", "/groups", "/servicePrincipals"],
        [
            "/directory/deletedItems/microsoft.graph.user",
            "/directory/deletedItems/microsoft.graph.group",
            "/directory/deletedItems/microsoft.graph.servicePrincipal",
        ],
    ]
    selects = {r["url"].split("?")[0]: dict(parse_qsl(r["url"].split("?")[1]))["$select"] for r in batches[0]}
    assert selects == {
        "/users": "id,displayName,userPrincipalName,accountEnabled",
        "/groups": "id,displayName",
        "/servicePrincipals": "id,appId,displayName,accountEnabled,servicePrincipalType",
    }


def test_get_principals_batches_twenty_reads_of_fifteen_ids(service: FakeService) -> None:
    service.handler = graph_handler
    ids = [f"00000000-0000-0000-0000-{n:012d}" for n in range(100)]
    found = GraphClient(client(service)).get_principals(ids)
    assert len(found) == 100
    live = [json.loads(s.body)["requests"] for s in service.seen][:2]  # 7 chunks x 3 types = 21 reads
    assert sorted(len(b) for b in live) == [1, 20]  # batches run concurrently: any order
    assert all(r["url"].startswith(("/users", "/groups", "/servicePrincipals")) for b in live for r in b)
    assert max(len(re.findall("'", r["url"])) // 2 for b in live for r in b) == 15


@pytest.mark.parametrize(
    ("item", "state"),
    [
        ({"@odata.type": "#microsoft.graph.user", "id": USER}, model.PrincipalState.UNKNOWN),
        ({"@odata.type": "#microsoft.graph.user", "id": USER, "accountEnabled": None}, model.PrincipalState.UNKNOWN),
        ({"@odata.type": "#microsoft.graph.user", "id": USER, "accountEnabled": True}, model.PrincipalState.ACTIVE),
        ({"@odata.type": "#microsoft.graph.user", "id": USER, "accountEnabled": False}, model.PrincipalState.DISABLED),
        ({"@odata.type": "#microsoft.graph.servicePrincipal", "id": SP}, model.PrincipalState.UNKNOWN),
        ({"@odata.type": "#microsoft.graph.group", "id": SOFT}, model.PrincipalState.ACTIVE),
    ],
)
def test_an_absent_account_enabled_is_unknown_never_enabled(item: dict, state: model.PrincipalState) -> None:
    principal = parse_principal(item)
    assert principal.state is state
    assert principal.confirmed is (state is model.PrincipalState.ACTIVE)
    assert principal.usable is (state is not model.PrincipalState.DISABLED)


def test_a_throttled_read_inside_a_batch_is_sent_again_alone(service: FakeService) -> None:
    def handler(seen: Seen) -> Reply:
        if seen.path.split("?")[0] == "/v1.0/$batch":
            requests = json.loads(seen.body)["requests"]
            return Reply(
                200, {"responses": [{"id": r["id"], "status": 429, "headers": {"Retry-After": "0"}} for r in requests]}
            )
        return Reply(200, answer_read(seen.path.removeprefix("/v1.0")))

    service.handler = handler
    found = GraphClient(client(service)).get_principals([USER])
    assert found[USER].state is model.PrincipalState.DISABLED


def test_a_refused_read_inside_a_batch_raises_forbidden(service: FakeService) -> None:
    body = {"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}}
    service.handler = lambda seen: Reply(
        200, {"responses": [{"id": r["id"], "status": 403, "body": body} for r in json.loads(seen.body)["requests"]]}
    )
    with pytest.raises(errors.ForbiddenError):
        GraphClient(client(service)).get_principals([USER])


def record(op: str, description: object, **extra: object) -> dict:
    body = {
        "eventDataId": "e1",
        "eventTimestamp": "2026-01-02T03:04:05.1234567Z",
        "operationName": {"value": op, "localizedValue": "x"},
        "eventName": {"value": "EndRequest"},
        "status": {"value": "Succeeded"},
        "description": description,
    }
    body.update(extra)
    return body


def test_activity_records_are_parsed_defensively() -> None:
    desc = json.dumps(
        {
            "delegationResourceId": f"/subscriptions/{SUB}/resourceGroups/rg1",
            "subscriptionTenantId": CUSTOMER.upper(),
            "subscriptionId": SUB,
        }
    )
    r = parse_record(record("Microsoft.Resources/tenants/register/action", desc))
    assert r is not None
    assert (r.operation, r.customer_tenant_id, r.subscription_id) == ("register", CUSTOMER, SUB)
    assert r.scope == f"/subscriptions/{SUB}/resourceGroups/rg1"
    assert r.timestamp == datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert r.succeeded
    bad = parse_record(record("Microsoft.Resources/tenants/unregister/action", "{not json", subscriptionId=SUB))
    assert bad is not None
    assert bad.operation == "unregister"
    assert bad.scope == f"/subscriptions/{SUB}"
    assert parse_record(record("Microsoft.Compute/virtualMachines/write", desc)) is None
    assert parse_record(record("Microsoft.Resources/tenants/register/action", desc, eventTimestamp="yesterday")) is None
    assert parse_record(record("Microsoft.Resources/tenants/register/action", ["list"])) is not None


def test_activity_log_filters_by_time_and_pages(service: FakeService) -> None:
    desc = json.dumps({"subscriptionId": SUB})
    path = "/providers/microsoft.insights/eventtypes/management/values"
    service.on(
        path,
        Reply(
            200,
            {
                "value": [
                    record("Microsoft.Resources/tenants/register/action", desc),
                    record("Microsoft.Insights/alertRules/write", desc),
                ],
                "nextLink": f"{service.url}/page2",
            },
        ),
    )
    service.on("/page2", Reply(200, {"value": [record("Microsoft.Resources/tenants/unregister/action", desc)]}))
    since = datetime(2026, 1, 1, tzinfo=UTC)
    records = list(ActivityLogClient(client(service)).list_delegation_records(since))
    assert [r.operation for r in records] == ["register", "unregister"]
    assert "eventTimestamp%20ge%20'2026-01-01T00:00:00.000000Z'" in service.seen[0].path
    assert "api-version=2015-04-01" in service.seen[0].path
