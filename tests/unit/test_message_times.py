"""Times inside finding texts read as a person writes them: minutes and UTC, no seconds or offsets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared import decisions, words
from shared.snapshots import DelegationSnapshot


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2025, 3, 1, 8, 0, 59, 123456, tzinfo=UTC), "2025-03-01 08:00 UTC"),
        (datetime(2025, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=1))), "2025-03-01 08:30 UTC"),
        (datetime(2025, 3, 1, 8, 0, 0, 1), "2025-03-01 08:00 UTC"),  # naive: the store writes UTC
    ],
)
def test_when(moment: datetime, expected: str) -> None:
    assert words.when(moment) == expected


def test_a_removed_delegation_says_when_without_microseconds() -> None:
    snapshot = DelegationSnapshot(
        key="k", assignment_id="/subscriptions/s/providers/x/a", customer_tenant_id="t", scope="/subscriptions/s"
    )
    removal = decisions.assess_removal(snapshot, datetime(2025, 3, 1, 8, 0, 12, 345678, tzinfo=UTC))
    assert "(2025-03-01 08:00 UTC)" in removal.finding.detail
    assert "345678" not in removal.finding.detail
    assert "+00:00" not in removal.finding.detail
