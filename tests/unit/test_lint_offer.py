"""`palwatch lint-offer` on the sample offers in tests/data/offers: each mistake is caught with its
code and a non-zero exit; the good offer and customer-onboarding/ pass. Offline: no Azure call."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from shared import cli, roles
from tests.support.services import ROOT

OFFERS = ROOT / "tests" / "data" / "offers"
MI = "c68cbf75-e3ff-4bd0-bedc-b44d61c87e77"  # the demo's PAL Watch managed identity
OPS = "9761028f-b184-484f-9228-7820167143b7"  # an identity in PAL_IDENTITIES


def _lint(capsys, *args: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = cli.main(["lint-offer", *args, "--palwatch-principal", MI, "--acting-principal", OPS, "-o", "json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("sample", "extra", "codes"),
    [
        ("owner.json", (), {"owner_role"}),
        (
            "just-in-time-only.json",
            (),
            {"palwatch_missing", "no_attributing_identity", "service_principal_just_in_time"},
        ),
        ("reader-only.json", (), {"no_attributing_identity"}),
        ("no-palwatch.json", (), {"palwatch_missing", "no_attributing_identity"}),
        ("user-access-administrator.json", (), {"user_access_administrator"}),
        (
            "custom-role.json",
            ("--role-definitions", str(OFFERS / "custom-role.definitions.json")),
            {"data_actions", "authorization_write"},
        ),
        (
            "template.json",
            ("--parameters", str(OFFERS / "template.parameters.json")),
            {"palwatch_missing", "no_attributing_identity", "service_principal_just_in_time"},
        ),
    ],
)
def test_each_offer_mistake_is_an_error(capsys, sample: str, extra: tuple[str, ...], codes: set[str]) -> None:
    code, result = _lint(capsys, str(OFFERS / sample), *extra)
    assert code == cli.EXIT_FAILED
    assert result["ok"] is False
    found = {p["code"] for p in result["problems"] if p["severity"] == "error"}
    assert found == codes


def test_a_custom_role_without_its_definition_is_a_warning_only(capsys) -> None:
    code, result = _lint(capsys, str(OFFERS / "custom-role.json"))
    assert code == cli.EXIT_OK
    assert [p["code"] for p in result["problems"]] == ["unknown_role"]


def test_the_good_offer_and_customer_onboarding_pass(capsys) -> None:
    assert _lint(capsys, str(OFFERS / "good.json")) == (
        cli.EXIT_OK,
        {"file": str(OFFERS / "good.json"), "offers": ["Contoso Managed Azure"], "ok": True, "problems": []},
    )
    template = ROOT / "customer-onboarding" / "subscription-onboarding.json"
    code, result = _lint(capsys, str(template))
    assert (code, result["problems"]) == (cli.EXIT_OK, [])


def test_placeholders_left_in_a_parameters_file_are_errors(capsys) -> None:
    """The example parameters file as shipped: its `<...>` values deploy nothing PAL Watch can use."""
    template = ROOT / "customer-onboarding" / "subscription-onboarding.json"
    parameters = ROOT / "customer-onboarding" / "subscription-onboarding.parameters.example.json"
    for args in ((str(template), "--parameters", str(parameters)), (str(parameters),)):
        code, result = _lint(capsys, *args)
        assert code == cli.EXIT_FAILED, args
        assert {p["code"] for p in result["problems"]} == {"principal_placeholder"}, args
        assert any("<PAL_IDENTITY_PRINCIPAL_ID from azd>" in p["message"] for p in result["problems"])


def test_a_principal_id_that_is_not_an_object_id_is_an_error(capsys, tmp_path) -> None:
    offer = json.loads((OFFERS / "good.json").read_text())
    offer["properties"]["authorizations"][0]["principalId"] = "contoso-ops"
    path = tmp_path / "named.json"
    path.write_text(json.dumps(offer))
    code, result = _lint(capsys, str(path))
    assert code == cli.EXIT_FAILED
    assert "principal_not_guid" in {p["code"] for p in result["problems"]}


def test_owner_is_refused_by_its_real_role_id(capsys, tmp_path) -> None:
    """Owner's id written here from the one table, not copied into a fixture."""
    offer = json.loads((OFFERS / "good.json").read_text())
    offer["properties"]["authorizations"][0]["roleDefinitionId"] = roles.BUILT_IN["Owner"]
    path = tmp_path / "owner.json"
    path.write_text(json.dumps(offer))
    code, result = _lint(capsys, str(path))
    assert code == cli.EXIT_FAILED
    assert "owner_role" in {p["code"] for p in result["problems"]}


@pytest.mark.parametrize("content", ["not json", "[1, 2]", "{}"])
def test_unreadable_or_empty_input_is_a_clear_error(capsys, tmp_path, content: str) -> None:
    path = tmp_path / "offer.json"
    path.write_text(content)
    code = cli.main(["lint-offer", str(path), "-o", "json"])
    captured = capsys.readouterr()
    assert code in (cli.EXIT_USAGE, cli.EXIT_FAILED)
    assert "Traceback" not in captured.err + captured.out


def test_customer_onboarding_as_a_directory_names_what_is_not_an_offer_and_the_unfilled_example(capsys) -> None:
    directory = ROOT / "customer-onboarding"
    code, result = _lint(capsys, str(directory))
    assert code == cli.EXIT_FAILED
    assert {Path(r["file"]).name: r["ok"] for r in result["files"]} == {
        "subscription-onboarding.json": True,
        "subscription-onboarding.parameters.example.json": False,
    }
    assert {Path(s["file"]).name for s in result["skipped"]} == {
        "delegation-events.json",
        "delegation-events.parameters.example.json",
    }
    assert all(s["reason"].startswith("not an offer") for s in result["skipped"])


def test_a_directory_fails_on_an_error_in_one_offer_only(capsys, tmp_path) -> None:
    shutil.copy(OFFERS / "good.json", tmp_path / "good.json")
    shutil.copy(OFFERS / "owner.json", tmp_path / "owner.json")
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "notes.txt").write_text("not looked at")
    code, result = _lint(capsys, str(tmp_path))
    assert code == cli.EXIT_FAILED
    assert {Path(r["file"]).name: r["ok"] for r in result["files"]} == {"good.json": True, "owner.json": False}
    assert [Path(s["file"]).name for s in result["skipped"]] == ["broken.json"]
    assert "is not JSON" in result["skipped"][0]["reason"]


def test_a_directory_without_an_offer_fails_and_says_so(capsys, tmp_path) -> None:
    shutil.copy(ROOT / "customer-onboarding" / "delegation-events.json", tmp_path / "events.json")
    code, result = _lint(capsys, str(tmp_path))
    assert code == cli.EXIT_FAILED
    assert result["files"] == []
    assert [p["code"] for p in result["problems"]] == ["no_offer"]
    capsys.readouterr()
    assert cli.main(["lint-offer", str(tmp_path)]) == cli.EXIT_FAILED
    assert "skipped" in capsys.readouterr().out


def test_parameters_with_a_directory_is_a_usage_error(capsys) -> None:
    code = cli.main(["lint-offer", str(ROOT / "customer-onboarding"), "--parameters", str(OFFERS / "good.json")])
    assert code == cli.EXIT_USAGE
    assert "not a directory" in capsys.readouterr().err
