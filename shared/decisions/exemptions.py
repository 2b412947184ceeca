"""Which findings a person has accepted, until when: exemptions with a reason and an expiry.

Pure: called by the alerts use case (an exempted finding is neither alerted nor reminded, and is
alerted once the day its exemption expires, its reminders counted from then) and by the findings
report ("accepted: reason, until date"). The finding itself stays open in the store: it still
holds, someone chose to live with it.
`definitions` maps a finding's subject (a delegation key) to its offer (registrationDefinitionName).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from shared import model
from shared.decisions import scopes


def matches(exemption: model.Exemption, finding: model.Finding, definitions: Mapping[str, str]) -> bool:
    """Same kind, and every place the exemption names (tenant, scope and below, offer) fits. A
    finding about PAL Watch's own configuration is never exempted, whatever an old entry says."""
    if exemption.kind != finding.kind or finding.kind == model.Kind.CONFIGURATION:
        return False
    if exemption.tenant_id and exemption.tenant_id.lower() != finding.tenant_id.lower():
        return False
    if exemption.scope and not (finding.scope and scopes.covers(exemption.scope, finding.scope)):
        return False
    if exemption.definition_name:
        offer = definitions.get(finding.subject, "")
        return offer.casefold() == exemption.definition_name.casefold()
    return True


def active_for(
    finding: model.Finding, exemptions: Iterable[model.Exemption], now: datetime, definitions: Mapping[str, str]
) -> model.Exemption | None:
    """The exemption in force for `finding` at `now` (the one lasting longest), or None."""
    found = [e for e in exemptions if e.expires > now and matches(e, finding, definitions)]
    return max(found, key=lambda e: e.expires) if found else None


def alertable(
    recorded: Iterable[model.RecordedFinding],
    exemptions: Iterable[model.Exemption],
    now: datetime,
    definitions: Mapping[str, str],
) -> list[model.RecordedFinding]:
    """The findings that may be alerted or reminded now: those no exemption covers."""
    kept = list(exemptions)
    if not kept:
        return list(recorded)
    return [r for r in recorded if active_for(r.finding, kept, now, definitions) is None]


def came_back_at(
    recorded: model.RecordedFinding,
    exemptions: Iterable[model.Exemption],
    now: datetime,
    definitions: Mapping[str, str],
) -> datetime | None:
    """When an open finding came back from its last exemption (the latest expiry after it opened),
    or None: it was never exempted while open, or an exemption still covers it."""
    kept = list(exemptions)
    if not recorded.open or active_for(recorded.finding, kept, now, definitions) is not None:
        return None
    ended = [e.expires for e in kept if e.expires <= now and matches(e, recorded.finding, definitions)]
    latest = max(ended, default=None)
    return latest if latest is not None and latest > recorded.opened_at else None


def returning(
    open_findings: Iterable[model.RecordedFinding],
    exemptions: Iterable[model.Exemption],
    now: datetime,
    definitions: Mapping[str, str],
    window: timedelta,
) -> list[tuple[model.RecordedFinding, datetime]]:
    """Open findings whose exemption ran out within `window` before `now` and that no other
    exemption covers: (finding, the instant it came back), to be alerted once."""
    kept = list(exemptions)
    out = []
    for r in open_findings:
        back = came_back_at(r, kept, now, definitions)
        if back is not None and now - window <= back:
            out.append((r, back))
    return out


def reminded_from_return(
    recorded: Iterable[model.RecordedFinding],
    exemptions: Iterable[model.Exemption],
    now: datetime,
    definitions: Mapping[str, str],
) -> list[model.RecordedFinding]:
    """`recorded` with each finding that came back from an exemption dated from its return, so that
    its reminders count from the "opened" notice it got then, not from when it first opened."""
    kept = list(exemptions)
    out = []
    for r in recorded:
        back = came_back_at(r, kept, now, definitions)
        out.append(replace(r, opened_at=back) if back is not None else r)
    return out


def accepted_text(exemption: model.Exemption) -> str:
    """How reports show an exempted finding."""
    return f"accepted: {exemption.reason}, until {exemption.expires.date().isoformat()}"
