"""Observe mode remembers drift: a link PAL Watch saw as ours and found changed by hand stays ours
in its memory while observe mode withholds the repair, so switching to repair puts it back, and
the partner ID guard never advises adopting the ID the links drifted to. Runs the
`verify_attribution` timer as the Functions host does.
"""

from __future__ import annotations

from tests.support import demo, engines, triggers
from tests.support.remembered import open_findings
from tests.support.world import links, pal_writes

DRIFTED_TO = "6000001"  # another partner's valid ID, set on the links by hand


def _drift_every_link(emulator) -> set[str]:
    """Every managing-tenant link re-pointed by hand; the identities PAL Watch acts as whose links moved."""
    for object_id, partner in links(emulator).items():
        if partner == demo.PARTNER:
            emulator.control("PUT", f"/links/{demo.MANAGING}/{object_id}", {"partnerId": DRIFTED_TO})
    known = engines.current().store.get_state("verify-known-links") or {}
    return {object_id for object_id, partner in known.items() if partner == demo.PARTNER}


def test_links_drifted_in_observe_mode_are_put_back_once_repair_is_on(emulator, palwatch, monkeypatch):
    triggers.verify_now()  # repair mode: PAL Watch links what it can and sees those links as ours
    engines.rebuilt(monkeypatch, PAL_MODE="observe")
    moved = _drift_every_link(emulator)
    assert {demo.MI.object_id, demo.OPS.object_id} <= moved

    triggers.verify_now()
    would = {f.principal_id for f in open_findings(engines.current()).values() if f.reason == "would_repair"}
    assert would == moved

    triggers.verify_now()  # a second pass in observe mode still knows what drifted
    findings = open_findings(engines.current())
    assert not [f for f in findings.values() if f.kind == "configuration"], [f.title for f in findings.values()]
    assert not [f for f in findings.values() if f"PAL_PARTNER_ID={DRIFTED_TO}" in f.fix]
    would = {f.principal_id for f in findings.values() if f.reason == "would_repair"}
    assert would == moved

    engines.rebuilt(monkeypatch, PAL_MODE="repair")
    emulator.control("DELETE", "/journal")
    triggers.verify_now()

    now = links(emulator)
    assert {object_id: now[object_id] for object_id in moved} == dict.fromkeys(moved, demo.PARTNER)
    assert [w["method"] for w in pal_writes(emulator)].count("PATCH") == len(moved)
    findings = open_findings(engines.current())
    assert not [f for f in findings.values() if f.kind in ("link_failed", "configuration")]


def test_one_drifted_link_in_observe_mode_is_what_repair_puts_back(emulator, palwatch, monkeypatch):
    triggers.verify_now()
    engines.rebuilt(monkeypatch, PAL_MODE="observe")
    emulator.control("PUT", f"/links/{demo.MANAGING}/{demo.MI.object_id}", {"partnerId": DRIFTED_TO})
    triggers.verify_now()
    triggers.verify_now()
    said = [f for f in open_findings(engines.current()).values() if f.reason == "would_repair"]
    assert [f.principal_id for f in said] == [demo.MI.object_id]

    engines.rebuilt(monkeypatch, PAL_MODE="repair")
    triggers.verify_now()

    assert links(emulator)[demo.MI.object_id] == demo.PARTNER
    assert not [f for f in open_findings(engines.current()).values() if f.kind == "link_failed"]
