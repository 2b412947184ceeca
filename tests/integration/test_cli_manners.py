"""Azure CLI manners: -o/--query anywhere, exit codes for pipelines, help that teaches, no guessing."""

from __future__ import annotations

import csv
import io
import json

import pytest
import yaml

from shared import cli


def test_version_and_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("palwatch ")

    with pytest.raises(SystemExit) as exited:
        cli.main(["verfy"])
    assert exited.value.code == cli.EXIT_USAGE
    assert "did you mean 'verify'?" in capsys.readouterr().err


def test_no_silent_prefix_abbreviations(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["verify", "--no-prog"])
    assert exited.value.code == cli.EXIT_USAGE
    assert "--no-prog" in capsys.readouterr().err


def test_help_shows_examples_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["findings", "--help"])
    text = capsys.readouterr().out
    assert "examples:" in text
    assert "--fail-on" in text
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "exit codes:" in capsys.readouterr().out


def test_output_and_query_anywhere_on_the_line(emulator, palwatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["verify", "-o", "none", "--fail-on", "none"]) == cli.EXIT_OK
    assert capsys.readouterr().out == ""

    assert cli.main(["-o", "json", "findings"]) == cli.EXIT_OK
    before = json.loads(capsys.readouterr().out)
    assert cli.main(["findings", "--output", "json"]) == cli.EXIT_OK
    assert json.loads(capsys.readouterr().out) == before
    assert before, "the demo has delegations nobody attributes"

    assert cli.main(["findings", "--query", "[].kind", "-o", "tsv"]) == cli.EXIT_OK
    assert capsys.readouterr().out.split() == [f["kind"] for f in before]

    assert cli.main(["findings", "-o", "yaml"]) == cli.EXIT_OK
    assert yaml.safe_load(capsys.readouterr().out) == before

    assert cli.main(["findings", "--query", "[?"]) == cli.EXIT_USAGE
    assert "not valid JMESPath" in capsys.readouterr().err


def test_fail_on_gives_pipelines_an_exit_code(emulator, palwatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["verify", "-o", "none", "--fail-on", "none"]) == cli.EXIT_OK
    assert cli.main(["findings", "-o", "json"]) == cli.EXIT_OK
    severities = {f["severity"] for f in json.loads(capsys.readouterr().out)}
    assert "warning" in severities

    assert cli.main(["findings", "-o", "none", "--fail-on", "warning"]) == cli.EXIT_FINDINGS
    assert cli.main(["report", "-o", "none", "--fail-on", "warning"]) == cli.EXIT_FINDINGS
    expected = cli.EXIT_FINDINGS if "critical" in severities else cli.EXIT_OK
    assert cli.main(["findings", "-o", "none", "--fail-on", "critical"]) == expected


def test_report_as_csv_for_a_spreadsheet(emulator, palwatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["verify", "-o", "none", "--fail-on", "none"]) == cli.EXIT_OK
    assert cli.main(["report", "-o", "json"]) == cli.EXIT_OK
    document = json.loads(capsys.readouterr().out)

    assert cli.main(["report", "-o", "csv"]) == cli.EXIT_OK
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))

    assert len(rows) == len(document["delegations"]) > 0
    assert {r["scope"] for r in rows} == {d["scope"] for d in document["delegations"]}
