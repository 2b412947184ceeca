"""The daily digest's content and rendering: totals, staleness, open findings, changes, escaping."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from shared import model, snapshots
from shared.notify import digest, eventgrid, notices, render, webhook
from shared.store import store
from shared.usecases.digest import summarise

NOW = datetime(2025, 3, 1, 7, 3, tzinfo=UTC)
HOSTILE = "<img src=x onerror=alert(1)>"
T_HOSTILE = "11111111-1111-1111-1111-111111111111"
T_FABRIKAM = "22222222-2222-2222-2222-222222222222"
T_CONTOSO = "33333333-3333-3333-3333-333333333333"


def row(tenant: str, name: str, status: str, scope: str = "/subscriptions/s1") -> snapshots.CoverageRow:
    return snapshots.CoverageRow(
        delegation_key=f"{tenant}{scope}".lower(),
        customer_tenant_id=tenant,
        customer_tenant_name=name,
        scope=scope,
        attributed=status != "not_attributed",
        status=status,
    )


def coverage(age: timedelta = timedelta(hours=1)) -> store.Coverage:
    return store.Coverage(
        generated_at=NOW - age,
        rows=(
            row(T_HOSTILE, HOSTILE, "not_attributed"),
            row(T_HOSTILE, HOSTILE, "attributed", "/subscriptions/s2"),
            row(T_FABRIKAM, "Fabrikam", "at_risk"),
            row(T_CONTOSO, "Contoso", "attributed"),
        ),
    )


def recorded(
    key: str,
    severity: model.Severity,
    opened: datetime,
    resolved: datetime | None = None,
    tenant_name: str = "Contoso",
) -> model.RecordedFinding:
    finding = model.Finding(
        key=key,
        kind="attribution_lost",
        severity=severity,
        subject=key,
        title=f"Attribution lost on {key}",
        tenant_id=T_CONTOSO,
        tenant_name=tenant_name,
        scope="/subscriptions/s1/resourceGroups/rg1",
        fix="az managementpartner create --partner-id 5127255",
    )
    return model.RecordedFinding(finding=finding, opened_at=opened, resolved_at=resolved)


FINDINGS = [
    recorded("warn-old", model.Severity.WARNING, NOW - timedelta(days=9)),
    recorded("crit-new", model.Severity.CRITICAL, NOW - timedelta(hours=3)),
    recorded("crit-old", model.Severity.CRITICAL, NOW - timedelta(days=4), tenant_name=HOSTILE),
    recorded("gone", model.Severity.CRITICAL, NOW - timedelta(days=2), resolved=NOW - timedelta(hours=5)),
    recorded("gone-long-ago", model.Severity.CRITICAL, NOW - timedelta(days=20), resolved=NOW - timedelta(days=3)),
]


def message(summary: digest.DigestSummary) -> render.Rendered:
    notice = notices.Notice.from_payload(digest.to_notice(summary).to_payload())  # as the outbox gives it back
    return render.render([notice], NOW + timedelta(hours=2))


def test_the_notice_id_is_the_date_alone() -> None:
    morning = summarise(coverage(), FINDINGS, NOW)
    evening = summarise(None, [], NOW + timedelta(hours=16))
    tomorrow = summarise(coverage(), FINDINGS, NOW + timedelta(days=1))
    assert digest.to_notice(morning).notice_id == digest.to_notice(evening).notice_id
    assert digest.to_notice(morning).notice_id == digest.notice_id(date(2025, 3, 1))
    assert digest.to_notice(tomorrow).notice_id == digest.notice_id(date(2025, 3, 2))
    assert digest.notice_id(date(2025, 3, 1)) != digest.notice_id(date(2025, 3, 2))


def test_the_summary_survives_the_outbox_round_trip() -> None:
    summary = summarise(coverage(), FINDINGS, NOW)
    back = notices.Notice.from_payload(digest.to_notice(summary).to_payload())
    assert back.kind is notices.NoticeKind.DIGEST
    assert digest.from_notice(back) == summary


def test_totals_customers_open_findings_and_changes() -> None:
    summary = summarise(coverage(), FINDINGS, NOW)
    assert summary.totals["delegations"] == 4
    assert (summary.totals["attributed"], summary.totals["atRisk"], summary.totals["notAttributed"]) == (2, 1, 1)
    assert summary.totals["customers"] == 3
    # worst customer first, fully attributed ones not listed
    assert [c.tenant_id for c in summary.attention] == [T_HOSTILE, T_FABRIKAM]
    assert summary.counts == {"critical": 2, "warning": 1, "info": 0}
    # most severe first, the oldest critical first
    assert [i.key for i in summary.open_findings] == ["crit-old", "crit-new", "warn-old"]
    assert (summary.opened_24h, summary.opened_critical_24h, summary.resolved_24h) == (1, 1, 1)

    text = message(summary).text
    assert "4 delegations: 2 attributed, 1 at risk, 1 not attributed" in text
    assert "3 customers: 1 fully attributed, 1 at risk, 1 with delegations not attributed" in text
    assert "Open findings: 2 critical, 1 warning" in text
    assert text.index("crit-old") < text.index("crit-new") < text.index("warn-old")
    assert "since 2025-02-25 07:03 UTC (open for 4 d 0 h)" in text
    assert "Last 24 h: 1 finding(s) opened (1 critical), 1 resolved." in text
    assert "verification has not run" not in text


def test_the_subject_says_what_matters() -> None:
    subject = message(summarise(coverage(), FINDINGS, NOW)).subject
    assert (
        subject == "[PAL Watch] Daily digest 2025-03-01: 1 not attributed, 1 at risk of 4 delegations; "
        "2 critical, 1 warning open"
    )
    quiet = store.Coverage(generated_at=NOW, rows=(row(T_CONTOSO, "Contoso", "attributed"),))
    assert message(summarise(quiet, [], NOW)).subject.endswith(": all 1 delegation attributed; no open alerts")


@pytest.mark.parametrize(("age", "warned"), [(timedelta(hours=2), False), (timedelta(hours=30), True)])
def test_an_old_snapshot_says_verification_has_not_run(age: timedelta, warned: bool) -> None:
    rendered = message(summarise(coverage(age), FINDINGS, NOW))
    for part in (rendered.text, rendered.html):
        assert ("verification has not run" in part) is warned
    if warned:
        assert "1 d 6 h old" in rendered.text
        assert "coverage 1 d 6 h old" in rendered.subject


def test_no_coverage_yet_says_so_and_how_to_fix_it() -> None:
    rendered = message(summarise(None, [], NOW))
    assert "no coverage yet" in rendered.subject
    for part in (rendered.text, rendered.html):
        assert "No coverage yet" in part
        assert "palwatch verify" in part
    assert "Open findings: none." in rendered.text
    empty = store.Coverage(generated_at=NOW, rows=())
    assert "No delegations" in message(summarise(empty, [], NOW)).text


def test_a_hostile_customer_name_is_text_in_the_html_part() -> None:
    rendered = message(summarise(coverage(), FINDINGS, NOW))
    assert HOSTILE in rendered.text  # plain text shows it as it is
    assert "<img" not in rendered.html
    assert "onerror=alert(1)&gt;" in rendered.html
    assert rendered.html.count("&lt;img src=x onerror=alert(1)&gt;") >= 2  # customer list and finding
    # nothing but our own markup: every tag in the HTML is one the renderer writes
    tags = set(re.findall(r"<([a-zA-Z0-9!]+)", rendered.html))
    assert tags <= {"!DOCTYPE", "html", "head", "meta", "title", "body", "h2", "h3", "h4", "p", "div", "ul",
                    "li", "span", "strong", "code", "br"}  # fmt: skip


def test_control_characters_in_names_cannot_break_lines_or_headers() -> None:
    sneaky = store.Coverage(
        generated_at=NOW, rows=(row(T_CONTOSO, "Contoso\r\nBcc: victim@example.com", "not_attributed"),)
    )
    rendered = message(summarise(sneaky, [], NOW))
    assert "\r" not in rendered.subject
    assert "Contoso Bcc: victim@example.com" in rendered.text
    assert "\nBcc:" not in rendered.text


def test_with_findings_in_the_same_message_the_findings_come_first() -> None:
    digest_notice = digest.to_notice(summarise(coverage(), FINDINGS, NOW))
    alert = notices.opened(FINDINGS[1])
    rendered = render.render([digest_notice, alert], NOW)
    assert rendered.subject.startswith("[PAL Watch] 1 critical: Partner credit lost")
    assert rendered.subject.endswith("+ daily digest")
    assert rendered.text.index("[CRITICAL] New: Attribution lost on crit-new") < rendered.text.index("Daily digest for")
    assert "Daily digest for 2025-03-01" in rendered.html
    # a finding-only batch renders as before
    assert render.render([alert], NOW).subject == "[PAL Watch] 1 critical: Partner credit lost — Contoso · rg1"


def test_several_days_pending_are_rendered_newest_first() -> None:
    first = digest.to_notice(summarise(coverage(), FINDINGS, NOW - timedelta(days=1)))
    second = digest.to_notice(summarise(coverage(), FINDINGS, NOW))
    rendered = render.render([first, second], NOW)
    assert rendered.subject.startswith("[PAL Watch] Daily digest 2025-03-01:")
    assert rendered.subject.endswith("(+1 earlier)")
    assert rendered.text.index("Daily digest for 2025-03-01") < rendered.text.index("Daily digest for 2025-02-28")


def test_event_grid_does_not_carry_it_and_the_webhook_gets_the_counts() -> None:
    notice = digest.to_notice(summarise(coverage(), FINDINGS, NOW))
    channel = eventgrid.EventGridChannel("https://topic.example", object(), managing_tenant_id=T_CONTOSO)
    assert not channel.accepts(notice)
    body = webhook.payload([notice])
    assert body["subject"].startswith("[PAL Watch] Daily digest 2025-03-01")
    assert body["notices"][0]["kind"] == "digest"
    facts = body["notices"][0]["finding"]["facts"]
    assert (facts["notAttributed"], facts["atRisk"], facts["openCritical"]) == ("1", "1", "2")


def test_the_listing_is_capped_and_says_how_many_more() -> None:
    many = [recorded(f"k{i:03d}", model.Severity.CRITICAL, NOW - timedelta(hours=i + 1)) for i in range(60)]
    summary = summarise(coverage(), many, NOW)
    assert len(summary.open_findings) == digest.MAX_LISTED
    assert summary.open_findings[0].key == "k059"  # the oldest
    assert f"… and {60 - digest.MAX_LISTED} more" in message(summary).text


def test_an_accepted_finding_is_listed_apart_and_counted_nowhere_else():
    accepted = {"crit-new": "accepted: migration to a new offer, until 2025-04-01"}
    summary = summarise(coverage(), FINDINGS, NOW, accepted)
    assert [i.key for i in summary.open_findings] == ["crit-old", "warn-old"]
    assert summary.counts["critical"] == 1
    assert [(i.key, i.accepted) for i in summary.accepted] == [("crit-new", accepted["crit-new"])]
    assert summary.opened_critical_24h == 0
    rendered = message(summary)
    assert rendered.subject.endswith("1 critical, 1 warning open")
    assert "Accepted (exempted, not alerted): 1" in rendered.text
    assert f"[CRITICAL] Attribution lost on crit-new — {accepted['crit-new']}" in rendered.text
    assert rendered.text.count("Attribution lost on crit-new") == 1  # only in that section
    assert f"Attribution lost on crit-new — {accepted['crit-new']}" in rendered.html
