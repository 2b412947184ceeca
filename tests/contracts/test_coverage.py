"""The suite means something only if it covers enough: count the distinct shapes it checked.

A shape is one operation's answer with one status, one request the engine sends, one event type
in one envelope, or one Graph EntityType as the emulator renders it.
"""

from __future__ import annotations

from tests.contracts.conformance import Checker, Result
from tests.contracts.conftest import Traffic

MINIMUM_SHAPES = 40


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
        "ResourceGroups_List", "RoleDefinitions_Get", "TenantActivityLogs_List",
    }  # fmt: skip
    assert needed <= seen, sorted(needed - seen)
