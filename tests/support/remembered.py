"""What the engine's store remembers, as the tests ask about it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from tests.support import demo

LOSS_KINDS = {"attribution_lost", "identity_lost"}  # the findings that say attribution went away


def open_findings(engine: Any) -> dict[str, Any]:
    """key -> finding of every open finding."""
    return {r.finding.key: r.finding for r in engine.store.open_findings()}


def all_findings(engine: Any) -> list[Any]:
    """Every finding kept, open, resolved and notices."""
    return engine.store.list_findings(include_resolved=True)


def findings_of(engine: Any, delegation_key: str) -> list[Any]:
    """The open findings about one delegation, by key."""
    return sorted((f for f in open_findings(engine).values() if f.subject == delegation_key), key=lambda f: f.key)


def snapshot(engine: Any, key: str) -> Any:
    """The delegation snapshot kept under `key`."""
    return engine.store.get_delegation(key)


def snapshot_of(engine: Any, assignment_id: str) -> Any:
    """The delegation snapshot of the registration assignment `assignment_id`."""
    return next(s for s in engine.store.list_delegations() if s.key.endswith(assignment_id.lower()))


def attest(engine: Any, object_id: str) -> None:
    """A user of the managing tenant attests their PAL link (what `palwatch link-me` records)."""
    engine.store.attest_user(demo.MANAGING, object_id, demo.PARTNER, "test", datetime.now(UTC))


def open_as(engine: Any, *fields: str) -> set[tuple[Any, ...]]:
    """The open findings as tuples of `fields` (`open_as(engine, "kind", "subject")`), for comparing runs."""
    return {tuple(getattr(r.finding, name) for name in fields) for r in engine.store.open_findings()}


# An instant as the engine writes it: ISO 8601, or as alerts word it ("2026-12-01 23:48 UTC").
INSTANT = re.compile(r"\d{4}-\d\d-\d\d(?:T[0-9:.]+(?:\+00:00|Z)?| \d\d:\d\d UTC)")


def without_instants(text: str) -> str:
    """`text` with every instant replaced by `T`: when a change was noticed depends on delivery order."""
    return INSTANT.sub("T", text)


def end_state(engine: Any) -> tuple[Any, Any]:
    """What the ordering properties compare: the open findings (instants left out of their detail)
    and each delegation snapshot's standing with its carriers."""
    findings = sorted(
        (
            f.key,
            f.kind,
            f.severity.value,
            f.reason,
            f.tenant_id,
            f.scope,
            f.principal_id,
            f.title,
            without_instants(f.detail),
            f.fix,
        )
        for f in (r.finding for r in engine.store.open_findings())
    )
    snapshots = sorted(
        (s.key, s.attributed, s.reason, sorted((a.principal_id, a.via_group, a.active) for a in s.attributed_by))
        for s in engine.store.list_delegations()
    )
    return findings, snapshots
