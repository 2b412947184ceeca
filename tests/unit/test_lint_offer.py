"""`palwatch lint-offer` on the sample offers in tests/data/offers: each mistake is caught with its
code and a non-zero exit; the good offer and customer-onboarding/ pass. Offline: no Azure call."""

from __future__ import annotations

import json

import pytest

from shared import cli
from tests.conftest import ROOT

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
    parameters = ROOT / "customer-onboarding" / "subscription-onboarding.parameters.example.json"
    for args in ((str(template),), (str(template), "--parameters", str(parameters)), (str(parameters),)):
        code, result = _lint(capsys, *args)
        assert (code, result["problems"]) == (cli.EXIT_OK, []), args


@pytest.mark.parametrize("content", ["not json", "[1, 2]", "{}"])
def test_unreadable_or_empty_input_is_a_clear_error(capsys, tmp_path, content: str) -> None:
    path = tmp_path / "offer.json"
    path.write_text(content)
    code = cli.main(["lint-offer", str(path), "-o", "json"])
    captured = capsys.readouterr()
    assert code in (cli.EXIT_USAGE, cli.EXIT_FAILED)
    assert "Traceback" not in captured.err + captured.out
