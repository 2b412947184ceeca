"""The partner ID guard through the entry points Azure calls: a wrong PAL_PARTNER_ID re-points
nothing (the emulator journal shows no PAL write), opens one critical configuration finding naming
both IDs and makes the doctor fail; with PAL_PARTNER_ID_PREVIOUS the links move and are reported.
"""

from __future__ import annotations

import json

import pytest

from shared import cli
from shared.usecases import alerts
from tests.support import demo, engines, mail, triggers, world
from tests.support.remembered import open_findings
from tests.support.world import links, onboard, pal_writes

GLOBAL_ID = "4000001"  # the demo partner's global ID (Microsoft answers PartnerIdInvalid)
OTHER_VALID = "6000001"  # another partner's ID, set on the links by hand


def _engine(monkeypatch: pytest.MonkeyPatch, **env: str):
    # A channel a person reads, so that the doctor's only possible failure here is the partner ID.
    return engines.rebuilt(monkeypatch, PAL_ALERT_MAIL_FROM=mail.SENDER, PAL_ALERT_MAIL_TO=mail.OPS_INBOX, **env)


def _whole_run() -> None:
    """A delegation event, a watch tick and a verification, as the Functions host runs them."""
    triggers.watch_now()
    triggers.verify_now()


def _doctor(capsys) -> tuple[int, dict[str, dict]]:
    """`palwatch doctor -o json`: its exit code and the failed required checks by name."""
    capsys.readouterr()
    code = cli.main(["doctor", "-o", "json"])
    checks = json.loads(capsys.readouterr().out)["checks"]
    return code, {c["name"]: c for c in checks if c["status"] == "FAIL" and c["required"]}


def _configuration(engine) -> list:
    return [f for f in open_findings(engine).values() if f.kind == "configuration" and "partner" in f.key]


def test_the_global_id_in_the_setting_repoints_nothing_and_says_so_once(emulator, palwatch, monkeypatch, capsys):
    engine = _engine(monkeypatch, PAL_PARTNER_ID=GLOBAL_ID)
    emulator.control("DELETE", "/journal")

    triggers.delegation_events(
        onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.PIPELINE, demo.CONTRIBUTOR)))
    )
    _whole_run()

    assert pal_writes(emulator) == []
    assert links(emulator)[demo.MI.object_id] == demo.PARTNER
    assert links(emulator)[demo.OPS.object_id] == demo.PARTNER
    findings = open_findings(engine)
    config = _configuration(engine)
    assert len(config) == 1
    assert config[0].severity.value == "critical"
    assert GLOBAL_ID in config[0].title
    assert demo.PARTNER in config[0].title
    assert f"PAL_PARTNER_ID={demo.PARTNER}" in config[0].fix
    assert not [f for f in findings.values() if f.kind in ("link_failed", "attribution_lost")]
    assert [f.severity.value for f in findings.values()].count("critical") == 1

    code, failed = _doctor(capsys)
    assert code == 1
    assert list(failed) == ["partner ID"]
    assert failed["partner ID"]["detail"] == config[0].title  # the same words as the finding
    assert f"PAL_PARTNER_ID={demo.PARTNER}" in failed["partner ID"]["fix"]


def test_another_valid_id_in_the_setting_repoints_nothing(emulator, palwatch, monkeypatch, capsys):
    for object_id in (demo.MI.object_id, demo.OPS.object_id):
        emulator.control("PUT", f"/links/{demo.MANAGING}/{object_id}", {"partnerId": OTHER_VALID})
    engine = _engine(monkeypatch)  # PAL_PARTNER_ID is the demo's valid id: Microsoft would accept the PATCH
    emulator.control("DELETE", "/journal")

    triggers.delegation_events(
        onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.PIPELINE, demo.CONTRIBUTOR)))
    )
    _whole_run()

    assert pal_writes(emulator) == []
    assert links(emulator)[demo.MI.object_id] == OTHER_VALID
    config = _configuration(engine)
    assert len(config) == 1
    assert OTHER_VALID in config[0].title
    assert demo.PARTNER in config[0].title
    code, failed = _doctor(capsys)
    assert code == 1
    assert list(failed) == ["partner ID"]
    assert OTHER_VALID in failed["partner ID"]["detail"]


def test_with_the_previous_id_declared_the_links_move_and_each_is_reported(emulator, palwatch, monkeypatch, capsys):
    for object_id in (demo.MI.object_id, demo.OPS.object_id):
        emulator.control("PUT", f"/links/{demo.MANAGING}/{object_id}", {"partnerId": OTHER_VALID})
    engine = _engine(monkeypatch, PAL_PARTNER_ID_PREVIOUS=OTHER_VALID)
    assert _doctor(capsys) == (0, {})  # a declared move is not a wrong setting
    emulator.control("DELETE", "/journal")

    triggers.verify_now()

    assert links(emulator)[demo.MI.object_id] == demo.PARTNER
    assert links(emulator)[demo.OPS.object_id] == demo.PARTNER
    assert [w["method"] for w in pal_writes(emulator)].count("PATCH") == 2
    notices = [
        r.finding for r in engine.store.list_findings(include_resolved=True) if r.finding.kind == "link_repointed"
    ]
    assert {n.principal_id for n in notices} == {demo.MI.object_id, demo.OPS.object_id}
    assert all(OTHER_VALID in n.title and demo.PARTNER in n.title for n in notices)
    assert not _configuration(engine)


def test_partner_id_invalid_is_one_configuration_finding_not_one_per_identity(emulator, palwatch, monkeypatch):
    for object_id in (demo.MI.object_id, demo.OPS.object_id):
        emulator.control("DELETE", f"/links/{demo.MANAGING}/{object_id}")  # a fresh install: nothing linked yet
    engine = _engine(monkeypatch, PAL_PARTNER_ID=GLOBAL_ID)
    emulator.control("DELETE", "/journal")

    triggers.verify_now()

    writes = pal_writes(emulator)
    assert len(writes) == 1, [(w["tenantId"], w["objectId"]) for w in writes]  # refused once, then none tried
    config = _configuration(engine)
    assert len(config) == 1
    assert config[0].reason == "partner_id_invalid"
    assert GLOBAL_ID in config[0].title
    assert not [f for f in open_findings(engine).values() if f.kind == "link_failed"]


def test_one_link_carrying_another_partner_id_is_not_repointed(emulator, palwatch, monkeypatch):
    emulator.control("PUT", f"/links/{demo.MANAGING}/{demo.OPS.object_id}", {"partnerId": OTHER_VALID})
    engine = _engine(monkeypatch)
    emulator.control("DELETE", "/journal")

    triggers.verify_now()

    assert links(emulator)[demo.OPS.object_id] == OTHER_VALID
    assert not [w for w in pal_writes(emulator) if w["method"] == "PATCH"]
    failed = [
        f for f in open_findings(engine).values() if f.kind == "link_failed" and f.principal_id == demo.OPS.object_id
    ]
    assert len(failed) == 1
    assert f"PAL_PARTNER_ID_PREVIOUS={OTHER_VALID}" in failed[0].fix + failed[0].detail


def test_a_delegation_event_judges_the_partner_id_on_every_link_the_app_can_read(emulator, palwatch, monkeypatch):
    """The event names only the MI and contoso-automation, both unlinked; contoso-ops's link is the
    only one left and points to another partner: the event writes nothing, as a verification would."""
    emulator.control("DELETE", f"/links/{demo.MANAGING}/{demo.MI.object_id}")
    emulator.control("PUT", f"/links/{demo.MANAGING}/{demo.OPS.object_id}", {"partnerId": OTHER_VALID})
    engine = _engine(monkeypatch)
    emulator.control("DELETE", "/journal")

    triggers.delegation_events(
        onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.AUTOMATION, demo.CONTRIBUTOR)))
    )

    assert pal_writes(emulator) == []
    assert len(_configuration(engine)) == 1
    triggers.verify_now()
    assert pal_writes(emulator) == []
    assert len(_configuration(engine)) == 1


def test_a_mismatch_found_on_a_delegation_event_is_alerted_and_recorded_in_that_pass(
    emulator, palwatch, monkeypatch, caplog
):
    """Every link the app reads points to another partner: the event that finds it opens the critical
    finding, enqueues its alert and writes its `PalWatch.FindingOpened` record, before any timer runs."""
    for object_id in (demo.MI.object_id, demo.OPS.object_id):
        emulator.control("PUT", f"/links/{demo.MANAGING}/{object_id}", {"partnerId": OTHER_VALID})
    engine = _engine(monkeypatch)
    caplog.set_level("INFO", logger="palwatch.telemetry")

    triggers.delegation_events(
        onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.PIPELINE, demo.CONTRIBUTOR)))
    )

    (config,) = _configuration(engine)
    outbox = [e.notice_id for e in alerts.dispatcher(engine).outbox.list_entries()]
    assert [n for n in outbox if n.startswith(f"{config.key}|") and n.endswith("|opened")], outbox
    opened = [
        json.loads(r.getMessage().split(" ", 1)[1])
        for r in caplog.records
        if r.getMessage().startswith("PalWatch.FindingOpened ")
    ]
    assert [o["key"] for o in opened] == [config.key]


SECOND_LOCATION = "5127256"  # the demo partner's second location (Bergen)


def test_links_to_the_partners_second_location_are_its_own(emulator, palwatch, monkeypatch):
    """Every link the app reads points to the partner's second location ID: nothing halts, nothing is
    re-pointed or reported as another partner's, and the delegations they carry are attributed."""
    for object_id in (demo.MI.object_id, demo.OPS.object_id):
        emulator.control("PUT", f"/links/{demo.MANAGING}/{object_id}", {"partnerId": SECOND_LOCATION})
    engine = _engine(monkeypatch, PAL_PARTNER_ID=f"{demo.PARTNER}:Seattle,{SECOND_LOCATION}:Bergen")
    emulator.control("DELETE", "/journal")

    triggers.delegation_events(
        onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.PIPELINE, demo.CONTRIBUTOR)))
    )
    _whole_run()

    assert not [w for w in pal_writes(emulator) if w["method"] == "PATCH"]
    assert links(emulator)[demo.MI.object_id] == SECOND_LOCATION
    assert links(emulator)[demo.OPS.object_id] == SECOND_LOCATION
    findings = open_findings(engine)
    assert not _configuration(engine), [f.title for f in findings.values()]
    assert not [f for f in findings.values() if f.kind == "link_failed"], [f.title for f in findings.values()]
    rows = engine.store.get_coverage().rows
    carried = [r for r in rows if demo.MI.object_id in {a.principal_id for a in r.attributed_by}]
    assert carried
    assert all(r.status != "not_attributed" for r in carried)
    assert all(SECOND_LOCATION in r.locations for r in carried)
    document = json.loads(triggers.coverage({"format": "json"}).get_body())
    assert document["byLocation"][SECOND_LOCATION]["delegations"] >= len(carried)


def test_a_customer_credited_to_another_location_is_said_once_and_nothing_moves(emulator, palwatch, monkeypatch):
    emulator.control("PUT", f"/links/{demo.MANAGING}/{demo.MI.object_id}", {"partnerId": SECOND_LOCATION})
    fabrikam = demo.tenant("Fabrikam").tenant_id
    engine = _engine(
        monkeypatch,
        PAL_PARTNER_ID=f"{demo.PARTNER}:Seattle,{SECOND_LOCATION}:Bergen",
        PAL_PARTNER_ID_BY_CUSTOMER=f"{fabrikam}=Seattle",
    )
    emulator.control("DELETE", "/journal")

    triggers.verify_now()
    triggers.verify_now()

    assert links(emulator)[demo.MI.object_id] == SECOND_LOCATION
    assert not [w for w in pal_writes(emulator) if w["method"] == "PATCH"]
    said = [f for f in open_findings(engine).values() if f.kind == "link_location"]
    assert [(f.severity.value, f.tenant_id, f.principal_id) for f in said] == [("info", fabrikam, demo.MI.object_id)]
    assert "attributed to Bergen (5127256), expected Seattle (5127255)" in said[0].title
    recorded = [r for r in engine.store.list_findings(include_resolved=True) if r.finding.kind == "link_location"]
    assert len(recorded) == 1  # once, not once per pass
