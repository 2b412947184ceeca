"""Graph notifications delivered in any order, any number of times, end as one clean pass.

The world goes through a series of identity changes (emulator): one fixed series, and series
Hypothesis draws (a user disabled, deleted, restored, members leaving and joining the group,
often a user deleted while a group change is still to be delivered). Hypothesis then picks
delivery orders with duplicates of the notifications those changes published, each replayed
on a fresh store that starts from the same snapshots. Every replay must end in the findings
and snapshots of the clean pass (each notification once, in order): the handler reads Graph's
current state, so the order of hints does not matter — down to the words and the fix of each
finding. Only the instant a loss was first noticed ("Since ...") depends on when it was
handled, and is left out of the comparison. Sizes come from `campaign.PROPERTIES`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from shared.store import store as store_module
from shared.usecases import delegations, identities
from shared.usecases import engine as engine_module
from tests import campaign
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

    @settings(campaign.PROPERTIES, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
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


# -- drawn series ----------------------------------------------------------------------------------

DELETED_THEN_GROUP = ("softDelete", "remove-ops")  # a user deleted while a group change is pending


def _possible(alice: str, members: set[str]) -> list[str]:
    """The changes an admin can make now (Alice: active, disabled or softDeleted)."""
    moves = {"active": ["disable", "softDelete"], "disabled": ["enable", "softDelete"]}.get(alice, ["restore"])
    moves += ["remove-ops" if OPS in members else "add-ops"]
    if alice != "softDeleted":
        moves += ["remove-alice" if ALICE in members else "add-alice"]
    return moves


def _apply(emulator: Any, picks: list[int], deleted_first: bool) -> tuple[list[str], list[dict[str, Any]]]:
    """Make the drawn changes; the names of those made and every notification they published."""
    alice, members = "active", {OPS, ALICE}
    made: list[str] = []
    events: list[dict[str, Any]] = []
    wanted = [*DELETED_THEN_GROUP] if deleted_first else []
    for pick in picks:
        possible = _possible(alice, members)
        move = wanted.pop(0) if wanted else possible[pick % len(possible)]
        if move in ("disable", "enable", "softDelete", "restore"):
            events += act(emulator, ALICE, move)
            alice = {"disable": "disabled", "enable": "active", "softDelete": "softDeleted", "restore": "active"}[move]
            if move == "softDelete":
                members.discard(ALICE)  # Graph drops a deleted user from its groups
        else:
            verb, who = move.split("-")
            member = OPS if who == "ops" else ALICE
            events += (remove_member if verb == "remove" else add_member)(emulator, OPERATORS, member)
            (members.discard if verb == "remove" else members.add)(member)
        made.append(move)
    return made, events


def _baseline(emulator: Any, replayer: Any, stores: _Stores) -> list[Any]:
    """The demo world again, Alice attested, her two delegations known, Graph subscriptions made."""
    emulator.reset()
    stores.fresh()
    now = datetime.now(UTC)
    replayer.store.attest_user(MANAGING, ALICE, PARTNER, "test", now)
    for body in (
        delegation(RELECLOUD, (ALICE, "Alice Operator", CONTRIBUTOR)),
        delegation(FABRIKAM, (OPERATORS, "Contoso MSP Operators", CONTRIBUTOR)),
    ):
        for event in emulator.control("PUT", f"/delegations/{body['registrationAssignmentId']}", body)["events"]:
            delegations.handle_delegation_event(replayer, decode_event(event), now)
    subscribe(replayer)
    return replayer.store.list_delegations()


def test_drawn_series_in_any_order_tell_one_story(emulator, palwatch, azurite):
    stores = _Stores(azurite)
    replayer = engine_module.Engine(palwatch.settings, store=stores)  # type: ignore[arg-type]
    tried: list[int] = []

    @settings(campaign.PROPERTIES, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @example(picks=[0, 0], deleted_first=True, extra=[], order=[0, 1])  # the minimal case: delete, then the group
    @given(
        picks=st.lists(st.integers(0, 3), min_size=2, max_size=6),
        deleted_first=st.booleans(),
        extra=st.lists(st.integers(0, 20), max_size=3),
        order=st.lists(st.integers(0, 20), max_size=12),
    )
    def one_story(picks: list[int], deleted_first: bool, extra: list[int], order: list[int]) -> None:
        baseline = _baseline(emulator, replayer, stores)
        made, events = _apply(emulator, picks, deleted_first)
        if not events:
            return
        start = datetime.now(UTC)
        stores.fresh()
        clean = _replay(replayer, baseline, events, start)
        delivery = list(range(len(events))) + [e % len(events) for e in extra]
        shuffled = [delivery.pop(o % len(delivery)) for o in order if delivery] + delivery
        stores.fresh()
        tried.append(len(events))
        assert _replay(replayer, baseline, [events[i] for i in shuffled], start) == clean, made

    one_story()
    campaign.record("identity_series", series=len(tried), notifications=sum(tried), different_stories=0)
