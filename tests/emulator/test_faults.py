"""Injected faults (429 with Retry-After, 503, dropped connections, latency) and ARM/Graph
throttling with token buckets, as seen by raw clients and by an unmodified SDK client."""

from __future__ import annotations

import pytest
import requests
from azure.identity import ManagedIdentityCredential
from azure.mgmt.resource.subscriptions import SubscriptionClient

from tests.support.callers import caller

SUBS = "/subscriptions?api-version=2022-12-01"


def test_429_with_retry_after_then_normal(emulator, demo):
    me = caller(emulator, demo.principal("id-palwatch-contoso")["objectId"])
    emulator.control(
        "POST", "/faults", {"route": "^/subscriptions$", "rate": 1.0, "status": 429, "retryAfter": 2, "count": 1}
    )
    first = me.get(SUBS)
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "2"
    assert first.json()["error"]["code"] == "TooManyRequests"
    assert me.get(SUBS).status_code == 200  # count exhausted
    assert emulator.control("GET", "/faults")["faults"][0]["hits"] == 1


def test_503_and_drop(emulator, demo):
    me = caller(emulator, demo.principal("id-palwatch-contoso")["objectId"])
    emulator.control("POST", "/faults", {"route": "^/tenants", "status": 503})
    assert me.get("/tenants?api-version=2022-12-01").status_code == 503
    emulator.control("DELETE", "/faults")
    emulator.control("POST", "/faults", {"route": "^/subscriptions$", "status": "drop", "count": 1})
    with pytest.raises(requests.ConnectionError):
        me.get(SUBS)
    assert me.get(SUBS).status_code == 200
    statuses = [e["status"] for e in emulator.journal() if e["path"] == "/subscriptions"]
    assert statuses[-2:] == ["drop", 200]


def test_sdk_retries_through_a_transient_fault(emulator, demo):
    emulator.control("POST", "/faults", {"route": "^/subscriptions$", "status": 503, "retryAfter": 0, "count": 1})
    client = SubscriptionClient(ManagedIdentityCredential(), base_url=emulator.info["arm"], retry_backoff_factor=0.01)
    assert {s.display_name for s in client.subscriptions.list()} >= {"Fabrikam Production"}
    statuses = [e["status"] for e in emulator.journal() if e["path"] == "/subscriptions"]
    assert statuses == [503, 200]


def test_latency_fault_only_on_its_route(emulator, demo):
    me = caller(emulator, demo.principal("id-palwatch-contoso")["objectId"])
    emulator.control("POST", "/faults", {"route": "^/tenants", "latencyMs": 1})
    assert me.get("/tenants?api-version=2022-12-01").status_code == 200
    assert emulator.control("GET", "/faults")["faults"][0]["hits"] == 1


def test_arm_throttling_buckets_per_principal(emulator, demo):
    emulator.control("POST", "/throttling", {"arm": {"readCapacity": 3, "readRefill": 0.001}})
    try:
        mi = caller(emulator, demo.principal("id-palwatch-contoso")["objectId"])
        other = caller(emulator, demo.principal("contoso-ops")["objectId"])
        seen = [mi.get(SUBS) for _ in range(4)]
        assert [r.status_code for r in seen] == [200, 200, 200, 429]
        assert [r.headers["x-ms-ratelimit-remaining-tenant-reads"] for r in seen[:3]] == ["2", "1", "0"]
        assert int(seen[3].headers["Retry-After"]) >= 1
        assert other.get(SUBS).status_code == 200  # its own bucket
    finally:
        emulator.control("POST", "/throttling", {"arm": None, "graph": None})


def test_graph_throttling(emulator, demo):
    emulator.control("POST", "/config", {"throttling": {"graph": {"capacity": 1, "refill": 0.001}}})
    try:
        g = caller(emulator, demo.principal("id-palwatch-contoso")["objectId"], audience="https://graph.microsoft.com")
        path = emulator.info["graph"] + "/v1.0/users/" + demo.principal("Alice Operator")["objectId"]
        assert g.get(path).status_code == 200
        throttled = g.get(path)
        assert throttled.status_code == 429
        assert "Retry-After" in throttled.headers
    finally:
        emulator.control("POST", "/throttling", {"arm": None, "graph": None})


def test_a_drop_on_a_batch_request_drops_the_whole_exchange(emulator, demo):
    g = caller(emulator, demo.principal("id-palwatch-contoso")["objectId"], audience="https://graph.microsoft.com")
    alice = demo.principal("Alice Operator")["objectId"]
    body = {"requests": [{"id": "1", "method": "GET", "url": f"/users?$filter=id in ('{alice}')&$select=id"}]}
    emulator.control("POST", "/faults", {"route": r"^/v1\.0/users$", "status": "drop", "count": 1})
    with pytest.raises(requests.ConnectionError):
        g.request("POST", emulator.info["graph"] + "/v1.0/$batch", json=body)
    answer = g.request("POST", emulator.info["graph"] + "/v1.0/$batch", json=body).json()["responses"][0]
    assert answer["status"] == 200
    assert [u["id"] for u in answer["body"]["value"]] == [alice]
