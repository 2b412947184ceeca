"""A Graph permission the engine needs and lacks is one critical configuration finding, never a
failed run: the verification timer finishes, names the permission (from the token's `roles`), the
call that needed it and the exact grant, as the doctor does; the finding resolves on the first
run after the grant."""

from __future__ import annotations

from shared import catalogue, doctor, model
from shared.usecases import engine
from tests.support import demo, triggers
from tests.support.remembered import open_findings

GROUP_READ_ALL_ROLE_ID = doctor.GRAPH_ROLES["Group.Read.All"]


def _with_graph_roles(emulator, roles: list[str]) -> None:
    scenario = demo.scenario_copy()
    demo.principal_in(scenario, demo.MI)["graphAppRoles"] = roles
    emulator.reset(scenario)
    engine.reset_engine()  # a new worker: new tokens carry the roles granted now


def _permission_findings(palwatch) -> list[model.Finding]:
    return [f for f in open_findings(palwatch).values() if f.subject == catalogue.GRAPH_PERMISSION_SUBJECT]


def test_a_missing_graph_permission_is_one_critical_finding_and_resolves_when_granted(emulator, palwatch):
    granted = [r for r in demo.MI.raw["graphAppRoles"] if r != "Group.Read.All"]
    _with_graph_roles(emulator, granted)

    triggers.verify_now()  # the trigger returns: nothing raises out of it
    triggers.verify_now()  # and says it once, not once a run

    (finding,) = _permission_findings(palwatch)
    assert finding.kind == catalogue.Kind.CONFIGURATION
    assert finding.severity is model.Severity.CRITICAL
    assert "Group.Read.All" in finding.title
    assert "GET /v1.0/groups" in finding.detail
    assert ", ".join(granted) in finding.detail  # read from the token's roles claim
    assert GROUP_READ_ALL_ROLE_ID in finding.fix
    assert "appRoleAssignments" in finding.fix
    # The doctor (and `health`, which runs it) says the same, with the same grant.
    row = doctor.run_doctor().check("Graph: read groups")
    assert row.status == doctor.FAIL
    assert GROUP_READ_ALL_ROLE_ID in row.fix

    _with_graph_roles(emulator, [*granted, "Group.Read.All"])
    triggers.verify_now()
    assert _permission_findings(palwatch) == []
    resolved = [
        r.finding
        for r in palwatch.store.list_findings(include_resolved=True)
        if r.finding.subject == catalogue.GRAPH_PERMISSION_SUBJECT
    ]
    assert resolved, "the finding was kept, resolved"
