"""The emulator's one in-memory world: tenants, principals, subscriptions, delegations, links.

Loaded from a scenario (see README.md), indexed so that every request costs about one page,
and guarded by one lock (`World.lock`) that every handler holds while it reads or writes.
The ARM, Graph, Entra and control handlers all read and change this object.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from emulator import assumptions, rbac
from emulator.activity import ActivityLog
from emulator.clock import iso, utcnow
from emulator.entities import Access, Delegation, Principal, ScenarioError, parse_scope

__all__ = ["Access", "Delegation", "Principal", "ScenarioError", "World", "parse_scope"]

ROLES_FILE = Path(__file__).resolve().parent / "data" / "builtin-roles.json"
MONITORING_READER = "43d0d8ad-25c7-4714-9337-8ba259a9fe05"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
# Roles at "/" that include reading the tenant activity log.
ACTIVITY_LOG_ROLES = {MONITORING_READER, READER, OWNER, CONTRIBUTOR, "749f88d5-cbae-40b8-bcfc-e573ddc772fa"}
DEFAULT_PAGE_SIZE = 100


def _builtin_roles() -> dict[str, dict[str, Any]]:
    """Role id -> ARM `properties` of every built-in role a scenario uses, as Microsoft publishes them."""
    data = json.loads(ROLES_FILE.read_text())
    return {item["name"].lower(): copy.deepcopy(item["properties"]) for item in data["roles"]}


def _scenario_role(raw: dict[str, Any]) -> dict[str, Any]:
    """A scenario's `roleDefinitions` entry as ARM `properties` (a role Microsoft has not published here)."""
    return {
        "roleName": raw.get("roleName", raw["roleDefinitionId"]),
        "type": raw.get("type", "CustomRole"),
        "description": raw.get("description", ""),
        "assignableScopes": list(raw.get("assignableScopes", ["/"])),
        "permissions": [
            {
                "actions": list(raw.get("actions", [])),
                "notActions": list(raw.get("notActions", [])),
                "dataActions": list(raw.get("dataActions", [])),
                "notDataActions": list(raw.get("notDataActions", [])),
            }
        ],
    }


DEFAULT_QUOTA_ID = "PayAsYouGo_2014-09-01"  # Microsoft's Pay-As-You-Go offer (MS-AZR-0003P)


def _instant(value: Any, name: str) -> datetime:
    """An ISO 8601 instant from a scenario (a link's createdTime or updatedTime), in UTC."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as e:
        raise ScenarioError(f"link {name} {value!r} is not an ISO 8601 instant") from e
    if moment.tzinfo is None:
        raise ScenarioError(f"link {name} {value!r} has no time zone (say Z for UTC)")
    return moment


class World:
    """All emulated state. Callers hold `lock` around every read and write."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.config: dict[str, Any] = {"pageSize": DEFAULT_PAGE_SIZE, "latencyMs": 0}
        self.assumptions: dict[str, Any] = assumptions.defaults()
        self.load({"tenants": []})

    # ----- loading -------------------------------------------------------------------------
    def load(self, scenario: dict[str, Any]) -> None:
        if not isinstance(scenario, dict):
            raise ScenarioError("a scenario is a JSON object")
        scenario = copy.deepcopy(scenario)
        self.scenario = scenario
        self.version = 0
        self.seq = 0
        self.partner_ids: dict[str, str] = {str(k): str(v) for k, v in scenario.get("partnerIds", {}).items()}
        self.tenants: dict[str, dict[str, Any]] = {}
        self.domains: dict[str, str] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.principals: dict[str, Principal] = {}
        self.by_app: dict[str, list[str]] = {}
        self.member_of: dict[str, set[str]] = {}
        self.delegations: dict[str, Delegation] = {}
        self.by_sub: dict[str, dict[str, None]] = {}
        self.by_principal: dict[str, set[str]] = {}
        self.links: dict[tuple[str, str], dict[str, Any]] = {}
        self.activity = ActivityLog()
        self.graph_subscriptions: dict[str, dict[str, Any]] = {}
        self.mailbox: list[dict[str, Any]] = []
        self.roles = _builtin_roles()
        self._access_cache: dict[tuple[str, str], Access] = {}
        self._access_version = -1
        emu = scenario.get("emulator", {})
        self.config = {"pageSize": int(emu.get("pageSize", DEFAULT_PAGE_SIZE)), "latencyMs": emu.get("latencyMs", 0)}
        self.assumptions = assumptions.updated(assumptions.defaults(), emu.get("assumptions"))
        for role in scenario.get("roleDefinitions", []):
            self.roles[role["roleDefinitionId"].lower()] = _scenario_role(role)
        for tenant in scenario.get("tenants", []):
            self.add_tenant(tenant)
        for delegation in scenario.get("delegations", []):
            self.put_delegation(delegation)
        for link in scenario.get("links", []):
            made = self.put_link(link["tenantId"], link["objectId"], str(link["partnerId"]))
            for name in ("createdTime", "updatedTime"):  # a link made before the scenario starts
                if name in link:
                    made[name] = iso(_instant(link[name], name))
        self.graph_client_state = str(scenario.get("graphClientState", "palwatch-emulator-client-state"))
        self.changed()

    def changed(self) -> None:
        self.version += 1

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def add_tenant(self, tenant: dict[str, Any]) -> None:
        tid = str(tenant["tenantId"]).lower()
        record = {
            "tenantId": tid,
            "displayName": tenant.get("displayName", tid),
            "defaultDomain": tenant.get("defaultDomain", f"{tid[:8]}.onmicrosoft.com"),
            "home": bool(tenant.get("home", False)),
            "countryCode": tenant.get("countryCode", "US"),
            "subscriptions": [],
        }
        old = self.tenants.get(tid)
        if old:
            record["subscriptions"] = old["subscriptions"]
        self.tenants[tid] = record
        self.domains[record["defaultDomain"].lower()] = tid
        for sub in tenant.get("subscriptions", []):
            self.add_subscription(tid, sub)
        for principal in tenant.get("principals", []):
            self.add_principal(tid, principal)
        self.changed()

    def add_subscription(self, tid: str, sub: dict[str, Any]) -> None:
        sid = str(sub["subscriptionId"]).lower()
        existing = self.subscriptions.get(sid)
        groups = existing["resourceGroups"] if existing else {}
        for name in sub.get("resourceGroups", []):
            groups.setdefault(str(name).lower(), str(name))
        self.subscriptions[sid] = {
            "subscriptionId": sid,
            "tenantId": tid,
            "displayName": sub.get("displayName", sid),
            "state": sub.get("state", "Enabled"),
            "resourceGroups": groups,
            # The subscription's offer (subscriptionPolicies.quotaId); Pay-As-You-Go unless the scenario says.
            "quotaId": str(sub.get("quotaId") or (existing or {}).get("quotaId") or DEFAULT_QUOTA_ID),
            # Azure RBAC assignments at the subscription (emulator.arm_authorization serves them).
            "roleAssignments": list(sub.get("roleAssignments") or (existing or {}).get("roleAssignments") or []),
        }
        if sid not in self.tenants[tid]["subscriptions"]:
            self.tenants[tid]["subscriptions"].append(sid)

    def add_principal(self, tid: str, raw: dict[str, Any]) -> Principal:
        kind = raw.get("type", "ServicePrincipal")
        if kind not in ("User", "Group", "ServicePrincipal", "ManagedIdentity"):
            raise ScenarioError(f"unknown principal type {kind!r}")
        oid = str(raw["objectId"]).lower()
        app_id = str(raw.get("appId") or raw.get("clientId") or "").lower()
        principal = Principal(
            object_id=oid,
            tenant_id=tid,
            type=kind,
            display_name=raw.get("displayName", oid),
            raw=dict(raw),
            app_id=app_id,
            account_enabled=bool(raw.get("accountEnabled", True)),
            members=[str(m).lower() for m in raw.get("members", [])],
            credentials=dict(raw.get("credentials", {})),
            graph_app_roles=raw.get("graphAppRoles"),
            root_roles=[r.lower() for r in raw["rootRoles"]] if "rootRoles" in raw else None,
            seq=self.next_seq(),
        )
        old = self.principals.get(oid)
        if old:
            self._unindex_principal(old)
        self.principals[oid] = principal
        if app_id:
            self.by_app.setdefault(app_id, []).append(oid)
        for member in principal.members:
            self.member_of.setdefault(member, set()).add(oid)
        self.changed()
        return principal

    def _unindex_principal(self, principal: Principal) -> None:
        if principal.app_id and principal.object_id in self.by_app.get(principal.app_id, []):
            self.by_app[principal.app_id].remove(principal.object_id)
        for member in principal.members:
            self.member_of.get(member, set()).discard(principal.object_id)

    def set_members(self, group: Principal, members: list[str]) -> None:
        for member in group.members:
            self.member_of.get(member, set()).discard(group.object_id)
        group.members = members
        for member in members:
            self.member_of.setdefault(member, set()).add(group.object_id)
        self.changed()

    def put_delegation(self, raw: dict[str, Any]) -> tuple[Delegation, Delegation | None]:
        """Add or replace a delegation; returns (new, old)."""
        try:
            aid = str(raw["registrationAssignmentId"]).lower()
            sid, rg = parse_scope(raw["scope"])
            managed_by = str(raw["managedByTenantId"]).lower()
        except KeyError as e:
            raise ScenarioError(f"a delegation needs {e.args[0]!r}") from e
        sub = self.subscriptions.get(sid)
        if sub is None:
            raise ScenarioError(f"delegation {aid}: subscription {sid} is not in the scenario")
        if rg is not None:
            rg = sub["resourceGroups"].setdefault(rg.lower(), rg)
        def_id = str(raw.get("registrationDefinitionId") or uuid.uuid5(uuid.NAMESPACE_URL, "def:" + aid)).lower()
        scope = f"/subscriptions/{sid}" + (f"/resourceGroups/{rg}" if rg else "")
        delegation = Delegation(
            assignment_id=aid,
            scope=scope,
            subscription_id=sid,
            resource_group=rg,
            definition_id=def_id,
            definition_name=raw.get("registrationDefinitionName", "Managed services"),
            managed_by=managed_by,
            authorizations=[self._auth(a) for a in raw.get("authorizations", [])],
            eligible=[self._auth(a) for a in raw.get("eligibleAuthorizations", [])],
            raw=copy.deepcopy(raw),
        )
        old = self._drop_delegation(aid)
        self.delegations[aid] = delegation
        self.by_sub.setdefault(sid, {})[aid] = None
        for auth in delegation.authorizations:
            self.by_principal.setdefault(auth["principalId"], set()).add(aid)
        self.activity.record(delegation, sub["tenantId"], register=True)
        self.changed()
        return delegation, old

    @staticmethod
    def _auth(raw: dict[str, Any]) -> dict[str, Any]:
        out = dict(raw)
        out["principalId"] = str(raw["principalId"]).lower()
        out["roleDefinitionId"] = str(raw["roleDefinitionId"]).rsplit("/", 1)[-1].lower()
        return out

    def remove_delegation(self, aid: str) -> Delegation | None:
        old = self._drop_delegation(aid)
        if old is not None:
            self.activity.record(old, self.subscriptions[old.subscription_id]["tenantId"], register=False)
        return old

    def _drop_delegation(self, aid: str) -> Delegation | None:
        old = self.delegations.pop(aid.lower(), None)
        if old is None:
            return None
        self.by_sub.get(old.subscription_id, {}).pop(old.assignment_id, None)
        for auth in old.authorizations:
            self.by_principal.get(auth["principalId"], set()).discard(old.assignment_id)
        self.changed()
        return old

    # ----- PAL links ---------------------------------------------------------------------
    def put_link(self, tid: str, oid: str, partner_id: str) -> dict[str, Any]:
        """Create, revive or re-point a link (a write: version + 1)."""
        key = (tid.lower(), oid.lower())
        now = iso(utcnow())
        link = self.links.get(key)
        if link is None:
            link = {"tenantId": key[0], "objectId": key[1], "version": 0, "createdTime": now}
            self.links[key] = link
        link.update(partnerId=partner_id, state="Active", version=link["version"] + 1, updatedTime=now)
        link["partnerName"] = self.partner_ids.get(partner_id, "")
        self.changed()
        return link

    def delete_link(self, tid: str, oid: str) -> dict[str, Any] | None:
        link = self.links.get((tid.lower(), oid.lower()))
        if link is None or link["state"] != "Active":
            return None
        link.update(state="Deleted", version=link["version"] + 1, updatedTime=iso(utcnow()))
        self.changed()
        return link

    def active_link(self, tid: str, oid: str) -> dict[str, Any] | None:
        link = self.links.get((tid.lower(), oid.lower()))
        return link if link and link["state"] == "Active" else None

    # ----- queries -----------------------------------------------------------------------
    def tenant_id(self, name: str) -> str | None:
        name = name.lower()
        return name if name in self.tenants else self.domains.get(name)

    def home_tenant(self) -> str | None:
        for tid, tenant in self.tenants.items():
            if tenant["home"]:
                return tid
        return next(iter(self.tenants), None)

    def principal(self, oid: str, tid: str | None = None, *, include_deleted: bool = False) -> Principal | None:
        principal = self.principals.get(str(oid).lower())
        if principal is None or (tid and principal.tenant_id != tid.lower()):
            return None
        if principal.state == "deleted" or (principal.state == "softDeleted" and not include_deleted):
            return None
        return principal

    def app_principal(self, app_id: str, tid: str) -> Principal | None:
        for oid in self.by_app.get(app_id.lower(), []):
            principal = self.principals[oid]
            if principal.tenant_id == tid and principal.type in ("ServicePrincipal", "ManagedIdentity"):
                return principal
        return None

    def app_home(self, app_id: str) -> Principal | None:
        """The principal that holds the app's credentials (home of a multi-tenant app)."""
        candidates = [self.principals[o] for o in self.by_app.get(app_id.lower(), [])]
        with_creds = [p for p in candidates if p.credentials]
        home = [p for p in candidates if self.tenants.get(p.tenant_id, {}).get("home")]
        pick = with_creds or home or candidates
        return pick[0] if pick else None

    def groups_of(self, oid: str) -> set[str]:
        """Active groups `oid` belongs to, transitively."""
        seen: set[str] = set()
        todo = [oid.lower()]
        while todo:
            for group in self.member_of.get(todo.pop(), ()):
                if group not in seen and self.principals.get(group) and self.principals[group].active:
                    seen.add(group)
                    todo.append(group)
        return seen

    def transitive_members(self, group: Principal) -> list[Principal]:
        seen: dict[str, Principal] = {}
        todo = list(group.members)
        while todo:
            oid = todo.pop(0)
            member = self.principal(oid)
            if member is None or oid in seen or oid == group.object_id:
                continue
            seen[oid] = member
            if member.type == "Group":
                todo.extend(member.members)
        return list(seen.values())

    def access(self, tid: str, oid: str) -> Access:
        """ARM visibility of subscriptions for the caller (tid, oid); cached per world version."""
        if self._access_version != self.version:
            self._access_cache.clear()
            self._access_version = self.version
        key = (tid, oid)
        cached = self._access_cache.get(key)
        if cached is not None:
            return cached
        access = Access()
        tenant = self.tenants.get(tid)
        if tenant:
            access.full.update(tenant["subscriptions"])
        ids = {oid} | self.groups_of(oid)
        for principal_id in ids:
            for aid in self.by_principal.get(principal_id, ()):
                delegation = self.delegations[aid]
                if delegation.managed_by != tid:
                    continue
                if delegation.resource_group is None:
                    access.full.add(delegation.subscription_id)
                else:
                    access.groups.setdefault(delegation.subscription_id, set()).add(delegation.resource_group.lower())
        for sub in access.full:
            access.groups.pop(sub, None)
        self._access_cache[key] = access
        return access

    def roles_at(self, tid: str, oid: str, sid: str, rg: str | None = None) -> list[dict[str, Any]]:
        """Definitions of the permanent roles the caller holds through Lighthouse at the scope or above it.

        Just-in-time (`eligibleAuthorizations`) roles are not held until activated, so they never count;
        a role id the emulator does not know allows nothing.
        """
        found: list[dict[str, Any]] = []
        for principal_id in {oid} | self.groups_of(oid):
            for aid in self.by_principal.get(principal_id, ()):
                d = self.delegations[aid]
                if d.managed_by != tid or d.subscription_id != sid:
                    continue
                if d.resource_group is not None and (rg is None or d.resource_group.lower() != rg.lower()):
                    continue
                for auth in d.authorizations:
                    if auth["principalId"] == principal_id and auth["roleDefinitionId"] in self.roles:
                        found.append(self.roles[auth["roleDefinitionId"]])
        return found

    def allows(self, tid: str, oid: str, scope: tuple[str, str | None], action: str) -> bool:
        """ARM's action check for the caller at `scope` (subscription id, resource group or None).

        A caller from the subscription's own tenant is not checked: scenarios model no role
        assignments inside a tenant, only Lighthouse authorizations (emulator/README.md).
        """
        sid, rg = scope
        sub = self.subscriptions.get(sid)
        if sub is not None and sub["tenantId"] == tid:
            return True
        return rbac.allows(self.roles_at(tid, oid, sid, rg), action)

    def has_root_role(self, principal: Principal | None, wanted: set[str]) -> bool:
        if principal is None:
            return False
        holders = [principal] + [self.principals[g] for g in self.groups_of(principal.object_id)]
        if all(p.root_roles is None for p in holders):
            return True  # no rootRoles key anywhere: everything granted
        return any(set(p.root_roles or []) & wanted for p in holders)

    def has_graph_role(self, principal: Principal | None, wanted: set[str]) -> bool:
        if principal is None:
            return False
        # Entra grants an app nothing it was not consented: no `graphAppRoles`, no permission.
        return bool(set(principal.graph_app_roles or ()) & wanted)

    def managed_by_tenants(self, sid: str) -> list[str]:
        seen: dict[str, None] = {}
        for aid in self.by_sub.get(sid, {}):
            seen[self.delegations[aid].managed_by] = None
        return list(seen)
