"""Azure Functions triggers for PAL Watch: each turns its payload into one engine call.

No business logic lives here (see shared/usecases); each trigger logs a one-line outcome.
Event Grid triggers raise only for transient failures, so that Event Grid redelivers the
batch; anything permanent is recorded by the engine and the invocation returns normally.
Heavy modules load on the first invocation, not at import (cold start on Consumption plans).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
log = logging.getLogger("palwatch.triggers")


def _now() -> datetime:
    return datetime.now(UTC)


@app.function_name("delegation_events")
@app.event_grid_trigger(arg_name="event")
def delegation_events(event: func.EventGridEvent) -> None:
    """ARM events from a customer subscription's system topic (either schema)."""
    from shared.usecases import delegations, engine

    outcome = delegations.handle_delegation_event(engine.get_engine("event"), event, _now())
    log.info("delegation_events %s", outcome)


@app.function_name("watch_delegations")
@app.timer_trigger(arg_name="timer", schedule="%PAL_WATCH_SCHEDULE%", run_on_startup=False, use_monitor=True)
def watch_delegations(timer: func.TimerRequest) -> None:
    """Every few minutes: the tenant activity log, then pending alerts."""
    from shared.usecases import engine, watch

    outcome = watch.run_watch(engine.get_engine(), _now(), past_due=timer.past_due)
    log.info("watch_delegations %s", outcome)


@app.function_name("identity_events")
@app.event_grid_trigger(arg_name="event")
def identity_events(event: func.EventGridEvent) -> None:
    """Microsoft Graph change notifications (users, groups) through the Graph partner topic."""
    from shared.usecases import engine, identities

    outcome = identities.handle_identity_event(engine.get_engine("event"), event, _now())
    log.info("identity_events %s", outcome)


@app.function_name("verify_attribution")
@app.timer_trigger(arg_name="timer", schedule="%PAL_VERIFY_SCHEDULE%", run_on_startup=False, use_monitor=True)
def verify_attribution(timer: func.TimerRequest) -> None:
    """Every few hours: the whole estate re-checked, drift repaired, coverage stored."""
    from shared.usecases import engine, verify

    outcome = verify.run_verify(engine.get_engine(), _now(), past_due=timer.past_due)
    log.info("verify_attribution %s", outcome)


@app.function_name("coverage")
@app.route(route="coverage", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def coverage(req: func.HttpRequest) -> func.HttpResponse:
    """The latest coverage snapshot: JSON by default, the HTML page with ?format=html (or Accept: text/html)."""
    from shared.usecases import engine, verify

    answer = verify.coverage_page(engine.get_engine(), req.params.get("format", ""), req.headers.get("accept", ""))
    log.info("coverage %s %s", answer.status, answer.content_type)
    return func.HttpResponse(
        answer.body, status_code=answer.status, mimetype=answer.content_type, headers=answer.headers
    )
