"""The emulated world as a test changes and reads it: delegations made and ended, PAL links, the
PAL writes in the emulator's journal."""

from __future__ import annotations

from typing import Any

from tests.support import demo

PAL_WRITES = ("PUT", "PATCH", "DELETE")


def onboard(emulator: Any, body: dict[str, Any]) -> list[dict[str, Any]]:
    """A customer delegates (the control API); the Event Grid events Azure would publish for it."""
    return emulator.control("PUT", f"/delegations/{body['registrationAssignmentId']}", body)["events"]


def offboard(emulator: Any, assignment_id: str) -> list[dict[str, Any]]:
    """A customer ends a delegation; the events Azure would publish for it."""
    return emulator.control("DELETE", f"/delegations/{assignment_id}")["events"]


def links(emulator: Any, tenant_id: str = demo.MANAGING) -> dict[str, str]:
    """objectId -> partnerId of the active links in `tenant_id`, as the emulator holds them."""
    return {
        link["objectId"]: link["partnerId"]
        for link in emulator.control("GET", "/links")["links"]
        if link["tenantId"] == tenant_id and link.get("state", "Active") == "Active"
    }


def pal_writes(emulator: Any) -> list[dict[str, Any]]:
    """Every request in the journal that could write a PAL link (never harmful: tests count them)."""
    return [
        r
        for r in emulator.journal()
        if r["method"] in PAL_WRITES and "/providers/microsoft.managementpartner/partners" in r["path"].lower()
    ]
