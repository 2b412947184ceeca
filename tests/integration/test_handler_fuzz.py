"""Fuzzed Event Grid deliveries through the worker's converter and the two event triggers.

Hypothesis mutates genuine ARM and Graph events (either schema): fields replaced by hostile
values (other types, control characters, trailing newlines, huge strings, wrong ids), fields
dropped, types swapped. Counted for every delivery: raises from project code (none may escape;
only a transient failure may, and the emulator has no faults here), requests the emulator saw
(none for a refused event, at most one read for an accepted one nobody knows) and rows written
(a refused event writes nothing).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import function_app
from shared import events
from tests import campaign
from tests.support import demo, triggers, world
from tests.support.triggers import decode_event
from tests.support.world import onboard

EXAMPLES = campaign.size(ci=60, local=300, full=1000)

HOSTILE_TEXT = st.sampled_from(
    [
        "",
        "\n",
        "x\r\nERROR forged",
        "\u202e",
        "A" * 5000,
        "/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.ManagedServices/"
        "registrationAssignments/00000000-0000-0000-0000-000000000000\n",
        "Users/00000000-0000-0000-0000-000000000000\n",
        "Microsoft.Graph.UserUpdated",
        "Microsoft.Resources.ResourceWriteSuccess",
        "guessed-secret",
    ]
)
VALUES = st.one_of(
    HOSTILE_TEXT,
    st.text(max_size=40),
    st.integers(),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    return found


def _mutate(event: dict[str, Any], picks: list[tuple[int, Any, bool]]) -> dict[str, Any]:
    out = copy.deepcopy(event)
    for index, value, drop in picks:
        paths = _paths(out)
        if not paths:
            break
        *parents, last = paths[index % len(paths)]
        node = out
        for key in parents:
            node = node[key]
        if drop:
            node.pop(last, None)
        else:
            node[last] = value
    return out


def _rows(store: Any) -> tuple[int, int]:
    return len(store.list_delegations()), len(store.list_findings(include_resolved=True))


def test_fuzzed_events_never_raise_and_refused_ones_cost_nothing(emulator, palwatch, monkeypatch):
    from shared.usecases import engine

    templates = onboard(emulator, world.new_delegation(demo.RELECLOUD))
    triggers.subscribe(palwatch)
    templates += world.act(emulator, demo.ALICE.object_id, "disable")
    secret = engine.get_engine("event").settings.graph_client_state
    tally = {"tried": 0, "raised": 0, "refused": 0, "refused_requests": 0, "refused_rows": 0}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        which=st.integers(0, len(templates) - 1),
        picks=st.lists(st.tuples(st.integers(0, 40), VALUES, st.booleans()), min_size=1, max_size=4),
        trigger=st.sampled_from(["delegation_events", "identity_events"]),
    )
    def fuzz(which: int, picks: list[tuple[int, Any, bool]], trigger: str) -> None:
        raw = _mutate(templates[which], picks)
        try:
            decoded = decode_event(raw)
        except (ValueError, TypeError, KeyError, json.JSONDecodeError):
            return  # the worker itself refuses it: the trigger never runs
        tally["tried"] += 1
        if trigger == "delegation_events":
            parsed: Any = events.parse_delegation_event(decoded)
        else:
            parsed = events.parse_graph_event(
                decoded, expected_client_state=secret, expected_tenant_id=palwatch.managing_tenant_id
            )
        refused = isinstance(parsed, events.Ignored | events.Rejected)
        before_rows = _rows(palwatch.store)
        emulator.control("DELETE", "/journal")
        try:
            getattr(function_app, trigger)(decoded)
        except Exception:
            tally["raised"] += 1
            raise
        if refused:
            tally["refused"] += 1
            tally["refused_requests"] += len(emulator.journal())
            tally["refused_rows"] += _rows(palwatch.store) != before_rows

    fuzz()
    campaign.record("fuzz", **tally)
    assert tally["tried"] > EXAMPLES // 2
    assert tally["refused"] > 0
    assert tally["raised"] == 0
    assert tally["refused_requests"] == 0
    assert tally["refused_rows"] == 0
