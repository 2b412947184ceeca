"""Reading the emulator's journal: requests by kind, the distinct minimum, round trips.

Used by `python -m bench` for its report and by the tests that assert request counts (a warm
verification makes exactly its minimum; an event reaches its PAL write in few round trips).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

_KINDS = (
    ("/oauth2/", "tokens"),
    ("/msi/token", "tokens"),
    ("registrationassignments", "assignments"),
    ("managementpartner", "pal"),
    ("/v1.0/", "graph"),
    ("/resourcegroups", "resource groups"),
)
_OK = (200, 201, 202)


def categorize(entry: dict[str, Any]) -> str:
    path = entry["path"].lower()
    for needle, kind in _KINDS:
        if needle in path:
            return kind
    return path.strip("/") if path.rstrip("/") in ("/subscriptions", "/tenants") else "other"


def identity_of(entry: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two journal entries the same request: method, path, query, caller (or token asked for)."""
    who = (entry.get("appId") or entry.get("objectId") or "", entry.get("tenantId") or "", entry.get("token") or "")
    body = "" if entry.get("token") else entry.get("bodyHash", "")  # a token request's body holds a fresh assertion
    return (entry["method"], entry["path"].lower(), entry.get("query", ""), body, *who)


def repeated(journal: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Requests made more than once (the same read twice, a token fetched twice)."""
    counts = Counter(identity_of(e) for e in journal)
    return [key for key, n in counts.items() if n > 1]


def stats(journal: list[dict[str, Any]]) -> dict[str, Any]:
    """Made and minimum (distinct successful requests: each read, write and token once) by kind."""
    made = Counter(categorize(e) for e in journal)
    distinct = {identity_of(e) for e in journal if e["status"] in _OK}
    minimum = Counter(categorize({"path": d[1]}) for d in distinct)
    writes = sum(1 for e in journal if e["method"] in ("PUT", "PATCH") and categorize(e) == "pal")
    return {
        "made": len(journal),
        "minimum": len(distinct),
        "byKind": dict(made),
        "minByKind": dict(minimum),
        "palWrites": writes,
        "errors": sum(1 for e in journal if e["status"] not in _OK),
    }


def round_trips(journal: list[dict[str, Any]]) -> int:
    """The longest chain of requests one after another (each started after the previous ended):
    what the wall time is bound by when every request costs the same latency. Requests that
    overlapped count once, and so does a Graph `$batch` with every request in it."""
    chain, last_end = 0, float("-inf")
    for entry in sorted((e for e in journal if not e.get("inBatch")), key=lambda e: e["endedAt"]):
        if entry["startedAt"] >= last_end:
            chain += 1
            last_end = entry["endedAt"]
    return chain


def until_first_pal_write(journal: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries that ended before the first PAL PUT/PATCH ended, and that write ([] if none)."""
    writes = [e for e in journal if e["method"] in ("PUT", "PATCH") and categorize(e) == "pal"]
    if not writes:
        return []
    end = min(e["endedAt"] for e in writes)
    return [e for e in journal if e["endedAt"] <= end]
