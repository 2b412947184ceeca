"""Azure RBAC's action check: does one of a caller's role definitions allow an action?

ARM answers 403 `AuthorizationFailed` unless a role the caller holds at the scope (or above it)
allows the operation's action (learn.microsoft.com/azure/role-based-access-control/
role-definitions, "Actions", "NotActions" and "Wildcard permissions"): within one permission
block an action is allowed when it matches an entry of `actions` and none of `notActions`;
roles add up (the allowed sets are united). Matching is case-insensitive and `*` matches any
run of characters, `/` included (`*/read` is every read, `Microsoft.Compute/*` every action of
the provider). `notActions` is a subtraction, not a deny: another role can still allow it.

Used by the ARM handlers (arm_lighthouse, arm_costs, and any handler that must refuse a read a
role does not cover) through `World.allows`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any


@functools.lru_cache(maxsize=4096)
def _pattern(entry: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in entry.strip().split("*")]
    return re.compile(".*".join(parts), re.IGNORECASE | re.DOTALL)


def matches(entry: str, action: str) -> bool:
    """`entry` (an `actions`/`notActions` item, wildcards allowed) covers `action`."""
    return isinstance(entry, str) and bool(_pattern(entry).fullmatch(action.strip()))


def _blocks(definition: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    node: Any = definition.get("properties", definition)
    permissions = node.get("permissions") if isinstance(node, Mapping) else None
    return [p for p in permissions or [] if isinstance(p, Mapping)]


def allows(role_definitions: Iterable[Mapping[str, Any]], action: str) -> bool:
    """Whether any of the role definitions (ARM `properties`, or whole definitions) allows `action`.

    Control-plane `actions`/`notActions` only: data actions never authorize an ARM call.
    """
    for definition in role_definitions:
        for block in _blocks(definition):
            if any(matches(a, action) for a in block.get("actions") or []) and not any(
                matches(n, action) for n in block.get("notActions") or []
            ):
                return True
    return False
