"""PEC eligibility of roles: the shipped list, and definitions for roles newer than it."""

from __future__ import annotations

import pytest

from shared import roles

CONTRIBUTOR = roles.CONTRIBUTOR
READER = roles.READER
MONITORING_READER = roles.MONITORING_READER
NEW_ROLE = "11111111-2222-3333-4444-555555555555"


def definition(*actions: str, data_actions: tuple[str, ...] = ()) -> dict:
    return {
        "properties": {
            "roleName": "Shiny New Role",
            "permissions": [{"actions": list(actions), "notActions": [], "dataActions": list(data_actions)}],
        }
    }


@pytest.mark.parametrize(
    ("role_id", "given", "expected"),
    [
        (CONTRIBUTOR, None, True),
        (CONTRIBUTOR.upper(), None, True),
        (f"/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}", None, True),
        (READER, None, False),
        (MONITORING_READER, None, False),
        (READER, definition("*"), False),  # the list wins over a definition
        (NEW_ROLE, None, None),
        (NEW_ROLE, definition("*/read"), False),
        (NEW_ROLE, definition("Microsoft.Compute/*/read", "Microsoft.Insights/alertRules/read"), False),
        (
            NEW_ROLE,
            definition("Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachines/start/action"),
            True,
        ),
        # Support tickets and log queries are what read-only built-ins (Monitoring Reader) carry too.
        (NEW_ROLE, definition("*/read", "Microsoft.Support/*"), False),
        (NEW_ROLE, definition("*/read", "Microsoft.OperationalInsights/workspaces/search/action"), False),
        (NEW_ROLE, definition("Microsoft.Support/*", "Microsoft.Web/sites/*"), True),
        (NEW_ROLE, definition("*/read", data_actions=("Microsoft.Storage/*/write",)), False),  # DataActions ignored
        (NEW_ROLE, definition(), False),
        (NEW_ROLE, definition("*/read")["properties"], False),  # properties alone
        (NEW_ROLE, {"properties": {"permissions": "nonsense"}}, None),
    ],
)
def test_is_eligible(role_id: str, given: dict | None, expected: bool | None) -> None:
    assert roles.is_eligible(role_id, given) is expected


def test_catalog_matches_the_shipped_file() -> None:
    cat = roles.catalog()
    assert CONTRIBUTOR in cat.eligible
    assert READER in cat.not_eligible
    assert not cat.eligible & cat.not_eligible
    assert roles.catalog() is cat  # loaded once


@pytest.mark.parametrize(
    ("role_id", "given", "name"),
    [
        (CONTRIBUTOR, None, "Contributor"),
        (READER, None, "Reader"),
        (NEW_ROLE, definition("*"), "Shiny New Role"),
        (NEW_ROLE, None, f"role {NEW_ROLE}"),
    ],
)
def test_role_name(role_id: str, given: dict | None, name: str) -> None:
    assert roles.role_name(role_id, given) == name
