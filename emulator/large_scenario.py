"""A generated estate for `make bench`: the demo's home tenant (Contoso MSP, its identities
and links) plus N customer tenants sharing M delegations, thousands of users and some groups.

Called by `python -m emulator.make_scenario large --tenants 1000 --delegations 5000 --out FILE`
(and importable by bench scripts as `emulator.large_scenario.large`).
"""

from __future__ import annotations

import random
from typing import Any

from emulator.make_scenario import CONTRIBUTOR, READER, VM_CONTRIBUTOR, auth, charge, customer, delegation, demo, gid

WEBSITE_CONTRIBUTOR = "de139f84-1756-47ae-9be6-808fbbe84772"
ROLES = (CONTRIBUTOR, READER, VM_CONTRIBUTOR, WEBSITE_CONTRIBUTOR)  # the roles its delegations hold


def large(tenants: int, delegations: int, *, users: int = 2000, groups: int = 40, seed: int = 7) -> dict[str, Any]:
    """A big partner: the demo's home tenant plus `tenants` customers sharing `delegations`."""
    rng = random.Random(seed)
    base = demo()
    home = base["tenants"][0]
    identities = [p for p in home["principals"] if p["type"] in ("ManagedIdentity", "ServicePrincipal")]
    people = [p for p in home["principals"] if p["type"] in ("User", "Group")]
    for i in range(users):
        user = {
            "objectId": gid(f"user:bench:{i}"),
            "type": "User",
            "displayName": f"Engineer {i:03d}",
            "userPrincipalName": f"engineer{i:03d}@contosomsp.onmicrosoft.com",
        }
        home["principals"].append(user)
        people.append(user)
    for i in range(groups):
        members = [p["objectId"] for p in rng.sample(people, 12)]
        group = {
            "objectId": gid(f"group:bench:{i}"),
            "type": "Group",
            "displayName": f"Team {i:02d}",
            "members": members,
        }
        home["principals"].append(group)
        people.append(group)
    out_tenants = [home]
    out_delegations = []
    accounts = []
    roles = list(ROLES)
    per_tenant = max(1, delegations // max(1, tenants))
    made = 0
    for t in range(tenants):
        want = per_tenant + (1 if t < delegations - per_tenant * tenants else 0)
        subs = [
            (f"bench:{t}:{s}", f"Customer {t:04d} sub {s}", ["rg-a", "rg-b", "rg-c"])
            for s in range(max(1, want // 3 + 1))
        ]
        out_tenants.append(customer(f"bench:{t}", f"Customer {t:04d}", f"customer{t:04d}.onmicrosoft.com", subs))
        accounts += [_costs(gid("sub:" + key), rng) for key, _name, _groups in subs]
        for d in range(want):
            key = subs[d % len(subs)][0]
            rg = None if d < len(subs) else ["rg-a", "rg-b", "rg-c"][(d // len(subs) - 1) % 3]
            who = [rng.choice(identities)] if rng.random() < 0.7 else []
            who += [rng.choice(people)] if rng.random() < 0.6 or not who else []
            scope = f"/subscriptions/{gid('sub:' + key)}" + (f"/resourceGroups/{rg}" if rg else "")
            out_delegations.append(
                delegation(
                    f"bench:{t}:{d}",
                    scope,
                    home["tenantId"],
                    "Contoso Managed Azure",
                    [auth(p, rng.choice(roles)) for p in who],
                )
            )
            made += 1
    base["tenants"] = out_tenants + list(base["tenants"][1:2])
    base["delegations"] = out_delegations
    base["costs"] = {"subscriptions": accounts}
    base["description"] = f"Generated bench estate: {tenants} customer tenants, {made} delegations."
    return base


def _costs(subscription_id: str, rng: random.Random) -> dict[str, Any]:
    """Last month's costs of one bench subscription: usage in each resource group, sometimes a
    reservation, Spot or a Marketplace charge."""
    charges = [charge(round(rng.uniform(200, 20000), 2), rg) for rg in ("rg-a", "rg-b", "rg-c")]
    if rng.random() < 0.3:
        charges.append(charge(round(rng.uniform(500, 5000), 2), "rg-a", "Reservation"))
    if rng.random() < 0.2:
        charges.append(charge(round(rng.uniform(50, 800), 2), "rg-b", "Spot"))
    if rng.random() < 0.2:
        charges.append(charge(round(rng.uniform(50, 900), 2), "rg-c", publisher="Marketplace"))
    return {"subscriptionId": subscription_id, "offer": "CSP", "currency": "USD", "charges": charges}
