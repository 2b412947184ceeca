"""The emulated world as a test changes and reads it through the emulator's control API: delegations
made and ended, identities changed as an admin would, PAL links, the PAL writes in the journal.

Changes return the events Azure would publish for them; tests.support.triggers delivers them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from tests.support import demo

PAL_WRITES = ("PUT", "PATCH", "DELETE")
COST_QUERY = "/providers/microsoft.costmanagement/query"


# Who holds a role in a delegation: an actor and a role definition id, or (principal id, display name, role).
Holder = tuple[demo.Actor, str] | tuple[str, str, str]


def _authorization(holder: Holder) -> dict[str, str]:
    if isinstance(holder[0], demo.Actor):
        actor, role = holder
        return {"principalId": actor.object_id, "principalIdDisplayName": actor.name, "roleDefinitionId": role}
    principal_id, name, role = holder
    return {"principalId": principal_id, "principalIdDisplayName": name, "roleDefinitionId": role}


def new_delegation(
    customer: demo.Tenant, *holders: Holder, eligible: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A new delegation body for `customer`'s first subscription: the MI as Reader (so PAL Watch can
    see it) plus `holders`."""
    return {
        "registrationAssignmentId": str(uuid.uuid4()),
        "scope": customer.scope,
        "registrationDefinitionId": str(uuid.uuid4()),
        "registrationDefinitionName": "Contoso Managed Azure (test)",
        "managedByTenantId": demo.MANAGING,
        "authorizations": [
            _authorization((demo.MI, demo.READER)),
            *(_authorization(h) for h in holders),
        ],
        "eligibleAuthorizations": eligible or [],
    }


def delegation_key(body: dict[str, Any]) -> str:
    """The key PAL Watch keeps a delegation under: its assignment's resource id, lower case."""
    return (
        f"{body['scope']}/providers/Microsoft.ManagedServices/registrationAssignments/{body['registrationAssignmentId']}"
    ).lower()


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


def act(emulator: Any, object_id: str, action: str) -> list[dict[str, Any]]:
    """An admin changes a principal (disable, enable, softDelete, restore, hardDelete); the Graph notifications."""
    return emulator.control("POST", f"/principals/{object_id}", {"action": action})["events"]


def add_member(emulator: Any, group: str, member: str) -> list[dict[str, Any]]:
    return emulator.control("PUT", f"/groups/{group}/members/{member}")["events"]


def remove_member(emulator: Any, group: str, member: str) -> list[dict[str, Any]]:
    return emulator.control("DELETE", f"/groups/{group}/members/{member}")["events"]


def make_microsoft_365_group(emulator: Any, group_id: str) -> None:
    """Turn a demo security group into a Microsoft 365 group."""
    raw = next(p for p in demo.HOME.raw["principals"] if p["objectId"] == group_id)
    emulator.control("PUT", f"/principals/{group_id}", {**raw, "tenantId": demo.MANAGING, "groupTypes": ["Unified"]})


def assume(emulator: Any, **switches: Any) -> None:
    """Play one answer of the emulator's named assumptions (emulator/assumptions.py) until the next reset."""
    emulator.control("POST", "/config", {"assumptions": switches})


def graph_subscriptions(emulator: Any) -> dict[str, dict[str, Any]]:
    """resource -> the live Graph subscription the emulator holds for it (there must be at most one)."""
    now = datetime.now(UTC)
    live = [
        s
        for s in emulator.control("GET", "/graph/subscriptions")["subscriptions"]
        if datetime.fromisoformat(s["expirationDateTime"].replace("Z", "+00:00")) > now
    ]
    by_resource: dict[str, dict[str, Any]] = {}
    for sub in live:
        assert sub["resource"] not in by_resource, live
        by_resource[sub["resource"]] = sub
    return by_resource


def fail_requests(emulator: Any, rate: float, *routes: str) -> None:
    """Azure answers 503 (Retry-After 0) to `rate` of the requests on each of `routes` (regular
    expressions over the path); rate 0 lifts every fault."""
    emulator.control("DELETE", "/faults")
    if rate:
        emulator.control(
            "POST", "/faults", [{"route": route, "rate": rate, "status": 503, "retryAfter": 0} for route in routes]
        )


def cost_queries(emulator: Any, since: int = 0) -> list[dict[str, Any]]:
    """The Cost Management queries in the journal after sequence number `since`."""
    return [
        r
        for r in emulator.control("GET", f"/journal?since={since}")["requests"]
        if r["method"] == "POST" and r["path"].lower().endswith(COST_QUERY)
    ]


def restart_with_graph_permission(emulator: Any, app_role: str) -> None:
    """The demo world again, with PAL Watch's managed identity also granted `app_role` on Graph."""
    scenario = demo.scenario_copy()
    mi = demo.principal_in(scenario, demo.MI)
    mi["graphAppRoles"] = [*mi["graphAppRoles"], app_role]
    emulator.reset(scenario)


def allow_every_write(_current_partner_id: str) -> bool:
    """`may_write` for adapter tests that exercise the PAL client itself, without the guard."""
    return True
