"""ARM role definitions (built-in roles the scenario uses) and the tenant activity log.

Role definitions: the built-in roles a scenario uses, as Microsoft publishes them
(`emulator/data/builtin-roles.json`, each with its source); a scenario may add roles. The
activity log needs Monitoring Reader at `/` when the caller's principal carries a `rootRoles` key.
"""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

from emulator.activity import normalize_time
from emulator.web import Request, Response, Route, arm_error, route
from emulator.world import ACTIVITY_LOG_ROLES

if TYPE_CHECKING:
    from emulator.server import App


def insights_error(status: int, code: str, message: str) -> Response:
    """An error of the Insights provider itself: code and message at the top level, as the tenant
    activity log's ErrorResponse declares them (activityLogs_API.json, 2015-04-01). Refusals made by
    ARM before the provider (401, 403 AuthorizationFailed) keep ARM's {error: {...}} shape."""
    return Response(status, {"code": code, "message": message})


GE = re.compile(r"eventTimestamp\s+ge\s+'([^']+)'", re.IGNORECASE)
LE = re.compile(r"eventTimestamp\s+le\s+'([^']+)'", re.IGNORECASE)


def routes(app: App) -> list[Route]:
    world = app.world

    def render_role(rid: str, prefix: str) -> dict[str, Any]:
        return {
            "id": f"{prefix}/providers/Microsoft.Authorization/roleDefinitions/{rid}",
            "type": "Microsoft.Authorization/roleDefinitions",
            "name": rid,
            "properties": copy.deepcopy(world.roles[rid]),
        }

    def get_role(req: Request) -> Response:
        assert req.match is not None
        rid = req.match.group("id").lower()
        prefix = f"/subscriptions/{req.match.group('sub')}" if req.match.group("sub") else ""
        if rid not in world.roles:
            return arm_error(404, "RoleDefinitionDoesNotExist", "The specified role definition does not exist.")
        return Response(200, render_role(rid, prefix))

    def list_roles(req: Request) -> Response:
        assert req.match is not None
        prefix = f"/subscriptions/{req.match.group('sub')}" if req.match.group("sub") else ""
        return Response(200, {"value": [render_role(r, prefix) for r in world.roles]})

    def activity(req: Request) -> Response:
        if not world.has_root_role(req.caller, ACTIVITY_LOG_ROLES):
            return arm_error(
                403,
                "AuthorizationFailed",
                f"The client '{req.oid}' with object id '{req.oid}' does not have authorization to perform action"
                " 'Microsoft.Insights/eventtypes/values/Read' over scope '/' or the scope is invalid.",
            )
        text = req.q("$filter") or ""
        since = GE.search(text)
        if not since:
            return insights_error(400, "BadRequest", "The $filter must contain eventTimestamp ge '<instant>'.")
        until = LE.search(text)
        try:
            lo, hi = world.activity.window(
                req.tid, normalize_time(since.group(1)), normalize_time(until.group(1)) if until else None
            )
        except ValueError:
            return insights_error(400, "BadRequest", "eventTimestamp in $filter is not a valid instant.")
        token = req.q("$skiptoken") or ""
        offset = 0
        if re.fullmatch(r"\d+-\d+", token):
            frozen_hi, offset = (int(x) for x in token.split("-"))
            hi = min(hi, frozen_hi)  # records added after the first page wait for the next query
        records = world.activity.by_tenant.get(req.tid, [])
        size = int(world.config["pageSize"])
        top = hi - offset  # newest first
        chunk = [records[i] for i in range(top - 1, max(lo, top - size) - 1, -1)]
        body: dict[str, Any] = {"value": chunk}
        if top - size > lo:
            from urllib.parse import urlencode

            params = {k: v for k, v in req.query.items() if k.lower() != "$skiptoken"}
            params["$skiptoken"] = f"{hi}-{offset + size}"
            body["nextLink"] = f"{req.base}{req.path}?{urlencode(params)}"
        return Response(200, body)

    roles = r"(?:/subscriptions/(?P<sub>[^/]+))?/providers/Microsoft\.Authorization/roleDefinitions"
    return [
        route("GET", roles + r"/(?P<id>[^/]+)", get_role, "arm"),
        route("GET", roles + r"/?", list_roles, "arm"),
        route("GET", r"/providers/microsoft\.insights/eventtypes/management/values/?", activity, "arm"),
    ]
