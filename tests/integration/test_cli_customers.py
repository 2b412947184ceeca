"""`palwatch report --customer` takes a name as an operator types it, and `findings` before any
verification says that nothing was checked yet: through `cli.main`, over the emulator and Azurite."""

from __future__ import annotations

import json

from shared import cli


def _verified(capsys) -> None:
    assert cli.main(["verify", "-o", "none"]) == 0
    capsys.readouterr()


def test_report_customer_takes_a_name_or_a_unique_start_of_one_in_any_case(emulator, palwatch, capsys):
    _verified(capsys)
    for given in ("Woodgrove Bank", "woodgrove", "WOODG"):
        assert cli.main(["report", "-o", "json", "--customer", given]) == 0, given
        rows = json.loads(capsys.readouterr().out)["delegations"]
        assert rows, given
        assert {r["customerTenantName"] for r in rows} == {"Woodgrove Bank"}, given


def test_report_customer_matching_nothing_or_several_fails_and_says_so(emulator, palwatch, capsys):
    _verified(capsys)
    assert cli.main(["report", "--customer", "Contoso Pharma"]) == cli.EXIT_FAILED
    captured = capsys.readouterr()
    assert "no customer matches 'Contoso Pharma'" in captured.err
    assert "Woodgrove Bank" in captured.err  # the names it knows
    assert "onboard" not in captured.out + captured.err

    assert cli.main(["report", "--customer", "00000000-0000-0000-0000-000000000001"]) == cli.EXIT_FAILED
    assert "no customer matches" in capsys.readouterr().err


def test_findings_before_any_verification_says_none_has_run(emulator, palwatch, capsys):
    assert cli.main(["findings"]) == 0
    out = capsys.readouterr().out
    assert "No verification has run yet" in out
    assert "nothing needs attention" not in out

    assert cli.main(["findings", "-o", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == []
    assert "No verification has run yet" in captured.err
