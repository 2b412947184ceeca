"""Shared helpers for the verification tests (test_verify_*, test_cli_*, test_coverage_http*):
the demo scenario by name, the emulator's links, findings in the store, one verify through the
timer entry point."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import DEMO_SCENARIO

SCENARIO = json.loads(DEMO_SCENARIO.read_text())
HOME = next(t for t in SCENARIO["tenants"] if t.get("home"))
MANAGING = HOME["tenantId"]
PARTNER = next(iter(SCENARIO["partnerIds"]))
OTHER_PARTNER = "4000001"
PRINCIPALS = {p["displayName"]: p for p in HOME["principals"]}
MI = PRINCIPALS["id-palwatch-contoso"]["objectId"]
OPS = PRINCIPALS["contoso-ops"]["objectId"]
AUTOMATION = PRINCIPALS["contoso-automation"]["objectId"]
PORTAL = PRINCIPALS["Contoso Managed Services Portal"]
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


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
