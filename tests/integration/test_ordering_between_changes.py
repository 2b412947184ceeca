"""Events that arrive *between* world changes: late, early, duplicated, interleaved with later changes.

From two known delegations, one carried by an attested user (`link-me`), one by a group, the
world goes through one fixed series of changes (the user disabled and enabled, a group member
removed and added back, a delegation removed, the user soft-deleted). After each change
Hypothesis delivers some of the events published so far, in any order, any number of times,
through the real triggers; whatever is undelivered comes after the last change. Each run starts
from a fresh emulator world and fresh tables, and must end with the open findings and snapshots
of the clean run: every event once, right after its change. A handler reads Azure's state when
it runs, so an order can change when something was noticed, never what holds at the end.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

import function_app
from shared.usecases import engine, users
from tests import campaign
from tests.support.demo import CONTRIBUTOR, FABRIKAM, MANAGING, PARTNER, RELECLOUD
from tests.support.ids import ALICE, OPERATORS, OPS
from tests.support.remembered import end_state, without_instants
from tests.support.triggers import decode_event, subscribe
from tests.support.world import act, add_member, remove_member
from tests.support.world import new_delegation as delegation

EXAMPLES = campaign.size(ci=3, local=10, full=15)


def _deliver(event: dict[str, Any]) -> None:
    if event.get("type", event.get("eventType", "")).startswith("Microsoft.Graph."):
        function_app.identity_events(decode_event(event))
    else:
        function_app.delegation_events(decode_event(event))


def _changes(emulator: Any, fabrikam_assignment: str) -> list[Callable[[], list[dict[str, Any]]]]:
    return [
        lambda: act(emulator, ALICE, "disable"),
        lambda: remove_member(emulator, OPERATORS, OPS),
        lambda: act(emulator, ALICE, "enable"),
        lambda: emulator.control("DELETE", f"/delegations/{fabrikam_assignment}")["events"],
        lambda: add_member(emulator, OPERATORS, OPS),
        lambda: act(emulator, ALICE, "softDelete"),
    ]


def _fresh_world(emulator: Any, monkeypatch: Any) -> str:
    """The demo world and fresh tables, with two delegations known and Alice attested (link-me)."""
    emulator.reset()
    monkeypatch.setenv("PAL_TABLE_PREFIX", "o" + uuid.uuid4().hex[:12])
    engine.reset_engine()
    current = engine.get_engine()
    current.store.attest_user(MANAGING, ALICE, PARTNER, "link-me", datetime.now(UTC))
    relecloud = delegation(RELECLOUD, (ALICE, "Alice Operator", CONTRIBUTOR))
    fabrikam = delegation(FABRIKAM, (OPERATORS, "Contoso MSP Operators", CONTRIBUTOR))
    for body, n in ((relecloud, 1), (fabrikam, 2)):  # the same ids in every world
        body["registrationAssignmentId"] = f"0000000{n}-0000-4000-8000-00000000000{n}"
        body["registrationDefinitionId"] = f"0000000{n}-0000-4000-8000-0000000000d{n}"
    for body in (relecloud, fabrikam):
        for event in emulator.control("PUT", f"/delegations/{body['registrationAssignmentId']}", body)["events"]:
            _deliver(event)
    users.reassess_waiting(current, datetime.now(UTC))
    subscribe(current)
    return fabrikam["registrationAssignmentId"]


def _run(emulator: Any, monkeypatch: Any, schedule: list[list[int]], tail: list[int]) -> Any:
    """Apply the changes; after change i deliver `schedule[i]` (indexes into the events so far)."""
    fabrikam = _fresh_world(emulator, monkeypatch)
    published: list[dict[str, Any]] = []
    delivered: set[int] = set()
    for change, picks in zip(_changes(emulator, fabrikam), schedule, strict=True):
        published += change()
        for pick in picks:
            if published:
                index = pick % len(published)
                _deliver(published[index])
                delivered.add(index)
    rest = [i for i in range(len(published)) if i not in delivered]
    for pick in tail:  # the undelivered ones, in a drawn order
        if rest:
            _deliver(published[rest.pop(pick % len(rest))])
    for index in rest:
        _deliver(published[index])
    findings, snapshots = end_state(engine.get_engine())
    # A removed delegation keeps the carriers it had when its removal was noticed, and its removal
    # notice says whether it was attributed then: history, not state. A hint delivered after the
    # delegation is gone can no longer change what was known of it when it went.
    snapshots = [(k, attributed, reason, [] if reason == "removed" else by) for k, attributed, reason, by in snapshots]
    return [tuple(_as_state(f[1], without_instants(str(part))) for part in f) for f in findings], snapshots


_REMOVED_HISTORY = re.compile(r"It was attributed; its credit ends with it\.|It was not attributed\.")


def _as_state(kind: str, text: str) -> str:
    if kind != "delegation_removed":
        return text
    return _REMOVED_HISTORY.sub("(attributed or not, when its removal was noticed)", text)


def test_events_interleaved_with_changes_end_where_the_clean_run_ends(emulator, palwatch, monkeypatch):
    steps = len(_changes(emulator, ""))
    in_order: list[list[int]] = []
    count = 0
    fabrikam = _fresh_world(emulator, monkeypatch)
    for change in _changes(emulator, fabrikam):  # how many events each change publishes, delivered at once
        made = len(change())
        in_order.append(list(range(count, count + made)))
        count += made
    clean = _run(emulator, monkeypatch, in_order, [])
    assert clean[0], "the series leaves findings open (Alice soft-deleted)"
    assert count >= len(in_order), "every change published at least one event"

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate],  # a failure is reported as drawn, unshrunk
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    # Once seen failing: Fabrikam's removal handled after Alice's re-enabling, whose hint came late.
    @example(schedule=[[], [22, 50, 37], [], [], [], [33, 50, 35]], tail=[28, 14])
    @given(
        schedule=st.lists(st.lists(st.integers(0, 50), max_size=3), min_size=steps, max_size=steps),
        tail=st.lists(st.integers(0, 50), max_size=count),
    )
    def interleaved_matches(schedule: list[list[int]], tail: list[int]) -> None:
        assert _run(emulator, monkeypatch, schedule, tail) == clean

    interleaved_matches()
    campaign.record("ordering_between_changes", examples=EXAMPLES, changes=steps, events=count)
