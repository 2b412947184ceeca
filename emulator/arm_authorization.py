"""Azure RBAC role assignments of a customer subscription (`Microsoft.Authorization/roleAssignments`).

A subscription in the scenario may carry `"roleAssignments": [{"principalId", "principalType":
"User"|"Group"|"ServicePrincipal"|"ForeignGroup", "roleDefinitionId", "scope"?}]` (default scope:
the subscription). They are served as ARM serves them (azure-rest-api-specs, authorization
stable/2022-04-01 authorization-RoleAssignmentsCalls.json, RoleAssignments_ListForSubscription:
`{"value": [RoleAssignment], "nextLink"}`), to callers one of whose roles at the subscription allows
`Microsoft.Authorization/roleAssignments/read` (Reader's `*/read` does; `World.allows`, the
emulator's one RBAC action check); anyone else gets 403 `AuthorizationFailed`.

A `ForeignGroup` is a group of another tenant: a CSP partner's Admin Agents group holding Owner is
how Partner Center grants admin on behalf of (AOBO) on Azure plan subscriptions (Partner Center
"revoke-reinstate-csp": `New-AzRoleAssignment -ObjectId <Admin Agents group id>
-RoleDefinitionName Owner -Scope /subscriptions/<id> -ObjectType ForeignGroup`).

The control API adds (`PUT /_emulator/subscriptions/{id}/roleAssignments/{name}`) and removes
(`DELETE` same path) one, answering with the event the subscription's system topic publishes:
`Microsoft.Resources.ResourceWriteSuccess` / `ResourceDeleteSuccess` for the operation
`Microsoft.Authorization/roleAssignments/write|delete`.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from emulator.arm_lighthouse import denied
from emulator.clock import iso, utcnow
from emulator.web import Request, Response, Route, arm_error, page, route

if TYPE_CHECKING:
    from emulator.server import App
    from emulator.world import World

API_VERSIONS = {"2015-07-01", "2018-01-01-preview", "2020-04-01-preview", "2022-04-01"}
READ = "Microsoft.Authorization/roleAssignments/read"
PRINCIPAL_TYPES = {"User", "Group", "ServicePrincipal", "ForeignGroup"}
CREATED = "2024-01-01T00:00:00.0000000Z"  # scenario assignments exist from before any test


def normalized(sid: str, raw: dict[str, Any]) -> dict[str, Any]:
    """A scenario or control-API assignment with its name, scope and role as ARM ids."""
    kind = str(raw.get("principalType") or "User")
    if kind not in PRINCIPAL_TYPES:
        raise ValueError(f"principalType must be one of {sorted(PRINCIPAL_TYPES)}, not {kind!r}")
    principal = str(raw["principalId"]).lower()
    role = str(raw["roleDefinitionId"]).rstrip("/").rsplit("/", 1)[-1].lower()
    scope = str(raw.get("scope") or f"/subscriptions/{sid}")
    name = str(raw.get("name") or uuid.uuid5(uuid.NAMESPACE_URL, f"{scope.lower()}|{principal}|{role}"))
    return {
        "name": name,
        "principalId": principal,
        "principalType": kind,
        "roleDefinitionId": role,
        "scope": scope,
        "createdOn": str(raw.get("createdOn") or CREATED),
    }


def assignments(world: World, sid: str) -> list[dict[str, Any]]:
    """The subscription's assignments (normalised on first use; kept on the subscription)."""
    sub = world.subscriptions[sid]
    held = sub.setdefault("roleAssignments", [])
    held[:] = [normalized(sid, a) for a in held]  # idempotent: a normalised entry stays as it is
    return held


def render(sid: str, a: dict[str, Any]) -> dict[str, Any]:
    """One assignment in the shape of the spec's RoleAssignment (2022-04-01)."""
    return {
        "id": f"{a['scope']}/providers/Microsoft.Authorization/roleAssignments/{a['name']}",
        "type": "Microsoft.Authorization/roleAssignments",
        "name": a["name"],
        "properties": {
            "roleDefinitionId": f"/subscriptions/{sid}/providers/Microsoft.Authorization/roleDefinitions/"
            f"{a['roleDefinitionId']}",
            "principalId": a["principalId"],
            "principalType": a["principalType"],
            "scope": a["scope"],
            "createdOn": a["createdOn"],
            "updatedOn": a["createdOn"],
            "createdBy": "",
            "updatedBy": "",
        },
    }


def _event(sid: str, tenant: str, a: dict[str, Any], *, delete: bool) -> dict[str, Any]:
    """What the subscription's system topic publishes for a role assignment written or deleted."""
    resource = render(sid, a)["id"]
    operation = "Microsoft.Authorization/roleAssignments/" + ("delete" if delete else "write")
    return {
        "id": str(uuid.uuid4()),
        "topic": f"/subscriptions/{sid}",
        "subject": resource,
        "eventType": "Microsoft.Resources.ResourceDeleteSuccess"
        if delete
        else "Microsoft.Resources.ResourceWriteSuccess",
        "eventTime": iso(utcnow()),
        "data": {
            "authorization": {"scope": resource, "action": operation},
            "correlationId": str(uuid.uuid4()),
            "resourceProvider": "Microsoft.Authorization",
            "resourceUri": resource,
            "operationName": operation,
            "status": "Succeeded",
            "subscriptionId": sid,
            "tenantId": tenant,
        },
        "dataVersion": "2",
        "metadataVersion": "1",
    }


def routes(app: App) -> list[Route]:
    world = app.world

    def list_for_subscription(req: Request) -> Response:
        assert req.match is not None
        sid = req.match.group("sub").lower()
        if req.q("api-version") not in API_VERSIONS:
            return arm_error(400, "InvalidApiVersionParameter", f"The api-version '{req.q('api-version')}' is invalid.")
        if sid not in world.subscriptions:
            return arm_error(404, "SubscriptionNotFound", f"The subscription '{sid}' could not be found.")
        if not world.allows(req.tid, req.oid, (sid, None), READ):
            return denied(req, READ, f"/subscriptions/{sid}")
        items = [render(sid, a) for a in assignments(world, sid)]
        return Response(200, page(req, items, int(world.config["pageSize"])))

    def change(req: Request) -> Response:
        assert req.match is not None
        sid, name = req.match.group("sub").lower(), req.match.group("name")
        if sid not in world.subscriptions:
            return Response(404, {"error": {"code": "NotFound", "message": f"no subscription {sid}"}})
        held = assignments(world, sid)
        tenant = world.subscriptions[sid]["tenantId"]
        old = next((a for a in held if a["name"].lower() == name.lower()), None)
        if req.method == "DELETE":
            if old is None:
                return Response(200, {"events": []})  # nothing there: nothing published
            held.remove(old)
            world.changed()
            return Response(200, {"events": [_event(sid, tenant, old, delete=True)]})
        try:
            new = normalized(sid, {**(req.json() or {}), "name": name, "createdOn": iso(utcnow())})
        except (KeyError, TypeError, ValueError) as e:
            return Response(400, {"error": {"code": "EmulatorBadRequest", "message": f"{type(e).__name__}: {e}"}})
        if old is not None:
            held.remove(old)
        held.append(new)
        world.changed()
        return Response(200, {"events": [_event(sid, tenant, new, delete=False)]})

    sub = r"/subscriptions/(?P<sub>[^/]+)"
    return [
        route("GET", sub + r"/providers/Microsoft\.Authorization/roleAssignments/?", list_for_subscription, "arm"),
        route("PUT", r"/_emulator" + sub + r"/roleAssignments/(?P<name>[^/]+)", change, "control"),
        route("DELETE", r"/_emulator" + sub + r"/roleAssignments/(?P<name>[^/]+)", change, "control"),
    ]
