"""Which Azure roles earn partner credit (PEC) when held in a Lighthouse authorization.

Called by the reconcile decisions (through a callable or mapping the use case builds) and by
use cases that must decide whether to read a role definition. Microsoft's Partner Center page
(azure-roles-perms-pec) ships as `shared/data/pec-eligible-roles.json`, every "Yes" and every "No"
row with its GUID, loaded once, lazily. The list wins: a role it marks "No" earns nothing even
when its definition has non-read actions (Log Analytics Reader, Cosmos DB Account Reader Role,
Backup Reader, Security Reader, ...). Only a role the page does not list (built-in roles newer than
it) is decided from its definition's actions, by the rule Microsoft's partner team describes:
eligible iff some action is not a read; DataActions do not matter. `decided_by_rule` tells a
message to say that this verdict is PAL Watch's reading, not Microsoft's list.

Microsoft's own definitions show what "a read" must cover: Monitoring Reader, which the list
says is not eligible, carries `Microsoft.Support/*` (open support tickets) and
`Microsoft.OperationalInsights/workspaces/search/action` (run a log query) besides `*/read`, and
nearly every built-in role carries `Microsoft.Support/*`. Those two therefore do not make a
role eligible.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

COST_READ = "Microsoft.CostManagement/query/read"  # the Query API's action
ASSIGNMENTS_READ = "Microsoft.ManagedServices/registrationAssignments/read"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_MAX_ACTIONS = 10_000  # a role definition is small; refuse to walk a hostile one forever


@dataclass(frozen=True)
class RoleCatalog:
    """The shipped list: eligible and known-not-eligible role ids (lower case) with names."""

    eligible: frozenset[str]
    not_eligible: frozenset[str]
    names: Mapping[str, str]
    rules: tuple[str, ...]


@functools.cache
def catalog() -> RoleCatalog:
    """Load the shipped role list once per process."""
    text = resources.files("shared").joinpath("data/pec-eligible-roles.json").read_text("utf-8")
    raw = json.loads(text)
    names: dict[str, str] = {}
    eligible: set[str] = set()
    not_eligible: set[str] = set()
    for bucket, target in (("eligible", eligible), ("not_eligible", not_eligible)):
        for item in raw.get(bucket, []):
            role_id = str(item["roleDefinitionId"]).lower()
            target.add(role_id)
            names[role_id] = str(item.get("name", ""))
    return RoleCatalog(
        eligible=frozenset(eligible),
        not_eligible=frozenset(not_eligible),
        names=dict(names),
        rules=tuple(str(r) for r in raw.get("rules", [])),
    )


def normalize_role_id(role_id: str) -> str:
    """A bare lower-case GUID from a bare GUID or a full `.../roleDefinitions/{guid}` id."""
    text = str(role_id or "").strip().rstrip("/")
    tail = text.rsplit("/", 1)[-1]
    return tail.lower()


def is_eligible(role_id: str, definition: Mapping[str, Any] | None = None) -> bool | None:
    """Whether holding `role_id` earns partner credit.

    True/False when the list or the definition decides it; None when the role is unknown and no
    definition was given (the caller then reads the definition and asks again with it).
    `definition` is the ARM role definition (`{"properties": {"permissions": [...]}}`), its
    `properties`, or anything with a `permissions` list.
    """
    rid = normalize_role_id(role_id)
    cat = catalog()
    if rid in cat.eligible:
        return True
    if rid in cat.not_eligible:
        return False
    if definition is None:
        return None
    actions = definition_actions(definition)
    if actions is None:
        return None
    return eligible_from_actions(actions)


def listed(role_id: str) -> bool:
    """Whether Microsoft's PEC page lists the role (as "Yes" or "No")."""
    rid = normalize_role_id(role_id)
    cat = catalog()
    return rid in cat.eligible or rid in cat.not_eligible


def decided_by_rule(role_id: str) -> bool:
    """True when a verdict on `role_id` comes from its actions, not from Microsoft's list."""
    return not listed(role_id)


def eligible_from_actions(actions: Iterable[str]) -> bool:
    """Eligible iff some action is not a read (`*/read`, `.../read`). No actions: not eligible."""
    for count, action in enumerate(actions):
        if count >= _MAX_ACTIONS:
            break
        if not _is_read(action):
            return True
    return False


# Actions Microsoft grants to read-only built-in roles (see the module docstring).
_READ_LIKE = frozenset({"microsoft.support/*", "microsoft.operationalinsights/workspaces/search/action"})


def _is_read(action: str) -> bool:
    text = str(action).strip().lower()
    return text.endswith("/read") or text in _READ_LIKE


def definition_actions(definition: Mapping[str, Any] | Iterable[Any]) -> list[str] | None:
    """The control-plane `actions` of a role definition (DataActions ignored); None if unreadable."""
    try:
        node: Any = definition
        if isinstance(node, Mapping) and isinstance(node.get("properties"), Mapping):
            node = node["properties"]
        permissions = node.get("permissions") if isinstance(node, Mapping) else node
        if not isinstance(permissions, list | tuple):
            return None
        actions: list[str] = []
        for permission in permissions[:_MAX_ACTIONS]:
            if not isinstance(permission, Mapping):
                continue
            for action in permission.get("actions") or []:
                if isinstance(action, str):
                    actions.append(action)
        return actions
    except (AttributeError, TypeError):
        return None


def role_name(role_id: str, definition: Mapping[str, Any] | None = None) -> str:
    """A human name for messages: the shipped name, the definition's roleName, or the id."""
    rid = normalize_role_id(role_id)
    name = catalog().names.get(rid)
    if name:
        return name
    if isinstance(definition, Mapping):
        props = definition.get("properties", definition)
        if isinstance(props, Mapping) and isinstance(props.get("roleName"), str) and props["roleName"]:
            return props["roleName"][:200]
    return f"role {rid[:64]}" if rid else "unknown role"


def is_guid(value: object) -> bool:
    return isinstance(value, str) and bool(_GUID.match(value))


# -- the built-in roles PAL Watch names ----------------------------------------------------------
# One literal per id for the whole project: code, tests, tools and bench import these (the shipped
# PEC list and the emulator's role definitions are data, each citing its source). Ids from the
# Azure built-in roles reference: learn.microsoft.com/azure/role-based-access-control/built-in-roles.
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
MONITORING_READER = "43d0d8ad-25c7-4714-9337-8ba259a9fe05"
COST_MANAGEMENT_READER = "72fafb9e-0641-4937-9268-a91bfd8191a3"
# Marked "No" on Microsoft's PEC page although their definitions carry non-read actions.
LOG_ANALYTICS_READER = "73c42c96-874c-492b-b04d-ab87d138a893"
COSMOS_DB_ACCOUNT_READER = "fbdf93bf-df7d-467e-a4d2-9458aa1360c8"
DATA_BOX_READER = "028f4ed7-e2a9-465e-a8f4-9c0ffdfdc027"
SECURITY_READER = "39bc4728-0917-49c7-9d2c-d95423bc2eb4"
VIRTUAL_MACHINE_CONTRIBUTOR = "9980e02c-c2be-4d73-94e8-173b1dc7cf3c"
SUPPORT_REQUEST_CONTRIBUTOR = "cfd33db0-3dd1-45e3-aa9d-cdbdf3b6f24e"
APPLICATION_INSIGHTS_COMPONENT_CONTRIBUTOR = "ae349356-3a1b-4a5e-921d-050484c6347e"
# Made for Lighthouse itself (not on the PEC list): lets the partner remove a delegation.
MANAGED_SERVICES_REGISTRATION_DELETE = "91c1777a-f3dc-4fae-b103-61d183457e46"
# What infra/ grants the app's identity on its own resources (the Bicep files carry the same ids,
# and the infra tests hold them to these).
STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
STORAGE_QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
STORAGE_TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
EVENTGRID_DATA_SENDER = "d5a91429-5739-47e2-a06b-3470a27159e7"

BUILT_IN: Mapping[str, str] = {
    "Owner": OWNER,
    "Contributor": CONTRIBUTOR,
    "Reader": READER,
    "User Access Administrator": USER_ACCESS_ADMINISTRATOR,
    "Monitoring Reader": MONITORING_READER,
    "Cost Management Reader": COST_MANAGEMENT_READER,
    "Log Analytics Reader": LOG_ANALYTICS_READER,
    "Cosmos DB Account Reader Role": COSMOS_DB_ACCOUNT_READER,
    "Data Box Reader": DATA_BOX_READER,
    "Security Reader": SECURITY_READER,
    "Virtual Machine Contributor": VIRTUAL_MACHINE_CONTRIBUTOR,
    "Support Request Contributor": SUPPORT_REQUEST_CONTRIBUTOR,
    "Application Insights Component Contributor": APPLICATION_INSIGHTS_COMPONENT_CONTRIBUTOR,
    "Managed Services Registration assignment Delete Role": MANAGED_SERVICES_REGISTRATION_DELETE,
    "Storage Blob Data Owner": STORAGE_BLOB_DATA_OWNER,
    "Storage Queue Data Contributor": STORAGE_QUEUE_DATA_CONTRIBUTOR,
    "Storage Table Data Contributor": STORAGE_TABLE_DATA_CONTRIBUTOR,
    "Monitoring Metrics Publisher": MONITORING_METRICS_PUBLISHER,
    "Key Vault Secrets User": KEY_VAULT_SECRETS_USER,
    "EventGrid Data Sender": EVENTGRID_DATA_SENDER,
}


def allows(actions: Iterable[str], not_actions: Iterable[str], action: str) -> bool:
    """Whether one role's control-plane `actions` minus its `notActions` cover `action`.

    ARM's rules (learn.microsoft.com/azure/role-based-access-control/role-definitions): matching is
    case-insensitive and `*` stands for any run of characters, `/` included (`*/read` is every read).
    """
    wanted = str(action).strip()
    return any(_matches(a, wanted) for a in actions) and not any(_matches(n, wanted) for n in not_actions)


@functools.lru_cache(maxsize=2048)
def _wildcard(entry: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(p) for p in entry.strip().split("*")), re.IGNORECASE | re.DOTALL)


def _matches(entry: object, action: str) -> bool:
    return isinstance(entry, str) and bool(_wildcard(entry).fullmatch(action))
