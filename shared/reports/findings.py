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

from shared import model
from shared.notify import notices as notices_
from shared.notify import render
from shared.reports import text as text_

EMPTY = "No findings: nothing needs attention."
FIX_LINE_LIMIT = 300


def ordered(
    recorded: Iterable[model.RecordedFinding], revenue: Mapping[str, float] | None = None
) -> list[model.RecordedFinding]:
    money = revenue or {}
    return sorted(
        recorded,
        key=lambda r: (
            r.finding.severity.rank,
            -money.get(r.finding.key, -1.0),
            notices_.utc(r.opened_at) if r.opened_at else datetime.min.replace(tzinfo=UTC),
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
                "kind": f.kind,
                "severity": f.severity.value,
                "open": r.open,
                "openedAt": text_.iso_z(r.opened_at),
                "resolvedAt": text_.iso_z(r.resolved_at),
                "lastSeenAt": text_.iso_z(r.last_seen_at),
                "tenantId": f.tenant_id or None,
                "tenantName": f.tenant_name or None,
                "scope": f.scope or None,
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


def _customer(f: model.Finding) -> text_.Cell:
    tenant = text_.short_id(f.tenant_id) if f.tenant_id else ""
    name = text_.clean(f.tenant_name)
    if name:
        return text_.Cell(name, f" ({tenant})" if tenant else "")
    return text_.Cell(f"tenant {tenant}" if tenant else "-")


def _state(r: model.RecordedFinding) -> str:
    return "open" if r.open else f"resolved {text_.minute(r.resolved_at)}"


_COLUMNS = (
    text_.Column("SEVERITY", cap=8),
    text_.Column("OPENED (UTC)", cap=16),
    text_.Column("STATE", cap=25),
    text_.Column("CUSTOMER", cap=40, minimum=14),
    text_.Column("SCOPE", cap=90, minimum=20),
    text_.Column("FINDING", cap=100, minimum=20),
)


def findings_table(
    recorded: Iterable[model.RecordedFinding],
    *,
    width: int | None = None,
    accepted: Mapping[str, str] | None = None,
    revenue: Mapping[str, float] | None = None,
) -> str:
    """Aligned lines, most severe then oldest first; an open finding's fix on indented lines below it."""
    items = ordered(recorded, revenue)
    if not items:
        return EMPTY
    rows = [
        [
            text_.Cell(r.finding.severity.value),
            text_.Cell(text_.minute(r.opened_at)),
            text_.Cell(_state(r)),
            _customer(r.finding),
            text_.Cell(text_.clean(render.describe_scope(r.finding.scope)) if r.finding.scope else "-"),
            text_.Cell(text_.clean(r.finding.title or r.finding.kind), f" [{text_.clean(r.finding.kind)}]"),
        ]
        for r in items
    ]
    header, *lines = text_.layout(_COLUMNS, rows, width)
    out = [header]
    indent = "    "
    limit = max(20, (width or FIX_LINE_LIMIT) - len(indent) - len("fix: "))
    for r, line in zip(items, lines, strict=True):
        out.append(line)
        if r.open and (accepted or {}).get(r.finding.key):
            out.append(f"{indent}{text_.fit(text_.clean((accepted or {})[r.finding.key]), limit + 5)}")
            continue
        fix = [text_.clean(part) for part in r.finding.fix.splitlines()] if r.open else []
        fix = [part for part in fix if part]
        for i, part in enumerate(fix):
            out.append(f"{indent}{'fix: ' if i == 0 else '     '}{text_.fit(part, limit)}")
    counts = {s: sum(1 for r in items if r.finding.severity is s and r.open) for s in model.Severity}
    summary = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n) or "none"
    resolved = sum(1 for r in items if not r.open)
    tail = f"; {resolved} resolved" if resolved else ""
    return "\n".join([f"Open findings: {summary}{tail}", "", *out])
