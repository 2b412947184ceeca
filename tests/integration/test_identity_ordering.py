"""Graph notifications delivered in any order, any number of times, end as one clean pass.

The world goes through a series of identity changes once (emulator); Hypothesis then picks
delivery orders with duplicates of the notifications those changes published, each replayed
on a fresh store that starts from the same snapshots. Every replay must end in the findings
and snapshots of the clean pass (each notification once, in order): the handler reads Graph's
current state, so the order of hints does not matter. Only the instant a loss was first
noticed ("Since ...") depends on when it was handled, and is left out of the comparison.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from shared.store import store as store_module
from shared.usecases import engine as engine_module
from shared.usecases import identities
from tests.support.demo import CONTRIBUTOR, FABRIKAM, MANAGING, PARTNER, RELECLOUD
from tests.support.ids import ALICE, OPERATORS, OPS
from tests.support.remembered import attest, end_state
from tests.support.triggers import decode_event, onboard, subscribe
from tests.support.world import act, add_member, remove_member
from tests.support.world import new_delegation as delegation


class _Stores:
    """One engine (its tokens cached) whose store is a fresh set of tables for every replay."""

    def __init__(self, azurite: str) -> None:
        self.azurite = azurite
        self.current: store_module.Store | None = None

    def fresh(self) -> None:
        self.current = store_module.Store.from_connection_string(self.azurite, prefix="t" + uuid.uuid4().hex[:12])

    def __getattr__(self, name: str) -> Any:
        return getattr(self.current, name)


def _replay(engine: Any, baseline: list[Any], events: list[dict[str, Any]], start: datetime) -> tuple[Any, Any]:
    for snap in baseline:
        engine.store.put_delegation(snap)
    engine.store.attest_user(MANAGING, ALICE, PARTNER, "test", start)
    for i, event in enumerate(events):
        outcome = identities.handle_identity_event(engine, decode_event(event), start + timedelta(seconds=i))
        assert outcome.status in ("reconciled", "no_impact"), outcome
    return end_state(engine)


def test_any_order_and_duplicates_end_as_one_clean_pass(emulator, palwatch, azurite):
    attest(palwatch, ALICE)
    onboard(emulator, delegation(RELECLOUD, (ALICE, "Alice Operator", CONTRIBUTOR)))
    onboard(emulator, delegation(FABRIKAM, (OPERATORS, "Contoso MSP Operators", CONTRIBUTOR)))
    subscribe(palwatch)
    baseline = palwatch.store.list_delegations()
    events = [
        *act(emulator, ALICE, "softDelete"),
        *act(emulator, ALICE, "restore"),
        *remove_member(emulator, OPERATORS, OPS),
        *act(emulator, ALICE, "disable"),
        *remove_member(emulator, OPERATORS, ALICE),
        *add_member(emulator, OPERATORS, ALICE),
    ]
    assert len(events) == 6
    start = datetime.now(UTC)
    stores = _Stores(azurite)
    replayer = engine_module.Engine(palwatch.settings, store=stores)  # type: ignore[arg-type]
    stores.fresh()
    clean = _replay(replayer, baseline, events, start)
    kinds = sorted(f[1] for f in clean[0])
    assert kinds == ["attribution_lost", "attribution_lost"], clean[0]  # Alice disabled; ops out of the group

    @settings(
        max_examples=4,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @example([2, 1, 0, 3, 4, 5])  # once seen failing: Relecloud's loss noticed one event later
    @given(
        st.lists(st.sampled_from(range(len(events))), min_size=0, max_size=3).flatmap(
            lambda extra: st.permutations(list(range(len(events))) + extra)
        )
    )
    def replay_matches(order: list[int]) -> None:
        stores.fresh()
        assert _replay(replayer, baseline, [events[i] for i in order], start) == clean

    replay_matches()
