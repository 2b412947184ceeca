"""Settings are read once, validated with errors that name the setting and the fix, secrets hidden."""

from __future__ import annotations

import json

import pytest

from shared import settings as settings_module
from shared.settings import SettingsError, load_settings

TENANT = "83abe5cd-bcc3-441a-bd86-e6a75360cecc"
APP = "5b5a4c1e-1f2f-4d6e-9d1a-0b6c1d2e3f40"
APP2 = "7c2f5d11-3a4b-4c5d-8e9f-0a1b2c3d4e5f"
PEM = (
    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
)
SECRET = "s3cr3t-value-that-must-not-leak"


def base(**extra: str) -> dict[str, str]:
    env = {"PAL_PARTNER_ID": "5127255", "PAL_MANAGING_TENANT_ID": TENANT}
    env.update(extra)
    return env


def identities(*items: dict) -> str:
    return json.dumps(list(items))


def test_minimal_settings_use_public_cloud_defaults() -> None:
    s = load_settings(base())
    assert s.partner_id == "5127255"
    assert s.managing_tenant_id == TENANT
    assert s.arm_endpoint == "https://management.azure.com"
    assert s.graph_endpoint == "https://graph.microsoft.com"
    assert s.authority_host == "https://login.microsoftonline.com"
    assert s.arm_scope == "https://management.azure.com/.default"
    assert s.graph_scope == "https://graph.microsoft.com/.default"
    assert s.public_cloud
    assert s.federation_discovery is True
    assert s.max_concurrency == 16
    assert s.http_timeout_seconds == 30.0
    assert s.watch_schedule == "0 */5 * * * *"
    assert s.storage.table_prefix == "palwatch"
    assert s.alerts.remind_hours == 24
    assert s.alerts.digest is False


def test_customer_tenants_are_lower_cased_guids_without_repeats() -> None:
    upper = "0F5B8D7E-1C2A-4B3C-9D4E-5F6A7B8C9D0E"
    settings = load_settings(base(PAL_CUSTOMER_TENANTS=f" {upper}, {TENANT} ,{upper.lower()},"))
    assert settings.customer_tenants == (upper.lower(), TENANT)
    assert load_settings(base()).customer_tenants == ()


def test_managed_identity_is_always_first() -> None:
    s = load_settings(
        base(
            AZURE_CLIENT_ID=APP2,
            PAL_IDENTITIES=identities({"name": "ops-automation", "kind": "federated", "clientId": APP}),
        )
    )
    assert [i.name for i in s.identities] == ["managed-identity", "ops-automation"]
    mi = s.identities[0]
    assert (mi.kind, mi.client_id) == ("managedIdentity", APP2)
    assert s.identities[1].kind == "federated"
    assert load_settings(base()).identities[0].client_id == ""


def test_secret_and_certificate_identities_read_the_settings_they_name() -> None:
    s = load_settings(
        base(
            PAL_IDENTITIES=identities(
                {"name": "ops", "kind": "secret", "clientId": APP, "secretSetting": "OPS_SECRET"},
                {
                    "name": "cert",
                    "kind": "certificate",
                    "clientId": APP2,
                    "certificateSetting": "OPS_PEM",
                    "multiTenant": True,
                },
            ),
            OPS_SECRET=SECRET,
            OPS_PEM=PEM,
        )
    )
    ops, cert = (next(i for i in s.identities if i.name == name) for name in ("ops", "cert"))
    assert s.secret_for(ops) == SECRET
    assert s.certificate_for(cert) == PEM.encode()
    assert cert.multi_tenant is True
    assert SECRET not in repr(s)
    assert "MIIE" not in repr(s)


@pytest.mark.parametrize(
    ("env", "setting", "words"),
    [
        ({"PAL_PARTNER_ID": ""}, "PAL_PARTNER_ID", "associated"),
        ({"PAL_PARTNER_ID": "MPN-5127255"}, "PAL_PARTNER_ID", "digits only"),
        ({"PAL_PARTNER_ID": "١٢٣٤٥٦"}, "PAL_PARTNER_ID", "digits only"),  # non-ASCII digits
        ({"PAL_MANAGING_TENANT_ID": ""}, "PAL_MANAGING_TENANT_ID", "required"),
        ({"PAL_MANAGING_TENANT_ID": "contoso.onmicrosoft.com"}, "PAL_MANAGING_TENANT_ID", "GUID"),
        ({"AZURE_CLIENT_ID": "not-a-guid"}, "AZURE_CLIENT_ID", "GUID"),
        ({"PAL_ARM_ENDPOINT": "http://management.azure.com"}, "PAL_ARM_ENDPOINT", "https"),
        ({"PAL_GRAPH_ENDPOINT": "ftp://graph"}, "PAL_GRAPH_ENDPOINT", "https"),
        ({"AZURE_AUTHORITY_HOST": "http://10.0.0.5:8443"}, "AZURE_AUTHORITY_HOST", "loopback"),
        ({"PAL_FEDERATION_DISCOVERY": "maybe"}, "PAL_FEDERATION_DISCOVERY", "true/false"),
        ({"PAL_ALERT_DIGEST": "sometimes"}, "PAL_ALERT_DIGEST", "true/false"),
        ({"PAL_MAX_CONCURRENCY": "0"}, "PAL_MAX_CONCURRENCY", "between"),
        ({"PAL_HTTP_TIMEOUT_SECONDS": "soon"}, "PAL_HTTP_TIMEOUT_SECONDS", "whole number"),
        ({"PAL_ATTESTED_USERS": f"{APP}, bob"}, "PAL_ATTESTED_USERS", "bob"),
        ({"PAL_CUSTOMER_TENANTS": f"{APP}, contoso.com"}, "PAL_CUSTOMER_TENANTS", "tenant ids"),
        ({"PAL_WATCH_SCHEDULE": "*/5 * * * *"}, "PAL_WATCH_SCHEDULE", "six-field"),
        ({"PAL_IDENTITIES": "[{"}, "PAL_IDENTITIES", "not valid JSON"),
        ({"PAL_IDENTITIES": '{"name": "x"}'}, "PAL_IDENTITIES", "JSON list"),
        (
            {"PAL_IDENTITIES": identities({"name": "x", "kind": "password", "clientId": APP})},
            "PAL_IDENTITIES[0]",
            "kind",
        ),
        (
            {"PAL_IDENTITIES": identities({"name": "x", "kind": "federated", "clientId": "app"})},
            "PAL_IDENTITIES[0]",
            "clientId",
        ),
        (
            {"PAL_IDENTITIES": identities({"name": "managed-identity", "kind": "federated", "clientId": APP})},
            "PAL_IDENTITIES[0]",
            "reserved",
        ),
        (
            {"PAL_IDENTITIES": identities({"name": "x", "kind": "secret", "clientId": APP})},
            "PAL_IDENTITIES[0]",
            "secretSetting",
        ),
        (
            {
                "PAL_IDENTITIES": identities(
                    {"name": "x", "kind": "secret", "clientId": APP, "secretSetting": "MISSING"}
                )
            },
            "MISSING",
            "not set",
        ),
        (
            {
                "PAL_IDENTITIES": identities(
                    {"name": "x", "kind": "certificate", "clientId": APP, "certificateSetting": "PEMSET"}
                ),
                "PEMSET": "just text",
            },
            "PEMSET",
            "private key",
        ),
        (
            {
                "PAL_IDENTITIES": identities({"name": "x", "kind": "secret", "clientId": APP, "secretSetting": "KV"}),
                "KV": "@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/s)",
            },
            "KV",
            "Key Vault",
        ),
        ({"AzureWebJobsStorage": "garbage"}, "AzureWebJobsStorage", "connection string"),
        (
            {"AzureWebJobsStorage__tableServiceUri": "http://example.com"},
            "AzureWebJobsStorage__tableServiceUri",
            "https",
        ),
        ({"PAL_TABLE_PREFIX": "pal-watch"}, "PAL_TABLE_PREFIX", "letters"),
        ({"PAL_GRAPH_NOTIFICATION_URL": "somewhere"}, "PAL_GRAPH_NOTIFICATION_URL", "EventGrid:"),
        ({"PAL_GRAPH_CLIENT_STATE": "x" * 129}, "PAL_GRAPH_CLIENT_STATE", "128"),
        ({"PAL_ALERT_SMTP_SECURITY": "tls13"}, "PAL_ALERT_SMTP_SECURITY", "starttls"),
        ({"PAL_ALERT_SMTP_PORT": "70000"}, "PAL_ALERT_SMTP_PORT", "between"),
        ({"PAL_ALERT_MAIL_FROM": "alerts@contoso.com"}, "PAL_ALERT_MAIL_TO", "required"),
        ({"PAL_ALERT_WEBHOOK_URL": "http://hooks.example.com/x"}, "PAL_ALERT_WEBHOOK_URL", "https"),
        ({"PAL_MODE": "dry"}, "PAL_MODE", "observe"),
        ({"PAL_PARTNER_ID_PREVIOUS": "12ab"}, "PAL_PARTNER_ID_PREVIOUS", "digits"),
        ({"PAL_PARTNER_ID_PREVIOUS": "5127255", "PAL_PARTNER_ID": "5127255"}, "PAL_PARTNER_ID_PREVIOUS", "equals"),
    ],
)
def test_each_bad_setting_is_named_with_its_fix(env: dict[str, str], setting: str, words: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(base(**env))
    problems = dict(caught.value.problems)
    assert setting in problems, caught.value.problems
    assert words.lower() in problems[setting].lower()
    assert setting in str(caught.value)


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"PAL_PARTNER_ID": "abc", "PAL_MAX_CONCURRENCY": "lots", "PAL_ARM_ENDPOINT": "http://x.com"})
    names = [name for name, _ in caught.value.problems]
    assert {"PAL_PARTNER_ID", "PAL_MANAGING_TENANT_ID", "PAL_MAX_CONCURRENCY", "PAL_ARM_ENDPOINT"} <= set(names)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("false", False), ("0", False), ("No", False)],
)
def test_booleans_accept_common_spellings(raw: str, expected: bool) -> None:
    assert load_settings(base(PAL_FEDERATION_DISCOVERY=raw)).federation_discovery is expected


@pytest.mark.parametrize("url", ["http://127.0.0.1:8443", "http://localhost:1", "http://[::1]:9", "https://x.example"])
def test_http_is_allowed_only_on_loopback(url: str) -> None:
    assert load_settings(base(PAL_ARM_ENDPOINT=url + "/")).arm_endpoint == url


def test_sovereign_cloud_endpoints_and_audiences() -> None:
    s = load_settings(
        base(
            PAL_ARM_ENDPOINT="https://management.usgovcloudapi.net",
            PAL_GRAPH_ENDPOINT="https://graph.microsoft.us",
            AZURE_AUTHORITY_HOST="https://login.microsoftonline.us",
            PAL_ARM_AUDIENCE="https://management.usgovcloudapi.net/",
            PAL_GRAPH_AUDIENCE="https://graph.microsoft.us",
        )
    )
    assert not s.public_cloud
    assert s.arm_scope == "https://management.usgovcloudapi.net/.default"
    assert s.graph_scope == "https://graph.microsoft.us/.default"


def test_storage_connection_string_or_identity_based() -> None:
    key = "AccountName=acct;AccountKey=c2VjcmV0a2V5;EndpointSuffix=core.windows.net"
    s = load_settings(base(AzureWebJobsStorage=key))
    assert s.storage.configured
    assert not s.storage.identity_based
    assert "c2VjcmV0a2V5" not in repr(s)
    s = load_settings(base(AzureWebJobsStorage__accountName="acct"))
    assert s.storage.identity_based
    assert s.storage.endpoint == "https://acct.table.core.windows.net"
    assert not load_settings(base()).storage.configured


def test_describe_redacts_every_secret() -> None:
    env = base(
        PAL_IDENTITIES=identities({"name": "ops", "kind": "secret", "clientId": APP, "secretSetting": "OPS_SECRET"}),
        OPS_SECRET=SECRET,
        AzureWebJobsStorage="DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=S3CRETKEY==",
        PAL_GRAPH_CLIENT_STATE="client-state-secret",
        PAL_ALERT_SMTP_PASSWORD="smtp-password-secret",
        PAL_ALERT_WEBHOOK_URL="https://hooks.example.com/path?sig=webhook-signature",
        PAL_ALERT_MAIL_FROM="alerts@contoso.com",
        PAL_ALERT_MAIL_TO="ops@contoso.com",
    )
    s = load_settings(env)
    text = "\n".join(f"{name}={value}" for name, value in s.describe())
    for secret in (SECRET, "S3CRETKEY", "client-state-secret", "smtp-password-secret", "webhook-signature"):
        assert secret not in text
        assert secret not in repr(s)
    assert "AccountName=acct" in text
    assert "OPS_SECRET=(set" in text
    assert "PAL_PARTNER_ID=5127255" in text


def test_default_environ_is_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in base().items():
        monkeypatch.setenv(name, value)
    assert load_settings().partner_id == "5127255"
    assert load_settings().managed_identity.name == settings_module.MANAGED_IDENTITY_NAME


def test_mode_defaults_to_repair_and_observe_is_read() -> None:
    assert load_settings(base()).mode == "repair"
    assert not load_settings(base()).observe_only
    observed = load_settings(base(PAL_MODE=" Observe ", PAL_PARTNER_ID_PREVIOUS="6000001"))
    assert observed.observe_only
    assert observed.previous_partner_id == "6000001"
