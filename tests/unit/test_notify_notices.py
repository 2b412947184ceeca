"""Notices: deterministic ids, reminders on a fake clock, payload round trips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import model
from shared.notify import notices

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def finding(key: str = "delegation:/subscriptions/s1/x", severity=model.Severity.CRITICAL, **kw) -> model.Finding:
    base = {"kind": "attribution_lost", "subject": "s", "title": "Attribution lost", "tenant_name": "Contoso"}
    base.update(kw)
    return model.Finding(key=key, severity=severity, **base)


def recorded(f: model.Finding, opened: datetime = T0, resolved: datetime | None = None) -> model.RecordedFinding:
    return model.RecordedFinding(finding=f, opened_at=opened, resolved_at=resolved)


def test_notice_ids_distinguish_kind_episode_and_reminder_number() -> None:
    f = finding()
    ids = {
        notices.opened(recorded(f)).notice_id,
        notices.resolved(recorded(f, resolved=T0 + DAY)).notice_id,
        notices.opened(recorded(f, opened=T0 + 3 * DAY)).notice_id,  # reopened later: a new episode
        *(n.notice_id for n in notices.due_reminders([recorded(f)], T0 + DAY, DAY)),
        *(n.notice_id for n in notices.due_reminders([recorded(f)], T0 + 2 * DAY, DAY)),
    }
    assert len(ids) == 5


def test_same_episode_from_naive_or_aware_or_microsecond_times_has_one_id() -> None:
    f = finding()
    a = notices.opened(recorded(f, opened=T0)).notice_id
    b = notices.opened(recorded(f, opened=T0.replace(tzinfo=None))).notice_id
    c = notices.opened(recorded(f, opened=T0 + timedelta(microseconds=1234))).notice_id
    assert a == b == c


def test_resolved_notice_requires_a_resolved_finding() -> None:
    with pytest.raises(ValueError, match="still open"):
        notices.resolved(recorded(finding()))


def test_reminders_only_for_open_critical_findings_after_a_full_period() -> None:
    crit = recorded(finding("a"))
    warn = recorded(finding("b", severity=model.Severity.WARNING))
    closed = recorded(finding("c"), resolved=T0 + timedelta(hours=1))
    assert notices.due_reminders([crit, warn, closed], T0 + timedelta(hours=23, minutes=59), DAY) == []
    due = notices.due_reminders([crit, warn, closed], T0 + DAY, DAY)
    assert [(n.finding.key, n.kind, n.sequence) for n in due] == [("a", notices.NoticeKind.REMINDER, 1)]
    # after an outage of three days, one reminder (the latest), not a burst
    due = notices.due_reminders([crit], T0 + 3 * DAY + timedelta(hours=5), DAY)
    assert [n.sequence for n in due] == [3]
    assert notices.due_reminders([crit], T0 + 5 * DAY, timedelta(0)) == []


@given(
    a=st.integers(min_value=0, max_value=DAY // timedelta(seconds=1) - 1),
    b=st.integers(min_value=0, max_value=DAY // timedelta(seconds=1) - 1),
    period=st.integers(min_value=1, max_value=30),
)
def test_runs_anywhere_inside_one_period_agree_on_the_reminder(a: int, b: int, period: int) -> None:
    rec = recorded(finding())
    start = T0 + period * DAY
    first = notices.due_reminders([rec], start + timedelta(seconds=a), DAY)
    second = notices.due_reminders([rec], start + timedelta(seconds=b), DAY)
    assert [n.notice_id for n in first] == [n.notice_id for n in second]
    assert first[0].sequence == period


def test_notices_for_skips_resolved_info_unless_asked_and_sorts_most_severe_first() -> None:
    info = recorded(finding("i", severity=model.Severity.INFO), resolved=T0 + DAY)
    warn = recorded(finding("w", severity=model.Severity.WARNING))
    crit = recorded(finding("c"))
    out = notices.notices_for([warn, crit], [info])
    assert [n.finding.key for n in out] == ["c", "w"]
    out = notices.notices_for([warn], [info], resolved_info=True)
    assert [n.kind for n in out] == [notices.NoticeKind.OPENED, notices.NoticeKind.RESOLVED]


text = st.text(max_size=50)


@settings(max_examples=60)
@given(
    key=st.text(min_size=1, max_size=80),
    title=text,
    tenant=text,
    facts=st.dictionaries(st.text(max_size=10), text, max_size=4),
    severity=st.sampled_from(list(model.Severity)),
    kind=st.sampled_from(list(notices.NoticeKind)),
    sequence=st.integers(min_value=0, max_value=1000),
)
def test_payload_round_trip_keeps_the_notice(  # noqa: PLR0917 - hypothesis passes the drawn values by name
    key, title, tenant, facts, severity, kind, sequence
) -> None:
    f = finding(key, severity=severity, title=title, tenant_name=tenant, facts=facts)
    n = notices.Notice(
        finding=f,
        kind=kind,
        since=T0,
        sequence=sequence,
        resolved_at=T0 + DAY if kind is notices.NoticeKind.RESOLVED else None,
        exclude_channels=("smtp",),
    )
    back = notices.Notice.from_payload(n.to_payload())
    assert back == n
    assert back.notice_id == n.notice_id
    assert back.finding.facts == f.facts


def test_huge_hostile_strings_are_cut_in_the_payload() -> None:
    f = finding(tenant_name="x" * 100_000, detail="y" * 100_000)
    payload = notices.opened(recorded(f)).to_payload()
    assert len(payload["finding"]["tenantName"]) == notices.MAX_FIELD_CHARS
    assert len(payload["finding"]["detail"]) == notices.MAX_FIELD_CHARS
