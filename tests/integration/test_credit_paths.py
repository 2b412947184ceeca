"""Credit as Microsoft counts it, through the entry points Azure calls: on a CSP subscription the
partner's Admin Agents (AOBO) is a path to partner earned credit of its own, so losing the
Lighthouse carrier there is a warning, and losing AOBO where no PAL path holds is the critical; off
CSP, PAL gives recognition and alerts never speak of partner earned credit.
"""

from __future__ import annotations

from datetime import UTC, datetime

import function_app
from scripts import demo_csp
from shared import cli
from tests.support import demo, remembered, triggers, world
from tests.support.remembered import open_findings
from tests.support.triggers import decode_event

HOME = demo_csp.Managing(demo.MANAGING, demo.HOME.raw["defaultDomain"], demo.ACTORS["id-palwatch-contoso"].object_id)
ROLE_ASSIGNMENTS = "/providers/Microsoft.Authorization/roleAssignments"


def _with_csp_customers(emulator, palwatch) -> None:
    triggers.delegation_events(demo_csp.onboard(emulator.control, HOME, demo.PARTNER))
    palwatch.store.attest_user(demo.MANAGING, demo_csp.CAROL, demo.PARTNER, "test", datetime.now(UTC))
    triggers.subscribe(palwatch)
    triggers.verify_now()


def _about(engine, subscription: str) -> list:
    return sorted((f for f in open_findings(engine).values() if subscription in f.scope.lower()), key=lambda f: f.key)


def _role_assignment_reads(emulator) -> list[str]:
    return [r["path"] for r in emulator.journal() if ROLE_ASSIGNMENTS.lower() in r["path"].lower()]


def test_losing_the_lighthouse_carrier_while_aobo_holds_is_a_warning(emulator, palwatch):
    _with_csp_customers(emulator, palwatch)
    assert [f.kind for f in _about(palwatch, demo_csp.ALPINE_SUB)] == []  # Carol and AOBO both hold

    emulator.control("DELETE", "/journal")
    for event in world.act(emulator, demo_csp.CAROL, "softDelete"):
        function_app.identity_events(decode_event(event))

    about = _about(palwatch, demo_csp.ALPINE_SUB)
    assert [(f.kind, f.severity.value) for f in about] == [("identity_lost", "warning")]
    assert "rests on AOBO alone" in about[0].detail
    assert _role_assignment_reads(emulator) == []  # an event reads no role assignments

    triggers.verify_now()
    assert [(f.kind, f.severity.value) for f in _about(palwatch, demo_csp.ALPINE_SUB)] == [("identity_lost", "warning")]


def test_aobo_removed_where_no_pal_path_holds_is_critical(emulator, palwatch):
    _with_csp_customers(emulator, palwatch)
    (before,) = _about(palwatch, demo_csp.COHO_SUB)
    assert (before.kind, before.severity.value) == ("unattributed_delegation", "warning")
    assert "rests on AOBO alone" in before.detail

    for event in demo_csp.remove_aobo(emulator.control):
        function_app.delegation_events(decode_event(event))
    emulator.control("DELETE", "/journal")
    triggers.verify_now()

    (lost,) = _about(palwatch, demo_csp.COHO_SUB)
    assert (lost.kind, lost.severity.value, lost.reason) == ("attribution_lost", "critical", "aobo_removed")
    assert "AOBO removed" in lost.title
    assert "-ObjectType ForeignGroup" in lost.fix
    assert "Link an identity with an eligible role" in lost.fix
    # One read of role assignments per CSP subscription in the verification, none elsewhere.
    reads = _role_assignment_reads(emulator)
    assert len(reads) == len(set(reads))
    assert {r.split("/")[2] for r in reads} >= {demo_csp.ALPINE_SUB, demo_csp.COHO_SUB}


def test_an_enterprise_agreement_scope_with_a_linked_reader_is_recognised(emulator, palwatch, capsys):
    remembered.attest(palwatch, demo.ALICE.object_id)
    triggers.verify_now()
    core = demo.delegation("woodgrove-core")["scope"].lower()
    (finding,) = [f for f in open_findings(palwatch).values() if f.scope.lower() == core]
    assert "is recognised" in finding.title
    for text in (finding.title, finding.detail):
        assert "partner earned credit" not in text.lower()
        assert "PEC" not in text
    capsys.readouterr()
    assert cli.main(["findings"]) == 0
    out = capsys.readouterr().out
    woodgrove = [line for line in out.splitlines() if "Woodgrove Core" in line or "recognised" in line]
    assert woodgrove, out
    assert not [line for line in woodgrove if "PEC" in line or "partner earned credit" in line.lower()]
