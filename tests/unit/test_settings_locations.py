"""PAL_PARTNER_ID lists the partner's location IDs (each optionally named) and
PAL_PARTNER_ID_BY_CUSTOMER names where a customer's credit should go, checked against them."""

from __future__ import annotations

import pytest

from shared.settings import SettingsError, load_settings

TENANT = "83abe5cd-bcc3-441a-bd86-e6a75360cecc"
CUSTOMER = "52b02585-603e-4e21-85cd-9bbea1fbcb60"


def _load(**env: str):
    return load_settings({"PAL_MANAGING_TENANT_ID": TENANT, **env})


def test_several_locations_the_first_for_new_links_and_any_is_ours() -> None:
    s = _load(PAL_PARTNER_ID="5127255:Oslo, 5127256:Bergen", PAL_PARTNER_ID_BY_CUSTOMER=f"{CUSTOMER}=Bergen")
    assert s.partner_id == "5127255"
    assert s.partner_ids == ("5127255", "5127256")
    assert [s.ours(pid) for pid in ("5127256", "5127255", "6000001", "")] == [True, True, False, False]
    assert s.location_names == {"5127255": "Oslo", "5127256": "Bergen"}
    assert s.expected_locations == {CUSTOMER: "5127256"}
    assert ("PAL_PARTNER_ID", "Oslo (5127255), Bergen (5127256)") in s.describe()


def test_one_id_as_before() -> None:
    s = _load(PAL_PARTNER_ID="5127255")
    assert (s.partner_id, s.partner_ids, s.expected_locations) == ("5127255", ("5127255",), {})


def test_by_customer_takes_a_json_object_and_ids() -> None:
    s = _load(PAL_PARTNER_ID="5127255,5127256", PAL_PARTNER_ID_BY_CUSTOMER=f'{{"{CUSTOMER.upper()}": "5127256"}}')
    assert s.expected_locations == {CUSTOMER: "5127256"}


@pytest.mark.parametrize(
    ("env", "setting", "words"),
    [
        ({"PAL_PARTNER_ID": "5127255,abc"}, "PAL_PARTNER_ID", "digits only"),
        ({"PAL_PARTNER_ID": "5127255,5127255"}, "PAL_PARTNER_ID", "twice"),
        ({"PAL_PARTNER_ID": "5127255:<b>"}, "PAL_PARTNER_ID", "location name"),
        ({"PAL_PARTNER_ID": "5127255", "PAL_PARTNER_ID_BY_CUSTOMER": f"{CUSTOMER}=Bergen"},
         "PAL_PARTNER_ID_BY_CUSTOMER", "none of PAL_PARTNER_ID's locations"),
        ({"PAL_PARTNER_ID": "5127255", "PAL_PARTNER_ID_BY_CUSTOMER": "not-a-tenant=5127255"},
         "PAL_PARTNER_ID_BY_CUSTOMER", "GUID"),
        ({"PAL_PARTNER_ID": "5127255,5127256", "PAL_PARTNER_ID_PREVIOUS": "5127256"}, "PAL_PARTNER_ID_PREVIOUS",
         "equals"),
    ],
)  # fmt: skip
def test_wrong_values_name_the_setting_and_the_fix(env: dict[str, str], setting: str, words: str) -> None:
    with pytest.raises(SettingsError) as raised:
        _load(**env)
    problems = dict(raised.value.problems)
    assert setting in problems, problems
    assert words in problems[setting]
