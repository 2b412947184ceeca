"""ARM for Azure Lighthouse: registration assignments and definitions, subscriptions, resource
groups and tenants, with the visibility rules of facts §2.

A managing-tenant caller sees a customer subscription where it (or a group it is in) holds a
permanent authorization; an RG-only caller gets 403 at subscription scope and sees only its
groups; a token from a tenant with no access to a subscription gets 401 (wrong issuer).
`GET /tenants` answers per caller type: a user sees every tenant it can reach, an application
only the tenant its token is for (facts §0).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from emulator.web import Request, Response, Route, arm_error, page, route
from emulator.world import Access, Delegation, World

if TYPE_CHECKING:
    from emulator.server import App

MS_VERSIONS = {
    "2018-06-01-preview",
    "2019-04-01-preview",
    "2019-06-01",
    "2019-09-01",
    "2020-02-01-preview",
    "2020-09-01",
    "2022-01-01-preview",
    "2022-10-01",
}
FILTER = re.compile(r"managedByTenantId\s+eq\s+'([^']*)'", re.IGNORECASE)


def render_auth(auth: dict[str, Any], eligible: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "principalId": auth["principalId"],
        "principalIdDisplayName": auth.get("principalIdDisplayName", ""),
        "roleDefinitionId": auth["roleDefinitionId"],
    }
    if auth.get("delegatedRoleDefinitionIds"):
        out["delegatedRoleDefinitionIds"] = auth["delegatedRoleDefinitionIds"]
    if eligible:
        out["justInTimeAccessPolicy"] = auth.get(
            "justInTimeAccessPolicy", {"multiFactorAuthProvider": "Azure", "maximumActivationDuration": "PT8H"}
        )
    return out


def render_definition(world: World, d: Delegation) -> dict[str, Any]:
    customer = world.subscriptions[d.subscription_id]["tenantId"]
    out: dict[str, Any] = {
        "id": d.definition_resource_id,
        "type": "Microsoft.ManagedServices/registrationDefinitions",
        "name": d.definition_id,
        "properties": {
            "description": d.raw.get("description", d.definition_name),
            "registrationDefinitionName": d.definition_name,
            "authorizations": [render_auth(a, False) for a in d.authorizations],
            "eligibleAuthorizations": [render_auth(a, True) for a in d.eligible],
            "provisioningState": "Succeeded",
            "manageeTenantId": customer,
            "manageeTenantName": world.tenants.get(customer, {}).get("displayName", ""),
            "managedByTenantId": d.managed_by,
            "managedByTenantName": world.tenants.get(d.managed_by, {}).get("displayName", ""),
        },
    }
    if d.raw.get("plan"):
        out["plan"] = d.raw["plan"]
    return out


def render_assignment(world: World, d: Delegation, expand: bool) -> dict[str, Any]:
    props: dict[str, Any] = {"registrationDefinitionId": d.definition_resource_id, "provisioningState": "Succeeded"}
    if expand:
        props["registrationDefinition"] = render_definition(world, d)
    return {
        "id": d.resource_id,
        "type": "Microsoft.ManagedServices/registrationAssignments",
        "name": d.assignment_id,
        "properties": props,
    }


def render_subscription(world: World, sid: str) -> dict[str, Any]:
    sub = world.subscriptions[sid]
    return {
        "id": f"/subscriptions/{sid}",
        "authorizationSource": "RoleBased",
        "managedByTenants": [{"tenantId": t} for t in world.managed_by_tenants(sid)],
        "subscriptionId": sid,
        "tenantId": sub["tenantId"],
        "displayName": sub["displayName"],
        "state": sub["state"],
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": sub["quotaId"],
            "spendingLimit": "Off",
        },
        "tags": {},
    }


def render_tenant(world: World, tid: str, category: str) -> dict[str, Any]:
    tenant = world.tenants[tid]
    return {
        "id": f"/tenants/{tid}",
        "tenantId": tid,
        "tenantCategory": category,
        "country": tenant["countryCode"],
        "countryCode": tenant["countryCode"],
        "displayName": tenant["displayName"],
        "domains": [tenant["defaultDomain"]],
        "defaultDomain": tenant["defaultDomain"],
        "tenantType": "AAD",
    }


def denied(req: Request, action: str, scope: str) -> Response:
    return arm_error(
        403,
        "AuthorizationFailed",
        f"The client '{req.oid}' with object id '{req.oid}' does not have authorization to perform action "
        f"'{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please "
        "refresh your credentials.",
    )


def routes(app: App) -> list[Route]:
    world = app.world

    def size() -> int:
        return int(world.config["pageSize"])

    def check_sub(req: Request, sid: str) -> tuple[Access, Response | None]:
        access = world.access(req.tid, req.oid)
        sub = world.subscriptions.get(sid)
        if sub is None:
            return access, arm_error(404, "SubscriptionNotFound", f"The subscription '{sid}' could not be found.")
        if not access.sees(sid):
            return access, arm_error(
                401,
                "InvalidAuthenticationTokenTenant",
                f"The access token is from the wrong issuer 'https://sts.windows.net/{req.tid}/'. It must match the"
                f" tenant 'https://sts.windows.net/{sub['tenantId']}/' associated with this subscription. Please use"
                f" the authority (URL) 'https://login.windows.net/{sub['tenantId']}' to get the token.",
            )
        return access, None

    def scoped(req: Request, action: str) -> tuple[list[Delegation] | None, Response | None]:
        """Delegations at the requested scope the caller may read, or the refusal."""
        if req.q("api-version") not in MS_VERSIONS:
            return None, arm_error(
                400, "InvalidApiVersionParameter", f"api-version '{req.q('api-version')}' is not supported."
            )
        assert req.match is not None
        sid = req.match.group("sub").lower()
        rg = req.match.group("rg")
        access, err = check_sub(req, sid)
        if err:
            return None, err
        scope = f"/subscriptions/{sid}" + (f"/resourceGroups/{rg}" if rg else "")
        if sid not in access.full and (rg is None or rg.lower() not in access.groups.get(sid, set())):
            return None, denied(req, action, scope)
        if not world.allows(req.tid, req.oid, (sid, rg), action):
            return None, denied(req, action, scope)
        items = [world.delegations[a] for a in world.by_sub.get(sid, {})]
        if rg is not None:
            items = [d for d in items if (d.resource_group or "").lower() == rg.lower()]

        wanted = FILTER.search(req.q("$filter") or "")
        if wanted:
            items = [d for d in items if d.managed_by == wanted.group(1).lower()]
        return items, None

    def expand(req: Request) -> bool:
        return (req.q("$expandRegistrationDefinition") or "").lower() == "true"

    def list_assignments(req: Request) -> Response:
        items, err = scoped(req, "Microsoft.ManagedServices/registrationAssignments/read")
        if err:
            return err
        assert items is not None
        assert req.match is not None
        if req.match.group("rg") is None and not world.assumptions["subscriptionListIncludesResourceGroups"]:
            items = [d for d in items if d.resource_group is None]
        flag = expand(req)
        start = int(req.q("$skiptoken") or 0) if (req.q("$skiptoken") or "0").isdigit() else 0
        window = items[start : start + size()]  # render one page only
        rendered = [None] * start + [render_assignment(world, d, flag) for d in window]
        rendered += [None] * max(0, len(items) - len(rendered))
        return Response(200, page(req, rendered, size()))

    def get_assignment(req: Request) -> Response:
        items, err = scoped(req, "Microsoft.ManagedServices/registrationAssignments/read")
        if err:
            return err
        assert items is not None
        assert req.match is not None
        aid = req.match.group("id").lower()
        rg = req.match.group("rg")
        for d in items:
            if d.assignment_id == aid and (rg is not None or d.resource_group is None):
                return Response(200, render_assignment(world, d, expand(req)))
        return arm_error(404, "RegistrationAssignmentNotFound", f"The registration assignment '{aid}' was not found.")

    def definitions(req: Request) -> list[Delegation] | Response:
        items, err = scoped(req, "Microsoft.ManagedServices/registrationDefinitions/read")
        if err:
            return err
        unique: dict[str, Delegation] = {}
        for d in items or []:
            unique.setdefault(d.definition_id, d)
        return list(unique.values())

    def list_definitions(req: Request) -> Response:
        found = definitions(req)
        if isinstance(found, Response):
            return found
        return Response(200, page(req, [render_definition(world, d) for d in found], size()))

    def get_definition(req: Request) -> Response:
        found = definitions(req)
        if isinstance(found, Response):
            return found
        assert req.match is not None
        for d in found:
            if d.definition_id == req.match.group("id").lower():
                return Response(200, render_definition(world, d))
        return arm_error(404, "RegistrationDefinitionNotFound", "The registration definition was not found.")

    def list_subscriptions(req: Request) -> Response:
        access = world.access(req.tid, req.oid)
        visible = [s for s in world.subscriptions if access.sees(s)]
        start = int(req.q("$skiptoken") or 0) if (req.q("$skiptoken") or "0").isdigit() else 0
        rendered: list[Any] = [None] * len(visible)
        for i in range(start, min(len(visible), start + size())):
            rendered[i] = render_subscription(world, visible[i])
        return Response(200, page(req, rendered, size()))

    def get_subscription(req: Request) -> Response:
        assert req.match is not None
        sid = req.match.group("sub").lower()
        _, err = check_sub(req, sid)
        return err or Response(200, render_subscription(world, sid))

    def group_names(req: Request, sid: str) -> list[str] | Response:
        access, err = check_sub(req, sid)
        if err:
            return err
        names = list(world.subscriptions[sid]["resourceGroups"].values())
        if sid not in access.full:
            allowed = access.groups.get(sid, set())
            names = [n for n in names if n.lower() in allowed]
        return names

    def render_group(sid: str, name: str) -> dict[str, Any]:
        return {
            "id": f"/subscriptions/{sid}/resourceGroups/{name}",
            "name": name,
            "type": "Microsoft.Resources/resourceGroups",
            "location": "westeurope",
            "properties": {"provisioningState": "Succeeded"},
        }

    def list_groups(req: Request) -> Response:
        assert req.match is not None
        sid = req.match.group("sub").lower()
        names = group_names(req, sid)
        if isinstance(names, Response):
            return names
        return Response(200, page(req, [render_group(sid, n) for n in names], size()))

    def get_group(req: Request) -> Response:
        assert req.match is not None
        sid = req.match.group("sub").lower()
        names = group_names(req, sid)
        if isinstance(names, Response):
            return names
        for name in names:
            if name.lower() == req.match.group("rg").lower():
                return Response(200, render_group(sid, name))
        return arm_error(404, "ResourceGroupNotFound", f"Resource group '{req.match.group('rg')}' could not be found.")

    def list_tenants(req: Request) -> Response:
        if str(req.claims.get("idtyp", "app")).lower() != "user":
            # An application token sees its own tenant only, without names or domains
            # (Azure/azure-powershell#24729 shows the raw answer).
            items: list[Any] = []
            if req.tid in world.tenants:
                items.append({"id": f"/tenants/{req.tid}", "tenantId": req.tid, "tenantCategory": "Home"})
            return Response(200, page(req, items, size()))
        found: dict[str, str] = {}
        if req.tid in world.tenants:
            found[req.tid] = "Home"
        access = world.access(req.tid, req.oid)
        for sid in list(access.full) + list(access.groups):
            found.setdefault(world.subscriptions[sid]["tenantId"], "ProjectedBy")
        for sid in world.tenants.get(req.tid, {}).get("subscriptions", []):
            for managing in world.managed_by_tenants(sid):
                found.setdefault(managing, "ManagedBy")
        items = [render_tenant(world, t, c) for t, c in found.items() if t in world.tenants]
        return Response(200, page(req, items, size()))

    sub = r"/subscriptions/(?P<sub>[^/]+)"
    scope = sub + r"(?:/resourceGroups/(?P<rg>[^/]+))?"
    ms = r"/providers/Microsoft\.ManagedServices"
    return [
        route("GET", scope + ms + r"/registrationAssignments/?", list_assignments, "arm"),
        route("GET", scope + ms + r"/registrationAssignments/(?P<id>[^/]+)", get_assignment, "arm"),
        route("GET", scope + ms + r"/registrationDefinitions/?", list_definitions, "arm"),
        route("GET", scope + ms + r"/registrationDefinitions/(?P<id>[^/]+)", get_definition, "arm"),
        route("GET", r"/subscriptions/?", list_subscriptions, "arm"),
        route("GET", sub + r"/?", get_subscription, "arm"),
        route("GET", sub + r"/resourcegroups/?", list_groups, "arm"),
        route("GET", sub + r"/resourcegroups/(?P<rg>[^/]+)", get_group, "arm"),
        route("GET", r"/tenants/?", list_tenants, "arm"),
    ]
