"""A lost carrier is described by its own state, whichever notification came last.

Alice is attested and Contributor on Relecloud herself, and on Fabrikam through the Operators
group. She is soft-deleted (Graph drops her from the group), then another member leaves the group:
a user notification, then a group notification. Each pass that judges Fabrikam must say what
Alice is (deleted, restorable: restore her), not what the group read alone suggests ("no longer a
member": `az ad group member add`, which fails for a deleted user), in either delivery order and in
the verification.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import remembered, triggers
from tests.support.demo import CONTRIBUTOR, FABRIKAM, RELECLOUD
from tests.support.ids import ALICE, OPERATORS, OPS
from tests.support.world import act, remove_member
from tests.support.world import new_delegation as delegation


def _losses(engine: Any) -> dict[str, tuple[str, str]]:
    """Open attribution losses by scope: (detail, fix) with instants left out."""
    return {
        f.scope: (remembered.without_instants(f.detail), f.fix)
        for f in (r.finding for r in engine.store.open_findings())
        if f.kind in ("attribution_lost", "identity_lost") and f.principal_id == ALICE
    }


def _world(emulator: Any, palwatch: Any) -> list[list[dict[str, Any]]]:
    remembered.attest(palwatch, ALICE)
    triggers.onboard(emulator, delegation(RELECLOUD, (ALICE, "Alice Operator", CONTRIBUTOR)))
    triggers.onboard(emulator, delegation(FABRIKAM, (OPERATORS, "Contoso MSP Operators", CONTRIBUTOR)))
    triggers.subscribe(palwatch)
    return [act(emulator, ALICE, "softDelete"), remove_member(emulator, OPERATORS, OPS)]


@pytest.mark.parametrize("order", ["user-then-group", "group-then-user"])
def test_a_deleted_user_is_told_as_deleted_in_any_order(emulator, palwatch, order):
    user, group = _world(emulator, palwatch)
    triggers.identity_events(user + group if order == "user-then-group" else group + user)
    losses = _losses(palwatch)
    assert losses, remembered.open_findings(palwatch)
    for scope, (detail, fix) in losses.items():
        assert "no longer a member" not in detail, (scope, detail)
        assert "group member add" not in fix, (scope, fix)
        assert "restor" in (detail + fix).lower(), (scope, detail, fix)
    by_events = losses

    triggers.verify_now()  # it judges the demo's other delegations too: only these two compared
    assert {s: v for s, v in _losses(palwatch).items() if s in by_events} == by_events
