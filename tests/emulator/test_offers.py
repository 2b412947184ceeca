"""A subscription's offer (`subscriptionPolicies.quotaId`) and a definition's Marketplace `plan`,
as the scenario gives them, read through Microsoft's SDK clients (unmodified)."""

from __future__ import annotations

import copy
import uuid

from azure.identity import ManagedIdentityCredential
from azure.mgmt.managedservices import ManagedServicesClient
from azure.mgmt.resource.subscriptions import SubscriptionClient

from shared import roles

MI_READER = roles.READER


def _relecloud(demo) -> dict:
    return demo.tenant("Relecloud")


def test_the_quota_id_is_pay_as_you_go_unless_the_scenario_names_one(emulator, demo):
    client = SubscriptionClient(ManagedIdentityCredential(), base_url=emulator.info["arm"])
    (operations,) = demo.scenario["tenants"][0]["subscriptions"]  # the partner's own: names no offer
    assert "quotaId" not in operations
    assert client.subscriptions.get(operations["subscriptionId"]).subscription_policies.quota_id == (
        "PayAsYouGo_2014-09-01"
    )
    tenant = copy.deepcopy(_relecloud(demo))
    sid = tenant["subscriptions"][0]["subscriptionId"]
    assert client.subscriptions.get(sid).subscription_policies.quota_id == "CSP_MG_2017-12-01"  # as the scenario says

    tenant["subscriptions"][0]["quotaId"] = "MSDN_2014-09-01"
    emulator.control("PUT", f"/tenants/{tenant['tenantId']}", tenant)

    assert client.subscriptions.get(sid).subscription_policies.quota_id == "MSDN_2014-09-01"
    listed = {s.subscription_id: s.subscription_policies.quota_id for s in client.subscriptions.list()}
    named = {
        s["subscriptionId"]: s.get("quotaId", "PayAsYouGo_2014-09-01")
        for t in demo.scenario["tenants"]
        for s in t.get("subscriptions", [])
        if s["subscriptionId"] in listed
    }
    assert listed == {**named, sid: "MSDN_2014-09-01"}
    assert len(set(listed.values())) >= 4  # CSP, an Enterprise Agreement, Pay-As-You-Go, Visual Studio


def test_a_marketplace_plan_is_served_only_when_the_scenario_gives_one(emulator, demo):
    sid = _relecloud(demo)["subscriptions"][0]["subscriptionId"]
    mi = next(p for p in demo.scenario["tenants"][0]["principals"] if p["type"] == "ManagedIdentity")
    plan = {"name": "gold", "publisher": "contoso", "product": "managed-ops", "version": "1.0.0"}
    made = {}
    for name, extra in (("Marketplace", {"plan": plan}), ("Template", {})):
        aid = str(uuid.uuid4())
        body = {
            "registrationAssignmentId": aid,
            "scope": f"/subscriptions/{sid}",
            "registrationDefinitionName": name,
            "managedByTenantId": demo.home,
            "authorizations": [{"principalId": mi["objectId"], "roleDefinitionId": MI_READER}],
            **extra,
        }
        emulator.control("PUT", f"/delegations/{aid}", body)
        made[name] = aid
    client = ManagedServicesClient(ManagedIdentityCredential(), base_url=emulator.info["arm"])
    seen = {
        a.name: a.properties.registration_definition
        for a in client.registration_assignments.list(f"subscriptions/{sid}", expand_registration_definition=True)
    }
    marketplace = seen[made["Marketplace"]].plan
    assert (marketplace.name, marketplace.publisher, marketplace.product, marketplace.version) == (
        "gold",
        "contoso",
        "managed-ops",
        "1.0.0",
    )
    assert seen[made["Template"]].plan is None
