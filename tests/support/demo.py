"""The demo estate's actors as typed handles, read once from the demo scenario the emulator serves.

`demo.MI.object_id` reads as a sentence where `PRINCIPALS["id-palwatch-contoso"]["objectId"]` did
not; `raw` keeps the scenario's own record for the tests that need a field the handle does not name.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from scripts.services import DEMO_SCENARIO
from shared import roles

SCENARIO: dict[str, Any] = json.loads(DEMO_SCENARIO.read_text())
CONTRIBUTOR = roles.CONTRIBUTOR
READER = roles.READER
OTHER_PARTNER = "4000001"  # the demo partner's global id: not valid for PAL


@dataclass(frozen=True)
class Actor:
    """A principal of the managing tenant: the managed identity, a service principal, a user, a group."""

    name: str
    object_id: str
    type: str
    raw: dict[str, Any] = field(repr=False, compare=False, hash=False)

    @property
    def app_id(self) -> str:
        """The application (client) id of a service principal or managed identity; "" for users and groups."""
        return self.raw.get("appId", "")


@dataclass(frozen=True)
class Tenant:
    """A tenant of the demo, with its first subscription (if it has one)."""

    name: str
    tenant_id: str
    subscription_id: str
    raw: dict[str, Any] = field(repr=False, compare=False, hash=False)

    @property
    def scope(self) -> str:
        return f"/subscriptions/{self.subscription_id}"


def _tenant(raw: dict[str, Any]) -> Tenant:
    subscriptions = raw.get("subscriptions") or [{}]
    return Tenant(raw["displayName"], raw["tenantId"], subscriptions[0].get("subscriptionId", ""), raw)


TENANTS = {t["displayName"]: _tenant(t) for t in SCENARIO["tenants"]}
HOME = next(t for t in TENANTS.values() if t.raw.get("home"))
MANAGING = HOME.tenant_id
PARTNER = next(iter(SCENARIO["partnerIds"]))
ACTORS = {p["displayName"]: Actor(p["displayName"], p["objectId"], p["type"], p) for p in HOME.raw["principals"]}

MI = ACTORS["id-palwatch-contoso"]
AUTOMATION = ACTORS["contoso-automation"]
OPS = ACTORS["contoso-ops"]
PIPELINE = ACTORS["contoso-pipeline"]  # federated trust to our MI, not configured: found by discovery
PORTAL = ACTORS["Contoso Managed Services Portal"]
ALICE = ACTORS["Alice Operator"]
BOB = ACTORS["Bob Engineer"]
TIER2 = ACTORS["Contoso MSP Tier 2"]
OPERATORS = ACTORS["Contoso MSP Operators"]

RELECLOUD = TENANTS["Relecloud"]
FABRIKAM = TENANTS["Fabrikam, Inc."]


def tenant(name: str) -> Tenant:
    """The tenant whose name starts with `name` (`tenant("Litware")`)."""
    return next(t for n, t in TENANTS.items() if n.startswith(name))


def delegation(part: str) -> dict[str, Any]:
    """The demo's delegation whose description names `part` in brackets (`delegation("fabrikam")`)."""
    return next(d for d in SCENARIO["delegations"] if f"({part})" in d.get("description", ""))


def scenario_copy() -> dict[str, Any]:
    """A copy of the demo scenario to change and load (`emulator.reset(scenario)`); SCENARIO stays as read."""
    return copy.deepcopy(SCENARIO)


def principal_in(scenario: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """`actor`'s record in `scenario` (a copy being changed)."""
    return next(p for t in scenario["tenants"] for p in t.get("principals", []) if p["objectId"] == actor.object_id)
