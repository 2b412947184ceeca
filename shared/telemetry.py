"""Structured log records for Azure Monitor: one stable name plus a flat set of dimensions.

Called by the use cases that know an outcome (`shared.usecases.outcomes` for trigger runs,
`shared.usecases.alerts` for findings opened and resolved, `shared.usecases.health` for the
doctor) and read back by the alert rules and the workbook in `infra/` (KQL over the
Application Insights `traces` table). The names in `RECORDS` are a contract: docs/deploy.md
lists them and tools/check_infra.py fails when a rule queries a name that is not here.

The Python worker forwards only a record's message to the Functions host; `extra` never
reaches Application Insights' customDimensions (azure-functions-python-worker issues #1327,
#1681). So the message itself carries the dimensions as JSON, after the record's name:

    PalWatch.TriggerOutcome {"trigger": "watch_delegations", "status": "ok", ...}

and KQL reads them with `parse_json(substring(message, indexof(message, " ") + 1))`. The same
dimensions also go in `extra={"custom_dimensions": ...}` for exporters that do read it
(OpenCensus, an OpenTelemetry log handler added by the operator).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from shared import words

log = logging.getLogger("palwatch.telemetry")

TRIGGER_OUTCOME = "PalWatch.TriggerOutcome"
FINDING_OPENED = "PalWatch.FindingOpened"
FINDING_RESOLVED = "PalWatch.FindingResolved"
NOTICE = "PalWatch.Notice"
COVERAGE = "PalWatch.Coverage"
DOCTOR = "PalWatch.Doctor"
OUTBOX_DEAD_LETTER = "PalWatch.OutboxDeadLetter"

RECORDS: dict[str, str] = {
    TRIGGER_OUTCOME: "every trigger run: trigger, status (ok|partial|failed|skipped), seconds, summary",
    FINDING_OPENED: "a finding opened: key, kind, severity, reason, tenantId, tenantName, scope",
    FINDING_RESOLVED: "a finding resolved: the same dimensions as FindingOpened",
    NOTICE: "something said once, never open (a link put back, a delegation removed): as FindingOpened",
    COVERAGE: "after each verification: delegations, attributed, atRisk, notAttributed, status",
    DOCTOR: "the doctor's result, once a day and whenever it changes: ok, failed, warned, checks",
    OUTBOX_DEAD_LETTER: "alert notices given up on a channel: channel, count",
}

_MAX_VALUE_CHARS = 1000  # a dimension is a label, not a document; a message stays far below 32 KiB


def _clean(value: Any) -> Any:
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value[:50]]
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in list(value.items())[:50]}
    text = str(value)
    return words.cut(text, _MAX_VALUE_CHARS)


def message(name: str, dimensions: Mapping[str, Any]) -> str:
    """The log line: the record name, a space, the dimensions as compact JSON (keys sorted)."""
    return f"{name} {json.dumps(_clean(dict(dimensions)), sort_keys=True, separators=(',', ':'))}"


def emit(name: str, dimensions: Mapping[str, Any], *, level: int = logging.INFO) -> str:
    """Log one structured record; returns the line (tests read it back).

    Raises only for a name missing from RECORDS: a programming error, caught by the unit tests.
    """
    if name not in RECORDS:
        raise ValueError(f"unknown telemetry record {name!r}: add it to shared.telemetry.RECORDS and the docs")
    line = message(name, dimensions)
    flat = {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in _clean(dict(dimensions)).items()}
    custom = {"record": name, **flat}
    log.log(level, "%s", line, extra={"custom_dimensions": custom})
    return line


def parse(line: str) -> tuple[str, dict[str, Any]]:
    """The inverse of `message` (tests, and anyone reading exported logs)."""
    name, _, body = line.partition(" ")
    return name, json.loads(body) if body else {}
