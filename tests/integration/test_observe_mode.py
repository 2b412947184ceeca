"""Observe mode (PAL_MODE=observe, `palwatch verify --dry-run`) through the entry points Azure calls:
no PUT, PATCH or DELETE reaches the PAL API (the emulator journal), findings and coverage say what
PAL Watch would link or repair, and flipping to repair makes exactly those links.
"""

from __future__ import annotations

import json

from shared import cli
from shared.usecases import tenant_links
from tests.support import demo, engines, triggers, world
from tests.support.remembered import all_findings, open_findings
from tests.support.world import links, onboard, pal_writes


def test_a_full_run_in_observe_mode_writes_no_link_and_says_what_it_would_link(emulator, palwatch, monkeypatch):
    engine = engines.rebuilt(monkeypatch, PAL_MODE="observe")
    emulator.control("DELETE", "/journal")

    triggers.delegation_events(
        onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.PIPELINE, demo.CONTRIBUTOR)))
    )
    triggers.watch_now()
    triggers.verify_now()

    assert pal_writes(emulator) == []
    would = [f for f in open_findings(engine).values() if f.reason == "would_link"]
    assert would
    assert all("would link" in f.title for f in would)
    assert len({f.title for f in would}) == len(would), sorted(f.title for f in would)  # each names its scope
    assert all(f.scope in f.title or f.scope.rsplit("/", 1)[-1] in f.title for f in would)
    assert all("PAL_MODE=repair" in f.fix for f in would)
    assert any(demo.AUTOMATION.object_id in f.detail for f in would)
    coverage = engine.store.get_coverage()
    assert {r.delegation_key for r in coverage.rows if r.reason == "would_link"} == {f.subject for f in would}
    assert demo.AUTOMATION.object_id not in links(emulator)

    engine = engines.rebuilt(monkeypatch, PAL_MODE="repair")
    triggers.verify_now()

    assert links(emulator)[demo.AUTOMATION.object_id] == demo.PARTNER
    assert links(emulator)[demo.PIPELINE.object_id] == demo.PARTNER
    assert {w["method"] for w in pal_writes(emulator)} == {"PUT"}
    still = open_findings(engine)
    assert not [f for f in still.values() if f.reason == "would_link"]


def test_verify_dry_run_writes_nothing_and_lists_what_it_would_write(emulator, palwatch, capsys):
    emulator.control("DELETE", "/journal")

    assert cli.main(["verify", "--dry-run", "--json"]) == 0
    outcome = json.loads(capsys.readouterr().out)

    assert pal_writes(emulator) == []
    assert outcome["mode"] == "dry-run"
    assert outcome["linksWritten"] == []
    assert any("would link automation" in w for w in outcome["wouldWrite"]), outcome["wouldWrite"]

    assert cli.main(["verify", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mode"] == "repair"
    assert pal_writes(emulator)


def test_a_link_removed_by_hand_is_reported_not_repaired_in_observe_mode(emulator, palwatch, monkeypatch):
    from datetime import UTC, datetime

    triggers.verify_now()  # repair mode: links made, remembered as ours
    engine = engines.rebuilt(monkeypatch, PAL_MODE="observe")
    emulator.control("DELETE", f"/links/{demo.MANAGING}/{demo.MI.object_id}")
    emulator.control("DELETE", "/journal")

    tenant_links.watch_links(engine, datetime.now(UTC))

    assert pal_writes(emulator) == []
    assert demo.MI.object_id not in links(emulator)
    found = [
        f for f in open_findings(engine).values() if f.principal_id == demo.MI.object_id and f.kind == "link_failed"
    ]
    assert [f.reason for f in found] == ["would_repair"]
    assert "would put it back" in found[0].title
    assert not [r for r in all_findings(engine) if r.finding.kind == "link_drift_repaired"]
