"""What the engine's store remembers, as the tests ask about it."""

from __future__ import annotations

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
