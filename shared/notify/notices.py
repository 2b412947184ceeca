"""Notices: what the ops inbox is told about a finding, with a deterministic id.

A notice is one thing to say once: a finding *opened*, is *still open* (reminder N) or was
*resolved*. Use cases build notices from the store's `RecordedFinding`s (`opened`,
`resolved`, `notices_for`, `due_reminders`) and hand them to the outbox; channels and the
renderer read them back from the outbox payload (`Notice.from_payload`). Everything here is
pure: time comes in as `now`.

The id is what makes delivery exactly-once in effect: the same finding episode (key +
the instant it opened) and the same kind give the same id, whichever event, retry or
concurrent invocation produced it, so the outbox writes it once.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared import catalogue, model, words

# Customer-controlled strings (tenant names, display names) can be arbitrarily long in a
# hostile event; an alert never needs more, and the outbox row stays far below 64 KiB.
MAX_FIELD_CHARS = 4000
MAX_FACTS = 30


class NoticeKind(enum.StrEnum):
    OPENED = "opened"
    REMINDER = "reminder"
    RESOLVED = "resolved"
    DIGEST = "digest"  # the daily summary (shared.notify.digest): a synthetic finding plus `data`

    @property
    def rank(self) -> int:
        """Messages list new findings first, then reminders, then what was resolved, the digest last."""
        return {"opened": 0, "reminder": 1, "resolved": 2, "digest": 3}[self.value]


def _stamp(moment: datetime) -> str:
    return words.utc(moment).strftime("%Y%m%dT%H%M%SZ")


def _cut(value: str) -> str:
    return words.cut(value, MAX_FIELD_CHARS)


@dataclass(frozen=True)
class Notice:
    """One thing to tell about one finding episode."""

    finding: model.Finding
    kind: NoticeKind
    since: datetime  # when the finding opened: the episode, and the "since when" of the message
    sequence: int = 0  # reminders: how many reminder periods have passed since `since`
    resolved_at: datetime | None = None
    exclude_channels: tuple[str, ...] = field(default=())  # e.g. the channel a dead letter failed on
    # JSON-safe content beyond the finding (the digest's summary); None for finding notices.
    data: Mapping[str, Any] | None = field(default=None, compare=False, hash=False, repr=False)

    @property
    def notice_id(self) -> str:
        suffix = f"{self.kind.value}-{self.sequence}" if self.kind is NoticeKind.REMINDER else self.kind.value
        return f"{self.finding.key}|{_stamp(self.since)}|{suffix}"

    @property
    def sort_key(self) -> tuple[int, int, str, str, str]:
        """Most severe first, then opened before reminded before resolved, then by customer."""
        return (
            self.finding.severity.rank,
            self.kind.rank,
            self.finding.tenant_name.casefold(),
            self.finding.title.casefold(),
            self.finding.key,
        )

    def to_payload(self) -> dict[str, Any]:
        """JSON-safe dict the outbox stores; `from_payload` reads it back."""
        payload = {
            "v": 1,
            "kind": self.kind.value,
            "since": words.utc(self.since).isoformat(),
            "sequence": self.sequence,
            "resolvedAt": words.utc(self.resolved_at).isoformat() if self.resolved_at else None,
            "excludeChannels": list(self.exclude_channels),
            "finding": finding_to_dict(self.finding),
        }
        if self.data is not None:
            payload["data"] = dict(self.data)
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Notice:
        raw = payload["finding"]
        finding = model.Finding(
            key=str(raw["key"]),
            kind=model.Kind.of(str(raw.get("kind", ""))),
            severity=model.Severity(raw.get("severity", "warning")),
            subject=str(raw.get("subject", "")),
            title=str(raw.get("title", "")),
            reason=str(raw.get("reason", "")),
            detail=str(raw.get("detail", "")),
            fix=str(raw.get("fix", "")),
            tenant_id=str(raw.get("tenantId", "")),
            tenant_name=str(raw.get("tenantName", "")),
            scope=str(raw.get("scope", "")),
            principal_id=str(raw.get("principalId", "")),
            facts={str(k): str(v) for k, v in dict(raw.get("facts") or {}).items()},
        )
        resolved = payload.get("resolvedAt")
        return cls(
            finding=finding,
            kind=NoticeKind(payload["kind"]),
            since=datetime.fromisoformat(payload["since"]),
            sequence=int(payload.get("sequence", 0)),
            resolved_at=datetime.fromisoformat(resolved) if resolved else None,
            exclude_channels=tuple(payload.get("excludeChannels") or ()),
            data=dict(payload["data"]) if isinstance(payload.get("data"), Mapping) else None,
        )


def finding_to_dict(finding: model.Finding) -> dict[str, Any]:
    """The finding's public fields in camelCase, long strings cut; webhook and Event Grid send this."""
    facts = dict(list(finding.facts.items())[:MAX_FACTS])
    return {
        "key": _cut(finding.key),
        "kind": str(finding.kind),
        "severity": finding.severity.value,
        "subject": _cut(finding.subject),
        "title": _cut(finding.title),
        "reason": _cut(finding.reason),
        "detail": _cut(finding.detail),
        "fix": _cut(finding.fix),
        "tenantId": _cut(finding.tenant_id),
        "tenantName": _cut(finding.tenant_name),
        "scope": _cut(finding.scope),
        "principalId": _cut(finding.principal_id),
        "facts": {_cut(str(k)): _cut(str(v)) for k, v in facts.items()},
    }


SILENCED_CHANNEL = catalogue.SILENCED_CHANNEL  # a finding about a channel is not announced on that channel


def _silenced(finding: model.Finding) -> tuple[str, ...]:
    name = finding.facts.get(SILENCED_CHANNEL, "")
    return (name,) if name else ()


def opened(recorded: model.RecordedFinding) -> Notice:
    return Notice(
        finding=recorded.finding,
        kind=NoticeKind.OPENED,
        since=words.utc(recorded.opened_at),
        exclude_channels=_silenced(recorded.finding),
    )


def resolved(recorded: model.RecordedFinding) -> Notice:
    if recorded.resolved_at is None:
        raise ValueError(f"finding {recorded.finding.key!r} is still open")
    return Notice(
        finding=recorded.finding,
        kind=NoticeKind.RESOLVED,
        since=words.utc(recorded.opened_at),
        resolved_at=words.utc(recorded.resolved_at),
    )


def notices_for(
    opened_findings: Iterable[model.RecordedFinding],
    resolved_findings: Iterable[model.RecordedFinding],
    *,
    resolved_info: bool = False,
) -> list[Notice]:
    """The notices a reconcile pass owes: one per finding that opened, one per finding resolved.

    Informational findings (a delegation removed, a drift repaired) say everything when they
    open; a "resolved" notice for them would be noise unless `resolved_info` asks for it.
    """
    out = [opened(r) for r in opened_findings]
    out += [
        resolved(r)
        for r in resolved_findings
        if r.resolved_at is not None and (resolved_info or r.finding.severity is not model.Severity.INFO)
    ]
    return sorted(out, key=lambda n: n.sort_key)


def due_reminders(
    open_findings: Iterable[model.RecordedFinding],
    now: datetime,
    remind_every: timedelta,
    *,
    severities: tuple[model.Severity, ...] = (model.Severity.CRITICAL,),
) -> list[Notice]:
    """Reminders due at `now` for open findings of the given severities (critical by default).

    Reminder N is due once N whole periods have passed since the finding opened, so the id is
    a function of (finding episode, N) alone: runs at any instants inside one period agree on
    it and the outbox keeps one. After an outage only the latest period's reminder is due,
    never a burst of the missed ones. A period of zero or less turns reminders off.
    """
    if remind_every <= timedelta(0):
        return []
    now = words.utc(now)
    due = []
    for recorded in open_findings:
        if not recorded.open or recorded.finding.severity not in severities:
            continue
        since = words.utc(recorded.opened_at)
        periods = (now - since) // remind_every
        if periods >= 1:
            due.append(
                Notice(
                    finding=recorded.finding,
                    kind=NoticeKind.REMINDER,
                    since=since,
                    sequence=periods,
                    exclude_channels=_silenced(recorded.finding),
                )
            )
    return sorted(due, key=lambda n: n.sort_key)
