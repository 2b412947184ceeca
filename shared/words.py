"""The words PAL Watch says to people: one line, durations, customers, scopes, colours, times.

Sits just above `shared.model` and imports nothing else of the engine. The alert renderers
(`shared.notify.render`, `shared.notify.digest`, the channels), the reports (`shared.reports`) and
the finding catalogue share these, so that an alert, a digest and a table say the same thing the
same way, and neither package imports the other for a helper; the store, the event parser and
telemetry cut long values with `cut`. Pure: no I/O, time comes in as arguments.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from shared import model

ELLIPSIS = "…"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# Bidi overrides, embeddings, isolates and marks (a customer name with U+202E reverses the rest of a
# subject line), and invisible format characters: dropped from every one-line value.
_INVISIBLE = re.compile(r"[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
# Terminal escape sequences whole (CSI `ESC [ ... final` or its 8-bit form, OSC `ESC ] ... BEL|ST`,
# other `ESC x`): removing only the ESC would leave "[2J[1;31m" to be read, or a terminal to act on.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|\x1b[@-_]?"
)
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline
_GUID_IN_PARENS = re.compile(
    r"\s*\((?:tenant )?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\)"
)

SEVERITY_COLOURS = {"critical": "#a4262c", "warning": "#8a6100", "info": "#005a9e"}
NEUTRAL_COLOUR = "#605e5c"


def utc(moment: datetime) -> datetime:
    """An aware UTC instant; naive datetimes are taken as UTC (the store writes UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def cut(value: str, limit: int) -> str:
    """`value`, or its first `limit` - 1 characters and an ellipsis."""
    return value if len(value) <= limit else value[: limit - 1] + ELLIPSIS


def one_line(value: str, limit: int = 200) -> str:
    """A header-safe single line: control characters (CR/LF injection) collapsed, bidi and
    invisible format characters dropped, length capped."""
    return cut(" ".join(_CONTROL.sub(" ", _INVISIBLE.sub("", _ESCAPES.sub("", value))).split()), limit)


def plain_text(value: str) -> str:
    """Text for a plain-text part a terminal may show: escape sequences and control characters
    removed (lines and tabs kept), bidi and invisible format characters dropped."""
    return _TEXT_CONTROL.sub("", _INVISIBLE.sub("", _ESCAPES.sub("", value.replace("\r\n", "\n"))))


def plural(count: int, word: str) -> str:
    """`1 delegation`, `3 delegations`."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def severity_count(count: int, severity: str) -> str:
    """`1 warning`, `4 warnings`, `2 critical`, `3 info`: only "warning" is a noun that takes an s."""
    return plural(count, severity) if severity == model.Severity.WARNING.value else f"{count} {severity}"


def duration(since: datetime, now: datetime) -> str:
    """`2 d 3 h`, `4 h 10 min`, `12 min`; "" under a minute (or when `since` is after `now`)."""
    seconds = int((utc(now) - utc(since)).total_seconds())
    if seconds < 60:
        return ""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    return f"{days} d {hours} h" if days else (f"{hours} h {minutes} min" if hours else f"{minutes} min")


def minute(moment: datetime | None) -> str:
    """`2026-03-02 08:15` (UTC); "" for None."""
    return utc(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


def when(moment: datetime | None) -> str:
    """`2026-03-02 08:15 UTC`: what a person reads in an alert (no seconds, no offset); "" for None."""
    return f"{minute(moment)} UTC" if moment else ""


def iso_z(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with `Z` (naive instants are taken as UTC, as the store writes them)."""
    if moment is None:
        return None
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def customer_label(tenant_name: str, tenant_id: str) -> str:
    """`Contoso (tenant 1234…)`, the name alone, or `tenant 1234…`; "" when neither is known."""
    if tenant_name and tenant_id:
        return f"{tenant_name} (tenant {tenant_id})"
    return tenant_name or (f"tenant {tenant_id}" if tenant_id else "")


def _arm_parts(scope: str) -> tuple[str, str] | None:
    """(subscription id, resource group or "") of an ARM scope; None for anything else."""
    parts = scope.strip("/").split("/")
    if len(parts) < 2 or parts[0].lower() != "subscriptions":
        return None
    return parts[1], parts[3] if len(parts) >= 4 and parts[2].lower() == "resourcegroups" else ""


def scope_parts(scope: str) -> tuple[str, str]:
    """(subscription id, resource group) of an ARM scope; ("", "") for anything else."""
    return _arm_parts(scope) or ("", "")


def describe_scope(scope: str) -> str:
    """`/subscriptions/{s}/resourceGroups/{rg}` -> `subscription s, resource group rg`."""
    arm = _arm_parts(scope)
    if arm is None:
        return scope
    subscription, group = arm
    return f"subscription {subscription}" + (f", resource group {group}" if group else "")


def scope_words(finding: model.Finding, *, ids: bool = True) -> str:
    """`subscription Production (2222…), resource group rg-app`; the id alone when no name is known.
    Without `ids`: `resource group rg-app in Production`, or the subscription's name or id alone."""
    arm = _arm_parts(finding.scope)
    if arm is None:
        return finding.scope
    subscription, group = arm
    name = finding.facts.get("subscriptionName", "")
    if not ids:
        if group:
            return f"resource group {group}" + (f" in {name}" if name else "")
        return f"subscription {name or subscription}"
    said = f"subscription {name} ({subscription})" if name else f"subscription {subscription}"
    return said + (f", resource group {group}" if group else "")


def humane(text: str, finding: model.Finding) -> str:
    """`text` without the ids a reader does not need there: `(tenant id)` gone, the scope's path as names."""
    if finding.scope:
        text = text.replace(finding.scope, scope_words(finding, ids=False))
    return _GUID_IN_PARENS.sub("", text)


def short_title(finding: model.Finding) -> str:
    """The title for a headline or a table (the rows beside it carry the ids)."""
    return humane(finding.title or finding.kind or finding.key, finding)


def severity_colour(severity: str) -> str:
    """The colour of a severity's mark in HTML (grey for anything else)."""
    return SEVERITY_COLOURS.get(severity, NEUTRAL_COLOUR)
