"""A subscription's role assignments (Microsoft.Authorization 2022-04-01) as the scenario gives them:
served in ARM's shape to a caller whose role there allows `roleAssignments/read`, refused (403
AuthorizationFailed) to one whose role does not; the control API adds and removes one and answers
with the event the subscription's system topic publishes."""

from __future__ import annotations

from scripts import demo_csp
from tests.support import callers
from tests.support import demo as demo_data

API = {"api-version": "2022-04-01"}
WORKBOOK_READER = "b279062a-9be3-42a0-92ae-8b3cf002ec4d"  # no Microsoft.Authorization read action
PATH = f"/subscriptions/{demo_csp.COHO_SUB}/providers/Microsoft.Authorization/roleAssignments"
HOME = demo_csp.Managing(
    demo_data.MANAGING, demo_data.HOME.raw["defaultDomain"], demo_data.ACTORS["id-palwatch-contoso"].object_id
)


def test_a_reader_lists_the_subscriptions_role_assignments_in_arms_shape(emulator):
    demo_csp.onboard(emulator.control, HOME, demo_data.PARTNER)
    answer = callers.caller(emulator, HOME.watcher).get(PATH, params=API)
    assert answer.status_code == 200, answer.text
    (item,) = answer.json()["value"]
    assert item["type"] == "Microsoft.Authorization/roleAssignments"
    assert item["id"] == f"/subscriptions/{demo_csp.COHO_SUB}/providers/Microsoft.Authorization/roleAssignments/" + (
        demo_csp.AOBO_NAME
    )
    props = item["properties"]
    assert props["principalType"] == "ForeignGroup"
    assert props["principalId"] == demo_csp.ADMIN_AGENTS
    assert props["scope"] == f"/subscriptions/{demo_csp.COHO_SUB}"
    assert props["roleDefinitionId"].endswith(f"/providers/Microsoft.Authorization/roleDefinitions/{demo_csp.OWNER}")


def test_a_caller_whose_role_does_not_allow_reading_them_gets_403(emulator):
    demo_csp.onboard(emulator.control, HOME, demo_data.PARTNER)
    deploy = demo_data.ACTORS["contoso-deploy"].object_id
    body = {
        "scope": f"/subscriptions/{demo_csp.COHO_SUB}",
        "registrationDefinitionName": "Contoso Workbooks",
        "managedByTenantId": demo_data.MANAGING,
        "authorizations": [{"principalId": deploy, "roleDefinitionId": WORKBOOK_READER}],
    }
    emulator.control("PUT", f"/delegations/{demo_csp.gid('assignment:workbooks')}", body)
    answer = callers.caller(emulator, deploy).get(PATH, params=API)
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "AuthorizationFailed"
    assert "Microsoft.Authorization/roleAssignments/read" in answer.json()["error"]["message"]


def test_the_control_api_removes_and_adds_one_with_the_events_azure_publishes(emulator):
    demo_csp.onboard(emulator.control, HOME, demo_data.PARTNER)
    (removed,) = demo_csp.remove_aobo(emulator.control)
    assert removed["eventType"] == "Microsoft.Resources.ResourceDeleteSuccess"
    assert removed["topic"] == f"/subscriptions/{demo_csp.COHO_SUB}"
    assert removed["data"]["operationName"] == "Microsoft.Authorization/roleAssignments/delete"
    assert removed["subject"].endswith(f"/providers/Microsoft.Authorization/roleAssignments/{demo_csp.AOBO_NAME}")
    reader = callers.caller(emulator, HOME.watcher)
    assert reader.get(PATH, params=API).json()["value"] == []
    assert demo_csp.remove_aobo(emulator.control) == []  # already gone: nothing published

    path = f"/subscriptions/{demo_csp.COHO_SUB}/roleAssignments/{demo_csp.AOBO_NAME}"
    (added,) = emulator.control("PUT", path, demo_csp.aobo())["events"]
    assert added["eventType"] == "Microsoft.Resources.ResourceWriteSuccess"
    assert added["data"]["operationName"] == "Microsoft.Authorization/roleAssignments/write"
    assert [a["properties"]["principalType"] for a in reader.get(PATH, params=API).json()["value"]] == ["ForeignGroup"]
