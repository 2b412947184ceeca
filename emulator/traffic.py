"""Request journal, injected faults and ARM/Graph throttling: what the server applies around handlers.

`server.py` consults `Faults.pick` and `Throttle.take` before a handler runs and records
every non-control request in the `Journal`; the control API reads and changes all three.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from emulator.clock import iso, utcnow


class Journal:
    """Every request the emulated services received, with the caller from its token.

    With `record_bodies` on (off by default; the control API switches it) ARM and Graph entries
    also carry the request and response bodies as they went over the wire, so conformance tests
    can check them against Microsoft's schemas. Token endpoints are never recorded with bodies.
    """

    def __init__(self, limit: int = 500_000) -> None:
        self._lock = threading.Lock()
        self._items: deque[dict[str, Any]] = deque(maxlen=limit)
        self._seq = 0
        self.record_bodies = False

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._seq += 1
            entry = {"seq": self._seq, "time": iso(utcnow()), **entry}
            self._items.append(entry)

    def since(self, seq: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self._items if e["seq"] > seq]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def bodies(self, surface: str, request_body: bytes, response_payload: bytes | None) -> dict[str, Any]:
        """The body fields of a journal entry: empty unless recording is on and the surface is ARM or Graph."""
        if not self.record_bodies or surface not in ("arm", "graph"):
            return {}
        return {
            "requestBytes": len(request_body),
            "requestBody": _decoded(request_body),
            "responseBody": _decoded(response_payload or b""),
        }


def _decoded(payload: bytes) -> Any:
    """JSON as parsed, text when it is not JSON, None when empty."""
    if not payload:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace")


@dataclass
class Fault:
    route: re.Pattern[str]
    rate: float = 1.0
    status: int | str | None = None
    retry_after: float | None = None
    latency_ms: int = 0
    count: int | None = None
    method: str | None = None
    body: Any = None
    hits: int = 0
    raw: dict[str, Any] = field(default_factory=dict)


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: list[Fault] = []

    def add(self, raw: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(raw, dict) or "route" not in raw:
            raise ValueError("a fault needs at least 'route' (a regex on the path)")
        status = raw.get("status")
        if status is not None and status != "drop":
            status = int(status)
        fault = Fault(
            route=re.compile(str(raw["route"])),
            rate=float(raw.get("rate", 1.0)),
            status=status,
            retry_after=raw.get("retryAfter"),
            latency_ms=int(raw.get("latencyMs", 0)),
            count=int(raw["count"]) if raw.get("count") is not None else None,
            method=str(raw["method"]).upper() if raw.get("method") else None,
            body=raw.get("body"),
            raw=dict(raw),
        )
        with self._lock:
            self.items.append(fault)
        return fault.raw

    def clear(self) -> None:
        with self._lock:
            self.items.clear()

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{**f.raw, "hits": f.hits} for f in self.items]

    def pick(self, method: str, path: str) -> Fault | None:
        """The first matching fault that fires for this request (and count it)."""
        with self._lock:
            for fault in self.items:
                if fault.method and fault.method != method:
                    continue
                if fault.count is not None and fault.hits >= fault.count:
                    continue
                if not fault.route.search(path):
                    continue
                if random.random() >= fault.rate:
                    continue
                fault.hits += 1
                return fault
        return None


class Bucket:
    def __init__(self, capacity: float, refill: float) -> None:
        self.capacity = capacity
        self.refill = refill
        self.level = capacity
        self.stamp = time.monotonic()

    def take(self) -> tuple[bool, int, float]:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.refill)
        self.stamp = now
        if self.level >= 1:
            self.level -= 1
            return True, int(self.level), 0.0
        wait = (1 - self.level) / self.refill if self.refill > 0 else 60.0
        return False, 0, wait


DEFAULT_ARM = {"readCapacity": 250, "readRefill": 25, "writeCapacity": 200, "writeRefill": 10}
DEFAULT_GRAPH = {"capacity": 2000, "refill": 200}


class Throttle:
    """Token buckets per principal: ARM per scope kind and read/write (facts §2b), Graph per app."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.arm: dict[str, float] | None = None
        self.graph: dict[str, float] | None = None
        self._buckets: dict[tuple[str, ...], Bucket] = {}

    def configure(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._buckets.clear()
            if "arm" in body:
                self.arm = {**DEFAULT_ARM, **body["arm"]} if body["arm"] not in (None, False) else None
                if body["arm"] is True:
                    self.arm = dict(DEFAULT_ARM)
            if "graph" in body:
                self.graph = {**DEFAULT_GRAPH, **body["graph"]} if body["graph"] not in (None, False) else None
                if body["graph"] is True:
                    self.graph = dict(DEFAULT_GRAPH)
            return self.state()

    def state(self) -> dict[str, Any]:
        return {"arm": self.arm, "graph": self.graph}

    def take_arm(self, who: str, path: str, method: str) -> tuple[bool, dict[str, str], float]:
        tenant_scope = not path.lower().startswith("/subscriptions/")
        write = method not in ("GET", "HEAD")
        kind = ("tenant" if tenant_scope else "subscription") + ("-writes" if write else "-reads")
        if method == "DELETE":
            kind = kind.replace("writes", "deletes")
        header = f"x-ms-ratelimit-remaining-{kind}"
        if self.arm is None:
            return True, {header: "11999" if not write else "1199"}, 0.0
        cap = self.arm["writeCapacity" if write else "readCapacity"]
        refill = self.arm["writeRefill" if write else "readRefill"]
        with self._lock:
            bucket = self._buckets.setdefault(("arm", who, kind), Bucket(cap, refill))
            ok, left, wait = bucket.take()
        return ok, {header: str(left)}, wait

    def take_graph(self, who: str) -> tuple[bool, float]:
        if self.graph is None:
            return True, 0.0
        with self._lock:
            bucket = self._buckets.setdefault(("graph", who), Bucket(self.graph["capacity"], self.graph["refill"]))
            ok, _left, wait = bucket.take()
        return ok, wait
