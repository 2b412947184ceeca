"""The Cost Management QPU quotas (12 QPU per 10 s, 60 per minute, 600 per hour, per tenant) on the
real clock and on a virtual clock a test sets and advances, as seen by a raw client."""

from __future__ import annotations

from tests.support.callers import caller

BODY = {
    "type": "ActualCost",
    "timeframe": "TheLastMonth",
    "dataset": {"aggregation": {"totalCost": {"name": "Cost", "function": "Sum"}}},
}


def _query(me, scope: str) -> int:
    url = f"{scope}/providers/Microsoft.CostManagement/query?api-version=2023-03-01"
    return me.request("POST", url, json=BODY).status_code


def test_the_documented_quotas_hold_on_a_virtual_clock_and_only_move_when_it_is_advanced(emulator, demo):
    me = caller(emulator, demo.principal("id-palwatch-contoso")["objectId"])
    scope = demo.delegation("northwind")["scope"]
    assert emulator.control("POST", "/costs/qpu", {"clock": 0})["clock"] == 0

    assert [_query(me, scope) for _ in range(12)] == [200] * 12
    assert _query(me, scope) == 429  # the 13th in the same 10 virtual seconds
    for _ in range(4):
        emulator.control("POST", "/costs/qpu", {"advance": 10})
        assert [_query(me, scope) for _ in range(12)] == [200] * 12
    emulator.control("POST", "/costs/qpu", {"advance": 10})
    assert _query(me, scope) == 429  # a fresh 10 seconds, but the minute's 60 are spent
    emulator.control("POST", "/costs/qpu", {"advance": 10})
    assert _query(me, scope) == 200  # the first 12 have left the minute


def test_advancing_the_real_clock_is_refused(emulator, demo):
    emulator.control("POST", "/costs/qpu", {"quotas": True})
    response = emulator.session.post(
        emulator.info["control"].rstrip("/") + "/costs/qpu", json={"advance": 5}, timeout=30
    )
    assert response.status_code == 409
