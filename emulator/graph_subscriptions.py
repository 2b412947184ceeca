"""Microsoft Graph change-notification subscriptions (`/v1.0/subscriptions`) and the
notifications they produce.

The engine creates, renews (PATCH) and deletes them; the control API asks `notify` for the
CloudEvents a principal change produces: one per live subscription on `users` or `groups`
in that tenant, none without a subscription (as in Azure). Whether Graph echoes
`notificationUrl` as sent is not documented: the `graphNotificationUrlEcho` switch
(assumptions.py) answers it either way.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from emulator import graph_rules as rules
from emulator.clock import utcnow
from emulator.events import graph_event
from emulator.graph import forbidden
from emulator.web import Request, Response, Route, graph_error, route
from emulator.world import Principal, World

if TYPE_CHECKING:
    from emulator.server import App

MAX_MINUTES = 41_760
RESOURCES = {"users": "User", "/users": "User", "groups": "Group", "/groups": "Group"}


def _parse(text: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def live(world: World) -> list[dict[str, Any]]:
    now = utcnow()
    return [s for s in world.graph_subscriptions.values() if _parse(s["expirationDateTime"]) > now]  # type: ignore[operator]


def notify(world: World, principal: Principal, change_type: str) -> list[dict[str, Any]]:
    kind = "User" if principal.type == "User" else "Group" if principal.type == "Group" else None
    if kind is None:
        return []  # service principals have no change notifications
    events = []
    for sub in live(world):
        if sub["tenantId"] != principal.tenant_id or RESOURCES.get(sub["resource"].lower()) != kind:
            continue
        if change_type not in [c.strip() for c in sub["changeType"].split(",")]:
            continue
        events.append(graph_event(sub, principal, change_type, world.next_seq()))
    return events


def echoed(world: World, url: Any) -> Any:
    """The address as Graph would store it: as sent, or with its query normalized (see the switch)."""
    if world.assumptions["graphNotificationUrlEcho"] == "verbatim" or not isinstance(url, str) or "?" not in url:
        return url
    base, query = url.split("?", 1)
    pairs = sorted((k.lower(), v.lower()) for k, v in parse_qsl(query, keep_blank_values=True))
    return f"{base}?{urlencode(pairs)}"


def add(world: World, body: dict[str, Any], tenant: str, app_id: str, creator: str) -> dict[str, Any]:
    sub = {
        "id": str(body.get("id") or uuid.uuid4()),
        "resource": body["resource"],
        "applicationId": app_id,
        "changeType": body.get("changeType", "updated,deleted"),
        "clientState": body.get("clientState"),
        "notificationUrl": echoed(world, body.get("notificationUrl")),
        "lifecycleNotificationUrl": echoed(world, body.get("lifecycleNotificationUrl")),
        "expirationDateTime": body["expirationDateTime"],
        "creatorId": creator,
        "includeResourceData": False,
        "latestSupportedTlsVersion": "v1_2",
        "encryptionCertificate": None,
        "encryptionCertificateId": None,
        "notificationQueryOptions": None,
        "notificationUrlAppId": None,
        "tenantId": tenant,
    }
    world.graph_subscriptions[sub["id"]] = sub
    return sub


def public(sub: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sub.items() if k != "tenantId"}


def routes(app: App) -> list[Route]:
    world = app.world

    def check_expiry(value: Any) -> Response | None:
        moment = _parse(value)
        if moment is None:
            return graph_error(400, "InvalidRequest", "expirationDateTime is missing or not a valid instant.")
        now = utcnow()
        if moment <= now:
            return graph_error(400, "InvalidRequest", "Subscription expiration must be in the future.")
        if moment > now + timedelta(minutes=MAX_MINUTES):
            return graph_error(
                400, "ExtensionError", f"Subscription expiration can only be {MAX_MINUTES} minutes in the future."
            )
        return None

    def mine(req: Request) -> dict[str, dict[str, Any]]:
        appid = str(req.claims.get("appid", "")).lower()
        return {s["id"]: s for s in live(world) if s["tenantId"] == req.tid and s["applicationId"] == appid}

    def create(req: Request) -> Response:
        body = req.json()
        if not isinstance(body, dict) or not body.get("resource") or not body.get("notificationUrl"):
            return graph_error(400, "InvalidRequest", "resource and notificationUrl are required.")
        kind = RESOURCES.get(str(body["resource"]).lower())
        if kind is None:
            return graph_error(400, "ExtensionError", f"Resource '{body['resource']}' is not supported.")
        if not world.has_graph_role(req.caller, set(rules.SUBSCRIPTIONS[kind])):
            return forbidden()
        if not str(body["notificationUrl"]).startswith(("https://", "EventGrid:")):
            return graph_error(400, "InvalidRequest", "notificationUrl must be https or an EventGrid: address.")
        if (err := check_expiry(body.get("expirationDateTime"))) is not None:
            return err
        body.pop("id", None)
        sub = add(world, body, req.tid, str(req.claims.get("appid", "")).lower(), req.oid)
        return Response(201, public(sub))

    def list_(req: Request) -> Response:
        return Response(200, {"value": [public(s) for s in mine(req).values()]})

    def one(req: Request) -> dict[str, Any] | None:
        assert req.match is not None
        return mine(req).get(req.match.group("id"))

    def get(req: Request) -> Response:
        sub = one(req)
        return Response(200, public(sub)) if sub else _missing(req)

    def renew(req: Request) -> Response:
        sub = one(req)
        if sub is None:
            return _missing(req)
        body = req.json() or {}
        if "expirationDateTime" in body:
            if (err := check_expiry(body["expirationDateTime"])) is not None:
                return err
            sub["expirationDateTime"] = body["expirationDateTime"]
        for key in ("notificationUrl", "lifecycleNotificationUrl"):
            if key in body:
                sub[key] = echoed(world, body[key])
        return Response(200, public(sub))

    def delete(req: Request) -> Response:
        sub = one(req)
        if sub is None:
            return _missing(req)
        world.graph_subscriptions.pop(sub["id"], None)
        return Response(204)

    def _missing(req: Request) -> Response:
        assert req.match is not None
        return graph_error(404, "ResourceNotFound", f"The object was not found: {req.match.group('id')}")

    one_path = r"/v1\.0/subscriptions/(?P<id>[^/]+)"
    return [
        route("POST", r"/v1\.0/subscriptions/?", create, "graph"),
        route("GET", r"/v1\.0/subscriptions/?", list_, "graph"),
        route("GET", one_path, get, "graph"),
        route("PATCH", one_path, renew, "graph"),
        route("DELETE", one_path, delete, "graph"),
    ]
