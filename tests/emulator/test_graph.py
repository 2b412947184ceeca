"""Microsoft Graph v1.0 as the engine reads it: principals, deletion and disabling, groups,
bulk resolution, delta, change-notification subscriptions, sendMail and app permissions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.callers import caller

GRAPH = "https://graph.microsoft.com"


def graph_as(emulator, demo, name: str = "id-palwatch-contoso"):
    return caller(emulator, demo.principal(name)["objectId"], audience=GRAPH)


def url(emulator, path: str) -> str:
    return emulator.info["graph"] + "/v1.0" + path


def test_principals_by_kind_and_as_directory_objects(emulator, demo):
    g = graph_as(emulator, demo)
    alice = demo.principal("Alice Operator")
    user = g.get(url(emulator, f"/users/{alice['objectId']}"), params={"$select": "id,accountEnabled"}).json()
    assert user == {"id": alice["objectId"], "accountEnabled": True}
    mi = g.get(url(emulator, f"/servicePrincipals/{demo.principal('id-palwatch-contoso')['objectId']}")).json()
    assert mi["servicePrincipalType"] == "ManagedIdentity"
    # another tenant's objects are invisible
    fourth = demo.principal("Fourth Coffee Admin")
    assert g.get(url(emulator, f"/users/{fourth['objectId']}")).status_code == 404


def test_without_select_graph_answers_its_default_property_set(emulator, demo):
    g = graph_as(emulator, demo)
    alice = demo.principal("Alice Operator")["objectId"]
    user = g.get(url(emulator, f"/users/{alice}")).json()
    assert "accountEnabled" not in user  # not in the v1.0 default set of a user
    assert {"id", "displayName", "userPrincipalName", "mail", "businessPhones"} <= set(user)
    listed = g.get(url(emulator, "/users"), params={"$filter": f"id in ('{alice}')"}).json()["value"]
    assert [set(u) for u in listed] == [set(user)]
    selected = g.get(url(emulator, "/users"), params={"$filter": f"id in ('{alice}')", "$select": "id,accountEnabled"})
    assert selected.json()["value"] == [{"id": alice, "accountEnabled": True}]
    group = g.get(url(emulator, f"/groups/{demo.principal('Contoso MSP Operators')['objectId']}")).json()
    assert group["groupTypes"] == []
    assert group["securityEnabled"] is True
    assert "accountEnabled" not in group
    sp = g.get(url(emulator, f"/servicePrincipals/{demo.principal('contoso-ops')['objectId']}")).json()
    assert sp["accountEnabled"] is True  # returned by default for service principals
    unknown = g.get(url(emulator, f"/users/{alice}"), params={"$select": "id,notAProperty"})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, "Request_BadRequest")


def test_an_in_filter_takes_at_most_fifteen_ids(emulator, demo):
    g = graph_as(emulator, demo)
    ids = ",".join(f"'00000000-0000-4000-8000-{n:012d}'" for n in range(16))
    refused = g.get(url(emulator, "/users"), params={"$filter": f"id in ({ids})", "$select": "id"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "Request_UnsupportedQuery")


def test_get_by_ids_and_directory_objects_need_directory_read_all(emulator, demo):
    g = graph_as(emulator, demo)  # the demo MI: User/Group/Application.Read.All, Mail.Send
    operators = demo.principal("Contoso MSP Operators")["objectId"]
    alice = demo.principal("Alice Operator")["objectId"]
    for answer in (
        g.get(url(emulator, f"/directoryObjects/{operators}")),
        g.request("POST", url(emulator, "/directoryObjects/getByIds"), json={"ids": [alice]}),
    ):
        assert answer.status_code == 403
        error = answer.json()["error"]
        assert error["code"] == "Authorization_RequestDenied"
        assert error["message"] == "Insufficient privileges to complete the operation."
        assert error["innerError"]["request-id"]
        assert error["innerError"]["date"]

    scenario = demo.scenario
    scenario["tenants"][0]["principals"][0]["graphAppRoles"] = ["Directory.Read.All"]
    emulator.reset(scenario)
    g = graph_as(emulator, demo)
    obj = g.get(url(emulator, f"/directoryObjects/{operators}")).json()
    assert obj["@odata.type"] == "#microsoft.graph.group"
    ids = [p["objectId"] for p in demo.scenario["tenants"][0]["principals"]] + ["00000000-0000-4000-8000-000000000000"]
    found = g.request(
        "POST", url(emulator, "/directoryObjects/getByIds"), json={"ids": ids, "types": ["user", "group"]}
    ).json()["value"]
    assert {o["@odata.type"] for o in found} == {"#microsoft.graph.user", "#microsoft.graph.group"}
    assert len(found) == 5  # 3 users, 2 groups; the unknown id is skipped
    users = [o for o in found if o["@odata.type"] == "#microsoft.graph.user"]
    assert all("accountEnabled" not in u for u in users)  # only a subset of user properties


def test_a_token_carries_the_granted_roles_and_none_without_a_grant(emulator, demo):
    import jwt

    mi = demo.principal("id-palwatch-contoso")
    token = emulator.control("POST", "/tokens", {"objectId": mi["objectId"], "audience": GRAPH})["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["roles"] == mi["graphAppRoles"]
    ops = demo.principal("contoso-ops")["objectId"]  # no graphAppRoles: nothing granted
    token = emulator.control("POST", "/tokens", {"objectId": ops, "audience": GRAPH})["access_token"]
    assert "roles" not in jwt.decode(token, options={"verify_signature": False})
    g = caller(emulator, ops, audience=GRAPH)
    assert g.get(url(emulator, f"/users/{demo.principal('Alice Operator')['objectId']}")).status_code == 403


def test_security_and_microsoft_365_groups_are_soft_deleted_and_distribution_groups_for_good(emulator, demo):
    scenario = demo.scenario
    tier2 = demo.principal("Contoso MSP Tier 2")["objectId"]
    unified = {
        "objectId": "6f0c2d41-3e5b-4c1a-9d2e-7b8a9c0d1e2f",
        "type": "Group",
        "displayName": "Contoso MSP Team",
        "groupTypes": ["Unified"],
    }
    distribution = {
        "objectId": "7a1d3e52-4f6c-4d2b-8e3f-8c9b0d1e2f30",
        "type": "Group",
        "displayName": "Contoso MSP Announcements",
        "distribution": True,
    }
    scenario["tenants"][0]["principals"] += [unified, distribution]
    emulator.reset(scenario)
    g = graph_as(emulator, demo)
    assert g.get(url(emulator, f"/groups/{tier2}")).json()["securityEnabled"] is True
    for group in (tier2, unified["objectId"]):
        events = emulator.control("POST", f"/principals/{group}", {"action": "softDelete"})["events"]
        assert all(e["type"] == "Microsoft.Graph.GroupUpdated" for e in events)
        assert g.get(url(emulator, f"/groups/{group}")).status_code == 404
        deleted = g.get(url(emulator, f"/directory/deletedItems/{group}")).json()
        assert deleted["deletedDateTime"]
    # learn: directory-deleteditems-list: a soft-deleted security group reads securityEnabled false.
    assert g.get(url(emulator, f"/directory/deletedItems/{tier2}")).json()["securityEnabled"] is False
    listed = g.get(url(emulator, "/directory/deletedItems/microsoft.graph.group")).json()["value"]
    assert {x["id"] for x in listed} == {tier2, unified["objectId"]}
    emulator.control("POST", f"/principals/{tier2}", {"action": "restore"})
    assert g.get(url(emulator, f"/groups/{tier2}")).status_code == 200
    # A distribution group is deleted for good.
    emulator.control("POST", f"/principals/{distribution['objectId']}", {"action": "softDelete"})
    assert g.get(url(emulator, f"/directory/deletedItems/{distribution['objectId']}")).status_code == 404


def test_switch_plays_the_older_pages_where_security_groups_are_deleted_for_good(emulator, demo):
    tier2 = demo.principal("Contoso MSP Tier 2")["objectId"]
    emulator.control("POST", "/config", {"assumptions": {"securityGroupDelete": "permanent"}})
    g = graph_as(emulator, demo)
    emulator.control("POST", f"/principals/{tier2}", {"action": "softDelete"})
    assert g.get(url(emulator, f"/groups/{tier2}")).status_code == 404
    assert g.get(url(emulator, f"/directory/deletedItems/{tier2}")).status_code == 404
    restore = emulator.session.post(
        emulator.info["control"].rstrip("/") + f"/principals/{tier2}", json={"action": "restore"}, timeout=30
    )
    assert restore.status_code == 404


def test_soft_delete_restore_hard_delete_and_disable(emulator, demo):
    g = graph_as(emulator, demo)
    bob = demo.principal("Bob Engineer")["objectId"]
    emulator.control("POST", f"/principals/{bob}", {"action": "softDelete"})
    gone = g.get(url(emulator, f"/users/{bob}"))
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "Request_ResourceNotFound"
    deleted = g.get(url(emulator, f"/directory/deletedItems/{bob}")).json()
    assert deleted["deletedDateTime"]
    listed = g.get(url(emulator, "/directory/deletedItems/microsoft.graph.user")).json()["value"]
    assert [u["id"] for u in listed] == [bob]
    emulator.control("POST", f"/principals/{bob}", {"action": "restore"})
    assert g.get(url(emulator, f"/users/{bob}")).status_code == 200
    emulator.control("POST", f"/principals/{bob}", {"action": "hardDelete"})
    assert g.get(url(emulator, f"/users/{bob}")).status_code == 404
    assert g.get(url(emulator, f"/directory/deletedItems/{bob}")).status_code == 404

    ops = demo.principal("contoso-ops")["objectId"]
    emulator.control("POST", f"/principals/{ops}", {"action": "disable"})
    assert g.get(url(emulator, f"/servicePrincipals/{ops}")).json()["accountEnabled"] is False


def test_transitive_members_are_paged(emulator, demo):
    emulator.control("POST", "/config", {"pageSize": 2})
    g = graph_as(emulator, demo)
    members, link = (
        [],
        url(emulator, f"/groups/{demo.principal('Contoso MSP Operators')['objectId']}/transitiveMembers"),
    )
    while link:
        body = g.get(link).json()
        members += body["value"]
        link = body.get("@odata.nextLink")
    names = sorted(m["displayName"] for m in members)
    assert names == ["Alice Operator", "Bob Engineer", "Contoso MSP Tier 2", "contoso-ops"]  # Bob via Tier 2


def test_service_principal_delta(emulator, demo):
    g = graph_as(emulator, demo)
    first = g.get(url(emulator, "/servicePrincipals/delta")).json()
    assert {"contoso-ops", "id-palwatch-contoso"} <= {sp["displayName"] for sp in first["value"]}
    ops = demo.principal("contoso-ops")["objectId"]
    pipeline = demo.principal("contoso-pipeline")["objectId"]
    emulator.control("POST", f"/principals/{ops}", {"action": "disable"})
    emulator.control("POST", f"/principals/{pipeline}", {"action": "hardDelete"})
    changes = g.get(first["@odata.deltaLink"]).json()
    by_id = {c["id"]: c for c in changes["value"]}
    assert set(by_id) == {ops, pipeline}
    assert by_id[ops]["accountEnabled"] is False
    assert by_id[pipeline]["@removed"] == {"reason": "deleted"}
    assert g.get(changes["@odata.deltaLink"]).json()["value"] == []


def test_subscriptions_limit_renew_delete(emulator, demo):
    g = graph_as(emulator, demo)
    now = datetime.now(UTC)
    topic = "EventGrid:?azuresubscriptionid=x&resourcegroup=y&partnertopic=z&location=westeurope"
    body = {
        "changeType": "updated,deleted",
        "resource": "users",
        "clientState": "s3cret",
        "notificationUrl": topic,
        "lifecycleNotificationUrl": topic,
        "expirationDateTime": (now + timedelta(minutes=41_761)).isoformat(),
    }
    too_far = g.request("POST", url(emulator, "/subscriptions"), json=body)
    assert too_far.status_code == 400
    body["expirationDateTime"] = (now + timedelta(days=2)).isoformat()
    created = g.request("POST", url(emulator, "/subscriptions"), json=body)
    assert created.status_code == 201
    sub_id = created.json()["id"]
    later = (now + timedelta(days=20)).isoformat()
    renewed = g.request("PATCH", url(emulator, f"/subscriptions/{sub_id}"), json={"expirationDateTime": later})
    assert renewed.json()["expirationDateTime"] == later
    assert [s["id"] for s in g.get(url(emulator, "/subscriptions")).json()["value"]] == [sub_id]
    assert g.request("DELETE", url(emulator, f"/subscriptions/{sub_id}")).status_code == 204
    assert g.get(url(emulator, f"/subscriptions/{sub_id}")).status_code == 404


def test_send_mail_lands_in_the_mailbox(emulator, demo):
    g = graph_as(emulator, demo)
    emulator.control("DELETE", "/mailbox")
    message = {
        "subject": "Attribution lost",
        "body": {"contentType": "Text", "content": "Fabrikam"},
        "toRecipients": [{"emailAddress": {"address": "ops@contosomsp.com"}}],
    }
    sent = g.request(
        "POST",
        url(emulator, "/users/palwatch@contosomsp.onmicrosoft.com/sendMail"),
        json={"message": message, "saveToSentItems": False},
    )
    assert sent.status_code == 202
    mailbox = emulator.control("GET", "/mailbox")["messages"]
    assert [m["message"]["subject"] for m in mailbox] == ["Attribution lost"]
    assert mailbox[0]["from"] == "palwatch@contosomsp.onmicrosoft.com"


def test_graph_app_roles_are_enforced(emulator, demo):
    scenario = demo.scenario
    mi = scenario["tenants"][0]["principals"][0]
    mi["graphAppRoles"] = ["User.Read.All"]
    emulator.reset(scenario)
    g = graph_as(emulator, demo)
    assert g.get(url(emulator, f"/users/{demo.principal('Alice Operator')['objectId']}")).status_code == 200
    refused = g.get(url(emulator, f"/groups/{demo.principal('Contoso MSP Operators')['objectId']}"))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "Authorization_RequestDenied"
    mail = g.request(
        "POST",
        url(emulator, "/users/palwatch@contosomsp.onmicrosoft.com/sendMail"),
        json={"message": {"toRecipients": [{"emailAddress": {"address": "a@b.c"}}]}},
    )
    assert mail.status_code == 403


def test_json_batch_runs_each_request(emulator, demo):
    g = graph_as(emulator, demo)
    alice = demo.principal("Alice Operator")["objectId"]
    batch = {
        "requests": [
            {"id": "1", "method": "GET", "url": f"/users/{alice}?$select=id,accountEnabled"},
            {"id": "2", "method": "GET", "url": "/users/00000000-0000-4000-8000-000000000000"},
            {
                "id": "3",
                "method": "POST",
                "url": "/directoryObjects/getByIds",
                "body": {"ids": [alice]},
                "headers": {"Content-Type": "application/json"},
            },
        ]
    }
    answers = {r["id"]: r for r in g.request("POST", url(emulator, "/$batch"), json=batch).json()["responses"]}
    assert answers["1"]["status"] == 200
    assert answers["1"]["body"] == {"id": alice, "accountEnabled": True}
    assert answers["2"]["status"] == 404
    assert answers["3"]["status"] == 403  # getByIds needs Directory.Read.All, which the demo MI lacks
    assert answers["3"]["body"]["error"]["code"] == "Authorization_RequestDenied"


def _member_of(g, emulator, object_id: str) -> list[dict]:
    found, link = [], url(emulator, f"/directoryObjects/{object_id}/transitiveMemberOf?$select=id")
    while link:
        answer = g.get(link)
        assert answer.status_code == 200, answer.text
        found += answer.json()["value"]
        link = answer.json().get("@odata.nextLink")
    return found


def test_transitive_member_of_is_paged_typed_and_404_once_deleted(emulator, demo):
    scenario = demo.scenario
    scenario["tenants"][0]["principals"][0]["graphAppRoles"] = ["Directory.Read.All"]
    emulator.reset(scenario)
    emulator.control("POST", "/config", {"pageSize": 1})
    g = graph_as(emulator, demo)
    bob = demo.principal("Bob Engineer")["objectId"]
    tier2 = demo.principal("Contoso MSP Tier 2")["objectId"]
    operators = demo.principal("Contoso MSP Operators")["objectId"]

    first = g.get(url(emulator, f"/users/{bob}/transitiveMemberOf"), params={"$select": "id"}).json()
    assert len(first["value"]) == 1
    assert "@odata.nextLink" in first
    groups = _member_of(g, emulator, bob)
    assert sorted(x["id"] for x in groups) == sorted([tier2, operators])  # Operators through Tier 2
    assert {x["@odata.type"] for x in groups} == {"#microsoft.graph.group"}
    assert [x["id"] for x in _member_of(g, emulator, tier2)] == [operators]
    assert _member_of(g, emulator, operators) == []
    ops = demo.principal("contoso-ops")["objectId"]
    assert [x["id"] for x in _member_of(g, emulator, ops)] == [operators]

    emulator.control("POST", f"/principals/{tier2}", {"action": "softDelete"})
    assert _member_of(g, emulator, bob) == []  # a deleted group holds nobody
    gone = g.get(url(emulator, f"/directoryObjects/{tier2}/transitiveMemberOf"))
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "Request_ResourceNotFound"
    emulator.control("POST", f"/principals/{bob}", {"action": "hardDelete"})
    assert g.get(url(emulator, f"/users/{bob}/transitiveMemberOf")).status_code == 404
    unknown = "00000000-0000-4000-8000-000000000000"
    assert g.get(url(emulator, f"/directoryObjects/{unknown}/transitiveMemberOf")).status_code == 404


def test_transitive_member_of_permissions_per_type(emulator, demo):
    # The demo's managed identity: User/Group/Application.Read.All, no Directory.Read.All.
    g = graph_as(emulator, demo)
    bob = demo.principal("Bob Engineer")["objectId"]
    tier2 = demo.principal("Contoso MSP Tier 2")["objectId"]
    ops = demo.principal("contoso-ops")["objectId"]
    assert g.get(url(emulator, f"/users/{bob}/transitiveMemberOf")).status_code == 200
    assert g.get(url(emulator, f"/servicePrincipals/{ops}/transitiveMemberOf")).status_code == 200
    refused = g.get(url(emulator, f"/groups/{tier2}/transitiveMemberOf"))
    assert refused.status_code == 403  # Graph documents Directory.Read.All for a group's memberships
    assert refused.json()["error"]["code"] == "Authorization_RequestDenied"
