"""The two measured runs, each in its own process (so peak memory is that run's alone).

`python -m bench.runs verify` runs PAL Watch's verification once with the environment the
parent set (emulator endpoints, Azurite, PAL_MAX_CONCURRENCY); `python -m bench.runs baseline`
runs what a partner would script by hand with Microsoft's SDK clients: list subscriptions, list
each subscription's registration assignments with their definitions, GET each principal, read
each identity's PAL link — one request after another. Each prints one JSON line.
"""

from __future__ import annotations

import contextlib
import json
import resource
import sys
import time
from datetime import UTC, datetime
from typing import Any


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def run_verify() -> dict[str, Any]:
    from shared import settings as settings_module
    from shared.usecases import verify
    from shared.usecases.engine import Engine

    engine = Engine(settings_module.load_settings())
    started = time.perf_counter()
    outcome = verify.run_verify(engine, datetime.now(UTC))
    seconds = time.perf_counter() - started
    engine.close()
    return {"seconds": seconds, "peakMiB": _peak_mib(), "outcome": outcome.to_json()}


def run_baseline() -> dict[str, Any]:
    """Sequential, SDK clients as documented, azure-identity credentials; every identity we act as."""
    import requests
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.managedservices import ManagedServicesClient
    from azure.mgmt.managementpartner import ACEProvisioningManagementPartnerAPI
    from azure.mgmt.resource.subscriptions import SubscriptionClient

    from shared import settings as settings_module
    from shared.azure import identity

    settings = settings_module.load_settings()
    credentials = identity.Credentials(settings)  # plain azure-identity credential objects per identity
    arm = settings.arm_endpoint
    started = time.perf_counter()
    assignments: dict[str, Any] = {}
    principals: set[str] = set()
    for acting in settings.identities:
        credential = credentials.for_identity(acting)
        subscriptions = SubscriptionClient(credential, base_url=arm)
        lighthouse = ManagedServicesClient(credential, base_url=arm)
        for sub in subscriptions.subscriptions.list():
            if sub.tenant_id == settings.managing_tenant_id:
                continue
            try:
                for item in lighthouse.registration_assignments.list(
                    f"subscriptions/{sub.subscription_id}", expand_registration_definition=True
                ):
                    assignments[item.id.lower()] = item
            except HttpResponseError:
                continue  # resource-group-only access: a hand-written script usually stops here
        partner = ACEProvisioningManagementPartnerAPI(credential, base_url=arm)
        with contextlib.suppress(HttpResponseError):
            partner.partner.get(settings.partner_id)
    for item in assignments.values():
        definition = item.properties.registration_definition
        for auth in definition.properties.authorizations or [] if definition else []:
            principals.add(auth.principal_id.lower())
    token = credentials.managed_identity().get_token(settings.graph_scope).token
    session = requests.Session()
    for object_id in sorted(principals):
        session.get(
            f"{settings.graph_endpoint}/v1.0/directoryObjects/{object_id}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "peakMiB": _peak_mib(),
        "delegations": len(assignments),
        "principals": len(principals),
    }


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "verify"
    result = run_verify() if which == "verify" else run_baseline()
    print(json.dumps(result))
