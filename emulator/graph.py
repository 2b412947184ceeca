"""Microsoft Graph v1.0 directory reads and sendMail, as the engine calls them.

Users, groups, servicePrincipals (managed identities are servicePrincipals of type
ManagedIdentity), directoryObjects and getByIds, (transitive) members, servicePrincipals/delta,
directory/deletedItems, users/{id}/sendMail. Only objects of the token's tenant are visible;
app permissions come from the caller's `graphAppRoles` (all granted when absent).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from emulator.clock import iso, utcnow
from emulator.web import Request, Response, Route, graph_error, page, route
from emulator.world import Principal, World

if TYPE_CHECKING:
    from emulator.server import App

READ_ANY = {"Directory.Read.All", "Directory.ReadWrite.All"}
PERMS = {
    "User": {"User.Read.All", "User.ReadBasic.All", "User.ReadWrite.All"} | READ_ANY,
    "Group": {"Group.Read.All", "GroupMember.Read.All", "Group.ReadWrite.All"} | READ_ANY,
    "ServicePrincipal": {"Application.Read.All", "Application.ReadWrite.All"} | READ_ANY,
}
PERMS["ManagedIdentity"] = PERMS["ServicePrincipal"]
ANY_READ = PERMS["User"] | PERMS["Group"] | PERMS["ServicePrincipal"]
ODATA = {
    "User": "#microsoft.graph.user",
    "Group": "#microsoft.graph.group",
    "ServicePrincipal": "#microsoft.graph.servicePrincipal",
    "ManagedIdentity": "#microsoft.graph.servicePrincipal",
}
# transitiveMemberOf, application permissions as Graph documents them per type (user-, group-,
# servicePrincipal-list-transitivememberof): a group's memberships need Directory.Read.All.
MEMBER_OF_PERMS = {
    "User": {"User.Read.All", "Group.Read.All", "GroupMember.Read.All"} | READ_ANY,
    "Group": READ_ANY,
    "ServicePrincipal": PERMS["ServicePrincipal"],
    "ManagedIdentity": PERMS["ServicePrincipal"],
}
COLLECTION = {"users": ("User",), "groups": ("Group",), "servicePrincipals": ("ServicePrincipal", "ManagedIdentity")}
TYPE_NAMES = {"user": ("User",), "group": ("Group",), "serviceprincipal": ("ServicePrincipal", "ManagedIdentity")}


def render(world: World, p: Principal, *, typed: bool = True, deleted: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"@odata.type": ODATA[p.type]} if typed else {}
    out.update(id=p.object_id, displayName=p.display_name)
    if p.type == "User":
        upn = p.raw.get("userPrincipalName", f"{p.object_id}@{world.tenants[p.tenant_id]['defaultDomain']}")
        out.update(userPrincipalName=upn, mail=p.raw.get("mail", upn), accountEnabled=p.account_enabled)
        out["jobTitle"] = p.raw.get("jobTitle")
    elif p.type == "Group":
        out.update(
            mailEnabled=False,
            securityEnabled=True,
            mailNickname=p.raw.get("mailNickname", p.display_name.replace(" ", "")),
            groupTypes=[],
        )
    else:
        home = world.app_home(p.app_id)
        out.update(
            appId=p.app_id,
            accountEnabled=p.account_enabled,
            servicePrincipalType="ManagedIdentity" if p.type == "ManagedIdentity" else "Application",
            appDisplayName=p.display_name,
            appOwnerOrganizationId=home.tenant_id if home else p.tenant_id,
        )
        if p.type == "ManagedIdentity":
            out["alternativeNames"] = ["isExplicit=True", p.raw.get("resourceId", f"/managedIdentities/{p.object_id}")]
    if deleted:
        out["deletedDateTime"] = p.deleted_at
    return out


def select(req: Request, obj: dict[str, Any]) -> dict[str, Any]:
    wanted = req.q("$select")
    if not wanted:
        return obj
    keep = {f.strip() for f in wanted.split(",")} | {"id", "@odata.type", "deletedDateTime"}
    return {k: v for k, v in obj.items() if k in keep}


def not_found(oid: str) -> Response:
    return graph_error(
        404,
        "Request_ResourceNotFound",
        f"Resource '{oid}' does not exist or one of its queried reference-property objects are not present.",
    )


def forbidden() -> Response:
    return graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")


def routes(app: App) -> list[Route]:
    world = app.world

    def size() -> int:
        return int(world.config["pageSize"])

    def allowed(req: Request, perms: set[str]) -> bool:
        return world.has_graph_role(req.caller, perms)

    def lookup(req: Request, key: str, kinds: tuple[str, ...]) -> Principal | None:
        p = world.principal(key, req.tid)
        if p is None and "@" in key:
            for candidate in world.principals.values():
                upn = str(candidate.raw.get("userPrincipalName", "")).lower()
                if (
                    candidate.tenant_id == req.tid
                    and candidate.active
                    and candidate.type == "User"
                    and upn == key.lower()
                ):
                    p = candidate
                    break
        return p if p is not None and p.type in kinds else None

    def get_one(req: Request) -> Response:
        assert req.match is not None
        kinds = COLLECTION[_collection(req.match.group("coll"))]
        if not allowed(req, PERMS[kinds[0]]):
            return forbidden()
        p = lookup(req, req.match.group("id"), kinds)
        return Response(200, select(req, render(world, p, typed=False))) if p else not_found(req.match.group("id"))

    def list_all(req: Request) -> Response:
        assert req.match is not None
        kinds = COLLECTION[_collection(req.match.group("coll"))]
        if not allowed(req, PERMS[kinds[0]]):
            return forbidden()
        items = [p for p in world.principals.values() if p.tenant_id == req.tid and p.active and p.type in kinds]
        items = [p for p in items if _matches(req.q("$filter") or "", p)]
        return Response(200, _paged(req, items, size(), typed=False))

    def directory_object(req: Request) -> Response:
        assert req.match is not None
        p = world.principal(req.match.group("id"), req.tid)
        if p is None:
            return not_found(req.match.group("id"))
        if not allowed(req, PERMS[p.type]):
            return forbidden()
        return Response(200, select(req, render(world, p)))

    def get_by_ids(req: Request) -> Response:
        body = req.json() or {}
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids:
            return graph_error(400, "Request_BadRequest", "Invalid value specified for property 'ids'.")
        if len(ids) > 1000:
            return graph_error(400, "Request_BadRequest", "Too many ids: at most 1000 are allowed.")
        kinds: set[str] = set()
        for name in body.get("types") or ["user", "group", "serviceprincipal"]:
            kinds.update(TYPE_NAMES.get(str(name).lower().removeprefix("microsoft.graph."), ()))
        if not allowed(req, set().union(*(PERMS[k] for k in kinds)) if kinds else ANY_READ):
            return forbidden()
        found = []
        for oid in ids:
            p = world.principal(str(oid), req.tid)
            if p is not None and p.type in kinds:
                found.append(select(req, render(world, p)))
        return Response(200, {"@odata.context": f"{req.base}/v1.0/$metadata#directoryObjects", "value": found})

    def members(req: Request) -> Response:
        assert req.match is not None
        if not allowed(req, PERMS["Group"]):
            return forbidden()
        group = lookup(req, req.match.group("id"), ("Group",))
        if group is None:
            return not_found(req.match.group("id"))
        if req.match.group("kind").lower() == "transitivemembers":
            found = world.transitive_members(group)
        else:
            found = [m for m in (world.principal(o) for o in group.members) if m is not None]
        return Response(200, _paged(req, found, size()))

    def member_of(req: Request) -> Response:
        assert req.match is not None
        p = world.principal(req.match.group("id"), req.tid)
        if p is None:
            return not_found(req.match.group("id"))
        if not allowed(req, MEMBER_OF_PERMS[p.type]):
            return forbidden()
        groups = sorted((world.principals[g] for g in world.groups_of(p.object_id)), key=lambda g: g.object_id)
        return Response(200, _paged(req, groups, size()))

    def _paged(req: Request, items: list[Principal], n: int, typed: bool = True) -> dict[str, Any]:
        body = page(req, items, n, graph=True)
        body["value"] = [select(req, render(world, p, typed=typed)) for p in body["value"]]
        return body

    def delta(req: Request) -> Response:
        if not allowed(req, PERMS["ServicePrincipal"]):
            return forbidden()
        token = req.q("$deltatoken")
        skip = req.q("$skiptoken") or ""
        kinds = ("ServicePrincipal", "ManagedIdentity")
        mine = [p for p in world.principals.values() if p.tenant_id == req.tid and p.type in kinds]
        if token is not None or skip.startswith("d"):
            since = int(token) if token and token.isdigit() else int(skip[1:].split("-")[0] or 0)
            changed = sorted((p for p in mine if p.seq > since), key=lambda p: p.seq)
            values = [_delta_item(p) for p in changed]
        else:
            values = [render(world, p, typed=False) for p in mine if p.active]
        return Response(
            200,
            {
                "@odata.context": f"{req.base}/v1.0/$metadata#servicePrincipals",
                "value": values,
                "@odata.deltaLink": f"{req.base}/v1.0/servicePrincipals/delta?"
                + urlencode({"$deltatoken": str(world.seq)}),
            },
        )

    def _delta_item(p: Principal) -> dict[str, Any]:
        if p.state == "deleted":
            return {"id": p.object_id, "@removed": {"reason": "deleted"}}
        if p.state == "softDeleted":
            return {"id": p.object_id, "@removed": {"reason": "changed"}}
        return render(world, p, typed=False)

    def deleted_one(req: Request) -> Response:
        assert req.match is not None
        p = world.principal(req.match.group("id"), req.tid, include_deleted=True)
        if p is None or p.state != "softDeleted":
            return not_found(req.match.group("id"))
        if not allowed(req, PERMS[p.type]):
            return forbidden()
        return Response(200, select(req, render(world, p, deleted=True)))

    def deleted_list(req: Request) -> Response:
        assert req.match is not None
        kinds = TYPE_NAMES.get(req.match.group("type").lower(), ())
        if not kinds:
            return graph_error(400, "Request_BadRequest", "Unsupported deleted item type.")
        if not allowed(req, PERMS[kinds[0]]):
            return forbidden()
        items = [p for p in world.principals.values() if p.tenant_id == req.tid and p.state == "softDeleted"]
        body = page(req, [p for p in items if p.type in kinds], size(), graph=True)
        body["value"] = [select(req, render(world, p, deleted=True)) for p in body["value"]]
        return Response(200, body)

    def restore(req: Request) -> Response:
        assert req.match is not None
        p = world.principal(req.match.group("id"), req.tid, include_deleted=True)
        if p is None or p.state != "softDeleted":
            return not_found(req.match.group("id"))
        p.state, p.deleted_at, p.seq = "active", None, world.next_seq()
        world.changed()
        return Response(200, render(world, p))

    def send_mail(req: Request) -> Response:
        assert req.match is not None
        if not allowed(req, {"Mail.Send"}):
            return forbidden()
        sender = lookup(req, req.match.group("id"), ("User",))
        if sender is None:
            return graph_error(404, "ErrorInvalidUser", f"The requested user '{req.match.group('id')}' is invalid.")
        body = req.json() or {}
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, dict) or not message.get("toRecipients"):
            return graph_error(400, "ErrorInvalidRecipients", "At least one recipient is not valid.")
        world.mailbox.append(
            {
                "from": render(world, sender, typed=False)["userPrincipalName"],
                "senderId": sender.object_id,
                "time": iso(utcnow()),
                "message": message,
                "saveToSentItems": body.get("saveToSentItems", True),
            }
        )
        return Response(202)

    coll = r"/v1\.0/(?P<coll>users|groups|servicePrincipals)"
    oid = r"(?P<id>[^/]+)"
    return [
        route("GET", r"/v1\.0/servicePrincipals/delta(?:\(\))?", delta, "graph"),
        route("GET", coll + r"/?", list_all, "graph"),
        route("GET", rf"/v1\.0/groups/{oid}/(?P<kind>transitiveMembers|members)/?", members, "graph"),
        route(
            "GET",
            rf"/v1\.0/(?:users|servicePrincipals|groups|directoryObjects)/{oid}/transitiveMemberOf/?",
            member_of,
            "graph",
        ),
        route("POST", rf"/v1\.0/users/{oid}/sendMail", send_mail, "graph"),
        route("POST", r"/v1\.0/directoryObjects/getByIds", get_by_ids, "graph"),
        route("GET", rf"/v1\.0/directoryObjects/{oid}", directory_object, "graph"),
        route("GET", r"/v1\.0/directory/deletedItems/microsoft\.graph\.(?P<type>\w+)/?", deleted_list, "graph"),
        route("GET", rf"/v1\.0/directory/deletedItems/{oid}", deleted_one, "graph"),
        route("POST", rf"/v1\.0/directory/deletedItems/{oid}/restore", restore, "graph"),
        route("GET", coll + rf"/{oid}", get_one, "graph"),
        route(
            "POST", r"/v1\.0/\$batch", lambda _req: graph_error(500, "BadRequest", "dispatched by the server"), "graph"
        ),
    ]


def _collection(name: str) -> str:
    for key in COLLECTION:
        if key.lower() == name.lower():
            return key
    return name


def _matches(text: str, p: Principal) -> bool:
    """The few `$filter` forms worth supporting: `appId eq '…'`, `displayName eq '…'`, `servicePrincipalType eq '…'`."""
    import re

    for field, value in re.findall(r"(\w+)\s+eq\s+'([^']*)'", text):
        actual = {
            "appid": p.app_id,
            "displayname": p.display_name,
            "serviceprincipaltype": "ManagedIdentity" if p.type == "ManagedIdentity" else "Application",
            "id": p.object_id,
        }.get(field.lower())
        if actual is None or actual.lower() != value.lower():
            return False
    return True
