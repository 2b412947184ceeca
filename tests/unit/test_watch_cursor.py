"""The activity-log cursor fits its row however busy the log gets, and survives a round trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.store import codec
from shared.usecases import delegations

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_a_busy_window_still_fits_the_row_and_keeps_the_newest_records():
    seen = {delegations._seen_key(f"record-{i}"): int((NOW - timedelta(seconds=i)).timestamp()) for i in range(5000)}
    state = delegations._CursorState(NOW, seen)

    text = state.dump()
    again = delegations._CursorState.parse(text, NOW)

    assert len(text) <= codec.MAX_TEXT
    assert again.position == NOW
    assert delegations._seen_key("record-0") in again.seen  # the newest are remembered
    assert delegations._seen_key("record-4999") not in again.seen
    assert len(again.seen) > 500


def test_an_unreadable_cursor_starts_from_the_lookback_window():
    state = delegations._CursorState.parse('{"position": "yesterday", "seen": []}', NOW)
    assert state.position == NOW - delegations.FIRST_LOOKBACK
    assert state.seen == {}
