"""Everything the emulator answered, and everything the engine sent, while the engine did its real work.

The traffic is recorded once (conftest.py: `traffic`); each test checks one part of it against
Microsoft's schemas (specs/) and Graph's v1.0 metadata, strictly, and lists every violation. The
suite means something only if it covers enough, so the distinct shapes checked are counted: one
operation's answer with one status, one request the engine sends, one event type in one envelope,
one Graph EntityType as rendered. (All in one file: the recording is made once per test worker.)
"""

from __future__ import annotations

from tests.contracts.conformance import Checker, Result
from tests.contracts.recorded import Traffic

SHOW = 40
MINIMUM_SHAPES = 40


def _verdict(result: Result) -> str:
    lines = result.errors[:SHOW]
    more = len(result.errors) - len(lines)
    return "\n".join(lines + ([f"... and {more} more"] if more > 0 else []))


def test_every_arm_response_matches_its_operation(traffic: Traffic, checker: Checker) -> None:
    result = Result()
    for entry in traffic.arm():
        checker.arm_response(entry, result)
    assert result.shapes, "no ARM response was recorded"
    assert not result.errors, _verdict(result)


def test_every_arm_request_the_engine_sends_matches_its_operation(traffic: Traffic, checker: Checker) -> None:
    result = Result()
    for entry in traffic.arm(engine_only=True):
        checker.arm_request(entry, result)
    assert result.shapes, "the engine sent no ARM request"
    assert not result.errors, _verdict(result)


def test_every_graph_object_the_emulator_renders_is_in_the_v1_metadata(traffic: Traffic, checker: Checker) -> None:
    result = Result()
    for entry in traffic.graph():
        checker.graph_response(entry, result)
    assert {"graph user", "graph group", "graph servicePrincipal", "graph subscription"} <= result.shapes
    assert not result.errors, _verdict(result)


def test_every_graph_request_the_engine_sends_names_declared_properties(traffic: Traffic, checker: Checker) -> None:
    result = Result()
    for entry in traffic.graph(engine_only=True):
        checker.graph_request(entry, result)
    assert result.shapes, "the engine sent no Graph request"
    assert not result.errors, _verdict(result)


def test_every_event_the_emulator_emits_matches_its_envelope_and_data(traffic: Traffic, checker: Checker) -> None:
    result = Result()
    for where, event in traffic.events:
        checker.event(event, result, where)
    kinds = {s.split()[1] for s in result.shapes}
    assert {"Microsoft.Resources.ResourceWriteSuccess", "Microsoft.Resources.ResourceDeleteSuccess"} <= kinds
    assert not result.errors, _verdict(result)


def test_the_engine_handles_every_emitted_event_without_raising(traffic: Traffic) -> None:
    assert traffic.events, "no event was emitted"
    assert not traffic.trigger_failures, "\n".join(traffic.trigger_failures)


def test_the_recorded_traffic_covers_at_least_40_distinct_shapes(traffic: Traffic, checker: Checker) -> None:
    result = Result()
    for entry in traffic.arm():
        checker.arm_response(entry, result)
    for entry in traffic.arm(engine_only=True):
        checker.arm_request(entry, result)
    for entry in traffic.graph():
        checker.graph_response(entry, result)
    for entry in traffic.graph(engine_only=True):
        checker.graph_request(entry, result)
    for where, event in traffic.events:
        checker.event(event, result, where)
    print(f"\n{len(result.shapes)} distinct shapes checked:\n  " + "\n  ".join(sorted(result.shapes)))
    assert len(result.shapes) >= MINIMUM_SHAPES, sorted(result.shapes)


def test_every_vendored_arm_operation_the_engine_needs_was_exercised(traffic: Traffic, checker: Checker) -> None:
    seen = {op.operation_id for op in (checker.operation_for(e)[0] for e in traffic.arm()) if op is not None}
    needed = {
        "Partner_Get", "Partner_Create", "Partner_Update", "Partner_Delete", "Partners_Get",
        "RegistrationAssignments_List", "RegistrationAssignments_Get", "Subscriptions_List", "Tenants_List",
        "ResourceGroups_List", "RoleDefinitions_Get", "TenantActivityLogs_List", "Query_Usage",
        "RoleAssignments_ListForSubscription",
    }  # fmt: skip
    assert needed <= seen, sorted(needed - seen)
