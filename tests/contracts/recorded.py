"""The conformance suite's recorded traffic: the engine's real flows on the demo scenario, then a
handful of direct calls for the answers no flow provokes (errors, the caller's own link).

tests/contracts/conftest.py runs them once per package in its `traffic` fixture.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scripts import demo_csp
from tests.support import demo
from tests.support.callers import Probe
from tests.support.services import Emulator
from tests.support.triggers import decode_event

FABRIKAM_DELEGATION = demo.delegation("fabrikam")


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

    # Two CSP customers whose subscriptions carry the partner's Admin Agents (AOBO): their role assignments are read.
    home = demo_csp.Managing(demo.MANAGING, demo.HOME.raw["defaultDomain"], demo.MI.object_id)
    for event in demo_csp.onboard(emulator.control, home, demo.PARTNER):
        events.append(("PUT /delegations (CSP customers)", event))
        trigger("delegation_events (CSP customers)", lambda e=event: function_app.delegation_events(decode_event(e)))
    timer(function_app.verify_attribution)  # the whole estate: reads, links made for the identities it can act as
    timer(function_app.cost_snapshot)  # last month's cost of every delegated scope (PAL_COST is on here)
    timer(function_app.watch_delegations)  # activity log, identity poll, Graph subscriptions
    assignment = str(uuid.uuid4())
    customer_sub = demo.RELECLOUD.subscription_id
    onboarding = {
        "registrationAssignmentId": assignment,
        "scope": f"/subscriptions/{customer_sub}",
        "registrationDefinitionId": str(uuid.uuid4()),
        "registrationDefinitionName": "Contoso Managed Azure (conformance)",
        "managedByTenantId": demo.MANAGING,
        "authorizations": [
            {
                "principalId": demo.MI.object_id,
                "principalIdDisplayName": "id-palwatch-contoso",
                "roleDefinitionId": demo.READER,
            },
            {"principalId": demo.AUTOMATION.object_id, "roleDefinitionId": demo.CONTRIBUTOR},
        ],
        "eligibleAuthorizations": [
            {"principalId": demo.BOB.object_id, "roleDefinitionId": demo.CONTRIBUTOR},
        ],
    }
    change("PUT", f"/delegations/{assignment}", onboarding, function_app.delegation_events)
    change(
        "POST",
        f"/principals/{demo.ALICE.object_id}",
        {"action": "disable"},
        function_app.identity_events,
    )
    operators, ops = demo.OPERATORS.object_id, demo.OPS.object_id
    change("DELETE", f"/groups/{operators}/members/{ops}", None, function_app.identity_events)
    change(
        "DELETE", f"/links/{demo.MANAGING}/{demo.MI.object_id}"
    )  # a link removed by hand: the next verification puts it back
    change(
        "DELETE",
        f"/subscriptions/{demo_csp.COHO_SUB}/roleAssignments/{demo_csp.AOBO_NAME}",
        None,
        function_app.delegation_events,
    )  # the customer removes Admin Agents (AOBO)
    timer(function_app.verify_attribution)
    change("DELETE", f"/delegations/{assignment}", None, function_app.delegation_events)
    change(
        "POST",
        f"/principals/{demo.BOB.object_id}",
        {"action": "softDelete"},
        function_app.identity_events,
    )
    change(
        "POST",
        f"/principals/{demo.TIER2.object_id}",
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
    person = {"tenantId": demo.MANAGING, "type": "User", "displayName": "Newcomer", "rootRoles": []}  # no role at "/"
    emulator.control("PUT", f"/principals/{newcomer}", person)
    probe.call("GET", f"{pal}/partners/{demo.PARTNER}", params=v)
    probe.call("GET", f"{pal}/partners/9999999", params=v)  # not the caller's partner id: 404
    probe.call("GET", f"{pal}/partners", params=v)
    probe.call("GET", f"{pal}/partners/", params=v)  # the CLI's trailing slash
    probe.call("PUT", f"{pal}/partners/{demo.PARTNER}", params=v)  # already linked: 409
    probe.call("GET", f"{pal}/operations", params=v)
    probe.call("GET", f"{pal}/partners", newcomer, params=v)  # not linked: 404
    probe.call("PATCH", f"{pal}/partners/{demo.PARTNER}", newcomer, params=v)  # not linked: 404
    probe.call("PUT", f"{pal}/partners/{demo.OTHER_PARTNER}", newcomer, params=v)  # 400 PartnerIdInvalid
    probe.call("PUT", f"{pal}/partners/{demo.PARTNER}", newcomer, params=v)
    probe.call("PATCH", f"{pal}/partners/{demo.PARTNER}", newcomer, params=v)
    probe.call("DELETE", f"{pal}/partners/{demo.PARTNER}", newcomer, params=v)
    probe.call("DELETE", f"{pal}/partners/{demo.PARTNER}", newcomer, params=v)  # nothing linked: still 200
    probe.call("GET", f"{pal}/partners/{demo.PARTNER}", None, params=v)  # no token: 401

    ms = {"api-version": "2022-10-01"}
    scope = FABRIKAM_DELEGATION["scope"]
    probe.call("GET", f"{scope}/providers/Microsoft.ManagedServices/registrationAssignments/{uuid.uuid4()}", params=ms)
    probe.call("GET", f"{scope}/providers/Microsoft.ManagedServices/registrationAssignments", params=ms)
    probe.call("GET", f"{scope}/providers/Microsoft.ManagedServices/registrationDefinitions", params=ms)
    probe.call(
        "GET",
        f"{scope}/providers/Microsoft.ManagedServices/registrationDefinitions/{FABRIKAM_DELEGATION['registrationDefinitionId']}",
        params=ms,
    )
    probe.call("GET", f"{scope}/providers/Microsoft.ManagedServices/registrationDefinitions/{uuid.uuid4()}", params=ms)
    probe.call(
        "GET", f"{scope}/providers/Microsoft.ManagedServices/registrationAssignments", newcomer, params=ms
    )  # no access
    sv = {"api-version": "2022-12-01"}
    probe.call("GET", "/tenants", params=sv)
    probe.call("GET", "/tenants", demo.ALICE.object_id, params=sv)
    probe.call("GET", f"/subscriptions/{demo.HOME.subscription_id}", params=sv)
    probe.call("GET", f"/subscriptions/{uuid.uuid4()}", params=sv)  # 404 SubscriptionNotFound
    probe.call("GET", f"/subscriptions/{demo.RELECLOUD.subscription_id}", newcomer, params=sv)  # 401 wrong issuer
    rv = {"api-version": "2021-04-01"}
    probe.call("GET", f"/subscriptions/{demo.HOME.subscription_id}/resourcegroups", params=rv)
    probe.call("GET", f"/subscriptions/{demo.HOME.subscription_id}/resourcegroups/rg-missing", params=rv)
    av = {"api-version": "2022-04-01"}
    probe.call("GET", f"/providers/Microsoft.Authorization/roleDefinitions/{demo.CONTRIBUTOR}", params=av)
    probe.call(
        "GET",
        f"/subscriptions/{demo.HOME.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{demo.READER}",
        params=av,
    )
    probe.call("GET", f"/providers/Microsoft.Authorization/roleDefinitions/{uuid.uuid4()}", params=av)
    probe.call(
        "GET",
        f"/subscriptions/{demo.HOME.subscription_id}/providers/Microsoft.Authorization/roleDefinitions",
        params=av,
    )
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

    alice = demo.ALICE.object_id
    probe.call("GET", f"/v1.0/users/{alice}", graph=True)  # the default property set
    probe.call("GET", f"/v1.0/groups/{demo.OPERATORS.object_id}", graph=True)
    probe.call("GET", f"/v1.0/directoryObjects/{alice}", graph=True)
    probe.call("GET", f"/v1.0/users/{alice}/transitiveMemberOf", graph=True)
    probe.call(
        "POST",
        "/v1.0/directoryObjects/getByIds",
        graph=True,
        json={"ids": [alice, demo.MI.object_id], "types": ["user", "servicePrincipal"]},
    )
    probe.call("GET", "/v1.0/directory/deletedItems/microsoft.graph.user", graph=True)
    probe.call("GET", f"/v1.0/users/{uuid.uuid4()}", graph=True)  # 404 Request_ResourceNotFound


def record(emulator_process: Emulator, azurite: str) -> Traffic:
    """Reset the emulator, record bodies, drive the flows and the probes; the world is reset after."""
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
