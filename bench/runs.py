"""The two measured runs, each in its own process (so peak memory is that run's alone).

`python -m bench.runs verify` runs PAL Watch's verification once with the environment the
parent set (emulator endpoints, Azurite, PAL_MAX_CONCURRENCY); `python -m bench.runs baseline`
runs what a partner would script by hand with Microsoft's SDK clients: list subscriptions, list
each subscription's registration assignments with their definitions, GET each principal, read
each identity's PAL link — one request after another; `python -m bench.runs event` times one
delegation event in a warm process. Each prints one JSON line.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import sys
import time
from datetime import UTC, datetime
from typing import Any

from shared import roles


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _measured(started: float, cpu_started: float) -> dict[str, float]:
    """Wall seconds and this process's CPU seconds (every thread, user + system) since the start."""
    return {
        "seconds": time.perf_counter() - started,
        "cpuSeconds": time.process_time() - cpu_started,
        "peakMiB": _peak_mib(),
    }


def run_verify() -> dict[str, Any]:
    from shared import settings as settings_module
    from shared.usecases import verify
    from shared.usecases.engine import Engine

    engine = Engine(settings_module.load_settings())
    started, cpu_started = time.perf_counter(), time.process_time()
    outcome = verify.run_verify(engine, datetime.now(UTC))
    measured = _measured(started, cpu_started)
    engine.close()
    return {**measured, "outcome": outcome.to_json()}


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
    credentials = identity.Credentials(settings, hold_tokens=False)  # plain azure-identity credential objects
    arm = settings.arm_endpoint
    started, cpu_started = time.perf_counter(), time.process_time()
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
    return {
        **_measured(started, cpu_started),
        "delegations": len(assignments),
        "principals": len(principals),
    }


def run_event() -> dict[str, Any]:
    """One delegation event for an identity we act as, handled by a warm process (tokens cached).

    A first event (another new delegation) warms the process as any earlier invocation would;
    then the identity's link is removed by hand, a second delegation names it (beside the managed
    identity as Reader, as onboarding offers do so PAL Watch can read them), and its event is
    handled and timed. Round trips: the longest chain of sequential requests up to the PAL write.
    """
    import uuid

    from bench import journal as bench_journal
    from emulator.make_scenario import gid
    from scripts import services
    from shared import settings as settings_module
    from shared.usecases import delegations
    from shared.usecases.engine import Engine

    emu = services.Emulator(info=json.loads(os.environ["BENCH_EMULATOR"]))
    settings = settings_module.load_settings()
    engine = Engine(settings, budget="event")
    managing = settings.managing_tenant_id
    acting = settings.identities[1]  # the first app registration we act as (federated in the demo)
    object_id = engine.whoami(acting).object_id
    reader = engine.whoami(settings.identities[0]).object_id  # the managed identity, as onboarding offers name it

    def onboard(subscription: str) -> list[dict[str, Any]]:
        body = {
            "registrationAssignmentId": str(uuid.uuid4()),
            "scope": f"/subscriptions/{gid('sub:' + subscription)}",
            "registrationDefinitionId": str(uuid.uuid4()),
            "registrationDefinitionName": "Bench event",
            "managedByTenantId": managing,
            "authorizations": [
                {"principalId": reader, "principalIdDisplayName": "PAL Watch", "roleDefinitionId": _READER},
                {"principalId": object_id, "principalIdDisplayName": acting.name, "roleDefinitionId": _CONTRIBUTOR},
            ],
            "eligibleAuthorizations": [],
        }
        return emu.control("PUT", f"/delegations/{body['registrationAssignmentId']}", body)["events"]

    for event in onboard("bench:0:0"):  # warm-up: tokens, connections, tables
        delegations.handle_delegation_event(engine, event, datetime.now(UTC))
    emu.control("DELETE", f"/links/{managing}/{object_id}")
    events = onboard("bench:1:0")
    emu.control("DELETE", "/journal")
    started, cpu_started = time.perf_counter(), time.process_time()
    outcomes = [str(delegations.handle_delegation_event(engine, event, datetime.now(UTC))) for event in events]
    measured = _measured(started, cpu_started)
    engine.close()
    before_write = bench_journal.until_first_pal_write(emu.journal())
    trips = bench_journal.round_trips(before_write) if before_write else -1
    return {**measured, "roundTrips": trips, "requestsToWrite": len(before_write), "outcomes": outcomes}


_CONTRIBUTOR = roles.CONTRIBUTOR
_READER = roles.READER
_RUNS = {"verify": run_verify, "baseline": run_baseline, "event": run_event}

if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "verify"
    print(json.dumps(_RUNS[which]()))
