"""Service principals and managed identities have no Graph notifications; the poll finds them.

A linked service principal (contoso-ops: PAL Watch acts as it with a secret and it is linked)
attributes a new delegation; deleting or disabling it publishes no event, and the watch
cadence's light poll flags the loss; restoring or re-enabling it resolves the finding.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.usecases import identities
from tests.support import clocks, demo, remembered, triggers, world
from tests.support.remembered import open_findings


def graph_reads(emulator: Any) -> list[dict[str, Any]]:
    return [r for r in emulator.journal() if r["path"].startswith("/v1.0/")]


@pytest.mark.parametrize(
    ("lose", "regain", "words"),
    [
        ("softDelete", "restore", "deleted (restorable for 30 days)"),
        ("disable", "enable", "disabled"),
    ],
)
def test_a_linked_service_principal_lost_is_found_by_the_poll(emulator, palwatch, lose, regain, words):
    key = triggers.onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.OPS, demo.CONTRIBUTOR)))
    assert [a.principal_id for a in remembered.snapshot(palwatch, key).active_attributors] == [demo.OPS.object_id]
    identities.poll_identities(palwatch, clocks.now())

    assert world.act(emulator, demo.OPS.object_id, lose) == []  # service principals publish no notification
    outcome = identities.poll_identities(palwatch, clocks.now())

    losses = [f for f in remembered.findings_of(palwatch, key) if f.kind in remembered.LOSS_KINDS]
    assert [f.kind for f in losses] == ["attribution_lost"], outcome
    assert losses[0].tenant_id == demo.RELECLOUD.tenant_id
    assert words in losses[0].detail
    assert "contoso-ops" in losses[0].detail
    assert demo.OPS.object_id in losses[0].fix

    world.act(emulator, demo.OPS.object_id, regain)
    identities.poll_identities(palwatch, clocks.now())

    assert [f for f in remembered.findings_of(palwatch, key) if f.kind in remembered.LOSS_KINDS] == []
    assert remembered.snapshot(palwatch, key).attributed


def test_a_quiet_poll_reads_in_bulk_and_writes_nothing(emulator, palwatch, monkeypatch):
    remembered.attest(palwatch, demo.ALICE.object_id)
    triggers.onboard(
        emulator,
        world.new_delegation(
            demo.RELECLOUD, (demo.OPS, demo.CONTRIBUTOR), (demo.ALICE.object_id, "Alice", demo.CONTRIBUTOR)
        ),
    )
    identities.poll_identities(palwatch, clocks.now())
    emulator.control("DELETE", "/journal")

    outcome = identities.poll_identities(palwatch, clocks.now())

    reads = graph_reads(emulator)
    # one JSON batch of three per-type reads (the journal lists the batch and each read in it)
    assert sorted((r["method"], r["path"]) for r in reads) == [
        ("GET", "/v1.0/groups"),
        ("GET", "/v1.0/servicePrincipals"),
        ("GET", "/v1.0/users"),
        ("POST", "/v1.0/$batch"),
    ]
    assert "0 delegation(s) re-assessed" in str(outcome)

    writes: list[Any] = []
    monkeypatch.setattr(palwatch.store, "put_delegation", writes.append)
    full = identities.poll_identities(palwatch, clocks.now(), full=True)
    assert "1 delegation(s) re-assessed" in str(full)
    assert writes == []  # nothing changed, nothing written


def test_a_service_principal_that_attributes_nothing_gives_no_finding(emulator, palwatch):
    key = triggers.onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.OPS, demo.CONTRIBUTOR)))
    identities.poll_identities(palwatch, clocks.now())
    before = open_findings(palwatch)

    world.act(emulator, demo.AUTOMATION.object_id, "disable")
    world.act(emulator, demo.AUTOMATION.object_id, "softDelete")
    identities.poll_identities(palwatch, clocks.now())
    identities.poll_identities(palwatch, clocks.now(), full=True)

    assert open_findings(palwatch).keys() == before.keys()
    assert remembered.snapshot(palwatch, key).attributed


def test_the_full_poll_also_sees_group_membership(emulator, palwatch):
    remembered.attest(palwatch, demo.ALICE.object_id)
    key = triggers.onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.OPERATORS, demo.CONTRIBUTOR)))
    world.remove_member(
        emulator, demo.OPERATORS.object_id, demo.OPS.object_id
    )  # no Graph subscription: nobody hears of it
    world.remove_member(emulator, demo.OPERATORS.object_id, demo.ALICE.object_id)

    identities.poll_identities(palwatch, clocks.now())
    assert [
        f for f in remembered.findings_of(palwatch, key) if f.kind in remembered.LOSS_KINDS
    ] == []  # light: states only

    identities.poll_identities(palwatch, clocks.now(), full=True)
    [lost] = [f for f in remembered.findings_of(palwatch, key) if f.kind in remembered.LOSS_KINDS]
    assert lost.kind == "attribution_lost"
    assert "no longer a member of group" in lost.detail


def test_the_watch_timer_runs_the_poll(emulator, palwatch):

    key = triggers.onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.OPS, demo.CONTRIBUTOR)))
    triggers.watch_now()
    world.act(emulator, demo.OPS.object_id, "disable")

    triggers.watch_now()

    assert [f.kind for f in remembered.findings_of(palwatch, key) if f.kind in remembered.LOSS_KINDS] == [
        "attribution_lost"
    ]
