"""The emulator's named switches for what no public source settles (emulator/assumptions.py):
set through the control API or the scenario, validated, reset with the scenario."""

from __future__ import annotations

import copy

import pytest
import requests

from emulator import assumptions


def test_switches_default_to_the_likely_answer_and_change_through_the_control_api(emulator):
    assert emulator.control("GET", "/config")["assumptions"] == assumptions.defaults()

    changed = emulator.control("POST", "/config", {"assumptions": {"palPutWhenLinked": 400}})["assumptions"]

    assert changed == {**assumptions.defaults(), "palPutWhenLinked": 400}
    emulator.reset()
    assert emulator.control("GET", "/config")["assumptions"] == assumptions.defaults()


@pytest.mark.parametrize(
    "bad",
    [{"palPutWhenLinked": 404}, {"noSuchSwitch": True}, {"subscriptionListIncludesResourceGroups": 1}, ["x"]],
)
def test_an_unknown_switch_or_value_is_refused(emulator, bad):
    with pytest.raises(requests.HTTPError) as caught:
        emulator.control("POST", "/config", {"assumptions": bad})
    assert caught.value.response.status_code == 400
    assert emulator.control("GET", "/config")["assumptions"] == assumptions.defaults()


def test_a_scenario_sets_switches(emulator, demo):
    scenario = copy.deepcopy(demo.scenario)
    scenario["emulator"] = {"assumptions": {"graphNotificationUrlEcho": "normalized"}}
    emulator.reset(scenario)
    assert emulator.control("GET", "/config")["assumptions"]["graphNotificationUrlEcho"] == "normalized"
