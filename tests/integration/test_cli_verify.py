"""`palwatch verify|report|findings` through the CLI's `main([...])`, over the emulator and Azurite."""

from __future__ import annotations

import json

from shared import cli
from tests.support import demo
from tests.support.world import links


def test_verify_json_then_report_and_findings(emulator, palwatch, capsys, tmp_path):
    emulator.control(
        "DELETE", f"/links/{demo.MANAGING}/{demo.MI.object_id}"
    )  # never verified yet: an ordinary missing link

    assert cli.main(["verify", "--json", "--credential", "default"]) == 0
    outcome = json.loads(capsys.readouterr().out)
    assert outcome["status"] == "ok"
    assert outcome["delegations"] == outcome["attributed"] + outcome["atRisk"] + outcome["notAttributed"] > 0
    assert any("in " + demo.MANAGING in w for w in outcome["linksWritten"])
    assert links(emulator)[demo.MI.object_id] == demo.PARTNER  # DefaultAzureCredential played the managed identity

    assert cli.main(["report", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["totals"]["delegations"] == outcome["delegations"]

    page = tmp_path / "coverage.html"
    assert cli.main(["report", "--format", "html", "--out", str(page)]) == 0
    assert page.read_text().startswith("<!DOCTYPE html>")

    assert cli.main(["findings", "--json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert items, "the demo has delegations nobody attributes"
    for item in items:
        assert {"key", "kind", "severity", "openedAt", "resolvedAt", "tenantId", "scope"} <= item.keys()
        assert item["resolvedAt"] is None


def test_findings_all_lists_resolved_ones_and_the_table_prints(emulator, palwatch, capsys):
    assert cli.main(["verify"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Verification ok:")
    assert "attributed" in out
    emulator.control("DELETE", f"/links/{demo.MANAGING}/{demo.MI.object_id}")
    assert cli.main(["verify", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["driftRepaired"]

    assert cli.main(["findings", "--json", "--all"]) == 0
    items = json.loads(capsys.readouterr().out)
    drift = [i for i in items if i["kind"] == "link_drift_repaired"]
    assert len(drift) == 1
    assert drift[0]["resolvedAt"] is not None
    assert cli.main(["findings"]) == 0
    assert capsys.readouterr().out.strip()


def test_report_before_any_verify_says_so(emulator, palwatch, capsys):
    assert cli.main(["report"]) == 0
    assert "No verification has run yet" in capsys.readouterr().out


def test_report_for_one_customer(emulator, palwatch, capsys, tmp_path):
    assert cli.main(["verify", "--json"]) == 0
    capsys.readouterr()
    assert cli.main(["report", "-o", "json"]) == 0
    everything = json.loads(capsys.readouterr().out)["delegations"]
    tenant = everything[-1]["customerTenantId"]

    assert cli.main(["report", "-o", "json", "--customer", tenant.upper()]) == 0
    mine = json.loads(capsys.readouterr().out)["delegations"]
    assert mine
    assert {d["customerTenantId"] for d in mine} == {tenant}

    statement = tmp_path / "statement.html"
    assert cli.main(["report", "--format", "html", "--customer", tenant, "--out", str(statement)]) == 0
    assert "Partner attribution statement" in statement.read_text()
