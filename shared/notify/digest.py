"""The daily digest: where coverage stands and what is open, as one notice a day.

`shared.usecases.digest` reads the store, fills a `DigestSummary` (plain data, no store
types) and enqueues `to_notice(summary)`; the notice id depends on the UTC date alone, so
every watch run of that day writes the same outbox row once. The channels render it through
`shared.notify.render`, which hands digest notices to `subject`, `text_lines` and
`html_sections` here. Event Grid does not carry it (`NoticeKind.DIGEST` is not an event type).
Customer-controlled strings are flattened by `words.one_line` and escaped in HTML. Pure:
no I/O; times come from the summary (taken when the digest was made, not when it is sent).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from shared import catalogue, model, words
from shared.notify import notices as notices_

STALE_AFTER = timedelta(hours=24)  # verify runs every 6 h by default: a day means it stopped
MAX_LISTED = 25  # open findings (and customers) named in the digest; the rest are counted
NAME_LIMIT = 200
SEVERITIES = tuple(s.value for s in model.Severity)  # most severe first

NO_COVERAGE = (
    "No coverage yet: no verification has run, so nothing says which delegations are attributed. "
    "Run `palwatch verify` once (or wait for the verify timer, PAL_VERIFY_SCHEDULE, every 6 h by "
    "default); if it fails, `palwatch doctor` names the setting or permission to fix."
)
NO_DELEGATIONS = (
    "No delegations: the managing tenant sees no Azure Lighthouse registration assignment. "
    "Onboard a customer (customer-onboarding/) and run `palwatch verify`."
)


@dataclass(frozen=True)
class DigestItem:
    """An open finding as the digest lists it."""

    severity: str
    title: str
    since: datetime
    tenant_name: str = ""
    tenant_id: str = ""
    scope: str = ""
    key: str = ""
    accepted: str = ""  # an exempted finding: "accepted: reason, until date"


@dataclass(frozen=True)
class CustomerStatus:
    """A customer whose delegations are not all attributed."""

    tenant_id: str
    name: str
    status: str  # "not_attributed" (worst) or "at_risk"
    not_attributed: int
    at_risk: int
    delegations: int


@dataclass(frozen=True)
class DigestSummary:
    """Everything one day's digest says; built by the use case, rendered here."""

    day: date
    generated_at: datetime
    coverage_at: datetime | None  # the coverage snapshot's time; None: no verification has run
    totals: Mapping[str, int]  # shared.reports.coverage.totals keys
    attention: tuple[CustomerStatus, ...] = ()  # worst first, at most MAX_LISTED
    attention_total: int = 0  # customers needing attention, listed or not
    open_counts: Mapping[str, int] | None = None  # severity value -> open findings
    open_findings: tuple[DigestItem, ...] = ()  # most severe, then oldest first; at most MAX_LISTED
    accepted: tuple[DigestItem, ...] = ()  # exempted open findings: not alerted, not counted above
    accepted_total: int = 0
    opened_24h: int = 0
    resolved_24h: int = 0
    opened_critical_24h: int = 0
    money: str = ""  # the money at stake, one sentence from the cost cache; the digest leads with it

    @property
    def counts(self) -> dict[str, int]:
        return {s: int((self.open_counts or {}).get(s, 0)) for s in SEVERITIES}

    @property
    def coverage_age(self) -> timedelta | None:
        if self.coverage_at is None:
            return None
        return words.utc(self.generated_at) - words.utc(self.coverage_at)

    @property
    def stale(self) -> bool:
        """No verification for more than a day (or never)."""
        age = self.coverage_age
        return age is None or age > STALE_AFTER

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "generatedAt": words.utc(self.generated_at).isoformat(),
            "coverageAt": words.utc(self.coverage_at).isoformat() if self.coverage_at else None,
            "totals": {k: int(v) for k, v in self.totals.items()},
            "attention": [
                {
                    "tenantId": words.cut(c.tenant_id, NAME_LIMIT),
                    "name": words.cut(c.name, NAME_LIMIT),
                    "status": c.status,
                    "notAttributed": c.not_attributed,
                    "atRisk": c.at_risk,
                    "delegations": c.delegations,
                }
                for c in self.attention[:MAX_LISTED]
            ],
            "attentionTotal": self.attention_total,
            "openCounts": self.counts,
            "openFindings": [_payload(i) for i in self.open_findings[:MAX_LISTED]],
            "accepted": [{**_payload(i), "accepted": words.cut(i.accepted, 400)} for i in self.accepted[:MAX_LISTED]],
            "acceptedTotal": self.accepted_total,
            "opened24h": self.opened_24h,
            "resolved24h": self.resolved_24h,
            "openedCritical24h": self.opened_critical_24h,
            "money": words.cut(self.money, 600),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> DigestSummary:
        coverage_at = raw.get("coverageAt")
        return cls(
            day=date.fromisoformat(raw["day"]),
            generated_at=datetime.fromisoformat(raw["generatedAt"]),
            coverage_at=datetime.fromisoformat(coverage_at) if coverage_at else None,
            totals={str(k): int(v) for k, v in dict(raw.get("totals") or {}).items()},
            attention=tuple(
                CustomerStatus(
                    tenant_id=str(c.get("tenantId", "")),
                    name=str(c.get("name", "")),
                    status=str(c.get("status", "")),
                    not_attributed=int(c.get("notAttributed", 0)),
                    at_risk=int(c.get("atRisk", 0)),
                    delegations=int(c.get("delegations", 0)),
                )
                for c in raw.get("attention") or ()
            ),
            attention_total=int(raw.get("attentionTotal", 0)),
            open_counts={str(k): int(v) for k, v in dict(raw.get("openCounts") or {}).items()},
            open_findings=tuple(_item(i) for i in raw.get("openFindings") or ()),
            accepted=tuple(_item(i) for i in raw.get("accepted") or ()),
            accepted_total=int(raw.get("acceptedTotal", 0)),
            opened_24h=int(raw.get("opened24h", 0)),
            resolved_24h=int(raw.get("resolved24h", 0)),
            opened_critical_24h=int(raw.get("openedCritical24h", 0)),
            money=str(raw.get("money") or ""),
        )


def _payload(item: DigestItem) -> dict[str, Any]:
    """A listed finding as the outbox keeps it (the inverse of `_item`), each value bounded."""
    return {
        "severity": item.severity,
        "title": words.cut(item.title, NAME_LIMIT),
        "since": words.utc(item.since).isoformat(),
        "tenantName": words.cut(item.tenant_name, NAME_LIMIT),
        "tenantId": words.cut(item.tenant_id, NAME_LIMIT),
        "scope": words.cut(item.scope, 600),
        "key": words.cut(item.key, 600),
    }


def _item(raw: Mapping[str, Any]) -> DigestItem:
    return DigestItem(
        severity=str(raw.get("severity", "")),
        title=str(raw.get("title", "")),
        since=datetime.fromisoformat(raw["since"]),
        tenant_name=str(raw.get("tenantName", "")),
        tenant_id=str(raw.get("tenantId", "")),
        scope=str(raw.get("scope", "")),
        key=str(raw.get("key", "")),
        accepted=str(raw.get("accepted", "")),
    )


# -- the notice ------------------------------------------------------------------------------


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def _finding(summary: DigestSummary) -> model.Finding:
    """The synthetic finding the notice carries: channels that only read findings (the webhook)
    still get a title, a one-line summary and the counts as facts."""
    t, counts = summary.totals, summary.counts
    facts = {
        "coverageAt": words.utc(summary.coverage_at).isoformat() if summary.coverage_at else "",
        "delegations": str(t.get("delegations", 0)),
        "attributed": str(t.get("attributed", 0)),
        "atRisk": str(t.get("atRisk", 0)),
        "notAttributed": str(t.get("notAttributed", 0)),
        "customers": str(t.get("customers", 0)),
        **{f"open{s.capitalize()}": str(n) for s, n in counts.items()},
        "opened24h": str(summary.opened_24h),
        "resolved24h": str(summary.resolved_24h),
    }
    return catalogue.daily_digest(
        summary.day.isoformat(),
        headline(summary),
        " ".join(_summary_sentences(summary)),
        NO_COVERAGE if summary.coverage_at is None else "",
        facts,
    )


def to_notice(summary: DigestSummary) -> notices_.Notice:
    """The day's digest notice; its id depends on `summary.day` only (see `notice_id`)."""
    return notices_.Notice(
        finding=_finding(summary),
        kind=notices_.NoticeKind.DIGEST,
        since=day_start(summary.day),
        data=summary.to_dict(),
    )


def notice_id(day: date) -> str:
    """The outbox id of `day`'s digest: every run that day computes the same one."""
    return f"digest:{day.isoformat()}|{day_start(day).strftime('%Y%m%dT%H%M%SZ')}|{notices_.NoticeKind.DIGEST.value}"


def from_notice(notice: notices_.Notice) -> DigestSummary | None:
    """The summary a digest notice carries; None if the payload is not one (an older engine)."""
    if notice.kind is not notices_.NoticeKind.DIGEST or not notice.data:
        return None
    try:
        return DigestSummary.from_dict(notice.data)
    except (KeyError, ValueError, TypeError):
        return None


# -- words -----------------------------------------------------------------------------------


def headline(summary: DigestSummary) -> str:
    """`2 not attributed, 1 at risk of 12 delegations; 3 critical open` (the subject's tail)."""
    t, counts = summary.totals, summary.counts
    if summary.coverage_at is None:
        parts = ["no coverage yet"]
    elif not t.get("delegations"):
        parts = ["no delegations"]
    elif t.get("notAttributed") or t.get("atRisk"):
        parts = [
            f"{t.get('notAttributed', 0)} not attributed, {t.get('atRisk', 0)} at risk "
            f"of {words.plural(t['delegations'], 'delegation')}"
        ]
    else:
        parts = [f"all {words.plural(t['delegations'], 'delegation')} attributed"]
    if summary.coverage_at is not None and summary.stale:
        parts.append(f"coverage {words.duration(summary.coverage_at, summary.generated_at)} old")
    open_bits = [words.severity_count(n, s) for s, n in counts.items() if n and s != model.Severity.INFO.value]
    parts.append((", ".join(open_bits) + " open") if open_bits else "no open alerts")
    if summary.money:
        parts.insert(0, summary.money.split(" (")[0])  # the amount first, its details in the body
    return "; ".join(parts)


def _summary_sentences(summary: DigestSummary) -> list[str]:
    """Plain sentences for the synthetic finding's detail (webhook receivers)."""
    out = [summary.money] if summary.money else []
    out.append(f"Coverage: {headline(summary)}.")
    out.append(f"Last 24 h: {summary.opened_24h} opened, {summary.resolved_24h} resolved.")
    return out


def _stale_warning(summary: DigestSummary) -> str:
    if summary.coverage_at is None or not summary.stale:
        return ""
    age = words.duration(summary.coverage_at, summary.generated_at)
    return (
        f"Warning: the coverage snapshot is {age} old: verification has not run for more than 24 h. "
        "Check the verify function's runs (Application Insights) and run `palwatch verify`."
    )


def _coverage_lines(summary: DigestSummary) -> list[str]:
    """(Sentences) about coverage, shared by the text and HTML parts."""
    t = summary.totals
    if summary.coverage_at is None:
        return [NO_COVERAGE]
    if not t.get("delegations"):
        return [NO_DELEGATIONS]
    return [
        f"{words.plural(t['delegations'], 'delegation')}: {t.get('attributed', 0)} attributed, "
        f"{t.get('atRisk', 0)} at risk, {t.get('notAttributed', 0)} not attributed",
        f"{words.plural(t.get('customers', 0), 'customer')}: {t.get('customersAttributed', 0)} fully attributed, "
        f"{t.get('customersAtRisk', 0)} at risk, {t.get('customersNotAttributed', 0)} with delegations "
        "not attributed",
    ]


def _verified(summary: DigestSummary) -> str:
    if summary.coverage_at is None:
        return ""
    age = words.duration(summary.coverage_at, summary.generated_at)
    return f"verified {words.when(summary.coverage_at)}" + (f", {age} before this digest" if age else "")


def _customer_line(c: CustomerStatus) -> str:
    counts = []
    if c.not_attributed:
        counts.append(f"{c.not_attributed} not attributed")
    if c.at_risk:
        counts.append(f"{c.at_risk} at risk")
    label = words.customer_label(c.name, c.tenant_id) or "unknown customer"
    return words.one_line(f"{label}: {', '.join(counts)} of {words.plural(c.delegations, 'delegation')}", 400)


def _finding_line(item: DigestItem, summary: DigestSummary) -> tuple[str, str, str, str]:
    """(severity, title, customer and scope, since) of an open finding."""
    where = words.customer_label(item.tenant_name, item.tenant_id)
    scope = words.describe_scope(item.scope) if item.scope else ""
    if scope:
        where = f"{where}, {scope}" if where else scope
    age = words.duration(item.since, summary.generated_at)
    since = words.when(item.since) + (f" (open for {age})" if age else "")
    return (
        item.severity.upper(),
        words.one_line(item.title or item.key or "finding", 300),
        words.one_line(where, 400),
        since,
    )


def _open_heading(summary: DigestSummary) -> str:
    counts = summary.counts
    total = sum(counts.values())
    if not total:
        return "Open findings: none."
    return "Open findings: " + ", ".join(words.severity_count(n, s) for s, n in counts.items() if n)


def _accepted_heading(summary: DigestSummary) -> str:
    return f"Accepted (exempted, not alerted): {summary.accepted_total}"


def _accepted_line(item: DigestItem) -> tuple[str, str, str]:
    """(severity, title, "accepted: reason, until date") of an exempted finding."""
    return (
        item.severity.upper(),
        words.one_line(item.title or item.key or "finding", 300),
        words.one_line(item.accepted, 400),
    )


def _changes(summary: DigestSummary) -> str:
    critical = f" ({summary.opened_critical_24h} critical)" if summary.opened_critical_24h else ""
    return f"Last 24 h: {summary.opened_24h} finding(s) opened{critical}, {summary.resolved_24h} resolved."


def _newest_first(digests: Sequence[notices_.Notice]) -> list[DigestSummary]:
    found = [s for s in (from_notice(n) for n in digests) if s is not None]
    return sorted(found, key=lambda s: s.day, reverse=True)


# -- rendering (called by shared.notify.render) ----------------------------------------------


def subject(digests: Sequence[notices_.Notice]) -> str:
    """`[PAL Watch] Daily digest 2025-03-01: 2 not attributed, 1 at risk of 12; 3 critical open`."""
    summaries = _newest_first(digests)
    if not summaries:
        return "[PAL Watch] Daily digest"
    newest = summaries[0]
    more = f" (+{len(summaries) - 1} earlier)" if len(summaries) > 1 else ""
    return words.one_line(f"[PAL Watch] Daily digest {newest.day.isoformat()}: {headline(newest)}{more}", 250)


def text_lines(digests: Sequence[notices_.Notice]) -> list[str]:
    """Plain-text lines of the digests in a batch, newest first."""
    lines: list[str] = []
    for summary in _newest_first(digests):
        lines += [f"Daily digest for {summary.day.isoformat()} (as of {words.when(summary.generated_at)})", ""]
        if summary.money:
            lines += [f"Money at stake: {summary.money}", ""]
        verified = _verified(summary)
        lines.append(f"Coverage ({verified}):" if verified else "Coverage:")
        lines += [f"  {line}" for line in _coverage_lines(summary)]
        warning = _stale_warning(summary)
        if warning:
            lines.append(f"  ! {warning}")
        lines.append("")
        if summary.attention:
            lines.append("Customers needing attention:")
            lines += [f"  - {_customer_line(c)}" for c in summary.attention]
            rest = summary.attention_total - len(summary.attention)
            if rest > 0:
                lines.append(f"  … and {rest} more: `palwatch report` lists every delegation.")
            lines.append("")
        lines.append(_open_heading(summary))
        for item in summary.open_findings:
            severity, title, where, since = _finding_line(item, summary)
            lines.append(f"  [{severity}] {title}" + (f" — {where}" if where else ""))
            lines.append(f"      since {since}")
        rest = sum(summary.counts.values()) - len(summary.open_findings)
        if rest > 0:
            lines.append(f"  … and {rest} more: `palwatch findings` lists every open finding.")
        if summary.accepted_total:
            lines += ["", _accepted_heading(summary)]
            for item in summary.accepted:
                severity, title, why = _accepted_line(item)
                lines.append(f"  [{severity}] {title} — {why}")
        lines += ["", _changes(summary), ""]
    return lines


def html_sections(digests: Sequence[notices_.Notice]) -> list[str]:
    """HTML fragments of the digests in a batch, newest first; every value escaped."""
    e = html.escape
    out: list[str] = []
    for summary in _newest_first(digests):
        out.append('<div style="border-left:4px solid #005a9e;padding:4px 12px;margin:16px 0">')
        out.append(
            f'<h3 style="font-size:16px;margin:4px 0">Daily digest for {e(summary.day.isoformat())}</h3>'
            f'<p style="color:#605e5c;margin:0">as of {e(words.when(summary.generated_at))}</p>'
        )
        if summary.money:
            out.append(
                f'<p style="margin:8px 0;font-size:15px"><strong>Money at stake:</strong> {e(summary.money)}</p>'
            )
        verified = _verified(summary)
        out.append(f'<h4 style="margin:12px 0 4px">Coverage{e(" (" + verified + ")" if verified else "")}</h4>')
        out += [f'<p style="margin:2px 0">{e(line)}</p>' for line in _coverage_lines(summary)]
        warning = _stale_warning(summary)
        if warning:
            out.append(f'<p style="margin:6px 0;color:#a4262c"><strong>{e(warning)}</strong></p>')
        if summary.attention:
            out.append('<h4 style="margin:12px 0 4px">Customers needing attention</h4><ul>')
            out += [f"<li>{e(_customer_line(c))}</li>" for c in summary.attention]
            out.append("</ul>")
            rest = summary.attention_total - len(summary.attention)
            if rest > 0:
                out.append(f"<p>… and {rest} more: <code>palwatch report</code> lists every delegation.</p>")
        out.append(f'<h4 style="margin:12px 0 4px">{e(_open_heading(summary))}</h4>')
        if summary.open_findings:
            out.append('<ul style="padding-left:18px;margin:4px 0">')  # a list, not a table: it reflows on a phone
            for item in summary.open_findings:
                severity, title, where, since = _finding_line(item, summary)
                colour = words.severity_colour(item.severity)
                out.append(
                    f'<li style="margin:0 0 6px"><strong style="color:{colour}">{e(severity)}</strong> {e(title)}'
                    f"{'<br>' + e(where) if where else ''}"
                    f'<br><span style="color:#605e5c">since {e(since)}</span></li>'
                )
            out.append("</ul>")
        rest = sum(summary.counts.values()) - len(summary.open_findings)
        if rest > 0:
            out.append(f"<p>… and {rest} more: <code>palwatch findings</code> lists every open finding.</p>")
        if summary.accepted_total:
            out.append(f'<h4 style="margin:12px 0 4px;color:#605e5c">{e(_accepted_heading(summary))}</h4>')
            out.append('<ul style="padding-left:18px;margin:4px 0;color:#605e5c">')
            for item in summary.accepted:
                severity, title, why = _accepted_line(item)
                out.append(f"<li>{e(severity)} {e(title)} — {e(why)}</li>")
            out.append("</ul>")
        out.append(f'<p style="margin:12px 0 4px">{e(_changes(summary))}</p>')
        out.append("</div>")
    return out
