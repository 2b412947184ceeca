"""Every Azure adapter against the emulator over HTTPS, with real azure-identity credentials.

The demo scenario: the app's managed identity, a federated automation principal, a secret one
(`ops`, whose only access is a resource-group delegation), a certificate one (`deploy`), users,
nested groups, and customers with subscription- and resource-group-scope delegations.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import model, roles
from shared.azure import errors, identity
from shared.azure.activity_log import ActivityLogClient
from shared.azure.arm import ArmClient
from shared.azure.graph import GraphClient
from shared.azure.http import AzureHttpClient
from shared.azure.lighthouse import LighthouseClient
from shared.azure.pal import PARTNERS, PartnerLinkClient
from shared.settings import Settings, load_settings
from tests.support import demo, mail
from tests.support.services import Emulator
from tests.support.world import allow_every_write

pytestmark = pytest.mark.integration


PARTNER = "5127255"
READER = roles.READER


def principal(label_or_name: str) -> dict[str, Any]:
    for p in demo.HOME.raw["principals"]:
        if label_or_name in (p.get("label"), p.get("displayName"), p.get("type")):
            return p
    raise KeyError(label_or_name)


def oid(label: str) -> str:
    return principal(label)["objectId"].lower()


@pytest.fixture
def settings(emulator: Emulator) -> Settings:
    return load_settings()


@pytest.fixture
def creds(settings: Settings) -> Iterator[identity.Credentials]:
    credentials = identity.Credentials(settings)
    yield credentials
    credentials.close()


def _identity(settings: Settings, name: str) -> model.ActingIdentity:
    return next(i for i in settings.identities if i.name == name)


def arm_as(settings: Settings, creds: identity.Credentials, name: str) -> AzureHttpClient:
    return AzureHttpClient.for_arm(settings, creds.for_identity(_identity(settings, name)))


def graph(settings: Settings, creds: identity.Credentials) -> GraphClient:
    return GraphClient.from_settings(settings, creds.managed_identity())


def test_every_configured_identity_gets_a_token_for_itself(settings: Settings, creds: identity.Credentials) -> None:
    expected = {
        "managed-identity": demo.MI.object_id,
        "automation": oid("automation"),
        "ops": oid("ops"),
        "deploy": oid("deploy"),
    }
    for acting in settings.identities:
        who = identity.whoami(creds.for_identity(acting), settings.arm_scope)
        assert who.tenant_id == settings.managing_tenant_id
        if acting.name in expected:
            assert who.object_id == expected[acting.name]
    # Credentials are reused per (identity, tenant), so their token caches are too.
    ops = _identity(settings, "ops")
    assert creds.for_identity(ops) is creds.for_identity(ops, settings.managing_tenant_id)


def test_a_wrong_secret_is_a_credential_error_without_the_secret(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAL_IDENTITY_OPS_SECRET", "definitely-wrong-secret")
    settings = load_settings()
    credentials = identity.Credentials(settings)
    with pytest.raises(errors.CredentialError) as caught:
        PartnerLinkClient(arm_as(settings, credentials, "ops")).get_link()
    assert caught.value.code.startswith("AADSTS")
    assert "definitely-wrong-secret" not in str(caught.value)


def test_ensure_link_as_a_federated_principal_writes_once(
    emulator: Emulator, settings: Settings, creds: identity.Credentials
) -> None:
    emulator.control("DELETE", "/journal")
    pal = PartnerLinkClient(arm_as(settings, creds, "automation"))
    assert pal.get_link() is None
    first = pal.ensure_link(PARTNER, may_write=allow_every_write)
    assert first.action == "created"
    assert (first.link.object_id, first.link.tenant_id, first.link.partner_id) == (
        oid("automation"),
        settings.managing_tenant_id,
        PARTNER,
    )
    for _ in range(3):
        assert pal.ensure_link(PARTNER, may_write=allow_every_write).action == "unchanged"
    links = emulator.control("GET", "/links")["links"]
    assert any(
        link["objectId"] == oid("automation") and link["partnerId"] == PARTNER and link["state"] == "Active"
        for link in links
    )
    writes = [
        r
        for r in emulator.journal()
        if r["method"] in ("PUT", "PATCH") and r["path"].startswith(PARTNERS) and r["objectId"] == oid("automation")
    ]
    assert len(writes) == 1


def test_ensure_link_repoints_a_link_changed_by_hand(
    emulator: Emulator, settings: Settings, creds: identity.Credentials
) -> None:
    emulator.control("PUT", f"/links/{settings.managing_tenant_id}/{oid('ops')}", {"partnerId": "4000001"})
    pal = PartnerLinkClient(arm_as(settings, creds, "ops"))
    assert pal.get_link().partner_id == "4000001"
    result = pal.ensure_link(PARTNER, may_write=allow_every_write)
    assert (result.action, result.previous_partner_id, result.link.partner_id) == ("repointed", "4000001", PARTNER)
    assert pal.get_link().partner_id == PARTNER


def test_an_invalid_partner_id_is_its_own_error(settings: Settings, creds: identity.Credentials) -> None:
    deploy = PartnerLinkClient(arm_as(settings, creds, "deploy"))
    with pytest.raises(errors.PartnerIdInvalidError):
        deploy.ensure_link("4000001", may_write=allow_every_write)  # a global id


def test_arm_reads(settings: Settings, creds: identity.Credentials) -> None:
    arm = ArmClient(arm_as(settings, creds, "automation"))
    tenants = {t.tenant_id: t for t in arm.list_tenants()}
    assert settings.managing_tenant_id in tenants
    subscriptions = list(arm.list_subscriptions())
    delegated = [s for s in subscriptions if s.delegated_to(settings.managing_tenant_id)]
    assert delegated
    assert all(s.tenant_id != settings.managing_tenant_id for s in delegated)
    sub_of_rg = "271d51a5-d5f3-4f2a-af23-7e3650394a3d"
    assert {g.name.lower() for g in arm.list_resource_groups(sub_of_rg)} >= {"rg-app", "rg-db"}
    reader = arm.get_role_definition(READER)
    assert reader.role_definition_id == READER
    assert reader.actions
    assert all("write" not in a.lower() for a in reader.actions)


def test_a_missing_assignment_is_not_found(settings: Settings, creds: identity.Credentials) -> None:
    lighthouse = LighthouseClient(arm_as(settings, creds, "automation"))
    missing = (
        "/subscriptions/8d6ebcbb-ba20-4268-b209-47e86716c87c/providers/Microsoft.ManagedServices/"
        "registrationAssignments/00000000-0000-0000-0000-000000000000"
    )
    with pytest.raises(errors.NotFoundError):
        lighthouse.get_assignment(missing)


def test_principals_and_their_state(emulator: Emulator, settings: Settings, creds: identity.Credentials) -> None:
    g = graph(settings, creds)
    alice, bob, ops = oid("Alice Operator"), oid("Bob Engineer"), oid("ops")
    operators, mi = oid("Contoso MSP Operators"), demo.MI.object_id
    live = g.get_principals([alice, operators, ops, mi])
    assert live[alice].kind is model.PrincipalKind.USER
    assert live[alice].user_principal_name == principal("Alice Operator")["userPrincipalName"]
    assert live[operators].kind is model.PrincipalKind.GROUP
    assert live[ops].kind is model.PrincipalKind.SERVICE_PRINCIPAL
    assert live[mi].kind is model.PrincipalKind.MANAGED_IDENTITY
    assert set(g.list_transitive_member_ids(operators)) >= {alice, bob, ops}
    emulator.control("POST", f"/principals/{bob}", {"action": "disable"})
    emulator.control("POST", f"/principals/{alice}", {"action": "softDelete"})
    emulator.control("POST", f"/principals/{ops}", {"action": "hardDelete"})
    found = g.get_principals([alice, bob, ops, operators, mi])
    assert found[bob].state is model.PrincipalState.DISABLED
    assert found[alice].state is model.PrincipalState.SOFT_DELETED
    assert found[alice].kind is model.PrincipalKind.USER
    assert found[ops].state is model.PrincipalState.DELETED
    assert found[operators].state is model.PrincipalState.ACTIVE
    assert g.get_principals([alice.upper()]) == {alice: found[alice]}  # keyed by the lower-cased id


def test_graph_subscription_upkeep(settings: Settings, creds: identity.Credentials) -> None:
    g = graph(settings, creds)
    url = settings.graph_notification_url
    assert url.startswith("EventGrid:?")
    created = g.create_subscription("users", url, datetime.now(UTC) + timedelta(days=2), settings.graph_client_state)
    assert created.resource == "users"
    assert created.expiration is not None
    assert created.subscription_id in {s.subscription_id for s in g.list_subscriptions()}
    later = datetime.now(UTC) + timedelta(days=20)
    renewed = g.renew_subscription(created.subscription_id, later)
    assert renewed.expiration is not None
    assert abs((renewed.expiration - later).total_seconds()) < 5
    with pytest.raises(errors.PermanentError):
        g.renew_subscription(created.subscription_id, datetime.now(UTC) + timedelta(days=40))  # over 41,760 min
    g.delete_subscription(created.subscription_id)
    g.delete_subscription(created.subscription_id)
    assert created.subscription_id not in {s.subscription_id for s in g.list_subscriptions()}


def test_send_mail_lands_in_the_mailbox(emulator: Emulator, settings: Settings, creds: identity.Credentials) -> None:
    sender = principal("PAL Watch alerts")["userPrincipalName"]
    message = {
        "subject": "PAL Watch test",
        "body": {"contentType": "Text", "content": "hello"},
        "toRecipients": [{"emailAddress": {"address": "ops@contoso.example"}}],
    }
    graph(settings, creds).send_mail(sender, message)
    mailbox = mail.mailbox(emulator)
    assert any("PAL Watch test" in json.dumps(m) for m in mailbox)


def test_activity_log_register_and_unregister_records(
    emulator: Emulator, settings: Settings, creds: identity.Credentials
) -> None:
    emulator.control("POST", "/config", {"pageSize": 3})
    activity = ActivityLogClient.from_settings(settings, creds.managed_identity())
    since = datetime.now(UTC) - timedelta(days=30)
    before = list(activity.list_delegation_records(since))
    assert before
    assert all(r.operation == "register" for r in before)
    assert all(r.subscription_id and r.scope.startswith("/subscriptions/") for r in before)
    removed = demo.SCENARIO["delegations"][1]
    emulator.control("DELETE", f"/delegations/{removed['registrationAssignmentId']}")
    after = list(activity.list_delegation_records(since))
    unregister = [r for r in after if r.operation == "unregister"]
    assert unregister
    assert unregister[0].scope.lower() == removed["scope"].lower()
    newest = max(r.timestamp for r in after)
    assert list(activity.list_delegation_records(newest + timedelta(seconds=1))) == []


@pytest.mark.parametrize(
    "fault",
    [{"status": 429, "retryAfter": 0}, {"status": 503}, {"status": "drop"}],
)
def test_transient_faults_are_retried(
    emulator: Emulator, settings: Settings, creds: identity.Credentials, fault: dict[str, Any]
) -> None:
    emulator.control("DELETE", "/journal")
    emulator.control(
        "POST", "/faults", {"route": "/providers/Microsoft.ManagementPartner/partners", "count": 1, **fault}
    )
    pal = PartnerLinkClient(
        AzureHttpClient(settings.arm_endpoint, creds.managed_identity(), settings.arm_scope, backoff_factor=0.0)
    )
    assert pal.get_link().partner_id == PARTNER
    hits = [r for r in emulator.journal() if r["path"].startswith(PARTNERS)]
    assert len(hits) == 2


def test_persistent_throttling_ends_in_a_transient_error(
    emulator: Emulator, settings: Settings, creds: identity.Credentials
) -> None:
    emulator.control("POST", "/faults", {"route": "/subscriptions", "status": 429, "retryAfter": 0})
    arm = ArmClient(
        AzureHttpClient(
            settings.arm_endpoint, creds.managed_identity(), settings.arm_scope, max_retries=2, backoff_factor=0.0
        )
    )
    with pytest.raises(errors.TransientError) as caught:
        list(arm.list_subscriptions())
    assert caught.value.status == 429


def test_an_unconfigured_principal_is_tried_by_federation(settings: Settings, creds: identity.Credentials) -> None:
    who = identity.whoami(creds.federated_for_client_id(demo.PIPELINE.app_id), settings.arm_scope)
    assert who.object_id == demo.PIPELINE.object_id.lower()
    portal = principal("portal")  # trusts no managed identity: federation is refused
    with pytest.raises(errors.CredentialError) as caught:
        identity.whoami(creds.federated_for_client_id(portal["appId"]), settings.arm_scope)
    assert caught.value.code.startswith("AADSTS")


def test_a_multi_tenant_identity_links_itself_in_a_customer_tenant(
    emulator: Emulator, settings: Settings, creds: identity.Credentials
) -> None:
    portal = _identity(settings, "portal")
    assert portal.multi_tenant
    customer = demo.tenant("Litware").raw
    there = next(p for p in customer["principals"] if p.get("appId") == portal.client_id)
    credential = creds.for_identity(portal, customer["tenantId"])
    who = identity.whoami(credential, settings.arm_scope)
    assert (who.tenant_id, who.object_id) == (customer["tenantId"].lower(), there["objectId"].lower())
    tenants = {t.tenant_id for t in ArmClient(AzureHttpClient.for_arm(settings, credential)).list_tenants()}
    assert customer["tenantId"].lower() in tenants
    pal = PartnerLinkClient(AzureHttpClient.for_arm(settings, credential))
    result = pal.ensure_link(PARTNER, may_write=allow_every_write)
    assert (result.action, result.link.tenant_id) == ("created", customer["tenantId"].lower())
