"""Shared helpers for the verification tests (test_verify_*, test_cli_*, test_coverage_http*):
the demo scenario by name, the emulator's links, findings in the store, one verify through the
timer entry point."""

from __future__ import annotations

from typing import Any

from tests.support import demo

# The demo's actors (tests.support.demo), under the names the verification tests use.
SCENARIO = demo.SCENARIO
MANAGING, PARTNER, OTHER_PARTNER = demo.MANAGING, demo.PARTNER, demo.OTHER_PARTNER
CONTRIBUTOR, READER = demo.CONTRIBUTOR, demo.READER
PRINCIPALS = {a.name: a.raw for a in demo.ACTORS.values()}
MI, OPS, AUTOMATION = demo.MI.object_id, demo.OPS.object_id, demo.AUTOMATION.object_id
PORTAL = demo.PORTAL.raw


def tenant(name: str) -> dict[str, Any]:
    return next(t for t in SCENARIO["tenants"] if t["displayName"].startswith(name))


def delegation(part: str) -> dict[str, Any]:
    return next(d for d in SCENARIO["delegations"] if f"({part})" in d.get("description", ""))


def verify_now() -> None:
    """One verification exactly as the Functions host runs the timer."""
    from azure.functions.timer import TimerRequest

    import function_app

    function_app.verify_attribution(TimerRequest(past_due=False))


def delegation_key(body: dict[str, Any]) -> str:
    return (
        f"{body['scope']}/providers/Microsoft.ManagedServices/registrationAssignments/{body['registrationAssignmentId']}"
    ).lower()
