"""The checks themselves can fail: each strictness rule rejects a body that breaks it.

Without these, a validator that accepted everything would pass the recorded-traffic tests too.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.contracts.conformance import Checker, Result
from tests.contracts.swagger import Specs

LINK = {
    "id": "/providers/microsoft.managementpartner/partners/5127255",
    "type": "Microsoft.ManagementPartner/partners",
    "name": "5127255",
    "etag": 3,
    "properties": {
        "partnerId": "5127255", "partnerName": "Contoso", "tenantId": "t", "objectId": "o", "version": 3,
        "updatedTime": "2026-01-01T00:00:00.1234567Z", "createdTime": "2025-01-01T00:00:00Z", "state": "Active",
    },
}  # fmt: skip


def entry(method: str, path: str, query: str, status: int, body: Any = None, **extra: Any) -> dict[str, Any]:
    return {"seq": 1, "method": method, "path": path, "query": query, "status": status, "responseBody": body,
            "requestBytes": 0, "requestBody": None, **extra}  # fmt: skip


def response_errors(checker: Checker, *args: Any, **kwargs: Any) -> list[str]:
    result = Result()
    checker.arm_response(entry(*args, **kwargs), result)
    return result.errors


def request_errors(checker: Checker, *args: Any, **kwargs: Any) -> list[str]:
    result = Result()
    checker.arm_request(entry(*args, **kwargs), result)
    return result.errors


PAL = "/providers/Microsoft.ManagementPartner/partners/5127255"
V = "api-version=2018-02-01"


def test_a_link_as_production_answers_it_is_accepted(checker: Checker) -> None:
    assert response_errors(checker, "GET", PAL, V, 200, LINK) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda b: b["properties"].update(extra=1), "'extra' was unexpected"),  # undeclared properties fail
        (lambda b: b.update(etag="3"), "is not of type 'integer'"),
        (lambda b: b["properties"].update(state="Gone"), "is not one of"),
        (lambda b: b["properties"].update(partnerName=None), "None is not of type 'string'"),  # no x-nullable
        (lambda b: b["properties"].update(updatedTime="yesterday"), "is not a 'date-time'"),
    ],
)
def test_a_link_that_breaks_the_schema_is_rejected(checker: Checker, change: Any, expected: str) -> None:
    body = copy.deepcopy(LINK)
    change(body)
    found = response_errors(checker, "GET", PAL, V, 200, body)
    assert any(expected in e for e in found), found


def test_an_undeclared_success_status_is_rejected(checker: Checker) -> None:
    assert any("status 201" in e for e in response_errors(checker, "PUT", PAL, V, 201, LINK))
    assert any("declares no body" in e for e in response_errors(checker, "DELETE", PAL, V, 200, LINK))


def test_errors_follow_the_operation_default_and_arm_front_door_shapes(checker: Checker) -> None:
    twice = {
        "error": {"code": "ManagementPartnerNotFound", "message": "m"},
        "code": "ManagementPartnerNotFound",
        "message": "m",
    }
    assert response_errors(checker, "GET", PAL, V, 404, twice) == []
    assert (
        response_errors(checker, "GET", PAL, V, 401, {"error": {"code": "AuthenticationFailed", "message": "m"}}) == []
    )
    assert response_errors(checker, "GET", PAL, V, 401, {"code": "AuthenticationFailed"}) != []
    log = "/providers/microsoft.insights/eventtypes/management/values"
    assert (
        response_errors(checker, "GET", log, "api-version=2015-04-01", 400, {"code": "BadRequest", "message": "m"})
        == []
    )
    assert response_errors(checker, "GET", log, "api-version=2015-04-01", 400, {"error": {"code": "BadRequest"}}) != []


def test_waivers_are_applied_and_only_where_written(checker: Checker) -> None:
    subscriptions = {"value": [{"id": "/subscriptions/s", "subscriptionId": "s", "state": "Enabled"}]}
    assert response_errors(checker, "GET", "/subscriptions", "api-version=2022-12-01", 200, subscriptions) == []
    properties = {"roleName": "Reader", "createdBy": None, "updatedBy": None, "description": None}
    role = {"id": "x", "name": "x", "type": "Microsoft.Authorization/roleDefinitions", "properties": properties}
    found = response_errors(
        checker, "GET", "/providers/Microsoft.Authorization/roleDefinitions/x", "api-version=2022-04-01", 200, role
    )
    assert found == ["response RoleDefinitions_Get 200 [#1 GET /providers/Microsoft.Authorization/roleDefinitions/x]: "
                     "properties/description: None is not of type 'string'"]  # fmt: skip


def test_a_request_outside_the_operation_is_rejected(checker: Checker) -> None:
    assert request_errors(checker, "PUT", PAL, V, 200) == []
    assert any("takes no request body" in e for e in request_errors(checker, "PUT", PAL, V, 200, requestBytes=25))
    assert any("'$top'" in e for e in request_errors(checker, "GET", PAL, V + "&$top=5", 200))
    assert any(
        "api-version '2019-01-01'" in e for e in request_errors(checker, "GET", PAL, "api-version=2019-01-01", 200)
    )
    assert any(
        "no vendored operation" in e for e in request_errors(checker, "GET", "/providers/Microsoft.Nope/things", V, 200)
    )
    scope = "/subscriptions/s/providers/Microsoft.ManagedServices/registrationAssignments"
    good = "api-version=2022-10-01&$expandRegistrationDefinition=true&$skiptoken=100"
    assert request_errors(checker, "GET", scope, good, 200) == []
    assert any(
        "not a boolean" in e
        for e in request_errors(checker, "GET", scope, "api-version=2022-10-01&$expandRegistrationDefinition=yes", 200)
    )


def test_read_only_properties_may_not_be_sent(specs: Specs) -> None:
    op = specs.operation("RegistrationAssignments_Get")
    sent = {"properties": {"registrationDefinitionId": "d", "provisioningState": "Succeeded"}}
    assert any(
        "provisioningState" in e or "False schema" in e
        for e in specs.errors(op.responses["200"], op.file, sent, request=True)
    )
    assert specs.errors(op.responses["200"], op.file, sent) == []


def test_graph_objects_need_declared_properties_of_the_declared_type(checker: Checker) -> None:
    meta = checker.graph
    assert meta.errors({"id": "x", "accountEnabled": False, "@odata.type": "#microsoft.graph.user"}, "user") == []
    assert meta.errors({"id": "x", "enabled": False}, "user") == [
        "user.enabled: not a property of microsoft.graph.user (v1.0 metadata)"
    ]
    assert meta.errors({"id": "x", "accountEnabled": "false"}, "user") == [
        "user.accountEnabled: 'false' is not an Edm.Boolean"
    ]
    assert meta.errors({"id": "x", "appOwnerOrganizationId": "not-a-guid"}, "servicePrincipal") != []
    assert meta.errors({"id": "x", "businessPhones": None}, "user") != []  # Nullable="false"
    assert meta.errors({"id": "x", "securityEnabled": True, "groupTypes": []}, "group") == []


def test_events_need_their_envelope_and_their_data(checker: Checker) -> None:
    event = {"id": "1", "subject": "/subscriptions/s", "eventType": "Microsoft.Resources.ResourceWriteSuccess",
             "eventTime": "2026-01-01T00:00:00Z", "dataVersion": "2", "data": {"status": "Succeeded"}}  # fmt: skip
    result = Result()
    checker.event(event, result, "unit")
    assert result.errors == []
    broken = {**event, "data": {"status": "Succeeded", "claims": "aud=x"}, "extra": 1}
    checker.event({k: v for k, v in broken.items() if k != "dataVersion"}, result, "unit")
    assert len(result.errors) == 3, result.errors  # extra, dataVersion missing, claims not an object


COST_ANSWER = {
    "id": "subscriptions/s/providers/Microsoft.CostManagement/query/q",
    "name": "q",
    "type": "microsoft.costmanagement/Query",
    "properties": {"nextLink": None, "columns": [{"name": "Cost", "type": "Number"}], "rows": [[1.5]]},
}


def test_a_definition_extended_through_allof_still_closes_its_heir(checker: Checker) -> None:
    """The cost query's answer extends CostManagementResource: the base's and its own properties pass,
    anything else still fails, in the answer and inside its `properties`."""
    path, query = "/subscriptions/s/providers/Microsoft.CostManagement/query", "api-version=2023-03-01"
    assert response_errors(checker, "POST", path, query, 200, COST_ANSWER) == []
    extra = {**COST_ANSWER, "surprise": 1}
    assert any("surprise" in e for e in response_errors(checker, "POST", path, query, 200, extra))
    inner = copy.deepcopy(COST_ANSWER)
    inner["properties"]["total"] = 3
    assert any("total" in e for e in response_errors(checker, "POST", path, query, 200, inner))
    body = {"type": "ActualCost", "timeframe": "TheLastMonth", "dataset": {"grouping": [{"type": "Dimension"}]}}
    assert request_errors(checker, "POST", path, query, 200, requestBody=body, requestBytes=1)  # no grouping name
