"""The CLI says the same things the same way: `-o html` is the page wherever `--format html` was,
`-o tsv` prints rows, empty lists say so, `report --problems` keeps what needs attention, and
`exempt` and PAL_EXEMPTIONS refuse what would match nothing or too much. Through `cli.main`, over
the emulator and Azurite."""

from __future__ import annotations

import json

from shared import cli


def _verified(capsys) -> None:
    assert cli.main(["verify", "-o", "none"]) == 0
    capsys.readouterr()


def test_o_html_is_the_page_and_tsv_prints_one_row_per_delegation(emulator, palwatch, capsys, tmp_path):
    _verified(capsys)
    page = tmp_path / "coverage.html"
    assert cli.main(["report", "-o", "html", "--out", str(page)]) == 0
    assert page.read_text().startswith("<!DOCTYPE html>")

    assert cli.main(["report", "-o", "json"]) == 0
    delegations = json.loads(capsys.readouterr().out)["delegations"]
    assert cli.main(["report", "-o", "tsv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(delegations) > 0
    assert all("\t" in line for line in lines)

    assert cli.main(["findings", "-o", "html"]) == cli.EXIT_USAGE
    assert "-o html is the coverage page of `palwatch report`" in capsys.readouterr().err


def test_report_problems_lists_only_what_needs_attention(emulator, palwatch, capsys):
    _verified(capsys)
    assert cli.main(["report", "--problems", "-o", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["delegations"]
    assert rows
    assert {r["status"] for r in rows} <= {"at_risk", "not_attributed", "not_visible"}
    assert cli.main(["report", "--problems"]) == 0
    table = capsys.readouterr().out
    assert "Woodgrove Bank" in table
    assert "Relecloud" not in table  # fully attributed


def test_empty_lists_say_they_are_empty(emulator, palwatch, capsys):
    assert cli.main(["exemptions", "list"]) == 0
    assert capsys.readouterr().out.startswith("No exemptions")
    assert cli.main(["attest", "list"]) == 0
    assert capsys.readouterr().out.startswith("No attested users")


def test_exempt_refuses_a_target_matching_nothing_and_names_its_flags(emulator, palwatch, capsys):
    _verified(capsys)
    base = ["exempt", "--kind", "unattributed_delegation", "--reason", "accepted", "--expires", "2999-01-01"]

    assert cli.main([*base, "--offer", "Contoso Nothing"]) == cli.EXIT_FAILED
    assert "--offer 'Contoso Nothing' names no offer" in capsys.readouterr().err
    assert cli.main([*base, "--tenant", "Contoso Pharma"]) == cli.EXIT_FAILED
    assert "--tenant 'Contoso Pharma' matches no customer" in capsys.readouterr().err
    assert cli.main([*base, "--scope", "/subscriptions/00000000-0000-0000-0000-0000000000aa"]) == cli.EXIT_FAILED
    assert "is not a delegated scope" in capsys.readouterr().err
    assert cli.main([*base, "--scope", "rg-shared"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "--scope must be /subscriptions/" in err
    assert "registrationDefinitionName" not in err

    assert cli.main([*base, "--tenant", "woodgrove"]) == 0
    said = capsys.readouterr().out
    assert "In effect now: 2 open finding(s)" in said
    assert cli.main(["exemptions", "list", "-o", "json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["id"].startswith("ex-")
    assert len(listed["id"]) == 11


def test_pal_exemptions_refuses_an_unknown_key_rather_than_exempting_a_whole_tenant(
    emulator, palwatch, monkeypatch, capsys
):
    typo = [
        {
            "kind": "unattributed_delegation",
            "reason": "accepted",
            "expires": "2999-01-01",
            "customerTenantId": "7660e85e-e676-42f6-a949-a5633ebfaf43",
            "scpoe": "/subscriptions/d47238d5-0000-0000-0000-000000000000",
        }
    ]
    monkeypatch.setenv("PAL_EXEMPTIONS", json.dumps(typo))
    code = cli.main(["exemptions", "list", "-o", "json"])
    captured = capsys.readouterr()
    assert code == cli.EXIT_FAILED, captured.out
    assert 'unknown key "scpoe" (did you mean "scope"?)' in captured.err


def test_findings_count_in_plural_words(emulator, palwatch, capsys):
    _verified(capsys)
    assert cli.main(["findings", "-o", "table"]) == 0
    heading = capsys.readouterr().out.splitlines()[0]
    assert heading.startswith("Open findings: ")
    warnings = sum(1 for r in palwatch.store.open_findings() if r.finding.severity.value == "warning")
    assert warnings > 1, "the demo has several warnings after a verification"
    assert f"{warnings} warnings" in heading
