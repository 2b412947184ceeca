"""Subscriptions, tenants, registration assignments, role definitions and the activity log,
read through Microsoft's SDK clients (unmodified) and raw calls, with Lighthouse visibility."""

from __future__ import annotations

import json

import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity import ClientSecretCredential, ManagedIdentityCredential
from azure.mgmt.managedservices import ManagedServicesClient
from azure.mgmt.resource.subscriptions import SubscriptionClient

from shared import roles
from tests.support.callers import caller, identities

MONITORING_READER = roles.MONITORING_READER


def test_managing_tenant_sees_delegated_subscriptions_and_assignments(emulator, demo):
    emulator.control("POST", "/config", {"pageSize": 2})
    mi = ManagedIdentityCredential()
    subs = list(SubscriptionClient(mi, base_url=emulator.info["arm"]).subscriptions.list())
    by_name = {s.display_name: s for s in subs}
    # The MI is Reader in every current offer; Adventure Works onboarded with an old offer without it.
    assert set(by_name) == {
        "Contoso MSP - Operations",
        "Fabrikam Production",
        "Fabrikam Dev (Visual Studio)",
        "Northwind - Prod",
        "Tailwind Retail",
        "Woodgrove Core Banking",
        "Woodgrove Dev/Test",
        "Litware Analytics",
        "Proseware Platform",
        "Relecloud Prod",
    }
    fabrikam = by_name["Fabrikam Production"]
    assert fabrikam.tenant_id == demo.tenant("Fabrikam")["tenantId"]
    assert [t.tenant_id for t in fabrikam.managed_by_tenants] == [demo.home]

    ops = identities(emulator)["ops"]
    ops_cred = ClientSecretCredential(
        demo.home,
        ops["clientId"],
        emulator.env[ops["secretSetting"]],
        authority=emulator.info["authority"],
        disable_instance_discovery=True,
    )
    seen = {s.display_name for s in SubscriptionClient(ops_cred, base_url=emulator.info["arm"]).subscriptions.list()}
    # directly (Tailwind rg-web) and through the Operators group (Fabrikam, Woodgrove Core, Litware)
    assert seen == {
        "Contoso MSP - Operations",
        "Fabrikam Production",
        "Tailwind Retail",
        "Woodgrove Core Banking",
        "Litware Analytics",
    }
    pages = [e for e in emulator.journal() if e["path"] == "/subscriptions" and e["objectId"] == ops_cred_oid(demo)]
    assert len(pages) == 3  # 5 subscriptions, 2 per page

    client = ManagedServicesClient(ops_cred, base_url=emulator.info["arm"])
    litware_sub = demo.tenant("Litware")["subscriptions"][0]["subscriptionId"]
    assignments = list(
        client.registration_assignments.list(f"subscriptions/{litware_sub}", expand_registration_definition=True)
    )
    expected = {demo.delegation(name)["registrationAssignmentId"] for name in ("litware", "litware-ml")}
    assert {a.name for a in assignments} == expected, "subscription scope also lists its resource groups'"
    assert any("/resourceGroups/rg-ml/" in a.id for a in assignments)
    definition = next(a for a in assignments if "/resourceGroups/" not in a.id).properties.registration_definition
    assert definition.properties.managed_by_tenant_id == demo.home
    role_ids = [a.role_definition_id for a in definition.properties.authorizations]
    assert roles.CONTRIBUTOR in role_ids


def ops_cred_oid(demo) -> str:
    return demo.principal("contoso-ops")["objectId"]


def test_resource_group_only_caller_is_refused_at_subscription_scope(emulator, demo):
    deploy = caller(emulator, demo.principal("contoso-deploy")["objectId"])
    tailwind = demo.tenant("Tailwind")["subscriptions"][0]["subscriptionId"]
    at_sub = deploy.get(
        f"/subscriptions/{tailwind}/providers/Microsoft.ManagedServices/registrationAssignments",
        params={"api-version": "2022-10-01", "$expandRegistrationDefinition": "true"},
    )
    assert at_sub.status_code == 403
    assert at_sub.json()["error"]["code"] == "AuthorizationFailed"
    groups = deploy.get(f"/subscriptions/{tailwind}/resourcegroups", params={"api-version": "2021-04-01"}).json()[
        "value"
    ]
    assert [g["name"] for g in groups] == ["rg-data"]
    # It sees its group, but Virtual Machine Contributor lacks registrationAssignments/read there.
    at_rg = deploy.get(
        f"/subscriptions/{tailwind}/resourceGroups/rg-data/providers/Microsoft.ManagedServices/registrationAssignments",
        params={"api-version": "2022-10-01"},
    )
    assert at_rg.status_code == 403
    assert "Microsoft.ManagedServices/registrationAssignments/read" in at_rg.json()["error"]["message"]
    watcher = caller(emulator, demo.principal("id-palwatch-contoso")["objectId"])  # Reader in the same group
    listed = watcher.get(
        f"/subscriptions/{tailwind}/resourceGroups/rg-data/providers/Microsoft.ManagedServices/registrationAssignments",
        params={"api-version": "2022-10-01"},
    ).json()["value"]
    assert [a["name"] for a in listed] == [demo.delegation("tailwind-data")["registrationAssignmentId"]]
    other_rg = deploy.get(
        f"/subscriptions/{tailwind}/resourceGroups/rg-web/providers/Microsoft.ManagedServices/registrationAssignments",
        params={"api-version": "2022-10-01"},
    )
    assert other_rg.status_code == 403


def test_filter_by_managing_tenant_and_get_one(emulator, demo):
    me = caller(emulator, demo.principal("Contoso Managed Services Portal", demo.home)["objectId"])
    sub = demo.tenant("Proseware")["subscriptions"][0]["subscriptionId"]
    path = f"/subscriptions/{sub}/providers/Microsoft.ManagedServices/registrationAssignments"
    everything = me.get(path, params={"api-version": "2022-10-01"}).json()["value"]
    assert len(everything) == 2  # ours and Fourth Coffee's
    ours = me.get(
        path,
        params={
            "api-version": "2022-10-01",
            "$filter": f"managedByTenantId eq '{demo.home}'",
            "$expandRegistrationDefinition": "true",
        },
    ).json()["value"]
    assert [a["name"] for a in ours] == [demo.delegation("proseware")["registrationAssignmentId"]]
    one = me.get(
        f"{path}/{ours[0]['name']}", params={"api-version": "2019-09-01", "$expandRegistrationDefinition": "true"}
    )
    assert one.json()["properties"]["registrationDefinition"]["properties"]["manageeTenantName"] == "Proseware, Inc."


def test_tenants_for_an_application_are_its_own_tenant_only_without_names(emulator, demo):
    ops = identities(emulator)["ops"]
    credential = ClientSecretCredential(
        demo.home,
        ops["clientId"],
        emulator.env[ops["secretSetting"]],
        authority=emulator.info["authority"],
        disable_instance_discovery=True,
    )
    tenants = list(SubscriptionClient(credential, base_url=emulator.info["arm"]).tenants.list())
    assert [(t.tenant_id, t.tenant_category, t.display_name) for t in tenants] == [(demo.home, "Home", None)]
    portal = identities(emulator)["portal"]  # multi-tenant: it has principals in Litware and Proseware
    litware = demo.tenant("Litware")["tenantId"]
    multi = ClientSecretCredential(
        litware,
        portal["clientId"],
        emulator.env[portal["secretSetting"]],
        authority=emulator.info["authority"],
        disable_instance_discovery=True,
    )
    raw = caller(emulator, demo.principal("id-palwatch-contoso")["objectId"]).get(
        "/tenants", params={"api-version": "2022-12-01"}
    )
    assert raw.json()["value"] == [{"id": f"/tenants/{demo.home}", "tenantId": demo.home, "tenantCategory": "Home"}]
    found = [t.tenant_id for t in SubscriptionClient(multi, base_url=emulator.info["arm"]).tenants.list()]
    assert found == [litware], "a token for Litware lists Litware only, never the app's other tenants"


def test_tenants_for_a_user_are_every_tenant_it_can_reach(emulator, demo):
    bob = caller(emulator, demo.principal("Bob Engineer")["objectId"])
    tenants = {t["tenantId"]: t for t in bob.get("/tenants", params={"api-version": "2022-12-01"}).json()["value"]}
    assert tenants[demo.home]["tenantCategory"] == "Home"
    adventure = demo.tenant("Adventure Works")
    assert tenants[adventure["tenantId"]]["tenantCategory"] == "ProjectedBy"
    assert tenants[adventure["tenantId"]]["displayName"] == adventure["displayName"]


def test_every_role_a_scenario_uses_is_served_as_microsoft_publishes_it(emulator, demo):
    from emulator import large_scenario
    from emulator.world import ACTIVITY_LOG_ROLES, ROLES_FILE

    published = {r["name"]: r for r in json.loads(ROLES_FILE.read_text())["roles"]}
    used = {
        a["roleDefinitionId"].lower()
        for d in demo.scenario["delegations"]
        for a in d["authorizations"] + d.get("eligibleAuthorizations", [])
    }
    used |= {r.lower() for t in demo.scenario["tenants"] for p in t["principals"] for r in p.get("rootRoles", [])}
    used |= set(large_scenario.ROLES) | ACTIVITY_LOG_ROLES
    assert used <= set(published), f"roles without Microsoft's definition: {sorted(used - set(published))}"
    assert all(r["source"].startswith("MicrosoftDocs/azure-docs articles/") for r in published.values())
    me = caller(emulator, demo.principal("id-palwatch-contoso")["objectId"])
    for rid, entry in published.items():
        body = me.get(
            f"/providers/Microsoft.Authorization/roleDefinitions/{rid}", params={"api-version": "2022-04-01"}
        ).json()
        assert body["properties"] == entry["properties"], rid
        assert body["properties"]["type"] == "BuiltInRole"
        assert set(body["properties"]["permissions"][0]) == {"actions", "notActions", "dataActions", "notDataActions"}


def test_role_definitions_tell_eligible_from_read_only(emulator, demo):
    me = caller(emulator, demo.principal("id-palwatch-contoso")["objectId"])

    def actions(role: str) -> list[str]:
        body = me.get(
            f"/providers/Microsoft.Authorization/roleDefinitions/{role}", params={"api-version": "2022-04-01"}
        )
        return body.json()["properties"]["permissions"][0]["actions"]

    assert actions(roles.READER) == ["*/read"]
    # As Microsoft publishes it: more than reads, although the PEC list counts it as read-only.
    assert actions(MONITORING_READER) == [
        "*/read",
        "Microsoft.OperationalInsights/workspaces/search/action",
        "Microsoft.Support/*",
    ]
    assert "Microsoft.Compute/virtualMachines/*" in actions(roles.VIRTUAL_MACHINE_CONTRIBUTOR)
    assert "Microsoft.DesktopVirtualization/*" in actions("082f0a83-3be5-4ba1-904c-961cca79b387")
    sub = demo.tenant("Fabrikam")["subscriptions"][0]["subscriptionId"]
    scoped = me.get(
        f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{roles.CONTRIBUTOR}",
        params={"api-version": "2022-04-01"},
    ).json()
    assert scoped["properties"]["roleName"] == "Contributor"
    assert scoped["id"].startswith(f"/subscriptions/{sub}/")
    missing = me.get(
        "/providers/Microsoft.Authorization/roleDefinitions/00000000-0000-0000-0000-000000000001",
        params={"api-version": "2022-04-01"},
    )
    assert missing.status_code == 404


def activity(me, since: str) -> list[dict]:
    records, url = [], "/providers/microsoft.insights/eventtypes/management/values"
    params: dict | None = {"api-version": "2015-04-01", "$filter": f"eventTimestamp ge '{since}'"}
    while url:
        body = me.get(url, params=params).json()
        records += body["value"]
        url, params = body.get("nextLink"), None
    return records


def test_activity_log_records_delegations_and_needs_monitoring_reader(emulator, demo):
    emulator.control("POST", "/config", {"pageSize": 5})
    me = caller(emulator, demo.principal("id-palwatch-contoso")["objectId"])
    initial = activity(me, "2000-01-01T00:00:00Z")
    ours = [d for d in demo.scenario["delegations"] if d["managedByTenantId"] == demo.home]
    assert len(initial) == len(ours)
    detail = json.loads(initial[0]["description"])
    assert {"delegationResourceId", "subscriptionTenantId", "subscriptionId"} <= set(detail)
    newest = initial[0]["eventTimestamp"]

    removed = demo.delegation("northwind")
    emulator.control("DELETE", f"/delegations/{removed['registrationAssignmentId']}")
    later = activity(me, newest)
    unregister = [r for r in later if r["operationName"]["value"] == "Microsoft.Resources/tenants/unregister/action"]
    assert len(unregister) == 1
    # The delegated scope, as Microsoft's Lighthouse doc says, never the assignment id.
    assert json.loads(unregister[0]["description"])["delegationResourceId"] == removed["scope"]
    by_scope = {json.loads(r["description"])["delegationResourceId"] for r in initial}
    assert by_scope == {d["scope"] for d in ours}
    assert not [s for s in by_scope if "registrationAssignments" in s]

    automation = caller(emulator, demo.principal("contoso-automation")["objectId"])
    assert (
        automation.get(
            "/providers/microsoft.insights/eventtypes/management/values",
            params={"api-version": "2015-04-01", "$filter": "eventTimestamp ge '2000-01-01T00:00:00Z'"},
        ).status_code
        == 200
    )  # no rootRoles key: granted
    scenario = demo.scenario
    scenario["tenants"][0]["principals"][0]["rootRoles"] = []
    emulator.reset(scenario)
    refused = me.get(
        "/providers/microsoft.insights/eventtypes/management/values",
        params={"api-version": "2015-04-01", "$filter": "eventTimestamp ge '2000-01-01T00:00:00Z'"},
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "AuthorizationFailed"


def test_unknown_api_version_is_rejected(emulator, demo):
    mi = ManagedIdentityCredential()
    client = ManagedServicesClient(mi, base_url=emulator.info["arm"], api_version="2017-01-01")
    sub = demo.tenant("Fabrikam")["subscriptions"][0]["subscriptionId"]
    with pytest.raises(HttpResponseError) as caught:
        list(client.registration_assignments.list(f"subscriptions/{sub}"))
    assert caught.value.status_code == 400
