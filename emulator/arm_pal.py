"""ARM Microsoft.ManagementPartner (Partner Admin Link), api-version 2018-02-01 (facts §1).

The link belongs to the caller's token (tid, oid); every write bumps etag == version; a
deleted link keeps its record (state Deleted, createdTime kept); every success is 200. What
no public recording settles (the status of a PUT when already linked, the error codes) follows
the `palPutWhenLinked` and `palErrorCodes` switches (assumptions.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.web import Request, Response, Route, arm_error, page, route

if TYPE_CHECKING:
    from emulator.server import App

NOT_LINKED = "This user or service principal is not linked with a Partner ID"
OPERATIONS = [
    ("partners/read", "Get Partner Admin Link of the user or service principal"),
    ("partners/write", "Create or update Partner Admin Link of the user or service principal"),
    ("partners/delete", "Delete Partner Admin Link of the user or service principal"),
    ("operations/read", "List the operations of Microsoft.ManagementPartner"),
]


def render(link: dict[str, Any]) -> dict[str, Any]:
    pid = link["partnerId"]
    return {
        "id": f"/providers/microsoft.managementpartner/partners/{pid}",
        "type": "Microsoft.ManagementPartner/partners",
        "name": pid,
        "etag": link["version"],
        "properties": {
            "partnerId": pid,
            "partnerName": link.get("partnerName", ""),
            "tenantId": link["tenantId"],
            "objectId": link["objectId"],
            "version": link["version"],
            "updatedTime": link["updatedTime"],
            "createdTime": link["createdTime"],
            "state": link["state"],
        },
    }


def routes(app: App) -> list[Route]:
    world = app.world

    def bad_version(req: Request) -> Response | None:
        if req.q("api-version") != "2018-02-01":
            return arm_error(
                400,
                "InvalidApiVersionParameter" if req.q("api-version") else "MissingApiVersionParameter",
                "The api-version query parameter is required and must be 2018-02-01.",
            )
        return None

    def pid(req: Request) -> str:
        return req.match.group("pid") if req.match else ""

    def named() -> bool:
        return world.assumptions["palErrorCodes"] == "named"

    def invalid() -> Response:
        code = "PartnerIdInvalid" if named() else "BadRequest"
        return arm_error(400, code, "The Partner ID is not valid", twice=True)

    def not_found() -> Response:
        return arm_error(404, "ManagementPartnerNotFound" if named() else "NotFound", NOT_LINKED, twice=True)

    def already_linked() -> Response:
        status = int(world.assumptions["palPutWhenLinked"])
        return arm_error(
            status,
            "Conflict" if status == 409 else "BadRequest",
            "This user or service principal is already linked with a Partner ID; use PATCH to change it.",
            twice=True,
        )

    def get_one(req: Request) -> Response:
        if (err := bad_version(req)) is not None:
            return err
        link = world.active_link(req.tid, req.oid)
        if link is None or link["partnerId"] != pid(req):
            return not_found()
        return Response(200, render(link))

    def create(req: Request) -> Response:
        if (err := bad_version(req)) is not None:
            return err
        body = _body(req)
        wanted = str(body.get("partnerId") or pid(req)) if isinstance(body, dict) else pid(req)
        if wanted not in world.partner_ids:
            return invalid()
        if world.active_link(req.tid, req.oid) is not None:
            return already_linked()
        return Response(200, render(world.put_link(req.tid, req.oid, wanted)))

    def update(req: Request) -> Response:
        if (err := bad_version(req)) is not None:
            return err
        if pid(req) not in world.partner_ids:
            return invalid()
        if world.active_link(req.tid, req.oid) is None:
            return not_found()
        return Response(200, render(world.put_link(req.tid, req.oid, pid(req))))

    def delete(req: Request) -> Response:
        if (err := bad_version(req)) is not None:
            return err
        world.delete_link(req.tid, req.oid)
        return Response(200)

    def mine(req: Request) -> Response:
        if (err := bad_version(req)) is not None:
            return err
        link = world.active_link(req.tid, req.oid)
        return Response(200, render(link)) if link else not_found()

    def operations(req: Request) -> Response:
        if (err := bad_version(req)) is not None:
            return err
        items = [
            {
                "name": f"Microsoft.ManagementPartner/{name}",
                "display": {
                    "provider": "Microsoft ManagementPartner",
                    "resource": name.split("/")[0],
                    "operation": name,
                    "description": text,
                },
                "origin": "user,system",
            }
            for name, text in OPERATIONS
        ]
        return Response(200, page(req, items, int(world.config["pageSize"])))

    base = r"/providers/Microsoft\.ManagementPartner"
    one = base + r"/partners/(?P<pid>[^/]+)"
    return [
        route("GET", one, get_one, "arm"),
        route("PUT", one, create, "arm"),
        route("PATCH", one, update, "arm"),
        route("DELETE", one, delete, "arm"),
        route("GET", base + r"/partners/?", mine, "arm"),
        route("GET", base + r"/operations/?", operations, "arm"),
    ]


def _body(req: Request) -> Any:
    try:
        return req.json() or {}
    except ValueError:
        return {}
