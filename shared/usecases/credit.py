"""The daily credit snapshot: what Microsoft credited per scope and day, checked against PAL Watch's verdicts.

Called by the `credit_snapshot` timer (function_app.py; off unless PAL_BILLING=true) and by tests.
It asks Microsoft Graph's partner billing API for the current period's unbilled usage
(`shared.azure.billing`: one export, a few polls, one GET per blob), reduces the lines as they
stream in (`shared.decisions.billing`: memory flat in the number of lines), judges complete days
against the stored delegations and the links' ages (`shared.decisions.credit_observed`), keeps
per scope and day what Microsoft billed and credited and the subscriptions the export names
(`Store.billing`), and makes the `credit_*` findings exactly those that hold, alerting on change.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from shared import catalogue, model
from shared.azure import billing as billing_adapter
from shared.azure import errors
from shared.decisions import billing, credit_observed
from shared.usecases import alerts, leases, outcomes, recorder
from shared.usecases.engine import Engine

log = logging.getLogger(__name__)

LEASE = "credit-snapshot"
LEASE_TTL = timedelta(minutes=15)
NO_DATA = "5000"  # the failed operation's code when the period has no usage (operation-get example)
JUDGED_DAYS = 2  # the complete days the findings name are within the last few of the current period
CREDIT_KINDS = (model.Kind.CREDIT_MISSING, model.Kind.CREDIT_UNEXPLAINED)


def run_credit_snapshot(
    engine: Engine, now: datetime, *, sleep: Callable[[float], None] = time.sleep, force: bool = False
) -> outcomes.Outcome:
    """Export, reduce and judge the partner's unbilled usage; `sleep` waits out Retry-After (a fake in tests)."""
    if not engine.settings.billing.enabled and not force:
        return outcomes.Outcome("off", "PAL_BILLING is not true")
    held = leases.HeldLease.acquire(engine.store, LEASE, now, ttl=LEASE_TTL)
    if held is None:
        holder = leases.describe_holder(engine.store, LEASE, now)
        return outcomes.Outcome("skipped", f"another credit snapshot is running: {holder}")
    with held:
        return _run(engine, now, sleep)


def _read(engine: Engine, now: datetime, sleep: Callable[[float], None]) -> tuple[billing.Usage | None, str, int]:
    """The export reduced, or None and why; and how many blobs were read."""
    client = billing_adapter.BillingClient.from_settings(
        engine.settings, engine.credentials.managed_identity(), sleep=sleep
    )
    try:
        return _reduce(client, engine.settings.billing.currency, periods(now))
    finally:
        client.close()


def periods(now: datetime) -> tuple[str, ...]:
    """The billing periods whose complete days matter: the current one, and the last while its days still do."""
    last_day = billing.last_complete_day(now - timedelta(days=JUDGED_DAYS))
    return ("current", "last") if last_day[:7] != now.strftime("%Y-%m") else ("current",)


def _reduce(
    client: billing_adapter.BillingClient, currency: str, wanted: tuple[str, ...]
) -> tuple[billing.Usage | None, str, int]:
    reducer = billing.Reducer()
    blobs = 0
    for period in wanted:
        try:
            manifest = client.export_unbilled(currency, period)
            blobs += len(manifest.blobs)
            for line in client.list_usage(manifest):
                reducer.add(line)
        except billing_adapter.ExportFailedError as e:
            if e.code == NO_DATA:
                continue  # nothing billed in that period yet: nothing to judge
            return None, f"the billing export failed: {e.code} {e.message}", blobs
        except errors.ForbiddenError:
            return None, "the app may not read partner billing (grant PartnerBilling.Read.All; see docs/deploy.md)", 0
        except errors.AzureError as e:
            return None, f"the billing export could not be read: {e}", blobs
    reducer.usage.skipped += client.skipped_lines
    return reducer.usage, "", blobs


def linked_since(engine: Engine) -> dict[str, datetime | None]:
    """Object id -> createdTime of the PAL link of each identity PAL Watch acts as (one GET each)."""
    found: dict[str, datetime | None] = {}
    partner_ids = {engine.settings.partner_id}
    for identity in engine.settings.identities:
        try:
            oid = engine.whoami(identity).object_id.lower()
            link = engine.pal_for(identity).get_link()
        except errors.AzureError as e:
            log.info("credit snapshot: the link of %s could not be read: %s", identity.name, e)
            continue
        if link is not None and link.active and link.partner_id in partner_ids:
            found[oid] = link.created_time
    return found


def _run(engine: Engine, now: datetime, sleep: Callable[[float], None]) -> outcomes.Outcome:
    usage, problem, blobs = _read(engine, now, sleep)
    if usage is None:
        log.warning("credit snapshot: %s", problem)
        return outcomes.Outcome("failed", problem, problems=(problem,))
    store = engine.store
    judgement = credit_observed.judge(
        usage,
        store.list_delegations(include_removed=False),
        linked_since(engine),
        now,
        engine.settings.costs.pec_rate,
        engine.settings.managing_tenant_id,
    )
    store.billing.put_observed(judgement.observed, now)
    store.billing.put_subscriptions(usage.customers, now)
    subjects = judgement.subjects | {r.finding.subject for r in store.open_findings() if r.finding.kind in CREDIT_KINDS}
    record = recorder.Recorder(store, now)
    record.estate(judgement.findings, subjects)
    alerts.enqueue(engine, record.report.opened, record.report.resolved, now)
    counts = {
        "lines": usage.lines,
        "skippedLines": usage.skipped,
        "blobs": blobs,
        "scopeDays": len(judgement.observed),
        "subscriptions": len(usage.customers),
        "creditMissing": sum(1 for f in judgement.findings if f.kind == catalogue.Kind.CREDIT_MISSING),
        "creditUnexplained": sum(1 for f in judgement.findings if f.kind == catalogue.Kind.CREDIT_UNEXPLAINED),
    }
    detail = (
        f"{usage.lines} usage line(s) in {blobs} blob(s), {len(usage.customers)} subscription(s), "
        f"{len(judgement.observed)} scope-day(s) kept, {record.report.summary()}"
    )
    log.info("credit snapshot %s", detail)
    return outcomes.Outcome("ok", detail, report=record.report, counts=counts)
