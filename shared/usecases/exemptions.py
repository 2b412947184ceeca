"""Exemptions: findings a person accepted, with a reason and an expiry, kept out of the alerts.

Called by `shared.usecases.alerts` (what may be alerted or reminded, and what comes back when an
exemption expires) and by the CLI (`palwatch exempt`, `palwatch exemptions`, the findings report).
They come from two places: `PAL_EXEMPTIONS` (settings, read-only here) and the store's state row
written by `palwatch exempt`. The decisions are pure, in `shared.decisions.exemptions`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared import model
from shared import settings as settings_module
from shared.decisions import exemptions as decide
from shared.notify import notices
from shared.usecases.engine import Engine

STATE = "exemptions"
RETURN_WINDOW = timedelta(days=2)  # an expiry is alerted by a pass within this long (the outbox dedupes)


def stored(engine: Engine) -> list[model.Exemption]:
    """The exemptions `palwatch exempt` recorded (entries that no longer parse are skipped)."""
    out = []
    for item in engine.store.get_state(STATE) or []:
        try:
            out.append(settings_module.parse_exemption(item))
        except ValueError:
            continue
    return out


def every(engine: Engine) -> list[tuple[model.Exemption, str]]:
    """(exemption, where it comes from: "setting" or "store") for all of them, expired ones too."""
    return [(e, "setting") for e in engine.settings.exemptions] + [(e, "store") for e in stored(engine)]


def add(engine: Engine, exemption: model.Exemption) -> None:
    """Record (or replace: same kind and place) an exemption in the store."""
    kept = [e for e in stored(engine) if e.exemption_id != exemption.exemption_id]
    engine.store.put_state(STATE, [settings_module.exemption_json(e) for e in [*kept, exemption]])


def remove(engine: Engine, exemption_id: str) -> bool:
    """Drop a stored exemption; False when none has that id (settings ones are changed in settings)."""
    before = stored(engine)
    kept = [e for e in before if e.exemption_id != exemption_id]
    if len(kept) == len(before):
        return False
    engine.store.put_state(STATE, [settings_module.exemption_json(e) for e in kept])
    return True


@dataclass(frozen=True)
class InForce:
    """Every exemption, read once for a pass, with the offer names they may need: what the alert
    and report steps ask of them, without reading the store again."""

    exemptions: tuple[model.Exemption, ...]
    offers: Mapping[str, str]  # delegation key -> offer name, only when some exemption names an offer

    def alertable(self, recorded: Iterable[model.RecordedFinding], now: datetime) -> list[model.RecordedFinding]:
        """The findings that may be alerted or reminded now."""
        items = list(recorded)
        if not self.exemptions or not items:
            return items
        return decide.alertable(items, self.exemptions, now, self.offers)

    def returning(self, open_findings: Iterable[model.RecordedFinding], now: datetime) -> list[notices.Notice]:
        """One notice per open finding whose exemption just ran out: it is alerted again, once."""
        if not self.exemptions:
            return []
        back = decide.returning(open_findings, self.exemptions, now, self.offers, RETURN_WINDOW)
        return [notices.Notice(finding=r.finding, kind=notices.NoticeKind.OPENED, since=at) for r, at in back]

    def reminded_from_return(
        self, recorded: Iterable[model.RecordedFinding], now: datetime
    ) -> list[model.RecordedFinding]:
        """`recorded` as reminders count them: a finding back from an exemption is dated from its return."""
        items = list(recorded)
        if not self.exemptions or not items:
            return items
        return decide.reminded_from_return(items, self.exemptions, now, self.offers)

    def accepted(self, recorded: Iterable[model.RecordedFinding], now: datetime) -> dict[str, str]:
        """Finding key -> "accepted: reason, until date" for the report."""
        out = {}
        for r in recorded if self.exemptions else ():
            exemption = decide.active_for(r.finding, self.exemptions, now, self.offers)
            if exemption is not None:
                out[r.finding.key] = decide.accepted_text(exemption)
        return out


def in_force(engine: Engine) -> InForce:
    """The exemptions of the settings and the store, and the offer names if any of them names one."""
    found = tuple(e for e, _ in every(engine))
    offers = (
        {s.key: s.definition_name for s in engine.store.list_delegations()}
        if any(e.definition_name for e in found)
        else {}
    )
    return InForce(found, offers)
