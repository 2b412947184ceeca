"""Service principals and managed identities have no Graph notifications; the poll finds them.

A linked service principal (contoso-ops: PAL Watch acts as it with a secret and it is linked)
attributes a new delegation; deleting or disabling it publishes no event, and the watch
cadence's light poll flags the loss; restoring or re-enabling it resolves the finding.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.usecases import identities
from tests.integration.test_identity_events import (
    ALICE,
    CONTRIBUTOR,
    LOSS_KINDS,
    OPS,
    PRINCIPALS,
    RELECLOUD,
    act,
    attest,
    delegation,
    findings_of,
    onboard,
    snapshot,
)
from tests.support.remembered import open_findings

AUTOMATION = PRINCIPALS["contoso-automation"]["objectId"]


def now() -> datetime:
    return datetime.now(UTC)


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
    key = onboard(emulator, delegation(RELECLOUD, (OPS, "contoso-ops", CONTRIBUTOR)))
    assert [a.principal_id for a in snapshot(palwatch, key).active_attributors] == [OPS]
    identities.poll_identities(palwatch, now())

    assert act(emulator, OPS, lose) == []  # service principals publish no notification
    outcome = identities.poll_identities(palwatch, now())

    losses = [f for f in findings_of(palwatch, key) if f.kind in LOSS_KINDS]
    assert [f.kind for f in losses] == ["attribution_lost"], outcome
    assert losses[0].tenant_id == RELECLOUD["tenantId"]
    assert words in losses[0].detail
    assert "contoso-ops" in losses[0].detail
    assert OPS in losses[0].fix

    act(emulator, OPS, regain)
    identities.poll_identities(palwatch, now())

    assert [f for f in findings_of(palwatch, key) if f.kind in LOSS_KINDS] == []
    assert snapshot(palwatch, key).attributed


def test_a_quiet_poll_reads_in_bulk_and_writes_nothing(emulator, palwatch, monkeypatch):
    attest(palwatch, ALICE)
    onboard(emulator, delegation(RELECLOUD, (OPS, "contoso-ops", CONTRIBUTOR), (ALICE, "Alice", CONTRIBUTOR)))
    identities.poll_identities(palwatch, now())
    emulator.control("DELETE", "/journal")

    outcome = identities.poll_identities(palwatch, now())

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
    full = identities.poll_identities(palwatch, now(), full=True)
    assert "1 delegation(s) re-assessed" in str(full)
    assert writes == []  # nothing changed, nothing written


def test_a_service_principal_that_attributes_nothing_gives_no_finding(emulator, palwatch):
    key = onboard(emulator, delegation(RELECLOUD, (OPS, "contoso-ops", CONTRIBUTOR)))
    identities.poll_identities(palwatch, now())
    before = open_findings(palwatch)

    act(emulator, AUTOMATION, "disable")
    act(emulator, AUTOMATION, "softDelete")
    identities.poll_identities(palwatch, now())
    identities.poll_identities(palwatch, now(), full=True)

    assert open_findings(palwatch).keys() == before.keys()
    assert snapshot(palwatch, key).attributed


def test_the_full_poll_also_sees_group_membership(emulator, palwatch):
    from tests.integration.test_identity_events import OPERATORS, remove_member

    attest(palwatch, ALICE)
    key = onboard(emulator, delegation(RELECLOUD, (OPERATORS, "Contoso MSP Operators", CONTRIBUTOR)))
    remove_member(emulator, OPERATORS, OPS)  # no Graph subscription: nobody hears of it
    remove_member(emulator, OPERATORS, ALICE)

    identities.poll_identities(palwatch, now())
    assert [f for f in findings_of(palwatch, key) if f.kind in LOSS_KINDS] == []  # light: states only

    identities.poll_identities(palwatch, now(), full=True)
    [lost] = [f for f in findings_of(palwatch, key) if f.kind in LOSS_KINDS]
    assert lost.kind == "attribution_lost"
    assert "no longer a member of group" in lost.detail


def test_the_watch_timer_runs_the_poll(emulator, palwatch):
    from azure.functions.timer import TimerRequest

    import function_app

    key = onboard(emulator, delegation(RELECLOUD, (OPS, "contoso-ops", CONTRIBUTOR)))
    function_app.watch_delegations(TimerRequest(past_due=False))
    act(emulator, OPS, "disable")

    function_app.watch_delegations(TimerRequest(past_due=False))

    assert [f.kind for f in findings_of(palwatch, key) if f.kind in LOSS_KINDS] == ["attribution_lost"]
