"""Exchange Online RBAC for Applications: `Application Mail.Send` assigned in Exchange to the app's
service principal lets it send as the mailboxes of its scope, although its Graph token carries no
Mail.Send (the grant lives in Exchange); other mailboxes stay refused."""

from __future__ import annotations

import copy

from shared.azure import identity
from tests.support.callers import GRAPH_AUDIENCE, caller


def _mail(to: str) -> dict:
    return {
        "message": {"subject": "test", "body": {"content": "x"}, "toRecipients": [{"emailAddress": {"address": to}}]}
    }


def test_an_exchange_grant_sends_for_its_mailboxes_only(emulator, demo):
    data = copy.deepcopy(demo.scenario)
    mi = demo.principal("id-palwatch-contoso")
    alice = demo.principal("Alice Operator")
    bob = demo.principal("Bob Engineer")
    for tenant in data["tenants"]:
        for p in tenant["principals"]:
            if p["objectId"] == mi["objectId"]:
                p["graphAppRoles"] = [r for r in p["graphAppRoles"] if r != "Mail.Send"]
                p["exchangeAppRoles"] = [{"role": "Application Mail.Send", "mailboxes": [alice["userPrincipalName"]]}]
    emulator.reset(data)
    graph = emulator.info["graph"]
    who = caller(emulator, mi["objectId"], audience=GRAPH_AUDIENCE)
    sent = who.request("POST", f"{graph}/v1.0/users/{alice['userPrincipalName']}/sendMail", json=_mail("ops@x.example"))
    assert sent.status_code == 202
    refused = who.request("POST", f"{graph}/v1.0/users/{bob['objectId']}/sendMail", json=_mail("ops@x.example"))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "Authorization_RequestDenied"
    token = emulator.control("POST", "/tokens", {"objectId": mi["objectId"], "audience": GRAPH_AUDIENCE})
    assert "Mail.Send" not in identity.token_claims(token["access_token"]).get("roles", [])
