"""Microsoft Graph v1.0 directory reads and sendMail, as the engine calls them.

Users, groups, servicePrincipals (managed identities are servicePrincipals of type
ManagedIdentity), directoryObjects and getByIds, (transitive) members, servicePrincipals/delta,
directory/deletedItems, users/{id}/sendMail. Only objects of the token's tenant are visible.
Objects are cut to Graph's default property sets unless `$select` is given, and every call needs
its documented application permission in the caller's `graphAppRoles` (graph_rules.py).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from emulator import graph_rules as rules
from emulator.clock import iso, utcnow
from emulator.web import Request, Response, Route, graph_error, page, route
from emulator.world import Principal, World

if TYPE_CHECKING:
    from emulator.server import App

ODATA = {
    "User": "#microsoft.graph.user",
    "Group": "#microsoft.graph.group",
    "ServicePrincipal": "#microsoft.graph.servicePrincipal",
    "ManagedIdentity": "#microsoft.graph.servicePrincipal",
}
COLLECTION = {"users": ("User",), "groups": ("Group",), "servicePrincipals": ("ServicePrincipal", "ManagedIdentity")}
TYPE_NAMES = {"user": ("User",), "group": ("Group",), "serviceprincipal": ("ServicePrincipal", "ManagedIdentity")}


def render(world: World, p: Principal, *, typed: bool = True, deleted: bool = False) -> dict[str, Any]:
    """Every property the emulator knows of `p`; `shape` cuts it to what Graph would answer."""
    out: dict[str, Any] = {"@odata.type": ODATA[p.type]} if typed else {}
    out.update(id=p.object_id, displayName=p.display_name)
    if p.type == "User":
        upn = p.raw.get("userPrincipalName", f"{p.object_id}@{world.tenants[p.tenant_id]['defaultDomain']}")
        out.update(userPrincipalName=upn, mail=p.raw.get("mail", upn), accountEnabled=p.account_enabled)
        for name in ("givenName", "surname", "jobTitle", "mobilePhone", "officeLocation", "preferredLanguage"):
            out[name] = p.raw.get(name)
        out["businessPhones"] = list(p.raw.get("businessPhones", []))
    elif p.type == "Group":
        unified = is_unified(p)
        out.update(
            description=p.raw.get("description"),
            mail=p.raw.get("mail"),
            mailEnabled=unified or is_distribution(p),
            # A soft-deleted security group reads securityEnabled false (learn: directory-deleteditems-list).
            securityEnabled=not unified and not is_distribution(p) and not deleted,
            mailNickname=p.raw.get("mailNickname", p.display_name.replace(" ", "")),
            groupTypes=list(p.raw.get("groupTypes", [])),
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


def is_unified(group: Principal) -> bool:
    """A Microsoft 365 group (soft-deleted for 30 days); every other group is a security group."""
    return "Unified" in (group.raw.get("groupTypes") or [])


def is_distribution(group: Principal) -> bool:
    """A distribution group (scenario `"distribution": true`): mail-enabled, not a security group."""
    return bool(group.raw.get("distribution")) and not is_unified(group)


def soft_deletes(p: Principal, security_groups: str = "softDeleted") -> bool:
    """What goes to deletedItems for 30 days: users, service principals, Microsoft 365 groups and (Graph
    v1.0 group-delete today: "both Microsoft 365 and security groups … can be restored within 30 days
    … This doesn't apply to Distribution groups") security groups. `security_groups` "permanent" plays
    the older pages (directory-deleteditems-get beta: "Deleted security groups are deleted permanently")."""
    if p.type != "Group" or is_unified(p):
        return True
    return not is_distribution(p) and security_groups == "softDeleted"


def not_found(oid: str) -> Response:
    return graph_error(
        404,
        "Request_ResourceNotFound",
        f"Resource '{oid}' does not exist or one of its queried reference-property objects are not present.",
    )


def forbidden() -> Response:
    return graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")


def bad_select(kind: str, names: list[str]) -> Response:
    return graph_error(
        400,
        "Request_BadRequest",
        f"Could not find a property named '{names[0]}' on type 'microsoft.graph.{kind[0].lower()}{kind[1:]}'.",
    )


def routes(app: App) -> list[Route]:
    world = app.world

    def size() -> int:
        return int(world.config["pageSize"])

    def allowed(req: Request, perms: frozenset[str] | set[str]) -> bool:
        return world.has_graph_role(req.caller, set(perms))

    def shape(req: Request, p: Principal, obj: dict[str, Any]) -> dict:
        """What Graph answers for `p`: `$select`, else the default set; basic-only callers get less."""
        kind = "ServicePrincipal" if p.type == "ManagedIdentity" else p.type
        out = rules.project(obj, kind, req.q("$select"))
        if p.type == "User" and not allowed(req, rules.USERS):
            out = {k: v for k, v in out.items() if k in rules.USER_BASIC or k.startswith("@")}
        return out

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
        if not allowed(req, rules.READ[kinds[0]]):
            return forbidden()
        if unknown := rules.unknown_selected(kinds[0], req.q("$select")):
            return bad_select(kinds[0], unknown)
        p = lookup(req, req.match.group("id"), kinds)
        return Response(200, shape(req, p, render(world, p, typed=False))) if p else not_found(req.match.group("id"))

    def list_all(req: Request) -> Response:
        assert req.match is not None
        kinds = COLLECTION[_collection(req.match.group("coll"))]
        if not allowed(req, rules.READ[kinds[0]]):
            return forbidden()
        if unknown := rules.unknown_selected(kinds[0], req.q("$select")):
            return bad_select(kinds[0], unknown)
        problem = _filter_problem(req.q("$filter") or "")
        if problem:
            return graph_error(400, "Request_UnsupportedQuery", problem)
        items = [p for p in world.principals.values() if p.tenant_id == req.tid and p.active and p.type in kinds]
        items = [p for p in items if _matches(req.q("$filter") or "", p)]
        return Response(200, _paged(req, items, size(), typed=False))

    def directory_object(req: Request) -> Response:
        assert req.match is not None
        if not allowed(req, rules.DIRECTORY_OBJECTS):
            return forbidden()
        p = world.principal(req.match.group("id"), req.tid)
        if p is None:
            return not_found(req.match.group("id"))
        return Response(200, shape(req, p, render(world, p)))

    def get_by_ids(req: Request) -> Response:
        if not allowed(req, rules.DIRECTORY_OBJECTS):
            return forbidden()
        body = req.json() or {}
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids:
            return graph_error(400, "Request_BadRequest", "Invalid value specified for property 'ids'.")
        if len(ids) > 1000:
            return graph_error(400, "Request_BadRequest", "Too many ids: at most 1000 are allowed.")
        kinds: set[str] = set()
        for name in body.get("types") or ["user", "group", "serviceprincipal"]:
            kinds.update(TYPE_NAMES.get(str(name).lower().removeprefix("microsoft.graph."), ()))
        found = []
        for oid in ids:
            p = world.principal(str(oid), req.tid)
            if p is not None and p.type in kinds:
                # "Only a subset of user properties are returned by default in v1.0" (learn:
                # directoryobject-getbyids): the same default set as GET /users.
                found.append(shape(req, p, render(world, p)))
        return Response(200, {"@odata.context": f"{req.base}/v1.0/$metadata#directoryObjects", "value": found})

    def members(req: Request) -> Response:
        assert req.match is not None
        if not allowed(req, rules.MEMBERS):
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
        if not allowed(req, rules.MEMBER_OF[p.type]):
            return forbidden()
        groups = sorted((world.principals[g] for g in world.groups_of(p.object_id)), key=lambda g: g.object_id)
        return Response(200, _paged(req, groups, size()))

    def _paged(req: Request, items: list[Principal], n: int, typed: bool = True) -> dict[str, Any]:
        body = page(req, items, n, graph=True)
        body["value"] = [shape(req, p, render(world, p, typed=typed)) for p in body["value"]]
        return body

    def delta(req: Request) -> Response:
        if not allowed(req, rules.DELTA):
            return forbidden()
        if unknown := rules.unknown_selected("ServicePrincipal", req.q("$select")):
            return bad_select("ServicePrincipal", unknown)
        token = req.q("$deltatoken")
        skip = req.q("$skiptoken") or ""
        kinds = ("ServicePrincipal", "ManagedIdentity")
        mine = [p for p in world.principals.values() if p.tenant_id == req.tid and p.type in kinds]
        if token is not None or skip.startswith("d"):
            since = int(token) if token and token.isdigit() else int(skip[1:].split("-")[0] or 0)
            changed = sorted((p for p in mine if p.seq > since), key=lambda p: p.seq)
            values = [_delta_item(req, p) for p in changed]
        else:
            values = [shape(req, p, render(world, p, typed=False)) for p in mine if p.active]
        # The deltaLink carries the first round's $select (learn: delta-query-overview: "the
        # deltaLink ... encodes the query parameters of the initial request").
        link = {"$deltatoken": str(world.seq)}
        if req.q("$select"):
            link["$select"] = str(req.q("$select"))
        return Response(
            200,
            {
                "@odata.context": f"{req.base}/v1.0/$metadata#servicePrincipals",
                "value": values,
                "@odata.deltaLink": f"{req.base}/v1.0/servicePrincipals/delta?" + urlencode(link),
            },
        )

    def _delta_item(req: Request, p: Principal) -> dict[str, Any]:
        if p.state == "deleted":
            return {"id": p.object_id, "@removed": {"reason": "deleted"}}
        if p.state == "softDeleted":
            return {"id": p.object_id, "@removed": {"reason": "changed"}}
        return shape(req, p, render(world, p, typed=False))

    def deleted_one(req: Request) -> Response:
        assert req.match is not None
        p = world.principal(req.match.group("id"), req.tid, include_deleted=True)
        if p is None or p.state != "softDeleted":
            return not_found(req.match.group("id"))
        if not allowed(req, rules.DELETED[p.type]):
            return forbidden()
        return Response(200, shape(req, p, render(world, p, deleted=True)))

    def deleted_list(req: Request) -> Response:
        assert req.match is not None
        kinds = TYPE_NAMES.get(req.match.group("type").lower(), ())
        if not kinds:
            return graph_error(400, "Request_BadRequest", "Unsupported deleted item type.")
        if not allowed(req, rules.DELETED[kinds[0]]):
            return forbidden()
        if unknown := rules.unknown_selected(kinds[0], req.q("$select")):
            return bad_select(kinds[0], unknown)
        problem = _filter_problem(req.q("$filter") or "")
        if problem:
            return graph_error(400, "Request_UnsupportedQuery", problem)
        items = [p for p in world.principals.values() if p.tenant_id == req.tid and p.state == "softDeleted"]
        items = [p for p in items if p.type in kinds and _matches(req.q("$filter") or "", p)]
        body = page(req, items, size(), graph=True)
        body["value"] = [shape(req, p, render(world, p, deleted=True)) for p in body["value"]]
        return Response(200, body)

    def restore(req: Request) -> Response:
        assert req.match is not None
        p = world.principal(req.match.group("id"), req.tid, include_deleted=True)
        if p is None or p.state != "softDeleted":
            return not_found(req.match.group("id"))
        if not allowed(req, rules.RESTORE[p.type]):
            return forbidden()
        p.state, p.deleted_at, p.seq = "active", None, world.next_seq()
        world.changed()
        return Response(200, render(world, p))

    def send_mail(req: Request) -> Response:
        assert req.match is not None
        sender = lookup(req, req.match.group("id"), ("User",))
        exchange = sender is not None and rules.exchange_allows(req.caller, "Application Mail.Send", sender)
        if not allowed(req, rules.SEND_MAIL) and not exchange:
            return forbidden()
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


_IN = re.compile(r"\bid\s+in\s*\(([^)]*)\)", re.IGNORECASE)


def _filter_problem(text: str) -> str:
    """Why Graph would refuse this `$filter` ('' when it would not)."""
    for values in _IN.findall(text):
        if len([v for v in values.split(",") if v.strip()]) > rules.FILTER_IN_LIMIT:
            return f"Too many expressions in the 'in' clause: at most {rules.FILTER_IN_LIMIT} are allowed."
    return ""


def _matches(text: str, p: Principal) -> bool:
    """The `$filter` forms worth supporting: `appId eq '…'`, `displayName eq '…'`,
    `servicePrincipalType eq '…'`, `id eq '…'` and `id in ('…', …)`, joined by `and`."""
    for values in _IN.findall(text):
        wanted = {v.strip().strip("'").lower() for v in values.split(",") if v.strip()}
        if p.object_id not in wanted:
            return False
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
