"""The watch timer (every few minutes): new and removed delegations from the activity log, then alerts.

Called by function_app.watch_delegations. Each step's failure is recorded and the others
still run; only a failure of every step raises (so the host logs the run as failed).
"""

from __future__ import annotations

import logging
from datetime import datetime

from shared import catalogue
from shared.usecases import alerts, delegations, digest, identities, outcomes, recorder, tenant_links
from shared.usecases.engine import Engine

log = logging.getLogger(__name__)


def run_watch(engine: Engine, now: datetime, *, past_due: bool = False) -> outcomes.Steps:
    """One watch tick. `past_due` only changes the log line: the cursor makes a late run catch up."""
    run = outcomes.Steps()
    if past_due:
        log.info("watch run is past due; the activity-log cursor catches up")
    run.run("activity-log", lambda: _watch_log(engine, now))
    run.run("identities", lambda: identities.poll_identities(engine, now, full=False))
    run.run("graph-subscriptions", lambda: identities.ensure_graph_subscriptions(engine, now))
    run.run("links", lambda: tenant_links.watch_links(engine, now))
    run.run("exemptions", lambda: _exemption_setting(engine, now))
    if engine.settings.alerts.digest:  # only when on: an idle step would hide "every step failed"
        run.run("digest", lambda: digest.enqueue_digest(engine, now))
    run.run("alerts", lambda: alerts.deliver(engine, now))
    if run.all_failed():
        raise RuntimeError(f"every watch step failed: {run}")
    return run


def _watch_log(engine: Engine, now: datetime) -> outcomes.Outcome:
    outcome = delegations.watch_delegations(engine, now)
    if outcome.report:
        report = outcome.report
        alerts.enqueue(engine, report.opened, report.resolved, now, said=report.said)
    return outcome


def _exemption_setting(engine: Engine, now: datetime) -> outcomes.Outcome:
    """PAL_EXEMPTIONS entries that do not parse: one configuration finding, resolved once they are fixed."""
    problems = tuple(getattr(engine.settings.exemptions, "problems", ()))
    record = recorder.Recorder(engine.store, now)
    record.subject(catalogue.EXEMPTIONS_SUBJECT, [catalogue.exemptions_malformed(problems)] if problems else [])
    alerts.enqueue(engine, record.report.opened, record.report.resolved, now)
    if problems:
        return outcomes.Outcome("partial", f"{len(problems)} PAL_EXEMPTIONS entr(ies) ignored", problems=problems)
    return outcomes.Outcome("ok", f"{len(engine.settings.exemptions)} exemption(s) in settings")
