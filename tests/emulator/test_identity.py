"""Entra ID and managed identity: azure-identity's credentials get (or are refused) tokens,
and ARM/Graph refuse tokens that are missing, forged, expired or for the wrong audience."""

from __future__ import annotations

import time

import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import (
    CertificateCredential,
    ClientAssertionCredential,
    ClientSecretCredential,
    ManagedIdentityCredential,
)
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.callers import ARM_SCOPE, GRAPH_SCOPE, Caller, identities

EXCHANGE_SCOPE = "api://AzureADTokenExchange/.default"


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def kwargs(emulator) -> dict:
    return {"authority": emulator.info["authority"], "disable_instance_discovery": True}


def test_client_secret_certificate_and_managed_identity_tokens(emulator, demo):
    ids = identities(emulator)
    secret = ClientSecretCredential(
        demo.home, ids["ops"]["clientId"], emulator.env[ids["ops"]["secretSetting"]], **kwargs(emulator)
    )
    token = claims(secret.get_token(ARM_SCOPE).token)
    assert token["oid"] == demo.principal("contoso-ops")["objectId"]
    assert (token["tid"], token["appid"], token["aud"]) == (
        demo.home,
        ids["ops"]["clientId"],
        "https://management.azure.com/",
    )

    pem = emulator.env[ids["deploy"]["certificateSetting"]].encode()
    cert = CertificateCredential(demo.home, ids["deploy"]["clientId"], certificate_data=pem, **kwargs(emulator))
    assert claims(cert.get_token(GRAPH_SCOPE).token)["oid"] == demo.principal("contoso-deploy")["objectId"]

    mi = ManagedIdentityCredential(client_id=emulator.env["AZURE_CLIENT_ID"])
    mi_token = claims(mi.get_token(ARM_SCOPE).token)
    assert mi_token["oid"] == demo.principal("id-palwatch-contoso")["objectId"]
    assert claims(ManagedIdentityCredential().get_token(ARM_SCOPE).token)["oid"] == mi_token["oid"]


def test_federation_trusts_the_managed_identity_only_for_listed_apps(emulator, demo):
    mi = ManagedIdentityCredential()

    def assertion() -> str:
        return mi.get_token(EXCHANGE_SCOPE).token

    automation = identities(emulator)["automation"]
    federated = ClientAssertionCredential(demo.home, automation["clientId"], assertion, **kwargs(emulator))
    assert claims(federated.get_token(ARM_SCOPE).token)["oid"] == demo.principal("contoso-automation")["objectId"]

    # contoso-ops has only a secret: the MI token is no credential for it
    ops = identities(emulator)["ops"]
    refused = ClientAssertionCredential(demo.home, ops["clientId"], assertion, **kwargs(emulator))
    with pytest.raises(ClientAuthenticationError, match="AADSTS700213"):
        refused.get_token(ARM_SCOPE)


def test_wrong_secret_and_missing_principal_are_refused(emulator, demo):
    ops = identities(emulator)["ops"]
    wrong = ClientSecretCredential(demo.home, ops["clientId"], "not-the-secret", **kwargs(emulator))
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        wrong.get_token(ARM_SCOPE)
    # contoso-ops has no service principal in Fabrikam
    fabrikam = demo.tenant("Fabrikam")["tenantId"]
    elsewhere = ClientSecretCredential(
        fabrikam, ops["clientId"], emulator.env[ops["secretSetting"]], **kwargs(emulator)
    )
    with pytest.raises(ClientAuthenticationError, match="AADSTS700016"):
        elsewhere.get_token(ARM_SCOPE)


def test_multi_tenant_app_gets_the_customer_principal(emulator, demo):
    portal = identities(emulator)["portal"]
    assert portal["multiTenant"] is True
    proseware = demo.tenant("Proseware")["tenantId"]
    credential = ClientSecretCredential(
        proseware, portal["clientId"], emulator.env[portal["secretSetting"]], **kwargs(emulator)
    )
    token = claims(credential.get_token(ARM_SCOPE).token)
    assert token["tid"] == proseware
    assert token["oid"] == demo.principal("Contoso Managed Services Portal", proseware)["objectId"]


def test_disabled_or_deleted_principal_cannot_sign_in(emulator, demo):
    ops = identities(emulator)["ops"]
    emulator.control("POST", f"/principals/{demo.principal('contoso-ops')['objectId']}", {"action": "disable"})
    credential = ClientSecretCredential(
        demo.home, ops["clientId"], emulator.env[ops["secretSetting"]], **kwargs(emulator)
    )
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000112"):
        credential.get_token(ARM_SCOPE)


def test_arm_and_graph_refuse_bad_tokens(emulator, demo):
    mi = ManagedIdentityCredential()
    graph_token = mi.get_token(GRAPH_SCOPE).token
    arm_token = mi.get_token(ARM_SCOPE).token
    path = "/subscriptions?api-version=2022-12-01"

    assert Caller(emulator, arm_token).get(path).status_code == 200
    missing = emulator.session.get(emulator.info["arm"] + path, timeout=10)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "AuthenticationFailed"
    wrong_audience = Caller(emulator, graph_token).get(path)
    assert wrong_audience.status_code == 401
    assert wrong_audience.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"

    forged_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        {**claims(arm_token), "exp": int(time.time()) + 600},
        forged_key,
        algorithm="RS256",
        headers={"kid": jwt.get_unverified_header(arm_token)["kid"]},
    )
    assert Caller(emulator, forged).get(path).json()["error"]["code"] == "InvalidAuthenticationToken"

    graph_with_arm = Caller(emulator, arm_token).get(emulator.info["graph"] + "/v1.0/users")
    assert graph_with_arm.status_code == 401
    assert graph_with_arm.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_token_from_a_tenant_without_access_is_refused_by_the_subscription(emulator, demo):
    """A Proseware token (the multi-tenant app's principal there) is for the wrong issuer in Fabrikam."""
    portal = identities(emulator)["portal"]
    proseware = demo.tenant("Proseware")["tenantId"]
    credential = ClientSecretCredential(
        proseware, portal["clientId"], emulator.env[portal["secretSetting"]], **kwargs(emulator)
    )
    me = Caller(emulator, credential.get_token(ARM_SCOPE).token)
    fabrikam_sub = demo.tenant("Fabrikam")["subscriptions"][0]["subscriptionId"]
    refused = me.get(f"/subscriptions/{fabrikam_sub}?api-version=2022-12-01")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "InvalidAuthenticationTokenTenant"
    own = me.get("/subscriptions?api-version=2022-12-01").json()["value"]
    assert [s["tenantId"] for s in own] == [proseware]


def test_managed_identity_endpoint_checks_its_header(emulator):
    response = emulator.session.get(
        emulator.info["identity_endpoint"],
        params={"api-version": "2019-08-01", "resource": "https://management.azure.com/"},
        headers={"X-IDENTITY-HEADER": "wrong"},
        timeout=10,
    )
    assert response.status_code == 401
    good = emulator.session.get(
        emulator.info["identity_endpoint"],
        params={"api-version": "2019-08-01", "resource": "https://management.azure.com/"},
        headers={"X-IDENTITY-HEADER": emulator.env["IDENTITY_HEADER"]},
        timeout=10,
    ).json()
    assert good["token_type"] == "Bearer"
    assert good["expires_on"].isdigit()
    assert good["resource"]


def test_openid_configuration_per_tenant(emulator, demo):
    config = emulator.session.get(
        f"{emulator.info['authority']}/{demo.home}/v2.0/.well-known/openid-configuration", timeout=10
    )
    assert config.json()["token_endpoint"].endswith(f"/{demo.home}/oauth2/v2.0/token")
    instance = emulator.session.get(f"{emulator.info['authority']}/common/discovery/instance", timeout=10)
    assert instance.json()["tenant_discovery_endpoint"]
