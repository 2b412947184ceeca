"""Which resolved findings earn a "resolved" notice."""

from __future__ import annotations

from datetime import UTC, datetime

from shared import model
from shared.usecases import alerts

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SUBJECT = "/subscriptions/s/providers/microsoft.managedservices/registrationassignments/a"


def recorded(kind: str, key: str, *, resolved: bool, subject: str = SUBJECT) -> model.RecordedFinding:
    severity = model.Severity.CRITICAL if kind == "attribution_lost" else model.Severity.WARNING
    finding = model.Finding(key=key, kind=kind, severity=severity, subject=subject, title=kind)
    return model.RecordedFinding(finding, opened_at=NOW, resolved_at=NOW if resolved else None)


def test_identity_lost_giving_way_to_attribution_lost_is_not_announced_as_resolved():
    thinner = recorded("identity_lost", "identity_lost:a:1", resolved=True)
    lost = recorded("attribution_lost", "attribution:a", resolved=False)

    assert alerts._worth_announcing([thinner], [lost]) == []


def test_identity_lost_resolved_because_the_identity_came_back_is_announced():
    thinner = recorded("identity_lost", "identity_lost:a:1", resolved=True)
    elsewhere = recorded("attribution_lost", "attribution:b", resolved=False, subject="other")

    assert alerts._worth_announcing([thinner], [elsewhere]) == [thinner]
