"""Outcomes: the values a handler or timer run ends in, and their structured log records.

Every handler and every step of a timer returns an `Outcome` (status first, then what it did,
its counts and problems); a timer made of steps runs each through `Steps.run`, so one failing
step is recorded and the others still run. Used by every use case a trigger calls (delegations,
identities, watch, verify, costs, digest).

Every trigger in function_app.py records its run: `with outcomes.trigger_run("name") as run:`
around the one engine call, then `run.done(outcome)` (`PalWatch.TriggerOutcome`,
`PalWatch.Coverage`). A run that raises is recorded as `failed` (and re-raised, so the host
still reports the failure and Event Grid still redelivers). The alert rules and the workbook in
infra/ query these records by name (see shared.telemetry).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from shared import model, telemetry
from shared.azure import errors
from shared.store import errors as store_errors

log = logging.getLogger(__name__)
T = TypeVar("T")

_SUMMARY_CHARS = 500


@dataclass
class RunReport:
    """What one pass did: the outcome value a trigger logs and the store keeps in findings."""

    delegations: dict[str, str] = field(default_factory=dict)  # key -> "attributed" | reason code
    links_written: list[str] = field(default_factory=list)  # "created|repointed identity in tenant"
    opened: list[model.RecordedFinding] = field(default_factory=list)
    resolved: list[model.RecordedFinding] = field(default_factory=list)
    said: list[model.RecordedFinding] = field(default_factory=list)  # notices kept by this pass
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        attributed = sum(1 for v in self.delegations.values() if v == "attributed")
        return (
            f"{len(self.delegations)} delegation(s), {attributed} attributed, {len(self.links_written)} link write(s), "
            f"{len(self.opened)} finding(s) opened, {len(self.resolved)} resolved"
            + (f", {len(self.said)} notice(s)" if self.said else "")
            + (f", {len(self.problems)} problem(s)" if self.problems else "")
        )

    def merge(self, other: RunReport) -> None:
        self.delegations.update(other.delegations)
        self.links_written += other.links_written
        self.opened += other.opened
        self.resolved += other.resolved
        self.said += other.said
        self.problems += other.problems


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
    if not isinstance(outcome, Outcome) or outcome.status == "skipped":
        return
    names = ("delegations", "attributed", "atRisk", "notAttributed", "subscriptions", "tenants")
    telemetry.emit(telemetry.COVERAGE, {"status": outcome.status, **{n: outcome.counts.get(n, 0) for n in names}})


# -- outcome values ---------------------------------------------------------------------------

# What a step may fail with and the run still go on: Azure and the store said no, an alert
# channel or a setting was wrong, a socket broke. Anything else is a bug and raises.
STEP_ERRORS: tuple[type[Exception], ...] = (
    errors.AzureError,
    store_errors.StoreError,  # the outbox's errors included
    ValueError,
    OSError,
)


@dataclass(frozen=True)
class Outcome:
    """What one handler or timer step led to; `status` first in the log line, then `detail`.

    status: ok | partial | reconciled | no_impact | renewed | skipped | ignored | rejected | failed |
    blocked | off, or a step's own word (the digest: early | exists | enqueued).
    `counts` are the numbers telemetry and `--json` report (camelCase keys), `facts` the rest of
    what `to_json` says (lists and maps), `problems` what could not be read or done.
    """

    status: str
    detail: str = ""
    report: RunReport | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    facts: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status}: {self.detail}" if self.detail else self.status

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, **self.counts, **self.facts, "problems": list(self.problems)}


@dataclass(frozen=True)
class Answer:
    """What an HTTP trigger answers: the response, and `verdict` for its outcome record when the
    status alone does not say it (a red doctor is an answer, not a failure)."""

    status: int
    content_type: str
    body: str
    headers: dict[str, str]
    verdict: str = ""


@dataclass
class Steps:
    """The named steps of one timer run: each one's result in a line, and the ones that failed."""

    steps: dict[str, str] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)  # step names, in order
    errors: dict[str, str] = field(default_factory=dict)  # step name -> why it failed

    def run(self, name: str, action: Callable[[], T]) -> T | None:
        """Run one step; a failure it may have is recorded (and logged), not raised."""
        try:
            result = action()
        except STEP_ERRORS as e:
            self.steps[name] = f"failed: {e}"
            self.failed.append(name)
            self.errors[name] = str(e)
            log.warning("step %s failed: %s", name, e)
            return None
        self.steps[name] = str(result)[:500]
        return result

    def all_failed(self) -> bool:
        return bool(self.failed) and len(self.failed) == len(self.steps)

    def __str__(self) -> str:
        return "; ".join(f"{name}: {text}" for name, text in self.steps.items())
