"""Which findings a person has accepted, until when: exemptions with a reason and an expiry.

Pure: called by the alerts use case (an exempted finding is neither alerted nor reminded, and is
alerted once the day its exemption expires) and by the findings report ("accepted: reason, until
date"). The finding itself stays open in the store: it still holds, someone chose to live with it.
`definitions` maps a finding's subject (a delegation key) to its offer (registrationDefinitionName).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from shared import model
from shared.reconcile import scopes


def matches(exemption: model.Exemption, finding: model.Finding, definitions: Mapping[str, str]) -> bool:
    """Same kind, and every place the exemption names (tenant, scope and below, offer) fits."""
    if exemption.kind != finding.kind:
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
        if not r.open or active_for(r.finding, kept, now, definitions) is not None:
            continue
        ended = [e.expires for e in kept if now - window <= e.expires <= now and matches(e, r.finding, definitions)]
        if ended and max(ended) > r.opened_at:
            out.append((r, max(ended)))
    return out


def accepted_text(exemption: model.Exemption) -> str:
    """How reports show an exempted finding."""
    return f"accepted: {exemption.reason}, until {exemption.expires.date().isoformat()}"
