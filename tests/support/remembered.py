"""What the engine's store remembers, as the tests ask about it."""

from __future__ import annotations

from typing import Any


def open_findings(engine: Any) -> dict[str, Any]:
    """key -> finding of every open finding."""
    return {r.finding.key: r.finding for r in engine.store.open_findings()}


def all_findings(engine: Any) -> list[Any]:
    """Every finding kept, open, resolved and notices."""
    return engine.store.list_findings(include_resolved=True)
