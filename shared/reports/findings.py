"""Findings as the CLI shows them: `palwatch findings` (aligned text) and `--json` (a list).

Called by `shared.cli` with the store's `RecordedFinding`s (open ones, or all with `--all`).
Both orders are the same: most severe first, then (given `revenue`, the monthly revenue each
finding puts at stake, from the cost cache) the most money first, then the oldest first, then by
key so equal instants never shuffle. The text puts each open finding's fix on indented lines beneath it;
customer-controlled strings are cleaned for the terminal. JSON keeps values as recorded
(json.dumps escapes them) with ISO 8601 UTC `Z` times. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from shared import model, words
from shared.reports import coverage as coverage_
from shared.reports import text as text_

EMPTY = "No findings: nothing needs attention."
FIX_LINE_LIMIT = 300
PROSE_LIMIT = 240  # characters of a title shown in the table (`--json` has all of it)


def ordered(
    recorded: Iterable[model.RecordedFinding], revenue: Mapping[str, float] | None = None
) -> list[model.RecordedFinding]:
    money = revenue or {}
    return sorted(
        recorded,
        key=lambda r: (
            r.finding.severity.rank,
            -money.get(r.finding.key, -1.0),
            words.utc(r.opened_at) if r.opened_at else datetime.min.replace(tzinfo=UTC),
            r.finding.key,
        ),
    )


def findings_json(
    recorded: Iterable[model.RecordedFinding],
    accepted: Mapping[str, str] | None = None,
    *,
    revenue: Mapping[str, float] | None = None,
) -> list[dict[str, Any]]:
    """One object per finding; `resolvedAt` is null while it is open; empty strings become null.
    `accepted` (finding key -> "accepted: reason, until date") marks the exempted ones; `revenue`
    (finding key -> monthly revenue at stake) orders findings within a severity."""
    out = []
    for r in ordered(recorded, revenue):
        f = r.finding
        out.append(
            {
                "key": f.key,
                "kind": str(f.kind),
                "severity": f.severity.value,
                "open": r.open,
                "openedAt": words.iso_z(r.opened_at),
                "resolvedAt": words.iso_z(r.resolved_at),
                "lastSeenAt": words.iso_z(r.last_seen_at),
                "tenantId": f.tenant_id or None,
                "tenantName": f.tenant_name or None,
                "scope": f.scope or None,
                "subscriptionName": f.facts.get("subscriptionName") or None,
                "title": f.title,
                "reason": f.reason or None,
                "detail": f.detail or None,
                "fix": f.fix or None,
                "subject": f.subject,
                "principalId": f.principal_id or None,
                "accepted": (accepted or {}).get(f.key) if r.open else None,
            }
        )
    return out


def _state(r: model.RecordedFinding) -> str:
    return "open" if r.open else f"resolved {words.minute(r.resolved_at)}"


def _finding_cell(f: model.Finding) -> text_.Cell:
    """The title without the ids the other columns show (`(tenant id)`, the scope's path)."""
    title = text_.fit(text_.clean(words.short_title(f)), PROSE_LIMIT)
    return text_.Cell(f"{title} [{text_.clean(f.kind)}]", compact=title)


_COLUMNS = (
    text_.Column("SEVERITY", cap=8),
    text_.Column("OPENED (UTC)", cap=16, optional=1),
    text_.Column("STATE", cap=25),
    text_.Column("CUSTOMER", cap=40, minimum=12, wrap=True),
    text_.Column("SCOPE", cap=90, minimum=14, wrap=True),
    text_.Column("FINDING", cap=100, minimum=24, wrap=True, prose=True),
)
FIX_INDENT = "    "
FIX_LABEL = "fix: "


def findings_table(
    recorded: Iterable[model.RecordedFinding],
    *,
    width: int | None = None,
    accepted: Mapping[str, str] | None = None,
    revenue: Mapping[str, float] | None = None,
) -> str:
    """Aligned rows, most severe then oldest first; an open finding's fix (or why it was accepted)
    wrapped on indented lines below it, never cut."""
    items = ordered(recorded, revenue)
    if not items:
        return EMPTY
    rows = [
        [
            text_.Cell(r.finding.severity.value),
            text_.Cell(words.minute(r.opened_at)),
            text_.Cell(_state(r)),
            coverage_.customer_cell(r.finding.tenant_name, r.finding.tenant_id),
            coverage_.scope_cell(r.finding.scope, r.finding.facts.get("subscriptionName", ""))
            if r.finding.scope
            else text_.Cell("-"),
            _finding_cell(r.finding),
        ]
        for r in items
    ]
    header, row_lines = text_.layout_rows(_COLUMNS, rows, width)
    out = list(header)
    room = max(20, (width or FIX_LINE_LIMIT) - len(FIX_INDENT) - len(FIX_LABEL))
    for r, lines in zip(items, row_lines, strict=True):
        out += lines
        why_accepted = (accepted or {}).get(r.finding.key) if r.open else ""
        if why_accepted:
            out += [f"{FIX_INDENT}{piece}" for piece in text_.wrap(text_.clean(why_accepted), room + len(FIX_LABEL))]
        elif r.open:
            out += fix_lines(r.finding.fix, room)
    counts = {s: sum(1 for r in items if r.finding.severity is s and r.open) for s in model.Severity}
    summary = ", ".join(words.severity_count(n, s.value) for s, n in counts.items() if n) or "none"
    resolved = sum(1 for r in items if not r.open)
    tail = f"; {resolved} resolved" if resolved else ""
    return "\n".join([f"Open findings: {summary}{tail}", "", *out])


def fix_lines(fix: str, room: int) -> list[str]:
    """The fix under its finding, every word of it: wrapped to `room` columns, never cut."""
    parts = [text_.clean(part) for part in fix.splitlines()]
    out: list[str] = []
    for i, part in enumerate(p for p in parts if p):
        for j, piece in enumerate(text_.wrap(part, room - 2)):
            label = FIX_LABEL if (i == 0 and j == 0) else " " * len(FIX_LABEL)
            out.append(f"{FIX_INDENT}{label}{'  ' if j else ''}{piece}")
    return out
