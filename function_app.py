"""Azure Functions triggers for PAL Watch: each turns its payload into one engine call.

No business logic lives here (see shared/usecases); each trigger's outcome becomes one
structured log record (`PalWatch.TriggerOutcome`, shared/usecases/outcomes.py) that the alert
rules and the workbook in infra/ read. Event Grid triggers raise only for transient failures,
so that Event Grid redelivers the batch; anything permanent is recorded by the engine and the
invocation returns normally. Heavy modules load on the first invocation, not at import (cold
start on Consumption plans).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import azure.functions as func

# The Functions host files every line the Python worker sends under the invocation's category,
# `Function.<name>.User`: the worker's RpcLog carries the Python logger name, and the host's
# GrpcWorkerChannel.Log ignores it. host.json's `logging.logLevel` can therefore not tell `shared`
# from `azure`, so the levels by Python logger are set here, whatever level the worker gave root.
logging.getLogger("shared").setLevel(logging.INFO)  # INFO once per action
logging.getLogger("palwatch").setLevel(logging.INFO)  # the records the alert rules read
logging.getLogger("azure").setLevel(logging.WARNING)  # azure-core logs every request at INFO
logging.getLogger("urllib3").setLevel(logging.WARNING)

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


def _now() -> datetime:
    return datetime.now(UTC)


@app.function_name("delegation_events")
@app.event_grid_trigger(arg_name="event")
def delegation_events(event: func.EventGridEvent) -> None:
    """ARM events from a customer subscription's system topic (either schema)."""
    from shared.usecases import delegations, engine, outcomes

    with outcomes.trigger_run("delegation_events") as run:
        run.done(delegations.handle_delegation_event(engine.get_engine("event"), event, _now()))


@app.function_name("watch_delegations")
@app.timer_trigger(arg_name="timer", schedule="%PAL_WATCH_SCHEDULE%", run_on_startup=False, use_monitor=True)
def watch_delegations(timer: func.TimerRequest) -> None:
    """Every few minutes: the tenant activity log, then pending alerts; then the doctor when due."""
    from shared.usecases import engine, health, outcomes, watch

    try:
        with outcomes.trigger_run("watch_delegations") as run:
            run.done(watch.run_watch(engine.get_engine(), _now(), past_due=timer.past_due))
    finally:  # a watch whose every step failed is exactly when the doctor's record matters
        health.watch_health(engine.get_engine, _now())


@app.function_name("identity_events")
@app.event_grid_trigger(arg_name="event")
def identity_events(event: func.EventGridEvent) -> None:
    """Microsoft Graph change notifications (users, groups) through the Graph partner topic."""
    from shared.usecases import engine, identities, outcomes

    with outcomes.trigger_run("identity_events") as run:
        run.done(identities.handle_identity_event(engine.get_engine("event"), event, _now()))


@app.function_name("verify_attribution")
@app.timer_trigger(arg_name="timer", schedule="%PAL_VERIFY_SCHEDULE%", run_on_startup=False, use_monitor=True)
def verify_attribution(timer: func.TimerRequest) -> None:
    """Every few hours: the whole estate re-checked, drift repaired, coverage stored."""
    from shared.usecases import engine, outcomes, verify

    with outcomes.trigger_run("verify_attribution") as run:
        run.done(verify.run_verify(engine.get_engine(), _now(), past_due=timer.past_due))
    outcomes.record_coverage(run.outcome)


@app.function_name("cost_snapshot")
@app.timer_trigger(arg_name="timer", schedule="%PAL_COST_SCHEDULE%", run_on_startup=False, use_monitor=True)
def cost_snapshot(timer: func.TimerRequest) -> None:
    """Daily (off unless PAL_COST=true): last month's cost of each delegated scope, into the cache alerts read."""
    from shared.usecases import costs, engine, outcomes

    with outcomes.trigger_run("cost_snapshot") as run:
        run.done(costs.run_cost_snapshot(engine.get_engine(), _now()))


@app.function_name("credit_snapshot")
@app.timer_trigger(arg_name="timer", schedule="%PAL_CREDIT_SNAPSHOT_SCHEDULE%", run_on_startup=False, use_monitor=True)
def credit_snapshot(timer: func.TimerRequest) -> None:
    """Daily (off unless PAL_BILLING=true): Microsoft's billing export, checked against who is linked."""
    from shared.usecases import credit, engine, outcomes

    with outcomes.trigger_run("credit_snapshot") as run:
        run.done(credit.run_credit_snapshot(engine.get_engine(), _now()))


@app.function_name("coverage")
@app.route(route="coverage", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def coverage(req: func.HttpRequest) -> func.HttpResponse:
    """The latest coverage snapshot: JSON by default, the HTML page with ?format=html (or Accept: text/html)."""
    from shared.usecases import coverage_view, engine, outcomes

    with outcomes.trigger_run("coverage") as run:
        answer = coverage_view.coverage_page(
            engine.get_engine(),
            req.params.get("format", ""),
            req.headers.get("accept", ""),
            customer=req.params.get("customer", ""),
        )
        run.done(answer.status, httpStatus=answer.status, contentType=answer.content_type)
    return func.HttpResponse(
        answer.body, status_code=answer.status, mimetype=answer.content_type, headers=answer.headers
    )


@app.function_name("health")
@app.route(route="health", methods=["GET", "POST"], auth_level=func.AuthLevel.FUNCTION)
def health(req: func.HttpRequest) -> func.HttpResponse:
    """The doctor's checks as the app's own identity: JSON (200 green, 503 red), or its table with ?format=text.

    POST also delivers one test notice on every alert channel (the doctor's --send-test-alert).
    """
    from shared.usecases import health, outcomes

    with outcomes.trigger_run("health") as run:
        answer = health.health_answer(req.params.get("format", ""), send_test_alert=req.method.upper() == "POST")
        run.done(answer.verdict, httpStatus=answer.status)
    return func.HttpResponse(
        answer.body, status_code=answer.status, mimetype=answer.content_type, headers=answer.headers
    )
