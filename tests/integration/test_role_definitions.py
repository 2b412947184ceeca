"""Microsoft's built-in role definitions, read through the engine's ARM adapter from the emulator
(which serves them as Microsoft publishes them), are classified as Microsoft's PEC page says; the
page wins over the rule, which decides only the roles the page does not list."""

from __future__ import annotations

import json

import pytest

from emulator.world import ROLES_FILE
from shared import roles

PUBLISHED = json.loads(ROLES_FILE.read_text())["roles"]
# Not on the page: decided by what their actions allow.
NEWER_THAN_THE_LIST = {
    "082f0a83-3be5-4ba1-904c-961cca79b387": True,  # Desktop Virtualization Contributor: manages host pools
    "b279062a-9be3-42a0-92ae-8b3cf002ec4d": False,  # Workbook Reader: reads only
}
# Marked "No" by Microsoft although their definitions carry non-read actions: the rule would say yes.
NO_ALTHOUGH_NOT_READ_ONLY = {
    roles.LOG_ANALYTICS_READER,  # workspaces/analytics/query/action
    roles.COSMOS_DB_ACCOUNT_READER,  # databaseAccounts/readonlykeys/action
    roles.DATA_BOX_READER,  # jobs/listcredentials/action, ...
    roles.SECURITY_READER,  # iotDefenderSettings/packageDownloads/action, ...
}


def listed(role_id: str) -> bool | None:
    catalog = roles.catalog()
    return True if role_id in catalog.eligible else False if role_id in catalog.not_eligible else None


@pytest.mark.parametrize("entry", PUBLISHED, ids=[r["properties"]["roleName"] for r in PUBLISHED])
def test_the_engine_classifies_microsofts_definition_as_the_list_says(palwatch, entry):
    role_id = entry["name"]
    definition = palwatch.arm().get_role_definition(role_id)
    assert (definition.role_name, definition.role_type) == (entry["properties"]["roleName"], "BuiltInRole")

    expected = listed(role_id)
    if expected is None:
        expected = NEWER_THAN_THE_LIST[role_id]
        assert roles.is_eligible(role_id) is None, "not on the list: the definition must decide"
    # The list wins over the definition; the rule, applied to Microsoft's own definitions, agrees
    # with the list except where Microsoft says "No" to a role with non-read actions.
    assert roles.is_eligible(role_id, {"permissions": [{"actions": list(definition.actions)}]}) is expected
    assert roles.eligible_from_actions(definition.actions) is (expected or role_id in NO_ALTHOUGH_NOT_READ_ONLY)
    assert roles.decided_by_rule(role_id) is (role_id in NEWER_THAN_THE_LIST)


def test_the_published_set_has_a_role_newer_than_the_list_of_each_kind():
    assert {listed(r) for r in NEWER_THAN_THE_LIST} == {None}
    assert set(NEWER_THAN_THE_LIST.values()) == {True, False}
    assert set(NEWER_THAN_THE_LIST) <= {r["name"] for r in PUBLISHED}


def test_every_no_row_of_microsofts_page_is_shipped_with_its_source():
    catalog = roles.catalog()
    assert catalog.not_eligible >= NO_ALTHOUGH_NOT_READ_ONLY
    assert len(catalog.not_eligible) == 24
    assert len(catalog.eligible) == 98
    assert not catalog.eligible & catalog.not_eligible
    raw = json.loads((ROLES_FILE.parents[2] / "shared" / "data" / "pec-eligible-roles.json").read_text())
    assert "azure-roles-perms-pec" in raw["source"]
    assert raw["pageDate"]
    assert raw["retrieved"]
