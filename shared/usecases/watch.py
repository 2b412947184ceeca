"""The watch timer (every few minutes): new and removed delegations from the activity log, then alerts.

Called by function_app.watch_delegations. Each step's failure is recorded and the others
still run; only a failure of every step raises (so the host logs the run as failed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from shared.azure import errors
from shared.store import errors as store_errors
from shared.store import outbox
from shared.usecases import alerts, delegations, digest, identities, verify
from shared.usecases.engine import Engine

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class WatchRun:
    steps: dict[str, str] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(f"{name}: {text}" for name, text in self.steps.items())


def run_watch(engine: Engine, now: datetime, *, past_due: bool = False) -> WatchRun:
    """One watch tick. `past_due` only changes the log line: the cursor makes a late run catch up."""
    run = WatchRun()
    if past_due:
        log.info("watch run is past due; the activity-log cursor catches up")
    _step(run, "activity-log", lambda: _watch_log(engine, now))
    _step(run, "identities", lambda: identities.poll_identities(engine, now, full=False))
    _step(run, "graph-subscriptions", lambda: identities.ensure_graph_subscriptions(engine, now))
    _step(run, "links", lambda: verify.watch_links(engine, now))
    if engine.settings.alerts.digest:  # only when on: an idle step would hide "every step failed"
        _step(run, "digest", lambda: digest.enqueue_digest(engine, now))
    _step(run, "alerts", lambda: alerts.deliver(engine, now))
    if run.failed and len(run.failed) == len(run.steps):
        raise RuntimeError(f"every watch step failed: {run}")
    return run


def _watch_log(engine: Engine, now: datetime) -> delegations.WatchOutcome:
    outcome = delegations.watch_delegations(engine, now)
    alerts.enqueue(engine, outcome.report.opened, outcome.report.resolved, now)
    return outcome


def _step(run: WatchRun, name: str, action: Callable[[], T]) -> T | None:
    try:
        result = action()
    except (errors.AzureError, store_errors.StoreError, outbox.OutboxError, ValueError) as e:
        run.steps[name] = f"failed: {e}"
        run.failed.append(name)
        log.warning("watch step %s failed: %s", name, e)
        return None
    run.steps[name] = str(result)
    return result
