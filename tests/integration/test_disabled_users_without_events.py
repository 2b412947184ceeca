"""A user disabled in the managing tenant, with no event at all, is flagged by the next pass.

Graph leaves `accountEnabled` out of a user unless it is `$select`ed (the emulator answers with
Graph's default property sets), so an engine that reads users without `$select` sees every user
as enabled. Two linked (attested) users carry two delegations: Alice directly, Bob through the
Lighthouse-authorized group "Contoso MSP Tier 2". Both are disabled with no Graph subscription,
so no notification exists; the verification timer and the watch timer (its identity poll), run
through the function entry points, must each find both losses. Every test also runs with
Directory.Read.All granted, the wider permission a deployment may choose.
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.functions.timer import TimerRequest

import function_app
from tests.support import demo, remembered, triggers, world

ENTRY_POINTS = {
    "verify_attribution": function_app.verify_attribution,
    "watch_delegations": function_app.watch_delegations,
}


@pytest.fixture(params=["demo-permissions", "directory-read-all"])
def carried(request: pytest.FixtureRequest, emulator: Any, palwatch: Any) -> dict[str, str]:
    """Alice (directly) and Bob (through Tier 2) each carry one delegation; returns their keys."""
    if request.param == "directory-read-all":
        world.restart_with_graph_permission(emulator, "Directory.Read.All")
    remembered.attest(palwatch, demo.ALICE.object_id)
    remembered.attest(palwatch, demo.BOB.object_id)
    keys = {
        demo.ALICE.object_id: triggers.onboard(
            emulator, world.new_delegation(demo.RELECLOUD, (demo.ALICE, demo.CONTRIBUTOR))
        ),
        demo.BOB.object_id: triggers.onboard(
            emulator, world.new_delegation(demo.FABRIKAM, (demo.TIER2, demo.CONTRIBUTOR))
        ),
    }
    triggers.verify_now()
    for key in keys.values():
        assert remembered.snapshot(palwatch, key).attributed
        assert not [f for f in remembered.findings_of(palwatch, key) if f.kind in remembered.LOSS_KINDS]
    return keys


@pytest.mark.parametrize("entry_point", sorted(ENTRY_POINTS))
def test_a_user_disabled_without_any_event_is_flagged_by_the_next_pass(emulator, palwatch, carried, entry_point):
    for user in (demo.ALICE.object_id, demo.BOB.object_id):
        assert world.act(emulator, user, "disable") == []  # no Graph subscription: no notification at all

    ENTRY_POINTS[entry_point](TimerRequest(past_due=False))

    # Credit is counted per scope: Relecloud's subscription loses it with Alice, while Fabrikam's
    # keeps it through the demo's other offer there (the managed identity's Contributor).
    for user, name, kind in (
        (demo.ALICE.object_id, "Alice Operator", "attribution_lost"),
        (demo.BOB.object_id, "Bob Engineer", "identity_lost"),
    ):
        losses = [f for f in remembered.findings_of(palwatch, carried[user]) if f.kind in remembered.LOSS_KINDS]
        assert [f.kind for f in losses] == [kind], (entry_point, name)
        assert "disabled" in losses[0].detail
        assert f"az ad user update --id {user} --account-enabled true" in losses[0].fix
        assert not remembered.snapshot(palwatch, carried[user]).attributed

    for user in (demo.ALICE.object_id, demo.BOB.object_id):
        world.act(emulator, user, "enable")
    ENTRY_POINTS[entry_point](TimerRequest(past_due=False))
    for key in carried.values():
        assert not [f for f in remembered.findings_of(palwatch, key) if f.kind in remembered.LOSS_KINDS]


def test_every_principal_read_selects_what_the_decisions_use(emulator, palwatch, carried):
    emulator.control("DELETE", "/journal")
    triggers.verify_now()

    reads = [r for r in emulator.journal() if r["path"].startswith("/v1.0/") and r["method"] == "GET"]
    assert reads, "the verification read nothing from Graph"
    assert all("%24select=" in r["query"] or "$select=" in r["query"] for r in reads), [
        (r["path"], r["query"]) for r in reads if "select" not in r["query"]
    ]
    assert not [r for r in emulator.journal() if "/directoryObjects" in r["path"]]  # needs Directory.Read.All
    assert all(r["status"] == 200 for r in reads)
