"""Renders a batch of notices into one message for a busy human: subject, plain text, HTML.

Called by the channels (mail, SMTP, `.eml` folder, webhook) with the notices the dispatcher
grouped for one message. Each notice says what happened, which customer and scope, since
when, what it costs and the fix. Every customer-controlled string goes through
`html.escape` in the HTML part and through `words.one_line` in headers; only the finding's own
fields are shown, never secrets, tokens or stack traces (facts whose name suggests a secret
are dropped). A daily digest notice (`NoticeKind.DIGEST`) in the batch is rendered by
`shared.notify.digest`, after the findings when a channel sends both in one message.
Pure: no I/O, time comes in as `now`.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from shared import catalogue, model, words
from shared.notify import digest
from shared.notify import notices as notices_

# A first install can open thousands of findings; the message details the first ones and
# lists the rest one line each, so it stays readable and below mail size limits.
DETAILED = 25
LISTED = 500
_SECRETISH = re.compile(r"secret|token|password|passwd|credential|authorization|signature|sas", re.I)
RESOLVED_COLOUR = "#107c10"  # a resolved card is good news, whatever the finding's severity was
_KIND_LABELS = {"opened": "New", "reminder": "Still open", "resolved": "Resolved", "digest": "Daily digest"}
OPENED_AND_RESOLVED = "Opened and resolved"
FOOTER = "Sent by PAL Watch. `palwatch findings` lists every open finding."
SUBJECT_LIMIT = 90  # a phone's mail list shows about this much
# Facts shown under their own label; "since" repeats the notice's own time and is not shown.
_FACT_LABELS = {
    "principals": "Identities",
    "identity": "Identity",
    "subscriptionName": "Subscription",
    "quotaId": "Subscription offer (quota ID)",
}
# offerType: a code for the money wording; the detail says the offer in words
_HIDDEN_FACTS = {"cost", "since", "tenantRole", "subscriptionName", "resourceGroupName", "offerType"}
# The cost sentence of an open finding ("Until fixed, Microsoft credits no ..."): not said once resolved.
_UNTIL_FIXED = re.compile(r"\s*Until fixed,.*\Z", re.S)  # always the last sentence of a detail
OWN_TENANT = "managing"  # facts["tenantRole"]: the finding is about the partner's own tenant


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _age(since: datetime, now: datetime | None) -> str:
    text = words.duration(since, now) if now is not None else ""
    return f" (open for {text})" if text else ""


def _title(notice: notices_.Notice) -> str:
    return notice.finding.title or notice.finding.kind or notice.finding.key


def _customer(finding: model.Finding) -> str:
    return words.customer_label(finding.tenant_name, finding.tenant_id)


def own_tenant(finding: model.Finding) -> bool:
    """The finding is about the partner's own (managing) tenant, not a customer's."""
    return finding.facts.get("tenantRole") == OWN_TENANT or finding.kind == model.Kind.CONFIGURATION


def _cost(notice: notices_.Notice) -> str:
    """What the finding costs: the money at stake when the alert path added it (`facts["cost"]`),
    else the finding's own cost sentence (taken out of its detail), else the kind's; nothing once resolved."""
    if notice.kind is notices_.NoticeKind.RESOLVED:
        return ""
    if notice.finding.facts.get("cost"):
        return words.humane(notice.finding.facts["cost"], notice.finding)
    own = _UNTIL_FIXED.search(notice.finding.detail)
    if own:
        sentence = words.humane(own.group(0).strip().removeprefix("Until fixed,").strip(), notice.finding)
        return sentence[:1].upper() + sentence[1:]
    return catalogue.cost(notice.finding)


def _fact_label(key: str) -> str:
    """`principals` -> `Identities`, `alertChannel` -> `Alert channel`: words, never a raw field name."""
    if key in _FACT_LABELS:
        return _FACT_LABELS[key]
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).replace("_", " ").strip().lower()
    return spaced[:1].upper() + spaced[1:]


def _facts(finding: model.Finding) -> list[tuple[str, str]]:
    return [
        (_fact_label(k), v.replace(",", ", ") if k == "principals" else v)
        for k, v in finding.facts.items()
        if k not in _HIDDEN_FACTS and not _SECRETISH.search(k) and v
    ]


def resolution(notice: notices_.Notice, removed: frozenset[str] = frozenset()) -> str:
    """Why a resolved finding resolved: its delegation was removed, or what the last check found."""
    return catalogue.resolution(notice.finding, delegation_removed=notice.finding.subject in removed)


@dataclass(frozen=True)
class _Context:
    """What rendering one notice needs to know about the rest of its message."""

    now: datetime | None = None
    also_opened: frozenset[str] = frozenset()  # ids of resolved notices whose opening is in this message
    removed: frozenset[str] = frozenset()  # subjects of delegations this message says were removed
    earlier: Mapping[str, tuple[notices_.Notice, ...]] = field(default_factory=dict)  # by key: see `fold`


def message_items(batch: Sequence[notices_.Notice]) -> list[tuple[notices_.Notice, str, str]]:
    """(notice, label, why it resolved) per finding notice of a message, in order, collapsed as mail
    shows them; for the channels that lay a message out themselves (webhook cards, chat text)."""
    items, _ = _split(batch)
    ctx = _context(batch, None)
    return [
        (n, _label(n, ctx), resolution(n, ctx.removed) if n.kind is notices_.NoticeKind.RESOLVED else "") for n in items
    ]


def _label(notice: notices_.Notice, ctx: _Context) -> str:
    if notice.notice_id in ctx.also_opened:
        return OPENED_AND_RESOLVED
    return _KIND_LABELS[notice.kind.value]


def _rows(notice: notices_.Notice, ctx: _Context) -> list[tuple[str, str, bool]]:
    """(label, value, is_fix) rows shared by the text and HTML parts; empty values left out."""
    f = notice.finding
    resolved = notice.kind is notices_.NoticeKind.RESOLVED
    since = words.when(notice.since)
    if since and not resolved:
        since += _age(notice.since, ctx.now)
    happened = _UNTIL_FIXED.sub("", f.detail).strip()
    rows = [
        ("What happened", happened or f.title, False),
        ("Before", "" if resolved else _before(ctx.earlier.get(f.key, ()), f), False),
        ("Why it resolved" if resolved else "", resolution(notice, ctx.removed) if resolved else "", False),
        ("Tenant", f"your managing tenant ({f.tenant_id})", False)
        if own_tenant(f)
        else ("Customer", _customer(f), False),
        ("Scope", words.scope_words(f), False),
        ("Opened" if resolved else "Since", since, False),
        ("Resolved", words.when(notice.resolved_at), False),
        ("What it costs", _cost(notice), False),
        ("Fix", "" if resolved else f.fix, True),
    ]
    rows += [(k, v, False) for k, v in _facts(f)]
    rows.append(("Reference", f.key, False))
    return [(label, value, fix) for label, value, fix in rows if value and label]


def ordered(batch: Sequence[notices_.Notice]) -> list[notices_.Notice]:
    return sorted(batch, key=lambda n: n.sort_key)


def _split(batch: Sequence[notices_.Notice]) -> tuple[list[notices_.Notice], list[notices_.Notice]]:
    """(finding notices in message order, digest notices); see `collapse` and `fold`."""
    items = ordered(batch)
    findings, _ = collapse([n for n in items if n.kind is not notices_.NoticeKind.DIGEST])
    return fold(findings)[0], [n for n in items if n.kind is notices_.NoticeKind.DIGEST]


def fold(items: Sequence[notices_.Notice]) -> tuple[list[notices_.Notice], dict[str, tuple[notices_.Notice, ...]]]:
    """One verdict per finding in a message: a finding that resolved and opened again before the
    message went (a user linked herself, then her account was deleted) is not a green "earns partner
    credit now" card beside the red one, but told on the open card as what happened before. Returns
    the notices kept and, by finding key, the resolutions folded into them."""
    still_open = {n.finding.key for n in items if n.kind is not notices_.NoticeKind.RESOLVED}
    earlier: dict[str, list[notices_.Notice]] = {}
    kept = []
    for n in items:
        if n.kind is notices_.NoticeKind.RESOLVED and n.finding.key in still_open:
            earlier.setdefault(n.finding.key, []).append(n)
        else:
            kept.append(n)
    return kept, {key: tuple(found) for key, found in earlier.items()}


def _before(resolved: Sequence[notices_.Notice], now_open: model.Finding) -> str:
    """What the folded resolutions of a delegation said, oldest first, with why each resolved; the
    same finding resolved and opened again says so, without claiming its fix was made."""
    lines = []
    for n in sorted(resolved, key=lambda n: n.resolved_at or n.since):
        when = words.when(n.resolved_at)
        again = n.finding.key == now_open.key and n.finding.reason == now_open.reason
        why = "It opened again since." if again else catalogue.resolution(n.finding)
        lines.append(f"{words.short_title(n.finding)}: resolved{' ' + when if when else ''}. {why}")
    return "\n".join(lines)


def collapse(items: Sequence[notices_.Notice]) -> tuple[list[notices_.Notice], frozenset[str]]:
    """One notice per finding episode: a resolution in the same message replaces its opening and
    reminders. Returns the notices kept (in order) and the ids of resolutions that also opened here."""
    resolved = {(n.finding.key, n.since) for n in items if n.kind is notices_.NoticeKind.RESOLVED}
    opened = {(n.finding.key, n.since) for n in items if n.kind is notices_.NoticeKind.OPENED}
    kept = [n for n in items if n.kind is notices_.NoticeKind.RESOLVED or (n.finding.key, n.since) not in resolved]
    both = frozenset(
        n.notice_id for n in kept if n.kind is notices_.NoticeKind.RESOLVED and (n.finding.key, n.since) in opened
    )
    return kept, both


def _context(items: Sequence[notices_.Notice], now: datetime | None) -> _Context:
    kept, both = collapse([n for n in items if n.kind is not notices_.NoticeKind.DIGEST])
    removed = frozenset(
        n.finding.subject
        for n in items
        if n.finding.kind == model.Kind.DELEGATION_REMOVED and n.kind is not notices_.NoticeKind.RESOLVED
    )
    return _Context(now=now, also_opened=both, removed=removed, earlier=fold(ordered(kept))[1])


def subject(batch: Sequence[notices_.Notice]) -> str:
    """`[PAL Watch] 2 critical, 1 resolved: Contoso · Production: partner credit lost (+2 more)`.

    Under `SUBJECT_LIMIT` characters, names rather than ids. A digest alone has its own
    subject; with findings, theirs comes first (they are news).
    """
    items, digests = _split(batch)
    if not digests:
        return _findings_subject(items)
    if not items:
        return digest.subject(digests)
    return words.one_line(
        _findings_subject(items, room=SUBJECT_LIMIT - len(" + daily digest")) + " + daily digest", 250
    )


def _where_words(finding: model.Finding, limit: int, *, place: bool = True) -> str:
    """`Contoso · Production`: the customer's and the subscription's (or group's) names, no ids."""
    if own_tenant(finding):
        customer = "your tenant"
    else:
        customer = words.one_line(finding.tenant_name, limit) if finding.tenant_name else ""
        if not customer and finding.tenant_id:
            customer = f"tenant {finding.tenant_id[:8]}"
    _, group = words.scope_parts(finding.scope)
    where = (finding.facts.get("subscriptionName", "") or group) if place else ""
    where = words.one_line(where, limit) if where else ""
    return " · ".join(p for p in (customer, where) if p)


def _findings_subject(items: list[notices_.Notice], room: int = SUBJECT_LIMIT) -> str:
    if not items:
        return "[PAL Watch] no findings"
    open_counts = Counter(n.finding.severity for n in items if n.kind is not notices_.NoticeKind.RESOLVED)
    parts = [words.severity_count(open_counts[s], s.value) for s in sorted(open_counts, key=lambda s: s.rank)]
    resolved = sum(1 for n in items if n.kind is notices_.NoticeKind.RESOLVED)
    if resolved:
        parts.append(f"{resolved} resolved")
    top = items[0]
    every_resolved = resolved == len(items)  # then the counts already say so
    label = {"reminder": "Still open: ", "resolved": "" if every_resolved else "Resolved: "}.get(top.kind.value, "")
    what = catalogue.words_for(top.finding).subject or words.one_line(_title(top), 60)
    what = label + (what[:1].lower() + what[1:] if label else what[:1].upper() + what[1:])
    more = f" (+{len(items) - 1} more)" if len(items) > 1 else ""
    head = f"[PAL Watch] {', '.join(parts)}: {what}"
    for limit, place in ((40, True), (24, True), (40, False), (24, False), (14, False)):
        where = _where_words(top.finding, limit, place=place)
        line = f"{head} — {where}{more}" if where else f"{head}{more}"
        if len(line) <= room:
            return words.one_line(line, room)
    return words.one_line(f"{head}{more}", room)


def _headline(notice: notices_.Notice, ctx: _Context) -> str:
    return f"[{notice.finding.severity.value.upper()}] {_label(notice, ctx)}: {words.short_title(notice.finding)}"


def text(batch: Sequence[notices_.Notice], now: datetime | None = None) -> str:
    items, digests = _split(batch)
    lines = [subject(batch), "", *_text_blocks(items, _context(batch, now))]
    if digests:
        lines += digest.text_lines(digests)
    lines.append(FOOTER)
    return "\n".join(lines)


def _text_blocks(items: list[notices_.Notice], ctx: _Context) -> list[str]:
    lines: list[str] = []
    for notice in items[:DETAILED]:
        lines.append(words.one_line(_headline(notice, ctx), 500))
        for label, value, fix in _rows(notice, ctx):
            if fix or "\n" in value:
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
            lines.append("  - " + words.one_line(_headline(notice, ctx) + (f" — {customer}" if customer else ""), 300))
        if len(rest) > LISTED:
            lines.append(f"  … and {len(rest) - LISTED} more: run `palwatch findings` for the full list.")
        lines.append("")
    return lines


_WRAP = "overflow-wrap:anywhere;word-break:break-word"
_FIX_STYLE = (
    f"margin:2px 0 0;padding:6px 8px;background:#f3f2f1;font-family:Consolas,Menlo,monospace;font-size:13px;{_WRAP}"
)


def _html_value(value: str, fix: bool) -> str:
    """Escaped; a fix keeps its lines but wraps like text on a narrow screen (no `<pre>`)."""
    lines = [html.escape(line, quote=True) for line in value.splitlines()] or [""]
    if fix:
        return f'<div style="{_FIX_STYLE}">{"<br>".join(lines)}</div>'
    return "<br>".join(lines)


def html_body(batch: Sequence[notices_.Notice], now: datetime | None = None) -> str:
    items, digests = _split(batch)
    e = html.escape
    title = subject(batch)
    out = [
        '<!DOCTYPE html><html><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title></head>",
        f'<body style="font-family:Segoe UI,Helvetica,Arial,sans-serif;color:#1b1b1b;font-size:15px;'
        f'margin:0;padding:8px;{_WRAP}">',
        f'<h2 style="font-size:18px;margin:4px 0 12px">{e(title)}</h2>',
        *_html_blocks(items, _context(batch, now)),
    ]
    if digests:
        out += digest.html_sections(digests)
    out.append(
        '<p style="color:#605e5c">Sent by PAL Watch. <code>palwatch findings</code> lists every open finding.</p>'
    )
    out.append("</body></html>")
    return "\n".join(out)


def card_colour(notice: notices_.Notice) -> str:
    if notice.kind is notices_.NoticeKind.RESOLVED:
        return RESOLVED_COLOUR
    return words.severity_colour(notice.finding.severity.value)


def _html_blocks(items: list[notices_.Notice], ctx: _Context) -> list[str]:
    """One card per notice: label above value (no table), so it reflows on a phone."""
    e = html.escape
    out: list[str] = []
    for notice in items[:DETAILED]:
        out.append(f'<div style="border-left:4px solid {card_colour(notice)};padding:4px 10px;margin:16px 0">')
        out.append(f'<p style="margin:4px 0 8px"><strong>{e(_headline(notice, ctx))}</strong></p>')
        for label, value, fix in _rows(notice, ctx):
            out.append(
                f'<p style="margin:0 0 8px"><span style="color:#605e5c;font-size:13px">{e(label)}</span><br>'
                f"{_html_value(value, fix)}</p>"
                if not fix
                else f'<div style="margin:0 0 8px"><span style="color:#605e5c;font-size:13px">{e(label)}</span>'
                f"{_html_value(value, fix)}</div>"
            )
        out.append("</div>")
    rest = items[DETAILED:]
    if rest:
        out.append(f"<p>{len(rest)} more:</p><ul>")
        for notice in rest[:LISTED]:
            customer = _customer(notice.finding)
            out.append(f"<li>{e(_headline(notice, ctx))}{' — ' + e(customer) if customer else ''}</li>")
        out.append("</ul>")
        if len(rest) > LISTED:
            out.append(f"<p>… and {len(rest) - LISTED} more: run <code>palwatch findings</code>.</p>")
    return out


def render(batch: Sequence[notices_.Notice], now: datetime | None = None) -> Rendered:
    """One message for a batch: most severe first, severity counts in the subject."""
    return Rendered(subject=subject(batch), text=text(batch, now), html=html_body(batch, now))
