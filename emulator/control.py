"""The control API (`/_emulator/...`, no auth, JSON): load a scenario, change the world as a
customer or an admin would, read back links/mailbox/journal, inject faults and throttling.

Every change answers `{"events": [...]}` with the Event Grid payloads Azure would publish
for it. Tests (tests/conftest.py) and the demo/bench scripts call these routes.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator import assumptions, graph
from emulator import graph_subscriptions as gsubs
from emulator.clock import iso, utcnow
from emulator.entra import app_roles
from emulator.events import arm_event, lifecycle_event
from emulator.tokens import audience_for_scope
from emulator.web import Request, Response, Route, route
from emulator.world import ScenarioError, World

if TYPE_CHECKING:
    from emulator.server import App


def load_scenario(world: World, scenario: dict[str, Any]) -> None:
    """Replace the world with `scenario`, including pre-made Graph subscriptions."""
    world.load(scenario)
    home = world.home_tenant() or ""
    mi = next((p for p in world.principals.values() if p.type == "ManagedIdentity" and p.tenant_id == home), None)
    for raw in scenario.get("graphSubscriptions", []):
        body = {"changeType": "updated,deleted", "notificationUrl": "EventGrid:?emulator", **raw}
        body.setdefault("expirationDateTime", iso(utcnow() + timedelta(days=3)))
        gsubs.add(
            world,
            body,
            str(raw.get("tenantId", home)).lower(),
            str(raw.get("applicationId", mi.app_id if mi else "")).lower(),
            str(raw.get("creatorId", mi.object_id if mi else "")),
        )


def ok(body: Any = None, status: int = 200) -> Response:
    return Response(status, body if body is not None else {"events": []})


def fail(status: int, message: str) -> Response:
    return Response(
        status, {"error": {"code": "EmulatorBadRequest" if status == 400 else "NotFound", "message": message}}
    )


def routes(app: App) -> list[Route]:
    world = app.world

    def body_of(req: Request) -> Any:
        try:
            return req.json()
        except ValueError as e:
            raise ScenarioError(f"body is not JSON: {e}") from e

    def guarded(handler: Any) -> Any:
        def run(req: Request) -> Response:
            try:
                return handler(req)
            except (ScenarioError, KeyError, TypeError, ValueError) as e:
                return fail(400, f"{type(e).__name__}: {e}")

        return run

    def reset(req: Request) -> Response:
        scenario = body_of(req)
        if scenario is None:
            scenario = json.loads(Path(app.scenario_path).read_text()) if app.scenario_path else {}
        load_scenario(world, scenario)
        app.journal.clear()  # a reset is a fresh start: no old requests, faults or throttling, no body recording
        app.journal.record_bodies = False
        app.faults.clear()
        app.throttle.configure({"arm": None, "graph": None})
        return ok({"events": [], "tenants": len(world.tenants), "delegations": len(world.delegations)})

    def config(req: Request) -> Response:
        body = body_of(req) or {}
        for key in ("pageSize", "latencyMs"):
            if key in body:
                world.config[key] = int(body[key]) if key == "pageSize" else float(body[key])
        if world.config["pageSize"] < 1:
            raise ScenarioError("pageSize must be at least 1")
        if "throttling" in body:
            app.throttle.configure(body["throttling"] or {"arm": None, "graph": None})
        if "assumptions" in body:
            world.assumptions = assumptions.updated(world.assumptions, body["assumptions"])
        return get_config(req)

    def get_config(req: Request) -> Response:
        return ok({**world.config, "throttling": app.throttle.state(), "assumptions": world.assumptions})

    def throttling(req: Request) -> Response:
        return ok(app.throttle.configure(body_of(req) or {"arm": None, "graph": None}))

    def principal_action(req: Request) -> Response:
        assert req.match is not None
        oid = req.match.group("oid").lower()
        action = (body_of(req) or {}).get("action")
        p = world.principals.get(oid)
        if p is None or p.state == "deleted":
            return fail(404, f"principal {oid} does not exist")
        change = "updated"
        if action == "softDelete":
            if p.state != "active":
                return fail(400, "only an active principal can be soft-deleted")
            if graph.soft_deletes(p, world.assumptions["securityGroupDelete"]):
                p.state, p.deleted_at = "softDeleted", iso(utcnow())
            else:  # a distribution group (or, switch "permanent", a security group) is gone for good
                p.state, change = "deleted", "deleted"
        elif action == "hardDelete":
            p.state, change = "deleted", "deleted"
        elif action == "restore":
            if p.state != "softDeleted":
                return fail(400, "only a soft-deleted principal can be restored")
            p.state, p.deleted_at = "active", None
        elif action in ("disable", "enable"):
            if p.type == "Group":
                return fail(400, "groups cannot be disabled")
            p.account_enabled = action == "enable"
        else:
            return fail(400, "action must be softDelete, hardDelete, restore, disable or enable")
        p.seq = world.next_seq()
        world.changed()
        return ok({"events": gsubs.notify(world, p, change)})

    def put_principal(req: Request) -> Response:
        assert req.match is not None
        body = dict(body_of(req) or {})
        body["objectId"] = req.match.group("oid")
        tid = world.tenant_id(str(body.pop("tenantId", "")))
        if tid is None:
            raise ScenarioError("tenantId must name a tenant of the scenario")
        p = world.add_principal(tid, body)
        return ok({"events": gsubs.notify(world, p, "updated")})

    def put_tenant(req: Request) -> Response:
        assert req.match is not None
        body = dict(body_of(req) or {})
        body["tenantId"] = req.match.group("tid")
        world.add_tenant(body)
        return ok()

    def put_delegation(req: Request) -> Response:
        assert req.match is not None
        body = dict(body_of(req) or {})
        body["registrationAssignmentId"] = req.match.group("aid")
        delegation, _old = world.put_delegation(body)
        customer = world.subscriptions[delegation.subscription_id]["tenantId"]
        return ok({"events": [arm_event(delegation, customer, delete=False)]})

    def delete_delegation(req: Request) -> Response:
        assert req.match is not None
        old = world.remove_delegation(req.match.group("aid"))
        if old is None:
            return fail(404, "no such delegation")
        customer = world.subscriptions[old.subscription_id]["tenantId"]
        return ok({"events": [arm_event(old, customer, delete=True)]})

    def member(req: Request) -> Response:
        assert req.match is not None
        group = world.principal(req.match.group("gid"))
        if group is None or group.type != "Group":
            return fail(404, "no such group")
        mid = req.match.group("mid").lower()
        members = list(group.members)
        if req.method == "PUT" and mid not in members:
            members.append(mid)
        elif req.method == "DELETE" and mid in members:
            members.remove(mid)
        else:
            return ok()  # nothing changed, nothing published
        world.set_members(group, members)
        group.seq = world.next_seq()
        return ok({"events": gsubs.notify(world, group, "updated")})

    def put_link(req: Request) -> Response:
        assert req.match is not None
        partner = str((body_of(req) or {}).get("partnerId", ""))
        if not partner:
            raise ScenarioError("partnerId is required")
        link = world.put_link(req.match.group("tid"), req.match.group("oid"), partner)
        return ok({"events": [], "link": link})

    def delete_link(req: Request) -> Response:
        assert req.match is not None
        link = world.delete_link(req.match.group("tid"), req.match.group("oid"))
        return ok({"events": [], "link": link})

    def links(req: Request) -> Response:
        return ok({"links": [dict(v) for v in world.links.values()]})

    def mailbox(req: Request) -> Response:
        if req.method == "DELETE":
            world.mailbox.clear()
            return ok({"messages": []})
        return ok({"messages": list(world.mailbox)})

    def journal(req: Request) -> Response:
        if req.method == "DELETE":
            app.journal.clear()
            return ok({"requests": []})
        if req.method == "POST":
            flag = (body_of(req) or {}).get("recordBodies")
            if not isinstance(flag, bool):
                raise ScenarioError("recordBodies must be true or false")
            app.journal.record_bodies = flag
            return ok({"recordBodies": flag})
        since = int(req.q("since") or 0)
        return ok({"requests": app.journal.since(since)})

    def faults(req: Request) -> Response:
        if req.method == "DELETE":
            app.faults.clear()
        elif req.method == "POST":
            body = body_of(req)
            for item in body if isinstance(body, list) else [body]:
                app.faults.add(item)
        return ok({"faults": app.faults.listing()})

    def graph_subs(req: Request) -> Response:
        return ok(
            {
                "subscriptions": [
                    gsubs.public(s) | {"tenantId": s["tenantId"]} for s in world.graph_subscriptions.values()
                ]
            }
        )

    def expire(req: Request) -> Response:
        assert req.match is not None
        sub = world.graph_subscriptions.get(req.match.group("id"))
        if sub is None:
            return fail(404, "no such Graph subscription")
        event = (body_of(req) or {}).get("lifecycleEvent", "reauthorizationRequired")
        if event == "subscriptionRemoved" or (body_of(req) or {}).get("remove"):
            world.graph_subscriptions.pop(sub["id"], None)
        else:
            sub["expirationDateTime"] = iso(utcnow() - timedelta(seconds=1))
        return ok({"events": [lifecycle_event(sub, event)]})

    def token(req: Request) -> Response:
        body = body_of(req) or {}
        p = world.principal(str(body.get("objectId", "")))
        if p is None:
            return fail(404, "no such principal")
        audience = str(body.get("audience", "https://management.azure.com/"))
        if audience.endswith("/.default"):
            audience = audience_for_scope(audience)
        access, exp = app.signer.issue(
            tenant_id=str(body.get("tenantId", p.tenant_id)).lower(),
            object_id=p.object_id,
            app_id=p.app_id or str(body.get("appId", "04b07795-8ddb-461a-bbee-02f9e1bf7b46")),
            audience=audience,
            extra={"idtyp": "user", "upn": p.raw.get("userPrincipalName")}
            if p.type == "User"
            else app_roles(p, audience),
        )
        return ok({"access_token": access, "expires_on": exp, "token_type": "Bearer"})

    def health(req: Request) -> Response:
        return ok(
            {
                "tenants": len(world.tenants),
                "principals": len(world.principals),
                "delegations": len(world.delegations),
                "subscriptions": len(world.subscriptions),
            }
        )

    c = r"/_emulator"
    table = [
        ("POST", c + r"/reset", reset),
        ("GET", c + r"/health", health),
        ("GET", c + r"/config", get_config),
        ("POST", c + r"/config", config),
        ("POST", c + r"/throttling", throttling),
        ("POST", c + r"/principals/(?P<oid>[^/]+)", principal_action),
        ("PUT", c + r"/principals/(?P<oid>[^/]+)", put_principal),
        ("PUT", c + r"/tenants/(?P<tid>[^/]+)", put_tenant),
        ("PUT", c + r"/delegations/(?P<aid>[^/]+)", put_delegation),
        ("DELETE", c + r"/delegations/(?P<aid>[^/]+)", delete_delegation),
        ("PUT", c + r"/groups/(?P<gid>[^/]+)/members/(?P<mid>[^/]+)", member),
        ("DELETE", c + r"/groups/(?P<gid>[^/]+)/members/(?P<mid>[^/]+)", member),
        ("PUT", c + r"/links/(?P<tid>[^/]+)/(?P<oid>[^/]+)", put_link),
        ("DELETE", c + r"/links/(?P<tid>[^/]+)/(?P<oid>[^/]+)", delete_link),
        ("GET", c + r"/links", links),
        ("GET", c + r"/mailbox", mailbox),
        ("DELETE", c + r"/mailbox", mailbox),
        ("GET", c + r"/journal", journal),
        ("DELETE", c + r"/journal", journal),
        ("POST", c + r"/journal", journal),
        ("GET", c + r"/faults", faults),
        ("POST", c + r"/faults", faults),
        ("DELETE", c + r"/faults", faults),
        ("GET", c + r"/graph/subscriptions", graph_subs),
        ("POST", c + r"/graph/subscriptions/(?P<id>[^/]+)/expire", expire),
        ("POST", c + r"/tokens", token),
    ]
    return [route(method, path, guarded(handler), "control") for method, path, handler in table]
