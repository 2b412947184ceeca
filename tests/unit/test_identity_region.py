"""A later environment in another region can reuse the identity by name: `identityLocation` is set by
PAL_IDENTITY_LOCATION (main.parameters.json) and used for the identity's group, and the infra check
(`make lint`) fails when a parameter that names its azd setting is not mapped from it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tools import check_infra

ROOT = Path(__file__).resolve().parents[2]


def test_identity_location_comes_from_its_azd_setting():
    mapped = json.loads((ROOT / "infra" / "main.parameters.json").read_text())["parameters"]
    assert mapped["identityLocation"]["value"] == "${PAL_IDENTITY_LOCATION}"
    main = (ROOT / "infra" / "main.bicep").read_text()
    assert "location: identityRegion" in main
    assert check_infra.parameter_problems(ROOT) == []


def test_the_infra_check_fails_on_a_setting_that_maps_to_nothing(tmp_path):
    shutil.copytree(ROOT / "infra", tmp_path / "infra")
    parameters = tmp_path / "infra" / "main.parameters.json"
    document = json.loads(parameters.read_text())
    del document["parameters"]["identityLocation"]
    parameters.write_text(json.dumps(document))
    problems = check_infra.parameter_problems(tmp_path)
    assert len(problems) == 1
    assert "identityLocation says PAL_IDENTITY_LOCATION sets it" in problems[0]
