"""`palwatch watch` runs the watch timer's tick from the CLI: the activity log's delegations, those
PAL Watch cannot read included, reach the findings and the coverage report without the timer."""

from __future__ import annotations

import json

from shared import cli
from tests.support import demo


def test_watch_brings_the_delegation_no_identity_can_read_to_the_report(emulator, palwatch, capsys):
    assert cli.main(["verify", "-o", "none"]) == 0
    capsys.readouterr()

    assert cli.main(["watch", "-o", "json"]) == 0
    steps = json.loads(capsys.readouterr().out)
    assert steps["failed"] == []
    assert "activity-log" in steps["steps"]

    assert cli.main(["report", "-o", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["delegations"]
    unreadable = [r for r in rows if r["status"] == "not_visible"]
    assert [r["customerTenantId"] for r in unreadable] == [demo.tenant("Adventure Works").tenant_id]


def test_watch_with_a_dry_run_writes_no_finding(emulator, palwatch, capsys):
    assert cli.main(["verify", "-o", "none"]) == 0
    before = {r.finding.key for r in palwatch.store.open_findings()}
    capsys.readouterr()

    assert cli.main(["watch", "--dry-run", "-o", "json"]) == 0

    assert {r.finding.key for r in palwatch.store.open_findings()} == before
