"""Alerts: what a pass opened or resolved goes to the outbox, and the outbox goes to the channels.

Event handlers only enqueue (one Event Grid batch runs as many invocations; sending there
would split it into many messages); the watch and verify timers enqueue reminders and
dispatch. The outbox lives beside the store in Table Storage, so nothing is lost when a
channel is down.
"""

from __future__ import annotations

import logging
from datetime import datetime

from shared import model
from shared.notify import dispatch, factory, notices
from shared.store import outbox as outbox_module
from shared.usecases.engine import Engine

log = logging.getLogger(__name__)


def dispatcher(engine: Engine) -> dispatch.Dispatcher:
    """The dispatcher for the configured channels (cached on the engine)."""

    def build() -> dispatch.Dispatcher:
        storage = engine.settings.storage
        if storage.connection_string:
            service: object = storage.connection_string
        else:
            from azure.data.tables import TableServiceClient

            service = TableServiceClient(storage.endpoint, credential=engine.credentials.managed_identity())
        channels = factory.channels_from_env(
            engine.environ,
            graph_mail=engine.graph(),
            eventgrid_credential=engine.credentials.managed_identity(),
            timeout=engine.settings.http_timeout_seconds,
        )
        return dispatch.Dispatcher(
            outbox_module.Outbox(service, prefix=storage.table_prefix),  # type: ignore[arg-type]
            channels,
            remind_every=factory.remind_every_from_env(engine.environ),
        )

    return engine._cached(("dispatcher",), build)


def enqueue(
    engine: Engine, opened: list[model.RecordedFinding], resolved: list[model.RecordedFinding], now: datetime
) -> int:
    """Write the notices a pass owes to the outbox (idempotent: the same notice is written once)."""
    batch = notices.notices_for(opened, resolved)
    if not batch:
        return 0
    return dispatcher(engine).enqueue(batch, now)


def deliver(engine: Engine, now: datetime) -> dispatch.DispatchReport:
    """Enqueue due reminders, then send everything pending, one message per channel."""
    sender = dispatcher(engine)
    sender.remind(engine.store.open_findings(), now)
    report = sender.dispatch(now)
    log.info("alerts: %s", report)
    return report
