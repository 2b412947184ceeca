"""Rendering: subject counts most severe first, every part of a good alert, hostile strings as text."""

from __future__ import annotations

import html.parser
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import catalogue, model
from shared.notify import notices, render

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
HOSTILE = "<img src=x onerror=alert(1)>"


def notice(
    key: str,
    severity: model.Severity = model.Severity.CRITICAL,
    kind: notices.NoticeKind = notices.NoticeKind.OPENED,
    finding_kind: str = "attribution_lost",
    **kw,
) -> notices.Notice:
    fields = {
        "kind": finding_kind,
        "subject": "s",
        "title": f"Attribution lost ({key})",
        "tenant_name": "Contoso",
        "tenant_id": "11111111-1111-1111-1111-111111111111",
        "scope": "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-app",
        "detail": "The user ops@contoso.example that carried the PAL link was deleted.",
        "fix": "az managementpartner create --partner-id 1234567",
    }
    fields.update(kw)
    f = model.Finding(key=key, severity=severity, **fields)
    resolved = T0 + timedelta(days=1) if kind is notices.NoticeKind.RESOLVED else None
    return notices.Notice(finding=f, kind=kind, since=T0, resolved_at=resolved)


class _Collect(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)

    def handle_data(self, data) -> None:
        self.text.append(data)


def test_subject_counts_severities_most_severe_first_and_names_the_worst() -> None:
    batch = [
        notice("w1", model.Severity.WARNING, title="Identity lost"),
        notice("c1"),
        notice("i1", model.Severity.INFO, title="Delegation removed"),
        notice("c2"),
        notice("r1", kind=notices.NoticeKind.RESOLVED),
    ]
    subject = render.subject(batch)
    assert subject.startswith("[PAL Watch] 2 critical, 1 warning, 1 info, 1 resolved: ")
    assert "Partner credit lost" in subject
    assert subject.endswith("(+4 more)")
    assert len(subject) <= render.SUBJECT_LIMIT


def test_all_resolved_subject() -> None:
    assert render.subject([notice("r", kind=notices.NoticeKind.RESOLVED)]) == (
        "[PAL Watch] 1 resolved: Partner credit lost — Contoso · rg-app"
    )


SUB_ID = "22222222-2222-2222-2222-222222222222"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "[PAL Watch] 1 critical: Partner credit lost — Contoso · rg-app"),
        (
            {"facts": {"subscriptionName": "Production"}, "scope": f"/subscriptions/{SUB_ID}"},
            "[PAL Watch] 1 critical: Partner credit lost — Contoso · Production",
        ),
        (
            {"tenant_name": "", "scope": f"/subscriptions/{SUB_ID}"},
            "[PAL Watch] 1 critical: Partner credit lost — tenant 11111111",
        ),
        (
            {"finding_kind": "link_failed", "facts": {"tenantRole": "managing"}, "scope": ""},
            "[PAL Watch] 1 critical: PAL link failed — your tenant",
        ),
    ],
)
def test_subject_names_customer_and_subscription_without_ids(fields: dict, expected: str) -> None:
    assert render.subject([notice("c1", **fields)]) == expected


@given(st.text(max_size=300), st.text(max_size=300), st.integers(1, 40))
def test_subject_stays_short_whatever_the_names(name: str, title: str, count: int) -> None:
    batch = [notice(f"k{i}", tenant_name=name, title=title, finding_kind="other") for i in range(count)]
    subject = render.subject(batch)
    assert len(subject) <= render.SUBJECT_LIMIT
    assert "11111111-1111" not in subject
    assert SUB_ID not in subject


def test_a_finding_opened_and_resolved_in_one_message_is_one_line() -> None:
    opened = notice("c1", facts={"principals": "a,b"})
    closed = notice("c1", kind=notices.NoticeKind.RESOLVED)
    msg = render.render([opened, closed, notice("w1", model.Severity.WARNING)])
    assert "New: Attribution lost (c1)" not in msg.text
    assert msg.text.count("Attribution lost (c1)") == 1
    assert "Opened and resolved: Attribution lost (c1)" in msg.text
    assert "Opened and resolved" in msg.html
    assert "New: Attribution lost (w1)" in msg.text
    assert msg.subject.startswith("[PAL Watch] 1 warning, 1 resolved: ")


def test_a_resolved_notice_says_why_and_drops_the_cost() -> None:
    detail = (
        "No identity linked to partner ID 1234567 attributes this delegation. Until fixed, Microsoft credits no "
        "partner earned credit (PEC) to partner ID 1234567 for the scope of customer Contoso Ltd. (1111)."
    )
    msg = render.render([notice("r1", kind=notices.NoticeKind.RESOLVED, detail=detail)])
    assert "Why it resolved: A linked identity with an eligible role attributes this scope again" in msg.text
    assert "Until fixed" not in msg.text + msg.html
    assert "No identity linked to partner ID 1234567 attributes this delegation." in msg.text
    assert "Opened: 2025-03-01 08:00 UTC" in msg.text


def test_a_removed_delegation_is_why_its_findings_resolved() -> None:
    removed = notice("gone", model.Severity.INFO, finding_kind="delegation_removed", subject="d1")
    closed = notice("c1", kind=notices.NoticeKind.RESOLVED, subject="d1")
    msg = render.render([closed, removed])
    assert catalogue.REMOVED_RESOLUTION in msg.text


def test_times_and_fields_read_as_words() -> None:
    msg = render.render([notice("c1", facts={"principals": "aaa,bbb", "since": "2025-03-01T08:00:00.123456+00:00"})])
    assert "Identities: aaa, bbb" in msg.text
    assert "principals" not in msg.text + msg.html
    assert "2025-03-01T08" not in msg.text + msg.html
    assert ".123456" not in msg.text + msg.html


def test_the_partners_own_tenant_is_not_a_customer() -> None:
    msg = render.render([notice("l1", finding_kind="link_failed", tenant_name="", facts={"tenantRole": "managing"})])
    assert "Tenant: your managing tenant (11111111-1111-1111-1111-111111111111)" in msg.text
    assert "Customer:" not in msg.text
    assert "Tenant role" not in msg.text


def test_html_reflows_on_a_phone() -> None:
    long_id = "/subscriptions/" + "x" * 200
    msg = render.render([notice("c1", scope=long_id), notice("r1", kind=notices.NoticeKind.RESOLVED)])
    assert 'name="viewport"' in msg.html
    assert "<pre" not in msg.html
    assert "<table" not in msg.html
    assert "white-space:nowrap" not in msg.html
    assert not re.search(r"width:\s*\d+px", msg.html)
    assert "overflow-wrap:anywhere" in msg.html
    assert "az managementpartner create --partner-id 1234567" in msg.html


def test_resolved_cards_are_not_coloured_as_warnings() -> None:
    msg = render.render([notice("r1", kind=notices.NoticeKind.RESOLVED)])
    assert f"border-left:4px solid {render.RESOLVED_COLOUR}" in msg.html
    assert "#a4262c" not in msg.html


def test_message_says_what_who_where_since_cost_and_fix() -> None:
    msg = render.render([notice("c1")], now=T0 + timedelta(days=2, hours=3))
    for part in (msg.text, msg.html):
        assert "deleted" in part  # what happened
        assert "Contoso" in part
        assert "11111111-1111-1111-1111-111111111111" in part
        assert "subscription 22222222-2222-2222-2222-222222222222, resource group rg-app" in part
        assert "2025-03-01 08:00 UTC" in part
        assert "open for 2 d 3 h" in part
        assert "Azure consumed revenue (ACR)" in part
        assert "az managementpartner create --partner-id 1234567" in part


def test_hostile_tenant_name_renders_as_text_in_html() -> None:
    msg = render.render([notice("c1", tenant_name=HOSTILE, title=f"Attribution lost for {HOSTILE}")])
    assert HOSTILE not in msg.html
    assert html.escape(HOSTILE) in msg.html
    parsed = _Collect()
    parsed.feed(msg.html)
    assert "img" not in parsed.tags
    assert any(HOSTILE in chunk for chunk in parsed.text)  # the reader sees the literal string
    assert HOSTILE in msg.text  # plain text is plain


@given(st.text(min_size=1, max_size=40))
def test_no_customer_string_can_open_a_tag(name: str) -> None:
    msg = render.render([notice("c1", tenant_name=name, fix=name, detail=name, facts={"identity": name})])
    parsed = _Collect()
    parsed.feed(msg.html)
    assert set(parsed.tags) <= {
        "html",
        "head",
        "meta",
        "title",
        "body",
        "h2",
        "div",
        "p",
        "strong",
        "span",
        "code",
        "br",
        "ul",
        "li",
    }


def test_subject_is_one_header_line_even_with_newlines_in_names() -> None:
    subject = render.subject([notice("c1", title="Lost\r\nBcc: victim@example.com")])
    assert "\n" not in subject
    assert "\r" not in subject


def test_secret_looking_facts_are_not_shown() -> None:
    msg = render.render([notice("c1", facts={"clientSecret": "s3cr3t", "accessToken": "eyJ", "identity": "ops"})])
    assert "s3cr3t" not in msg.text + msg.html
    assert "eyJ" not in msg.text + msg.html
    assert "Identity: ops" in msg.text


def test_resolved_notice_has_no_fix_and_says_when() -> None:
    msg = render.render([notice("r1", kind=notices.NoticeKind.RESOLVED)])
    assert "Resolved: 2025-03-02 08:00 UTC" in msg.text
    assert "managementpartner" not in msg.text


def test_large_batches_detail_the_first_and_list_the_rest() -> None:
    batch = [notice(f"k{i:04d}") for i in range(render.DETAILED + 30)]
    msg = render.render(batch)
    assert "30 more:" in msg.text
    assert msg.text.count("What happened:") == render.DETAILED
    assert msg.html.count("<li>") == 30


def test_what_it_costs_names_the_scope_and_customer_without_ids() -> None:
    scope = f"/subscriptions/{SUB_ID}/resourceGroups/rg-app"
    detail = (
        "No identity attributes this delegation. Until fixed, Microsoft credits no partner earned credit (PEC) "
        f"to partner ID 1234567 for {scope} of customer Contoso (11111111-1111-1111-1111-111111111111)."
    )
    msg = render.render([notice("c1", scope=scope, detail=detail)])
    (cost,) = [line for line in msg.text.splitlines() if line.startswith("  What it costs:")]
    assert cost == (
        "  What it costs: Microsoft credits no partner earned credit (PEC) to partner ID 1234567 "
        "for resource group rg-app of customer Contoso."
    )
    assert "Until fixed" not in msg.text.split("What happened:")[1].split("\n")[0]


def test_the_money_at_stake_leads_what_it_costs() -> None:
    detail = "No identity attributes this delegation. Until fixed, Microsoft credits nothing for it."
    stake = "≈ $12,400/month of Azure consumed revenue at stake. Partner earned credit stops."
    msg = render.render([notice("c1", detail=detail, facts={"cost": stake})])
    assert f"  What it costs: {stake}" in msg.text
    assert "Until fixed" not in msg.text


def test_a_kind_read_back_is_a_kind_and_an_unknown_one_keeps_its_text() -> None:
    assert model.Kind.of("attribution_lost") is model.Kind.ATTRIBUTION_LOST
    assert model.Kind.of("kind_of_a_later_version") == "kind_of_a_later_version"
    assert catalogue.words_of(model.Kind.of("kind_of_a_later_version")) == catalogue.NO_WORDS
