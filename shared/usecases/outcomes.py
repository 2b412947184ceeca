"""Trigger outcomes as structured log records (`PalWatch.TriggerOutcome`, `PalWatch.Coverage`).

Called by every trigger in function_app.py: `with outcomes.trigger_run("name") as run:` around
the one engine call, then `run.done(outcome)`. A run that raises is recorded as `failed` (and
re-raised, so the host still reports the failure and Event Grid still redelivers). The alert
rules and the workbook in infra/ query these records by name (see shared.telemetry).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from shared import telemetry

_SUMMARY_CHARS = 500


def status_of(outcome: Any) -> str:
    """ok | partial | skipped | failed, from whatever value a use case returned."""
    if isinstance(outcome, int) and not isinstance(outcome, bool):  # an HTTP status
        return "ok" if outcome < 500 else "failed"
    status = getattr(outcome, "status", None)
    if isinstance(status, str) and status:
        return status
    if isinstance(status, int):  # an HTTP answer
        return "ok" if status < 500 else "failed"
    failed = getattr(outcome, "failed", None)
    if isinstance(failed, list | tuple):
        return "partial" if failed else "ok"
    return "ok"


@dataclass
class TriggerRun:
    trigger: str
    outcome: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def done(self, outcome: Any, **dimensions: Any) -> None:
        """The use case's result; `dimensions` add to the record (e.g. the HTTP status)."""
        self.outcome = outcome
        self.extra.update(dimensions)


@contextmanager
def trigger_run(trigger: str) -> Iterator[TriggerRun]:
    """Record one trigger invocation, whatever its end."""
    run = TriggerRun(trigger)
    started = time.monotonic()
    try:
        yield run
    except Exception as e:
        telemetry.emit(
            telemetry.TRIGGER_OUTCOME,
            {
                "trigger": trigger,
                "status": "failed",
                "seconds": round(time.monotonic() - started, 3),
                "error": type(e).__name__,
                "summary": str(e)[:_SUMMARY_CHARS],
            },
            level=logging.ERROR,
        )
        raise
    status = status_of(run.outcome)
    telemetry.emit(
        telemetry.TRIGGER_OUTCOME,
        {
            "trigger": trigger,
            "status": status,
            "seconds": round(time.monotonic() - started, 3),
            "summary": str(run.outcome)[:_SUMMARY_CHARS],
            **run.extra,
        },
        level=logging.WARNING if status in ("partial", "failed") else logging.INFO,
    )


def record_coverage(outcome: Any) -> None:
    """Coverage totals after a verification (`PalWatch.Coverage`); a skipped run has none."""
    if status_of(outcome) == "skipped":
        return
    telemetry.emit(
        telemetry.COVERAGE,
        {
            "status": status_of(outcome),
            "delegations": getattr(outcome, "delegations", 0),
            "attributed": getattr(outcome, "attributed", 0),
            "atRisk": getattr(outcome, "at_risk", 0),
            "notAttributed": getattr(outcome, "not_attributed", 0),
            "subscriptions": getattr(outcome, "subscriptions", 0),
            "tenants": getattr(outcome, "tenants", 0),
        },
    )
