"""The Functions host as the tests play it: events decoded as the worker decodes them and handed to
the triggers in function_app, timers run, HTTP routes called.

Tests that change the world through the emulator's control API (tests.support.world) take the
events it publishes and deliver them here, so that every path runs through the real entry points.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tests.support import remembered, world


def decode_event(event: dict[str, Any]) -> Any:
    """An Event Grid event (either schema) exactly as the Functions worker hands it to a trigger."""
    from azure.functions import meta
    from azure.functions.eventgrid import EventGridEventInConverter

    return EventGridEventInConverter.decode(meta.Datum(json.dumps(event), "json"), trigger_metadata={})


def delegation_events(events: list[dict[str, Any]]) -> None:
    """Deliver Azure's delegation events to `function_app.delegation_events`, in order."""
    import function_app

    for event in events:
        function_app.delegation_events(decode_event(event))


def identity_events(events: list[dict[str, Any]]) -> None:
    """Deliver Graph's change notifications to `function_app.identity_events`, in order."""
    import function_app

    assert events, "the emulator published no notification (no Graph subscription?)"
    for event in events:
        function_app.identity_events(decode_event(event))


def onboard(emulator: Any, body: dict[str, Any]) -> str:
    """Delegate through the control API and deliver its events; returns the delegation key."""
    from shared.usecases import engine

    delegation_events(world.onboard(emulator, body))
    return remembered.snapshot_of(engine.get_engine(), body["registrationAssignmentId"]).key


def subscribe(engine: Any) -> None:
    """PAL Watch's Graph subscriptions, made now (the watch timer keeps them)."""
    from shared.usecases import identities

    outcome = identities.ensure_graph_subscriptions(engine, datetime.now(UTC))
    assert outcome.status == "ok", outcome


def watch_now() -> None:
    """One watch tick exactly as the Functions host runs the timer."""
    from azure.functions.timer import TimerRequest

    import function_app

    function_app.watch_delegations(TimerRequest(past_due=False))


def verify_now() -> None:
    """One verification exactly as the Functions host runs the timer."""
    from azure.functions.timer import TimerRequest

    import function_app

    function_app.verify_attribution(TimerRequest(past_due=False))


def coverage(params: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> Any:
    """GET /api/coverage through `function_app.coverage`, as the host hands it an HTTP request."""
    import azure.functions as func

    import function_app

    request = func.HttpRequest("GET", "/api/coverage", params=params or {}, headers=headers or {}, body=b"")
    return function_app.coverage(request)
