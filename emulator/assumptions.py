"""Named switches for what no public source settles: the emulator plays either answer.

Each behaviour below has no public recording or documentation that decides it, so the engine
must work under every allowed value and the tests run it both ways. `World.assumptions` holds
the current values: from the scenario's `emulator.assumptions`, changed by `POST /config`
`{"assumptions": {...}}`. Handlers in arm_pal, arm_lighthouse, arm_costs, graph, control and
graph_subscriptions read them.
"""

from __future__ import annotations

from typing import Any

from emulator.entities import ScenarioError

# name -> (default, allowed values)
SWITCHES: dict[str, tuple[Any, tuple[Any, ...]]] = {
    # PUT .../partners/{id} when the caller is already linked: 409 Conflict, or 400 BadRequest.
    "palPutWhenLinked": (409, (409, 400)),
    # PAL error codes: "named" (PartnerIdInvalid, ManagementPartnerNotFound) or "generic" (BadRequest, NotFound).
    "palErrorCodes": ("named", ("named", "generic")),
    # A subscription-scope registrationAssignments list also returns its resource groups' assignments.
    "subscriptionListIncludesResourceGroups": (True, (True, False)),
    # Graph subscriptions echo notificationUrl "verbatim", or "normalized" (query names lower-cased and sorted).
    "graphNotificationUrlEcho": ("verbatim", ("verbatim", "normalized")),
    # Cost Management query on an EA subscription whose "account owner can view charges" is off:
    # the documented code AccountCostDisabled, with HTTP 401 or 403 (the status is not documented).
    "costViewChargesOffStatus": (401, (401, 403)),
    # A query refused for QPU: only x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after (the
    # documented header), or that and Retry-After.
    "costThrottleHeaders": ("qpu", ("qpu", "both")),
    # Partner billing export: the 202 and a running operation carry Retry-After ("sent"), or no
    # Retry-After at all ("absent"); Graph's pages show neither, Partner Center's guide polls.
    "billingRetryAfter": ("sent", ("sent", "absent")),
    # Deleting a security group: "softDeleted" (Graph v1.0 group-delete and directory-deleteditems-list
    # today: 30 days in deletedItems with securityEnabled false, restorable) or "permanent" (older pages:
    # beta, Graph PowerShell help). Distribution groups are deleted permanently either way.
    "securityGroupDelete": ("softDeleted", ("softDeleted", "permanent")),
}


def defaults() -> dict[str, Any]:
    return {name: default for name, (default, _allowed) in SWITCHES.items()}


def updated(current: dict[str, Any], raw: Any) -> dict[str, Any]:
    """`current` with the switches in `raw` applied; ScenarioError names a bad switch or value."""
    if raw is None:
        return dict(current)
    if not isinstance(raw, dict):
        raise ScenarioError("assumptions must be an object of switch -> value")
    out = dict(current)
    for name, value in raw.items():
        if name not in SWITCHES:
            raise ScenarioError(f"unknown assumption {name!r}; known: {', '.join(SWITCHES)}")
        allowed = SWITCHES[name][1]
        if value not in allowed or isinstance(value, bool) != isinstance(allowed[0], bool):
            raise ScenarioError(f"assumption {name} must be one of {list(allowed)}, got {value!r}")
        out[name] = value
    return out
