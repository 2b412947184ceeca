"""Recorded traffic for the conformance suite: the engine's real flows on the demo scenario.

`traffic` runs once per package: it resets the emulator, switches on the journal's body
recording, and drives the engine through its Functions entry points (verification, the watch
timer, delegation and identity events decoded as the worker decodes them) and then a handful of
direct calls for the answers no flow provokes (errors, the caller's own link). It hands back
every journal entry with its bodies and every event the emulator emitted; the environment and
the emulator are restored before any test sees the data.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import DEMO_SCENARIO, Emulator, decode_event
from tests.contracts.conformance import Checker
from tests.contracts.graph_metadata import GraphMetadata
from tests.contracts.swagger import Specs

SCENARIO = json.loads(DEMO_SCENARIO.read_text())
HOME = next(t for t in SCENARIO["tenants"] if t.get("home"))
HOME_TENANT = HOME["tenantId"]
HOME_SUB = HOME["subscriptions"][0]["subscriptionId"]
PEOPLE = {p["displayName"]: p for p in HOME["principals"]}
MI = PEOPLE["id-palwatch-contoso"]["objectId"]
PARTNER = next(iter(SCENARIO["partnerIds"]))
INVALID_PARTNER = "4000001"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
FABRIKAM = next(d for d in SCENARIO["delegations"] if "(fabrikam)" in d["description"])
RELECLOUD = next(t for t in SCENARIO["tenants"] if t["displayName"] == "Relecloud")
ARM_AUDIENCE = "https://management.azure.com/"
GRAPH_AUDIENCE = "https://graph.microsoft.com"


@dataclass
class Traffic:
    entries: list[dict[str, Any]]
    engine_seq: int  # entries up to this sequence number were sent by the engine itself
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    trigger_failures: list[str] = field(default_factory=list)

    def arm(self, *, engine_only: bool = False) -> list[dict[str, Any]]:
        return [e for e in self._recorded(engine_only) if not e["path"].lower().startswith("/v1.0")]

    def graph(self, *, engine_only: bool = False) -> list[dict[str, Any]]:
        return [e for e in self._recorded(engine_only) if e["path"].lower().startswith("/v1.0")]

    def _recorded(self, engine_only: bool) -> list[dict[str, Any]]:
        return [e for e in self.entries if "responseBody" in e and (not engine_only or e["seq"] <= self.engine_seq)]


@pytest.fixture(scope="package")
def specs() -> Specs:
    return Specs.load()


@pytest.fixture(scope="package")
def checker(specs: Specs) -> Checker:
    return Checker(specs, GraphMetadata.load())


class Probe:
    """Raw HTTPS calls to the emulator as one principal, with a token minted by the control API."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self._tokens: dict[tuple[str, str], str] = {}

    def token(self, object_id: str, audience: str = ARM_AUDIENCE) -> str:
        if (object_id, audience) not in self._tokens:
            answer = self.emulator.control("POST", "/tokens", {"objectId": object_id, "audience": audience})
            self._tokens[(object_id, audience)] = answer["access_token"]
        return self._tokens[(object_id, audience)]

    def call(self, method: str, path: str, who: str | None = MI, *, graph: bool = False, **kwargs: Any) -> Any:
        headers = (
            {"Authorization": f"Bearer {self.token(who, GRAPH_AUDIENCE if graph else ARM_AUDIENCE)}"} if who else {}
        )
        base = self.emulator.info["graph" if graph else "arm"]
        return self.emulator.session.request(method, base + path, headers=headers, timeout=30, **kwargs)


def run_engine_flows(emulator: Emulator, events: list[tuple[str, dict[str, Any]]], failures: list[str]) -> None:
    """The engine's own work on the demo estate, through the same entry points Azure calls."""
    from azure.functions.timer import TimerRequest

    import function_app

    def trigger(name: str, run: Callable[[], Any]) -> None:
        try:
            run()
        except Exception as e:  # a raising trigger is recorded and reported by its own test
            failures.append(f"{name}: {type(e).__name__}: {e}")

    def change(method: str, path: str, body: Any = None, handler: Any = None) -> None:
        answer = emulator.control(method, path, body) or {}
        for event in answer.get("events", []):
            events.append((f"{method} {path}", event))
            if handler is not None:
                name = getattr(handler, "__name__", "trigger")
                trigger(f"{name} after {method} {path}", lambda e=event: handler(decode_event(e)))

    def timer(fn: Any) -> None:
        trigger(getattr(fn, "__name__", "timer"), lambda: fn(TimerRequest(past_due=False)))

    timer(function_app.verify_attribution)  # the whole estate: reads, links made for the identities it can act as
    timer(function_app.cost_snapshot)  # last month's cost of every delegated scope (PAL_COST is on here)
    timer(function_app.watch_delegations)  # activity log, identity poll, Graph subscriptions
    assignment = str(uuid.uuid4())
    customer_sub = RELECLOUD["subscriptions"][0]["subscriptionId"]
    onboarding = {
        "registrationAssignmentId": assignment,
        "scope": f"/subscriptions/{customer_sub}",
        "registrationDefinitionId": str(uuid.uuid4()),
        "registrationDefinitionName": "Contoso Managed Azure (conformance)",
        "managedByTenantId": HOME_TENANT,
        "authorizations": [
            {"principalId": MI, "principalIdDisplayName": "id-palwatch-contoso", "roleDefinitionId": READER},
            {"principalId": PEOPLE["contoso-automation"]["objectId"], "roleDefinitionId": CONTRIBUTOR},
        ],
        "eligibleAuthorizations": [
            {"principalId": PEOPLE["Bob Engineer"]["objectId"], "roleDefinitionId": CONTRIBUTOR},
        ],
    }
    change("PUT", f"/delegations/{assignment}", onboarding, function_app.delegation_events)
    change(
        "POST",
        f"/principals/{PEOPLE['Alice Operator']['objectId']}",
        {"action": "disable"},
        function_app.identity_events,
    )
    operators, ops = PEOPLE["Contoso MSP Operators"]["objectId"], PEOPLE["contoso-ops"]["objectId"]
    change("DELETE", f"/groups/{operators}/members/{ops}", None, function_app.identity_events)
    change("DELETE", f"/links/{HOME_TENANT}/{MI}")  # a link removed by hand: the next verification puts it back
    timer(function_app.verify_attribution)
    change("DELETE", f"/delegations/{assignment}", None, function_app.delegation_events)
    change(
        "POST",
        f"/principals/{PEOPLE['Bob Engineer']['objectId']}",
        {"action": "softDelete"},
        function_app.identity_events,
    )
    change(
        "POST",
        f"/principals/{PEOPLE['Contoso MSP Tier 2']['objectId']}",
        {"action": "hardDelete"},
        function_app.identity_events,
    )
    for sub in emulator.control("GET", "/graph/subscriptions")["subscriptions"][:1]:
        change("POST", f"/graph/subscriptions/{sub['id']}/expire", {}, function_app.identity_events)
    timer(function_app.watch_delegations)


def run_probes(emulator: Emulator) -> None:
    """Answers no engine flow provokes: refusals, the caller's own link, lists the engine never reads."""
    probe = Probe(emulator)
    pal = "/providers/Microsoft.ManagementPartner"
    v = {"api-version": "2018-02-01"}
    newcomer = str(uuid.uuid4())
    person = {"tenantId": HOME_TENANT, "type": "User", "displayName": "Newcomer", "rootRoles": []}  # no role at "/"
    emulator.control("PUT", f"/principals/{newcomer}", person)
    probe.call("GET", f"{pal}/partners/{PARTNER}", params=v)
    probe.call("GET", f"{pal}/partners/9999999", params=v)  # not the caller's partner id: 404
    probe.call("GET", f"{pal}/partners", params=v)
    probe.call("GET", f"{pal}/partners/", params=v)  # the CLI's trailing slash
    probe.call("PUT", f"{pal}/partners/{PARTNER}", params=v)  # already linked: 409
    probe.call("GET", f"{pal}/operations", params=v)
    probe.call("GET", f"{pal}/partners", newcomer, params=v)  # not linked: 404
    probe.call("PATCH", f"{pal}/partners/{PARTNER}", newcomer, params=v)  # not linked: 404
    probe.call("PUT", f"{pal}/partners/{INVALID_PARTNER}", newcomer, params=v)  # 400 PartnerIdInvalid
    probe.call("PUT", f"{pal}/partners/{PARTNER}", newcomer, params=v)
    probe.call("PATCH", f"{pal}/partners/{PARTNER}", newcomer, params=v)
    probe.call("DELETE", f"{pal}/partners/{PARTNER}", newcomer, params=v)
    probe.call("DELETE", f"{pal}/partners/{PARTNER}", newcomer, params=v)  # nothing linked: still 200
    probe.call("GET", f"{pal}/partners/{PARTNER}", None, params=v)  # no token: 401

    ms = {"api-version": "2022-10-01"}
    scope = FABRIKAM["scope"]
    probe.call("GET", f"{scope}/providers/Microsoft.ManagedServices/registrationAssignments/{uuid.uuid4()}", params=ms)
    probe.call("GET", f"{scope}/providers/Microsoft.ManagedServices/registrationAssignments", params=ms)
    probe.call("GET", f"{scope}/providers/Microsoft.ManagedServices/registrationDefinitions", params=ms)
    probe.call(
        "GET",
        f"{scope}/providers/Microsoft.ManagedServices/registrationDefinitions/{FABRIKAM['registrationDefinitionId']}",
        params=ms,
    )
    probe.call("GET", f"{scope}/providers/Microsoft.ManagedServices/registrationDefinitions/{uuid.uuid4()}", params=ms)
    probe.call(
        "GET", f"{scope}/providers/Microsoft.ManagedServices/registrationAssignments", newcomer, params=ms
    )  # no access
    sv = {"api-version": "2022-12-01"}
    probe.call("GET", "/tenants", params=sv)
    probe.call("GET", "/tenants", PEOPLE["Alice Operator"]["objectId"], params=sv)
    probe.call("GET", f"/subscriptions/{HOME_SUB}", params=sv)
    probe.call("GET", f"/subscriptions/{uuid.uuid4()}", params=sv)  # 404 SubscriptionNotFound
    probe.call(
        "GET", f"/subscriptions/{RELECLOUD['subscriptions'][0]['subscriptionId']}", newcomer, params=sv
    )  # 401 wrong issuer
    rv = {"api-version": "2021-04-01"}
    probe.call("GET", f"/subscriptions/{HOME_SUB}/resourcegroups", params=rv)
    probe.call("GET", f"/subscriptions/{HOME_SUB}/resourcegroups/rg-missing", params=rv)
    av = {"api-version": "2022-04-01"}
    probe.call("GET", f"/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}", params=av)
    probe.call(
        "GET", f"/subscriptions/{HOME_SUB}/providers/Microsoft.Authorization/roleDefinitions/{READER}", params=av
    )
    probe.call("GET", f"/providers/Microsoft.Authorization/roleDefinitions/{uuid.uuid4()}", params=av)
    probe.call("GET", f"/subscriptions/{HOME_SUB}/providers/Microsoft.Authorization/roleDefinitions", params=av)
    log = "/providers/microsoft.insights/eventtypes/management/values"
    since = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    probe.call("GET", log, params={"api-version": "2015-04-01", "$filter": f"eventTimestamp ge '{since}'"})
    probe.call("GET", log, params={"api-version": "2015-04-01"})  # no eventTimestamp filter: 400
    probe.call(
        "GET", log, newcomer, params={"api-version": "2015-04-01", "$filter": f"eventTimestamp ge '{since}'"}
    )  # 403

    cv = {"api-version": "2023-03-01"}
    query = f"{scope}/providers/Microsoft.CostManagement/query"
    body = {
        "type": "ActualCost",
        "timeframe": "TheLastMonth",
        "dataset": {"aggregation": {"c": {"name": "Cost", "function": "Sum"}}},
    }
    probe.call("POST", query, newcomer, params=cv, json=body)  # no access: 403
    probe.call("POST", query, params=cv, json={"timeframe": "TheLastMonth"})  # no type, no dataset: 400
    emulator.control("POST", "/costs/qpu", {"quotas": [[3600, 1]]})
    probe.call("POST", query, params=cv, json=body)
    probe.call("POST", query, params=cv, json=body)  # over the QPU quota: 429
    emulator.control("POST", "/costs/qpu", {"quotas": True})

    alice = PEOPLE["Alice Operator"]["objectId"]
    probe.call("GET", f"/v1.0/users/{alice}", graph=True)  # the default property set
    probe.call("GET", f"/v1.0/groups/{PEOPLE['Contoso MSP Operators']['objectId']}", graph=True)
    probe.call("GET", f"/v1.0/directoryObjects/{alice}", graph=True)
    probe.call("GET", f"/v1.0/users/{alice}/transitiveMemberOf", graph=True)
    probe.call(
        "POST",
        "/v1.0/directoryObjects/getByIds",
        graph=True,
        json={"ids": [alice, MI], "types": ["user", "servicePrincipal"]},
    )
    probe.call("GET", "/v1.0/directory/deletedItems/microsoft.graph.user", graph=True)
    probe.call("GET", f"/v1.0/users/{uuid.uuid4()}", graph=True)  # 404 Request_ResourceNotFound


@pytest.fixture(scope="package")
def traffic(emulator_process: Emulator, azurite: str) -> Traffic:
    from shared.usecases import engine

    events: list[tuple[str, dict[str, Any]]] = []
    failures: list[str] = []
    with pytest.MonkeyPatch.context() as env:
        emulator_process.reset()
        emulator_process.control("DELETE", "/faults")
        emulator_process.control("POST", "/journal", {"recordBodies": True})
        for name, value in emulator_process.env.items():
            env.setenv(name, value)
        env.setenv("AzureWebJobsStorage", azurite)
        env.setenv("PAL_TABLE_PREFIX", "c" + uuid.uuid4().hex[:12])
        env.setenv("PAL_COST", "true")
        engine.reset_engine()
        try:
            run_engine_flows(emulator_process, events, failures)
            engine_seq = max((e["seq"] for e in emulator_process.journal()), default=0)
            run_probes(emulator_process)
            entries = emulator_process.journal()
        finally:
            engine.reset_engine()
            emulator_process.reset()  # a fresh world, body recording off, for whatever runs next
    return Traffic(entries=entries, engine_seq=engine_seq, events=events, trigger_failures=failures)
