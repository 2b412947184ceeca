"""Renders a batch of notices into one message for a busy human: subject, plain text, HTML.

Called by the channels (mail, SMTP, `.eml` folder, webhook) with the notices the dispatcher
grouped for one message. Each notice says what happened, which customer and scope, since
when, what it costs and the fix. Every customer-controlled string goes through
`html.escape` in the HTML part and through `one_line` in headers; only the finding's own
fields are shown, never secrets, tokens or stack traces (facts whose name suggests a secret
are dropped). A daily digest notice (`NoticeKind.DIGEST`) in the batch is rendered by
`shared.notify.digest`, after the findings when a channel sends both in one message.
Pure: no I/O, time comes in as `now`.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType

from shared import catalogue, model
from shared.notify import notices as notices_

# A first install can open thousands of findings; the message details the first ones and
# lists the rest one line each, so it stays readable and below mail size limits.
DETAILED = 25
LISTED = 500
_SECRETISH = re.compile(r"secret|token|password|passwd|credential|authorization|signature|sas", re.I)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# Bidi overrides, embeddings, isolates and marks (a customer name with U+202E reverses the rest of a
# subject line), and invisible format characters: dropped from every one-line value.
_INVISIBLE = re.compile(r"[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")

_SEVERITY_COLOURS = {"critical": "#a4262c", "warning": "#8a6100", "info": "#005a9e"}
_KIND_LABELS = {"opened": "New", "reminder": "Still open", "resolved": "Resolved", "digest": "Daily digest"}
FOOTER = "Sent by PAL Watch. `palwatch findings` lists every open finding."


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def one_line(value: str, limit: int = 200) -> str:
    """A header-safe single line: control characters (CR/LF injection) collapsed, bidi and
    invisible format characters dropped, length capped."""
    flat = " ".join(_CONTROL.sub(" ", _INVISIBLE.sub("", value)).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def describe_scope(scope: str) -> str:
    """`/subscriptions/{s}/resourceGroups/{rg}` -> `subscription s, resource group rg`."""
    parts = scope.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    if len(parts) >= 2 and lowered[0] == "subscriptions":
        text = f"subscription {parts[1]}"
        if len(parts) >= 4 and lowered[2] == "resourcegroups":
            text += f", resource group {parts[3]}"
        return text
    return scope


def _when(moment: datetime | None) -> str:
    return notices_.utc(moment).strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def duration(since: datetime, now: datetime) -> str:
    """`2 d 3 h`, `4 h 10 min`, `12 min`; "" under a minute (or when `since` is after `now`)."""
    seconds = int((notices_.utc(now) - notices_.utc(since)).total_seconds())
    if seconds < 60:
        return ""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    return f"{days} d {hours} h" if days else (f"{hours} h {minutes} min" if hours else f"{minutes} min")


def _age(since: datetime, now: datetime | None) -> str:
    text = duration(since, now) if now is not None else ""
    return f" (open for {text})" if text else ""


def _title(notice: notices_.Notice) -> str:
    return notice.finding.title or notice.finding.kind or notice.finding.key


def customer_label(tenant_name: str, tenant_id: str) -> str:
    """`Contoso (tenant 1234…)`, the name alone, or `tenant 1234…`; "" when neither is known."""
    if tenant_name and tenant_id:
        return f"{tenant_name} (tenant {tenant_id})"
    return tenant_name or (f"tenant {tenant_id}" if tenant_id else "")


def _customer(finding: model.Finding) -> str:
    return customer_label(finding.tenant_name, finding.tenant_id)


def _cost(notice: notices_.Notice) -> str:
    if notice.kind is notices_.NoticeKind.RESOLVED:
        return "Resolved: this no longer holds, nothing more to do."
    return catalogue.cost(notice.finding)


def _facts(finding: model.Finding) -> list[tuple[str, str]]:
    return [(k, v) for k, v in finding.facts.items() if k != "cost" and not _SECRETISH.search(k) and v]


def _rows(notice: notices_.Notice, now: datetime | None) -> list[tuple[str, str, bool]]:
    """(label, value, is_code) rows shared by the text and HTML parts; empty values left out."""
    f = notice.finding
    since = _when(notice.since)
    if since and notice.kind is not notices_.NoticeKind.RESOLVED:
        since += _age(notice.since, now)
    rows = [
        ("What happened", f.detail or f.title, False),
        ("Customer", _customer(f), False),
        ("Scope", describe_scope(f.scope), False),
        ("Since", since, False),
        ("Resolved", _when(notice.resolved_at), False),
        ("What it costs", _cost(notice), False),
        ("Fix", "" if notice.kind is notices_.NoticeKind.RESOLVED else f.fix, True),
    ]
    rows += [(k, v, False) for k, v in _facts(f)]
    rows.append(("Finding", f"{f.key} ({f.kind}{', ' + f.reason if f.reason else ''})", False))
    return [(label, value, code) for label, value, code in rows if value]


def ordered(batch: Sequence[notices_.Notice]) -> list[notices_.Notice]:
    return sorted(batch, key=lambda n: n.sort_key)


def _split(batch: Sequence[notices_.Notice]) -> tuple[list[notices_.Notice], list[notices_.Notice]]:
    """(finding notices in message order, digest notices)."""
    items = ordered(batch)
    return (
        [n for n in items if n.kind is not notices_.NoticeKind.DIGEST],
        [n for n in items if n.kind is notices_.NoticeKind.DIGEST],
    )


def _digest_module() -> ModuleType:
    # Imported here: the digest module uses this one's helpers (one_line, duration, ...).
    from shared.notify import digest

    return digest


def subject(batch: Sequence[notices_.Notice]) -> str:
    """`[PAL Watch] 2 critical, 1 warning, 1 resolved: <most severe title> (+3 more)`.

    A digest alone has its own subject; with findings, theirs comes first (they are news).
    """
    items, digests = _split(batch)
    if not digests:
        return _findings_subject(items)
    if not items:
        return _digest_module().subject(digests)
    return one_line(_findings_subject(items) + " + daily digest", 250)


def _findings_subject(items: list[notices_.Notice]) -> str:
    if not items:
        return "[PAL Watch] no findings"
    open_counts = Counter(n.finding.severity for n in items if n.kind is not notices_.NoticeKind.RESOLVED)
    parts = [f"{open_counts[s]} {s.value}" for s in sorted(open_counts, key=lambda s: s.rank)]
    resolved = sum(1 for n in items if n.kind is notices_.NoticeKind.RESOLVED)
    if resolved:
        parts.append(f"{resolved} resolved")
    top = items[0]
    label = {"reminder": "Still open: ", "resolved": "Resolved: "}.get(top.kind.value, "")
    more = f" (+{len(items) - 1} more)" if len(items) > 1 else ""
    return one_line(f"[PAL Watch] {', '.join(parts)}: {label}{_title(top)}{more}", 250)


def _headline(notice: notices_.Notice) -> str:
    return f"[{notice.finding.severity.value.upper()}] {_KIND_LABELS[notice.kind.value]}: {_title(notice)}"


def text(batch: Sequence[notices_.Notice], now: datetime | None = None) -> str:
    items, digests = _split(batch)
    lines = [subject(batch), "", *_text_blocks(items, now)]
    if digests:
        lines += _digest_module().text_lines(digests)
    lines.append(FOOTER)
    return "\n".join(lines)


def _text_blocks(items: list[notices_.Notice], now: datetime | None) -> list[str]:
    lines: list[str] = []
    for notice in items[:DETAILED]:
        lines.append(one_line(_headline(notice), 500))
        for label, value, code in _rows(notice, now):
            if code or "\n" in value:
                lines.append(f"  {label}:")
                lines += [f"      {line}" for line in value.splitlines()]
            else:
                lines.append(f"  {label}: {value}")
        lines.append("")
    rest = items[DETAILED:]
    if rest:
        lines.append(f"{len(rest)} more:")
        for notice in rest[:LISTED]:
            customer = _customer(notice.finding)
            lines.append("  - " + one_line(_headline(notice) + (f" — {customer}" if customer else ""), 300))
        if len(rest) > LISTED:
            lines.append(f"  … and {len(rest) - LISTED} more: run `palwatch findings` for the full list.")
        lines.append("")
    return lines


def _html_value(value: str, code: bool) -> str:
    escaped = html.escape(value, quote=True)
    if code:
        return f'<pre style="margin:0;white-space:pre-wrap;background:#f3f2f1;padding:6px"><code>{escaped}</code></pre>'
    return escaped.replace("\n", "<br>")


def html_body(batch: Sequence[notices_.Notice], now: datetime | None = None) -> str:
    items, digests = _split(batch)
    e = html.escape
    title = subject(batch)
    out = [
        '<!DOCTYPE html><html><head><meta charset="utf-8">',
        f"<title>{e(title)}</title></head>",
        '<body style="font-family:Segoe UI,Helvetica,Arial,sans-serif;color:#1b1b1b;font-size:14px">',
        f'<h2 style="font-size:18px">{e(title)}</h2>',
        *_html_blocks(items, now),
    ]
    if digests:
        out += _digest_module().html_sections(digests)
    out.append(
        '<p style="color:#605e5c">Sent by PAL Watch. <code>palwatch findings</code> lists every open finding.</p>'
    )
    out.append("</body></html>")
    return "\n".join(out)


def _html_blocks(items: list[notices_.Notice], now: datetime | None) -> list[str]:
    e = html.escape
    out: list[str] = []
    for notice in items[:DETAILED]:
        colour = _SEVERITY_COLOURS.get(notice.finding.severity.value, "#605e5c")
        out.append(f'<div style="border-left:4px solid {colour};padding:4px 12px;margin:16px 0">')
        out.append(f'<p style="margin:4px 0"><strong>{e(_headline(notice))}</strong></p>')
        out.append('<table style="border-collapse:collapse">')
        for label, value, code in _rows(notice, now):
            out.append(
                f'<tr><th style="text-align:left;vertical-align:top;padding:2px 12px 2px 0;white-space:nowrap">'
                f"{e(label)}</th><td>{_html_value(value, code)}</td></tr>"
            )
        out.append("</table></div>")
    rest = items[DETAILED:]
    if rest:
        out.append(f"<p>{len(rest)} more:</p><ul>")
        for notice in rest[:LISTED]:
            customer = _customer(notice.finding)
            out.append(f"<li>{e(_headline(notice))}{' — ' + e(customer) if customer else ''}</li>")
        out.append("</ul>")
        if len(rest) > LISTED:
            out.append(f"<p>… and {len(rest) - LISTED} more: run <code>palwatch findings</code>.</p>")
    return out


def render(batch: Sequence[notices_.Notice], now: datetime | None = None) -> Rendered:
    """One message for a batch: most severe first, severity counts in the subject."""
    return Rendered(subject=subject(batch), text=text(batch, now), html=html_body(batch, now))
