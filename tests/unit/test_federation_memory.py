"""The memory of failed federation attempts stays inside its window and its size bound."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from shared.usecases import federation

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_old_attempts_are_forgotten_and_the_newest_kept_within_the_bound():
    tried = {f"app-{i:04d}": (NOW - timedelta(seconds=30 * i)).isoformat() for i in range(1000)}

    kept = federation._recent(tried, NOW - federation.RETRY_AFTER)

    assert len(kept) == federation.TRIED_KEPT
    assert "app-0000" in kept
    assert "app-0999" not in kept  # the oldest go first
    assert all(datetime.fromisoformat(at) > NOW - federation.RETRY_AFTER for at in kept.values())
    assert len(json.dumps(kept)) < 30_000


def test_attempts_inside_the_window_survive():
    tried = {"a": (NOW - timedelta(hours=1)).isoformat(), "b": (NOW - timedelta(hours=7)).isoformat()}
    assert federation._recent(tried, NOW - federation.RETRY_AFTER) == {"a": tried["a"]}
