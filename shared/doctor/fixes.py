"""The fix hints `palwatch doctor` prints: the exact role, Graph permission or command to run.

Plain text builders, no I/O. Kept apart from the checks (`shared/doctor/checks.py`) so the wording of
every grant lives in one place and matches what `scripts/grant-permissions.sh` does.
"""

from __future__ import annotations

import json

from shared import model, roles
from shared.azure import errors

READER_ROLE = roles.READER
MONITORING_READER_ROLE = roles.MONITORING_READER
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
# Microsoft Graph application permissions (app role ids are the same in every tenant).
GRAPH_ROLES = {
    "User.Read.All": "df021288-bdef-4463-88db-98f22de89214",
    "Group.Read.All": "5b567255-7703-4780-807c-7be8301ae99b",
    "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    "Mail.Send": "b633e1c5-b582-4048-a93e-9f11b44c7e96",
}


# Entra's answer codes that name a cause other than the identity's own credential, with the fix.
# Source: learn.microsoft.com/entra/identity-platform/reference-error-codes (the codes and their meaning).
_AADSTS_CAUSES: dict[str, str] = {
    "AADSTS90002": "tenant {tenant} was not found: check PAL_MANAGING_TENANT_ID (the partner's tenant id, a GUID) "
    "and AZURE_AUTHORITY_HOST",
    "AADSTS900023": "{tenant} is not a tenant id: set PAL_MANAGING_TENANT_ID to the partner's tenant id (a GUID)",
    "AADSTS90072": "app {client} belongs to another tenant and has no service principal in {tenant}: "
    "consent to it there (az ad sp create --id {client}) or correct PAL_MANAGING_TENANT_ID",
    "AADSTS700016": "app {client} was not found in tenant {tenant}: check its clientId in PAL_IDENTITIES, "
    "or create its service principal there (az ad sp create --id {client})",
    "AADSTS7000112": "app {client} is disabled in tenant {tenant}: enable its service principal "
    "(az ad sp update --id {client} --set accountEnabled=true)",
    "AADSTS500011": "the token audience is unknown in tenant {tenant}: check PAL_ARM_AUDIENCE / PAL_GRAPH_AUDIENCE",
    "AADSTS53003": "a Conditional Access policy blocked the sign-in of {client}: exclude the workload identity "
    "or allow its location",
}


def token_fix(
    acting: model.ActingIdentity, error: errors.AzureError, *, authority_host: str, tenant_id: str, mi_object_id: str
) -> str:
    """How to make `acting`'s token work again: a connection that failed first (nothing was refused
    then), Entra's code next, then what the identity's kind needs."""
    # An identity endpoint out of reach means there is no managed identity here (the fix below).
    no_endpoint = acting.kind == "managedIdentity" and error.code == "NetworkError"
    connection = "" if no_endpoint else connection_fix(error, authority_host)
    cause = _AADSTS_CAUSES.get(error.code or "")
    if connection or cause:
        return connection or cause.format(tenant=tenant_id, client=acting.client_id or "of the managed identity")
    if acting.kind == "managedIdentity":
        return (
            "turn on the function app's managed identity (az functionapp identity assign -g <rg> -n <app>); "
            "for a user-assigned one set AZURE_CLIENT_ID to its client id. Outside Azure there is none: "
            "IDENTITY_ENDPOINT/IDENTITY_HEADER are set only in Azure (or by the emulator)"
        )
    if isinstance(error, errors.TransientError):
        return "the identity endpoint was unreachable or throttled: run the doctor again"
    if acting.kind == "secret":
        return _secret_fix(acting, error)
    if acting.kind == "certificate":
        return (
            f"the certificate in {acting.certificate_setting} was refused ({error.code or 'invalid_client'}):"
            f" upload its public part with `az ad app credential reset --id {acting.client_id} --cert "
            f"@palwatch-cert.pem --append` and keep certificate + private key (PEM) in "
            f"{acting.certificate_setting}"
        )
    parameters = json.dumps(
        {
            "name": "palwatch-managed-identity",
            "issuer": f"{authority_host}/{tenant_id}/v2.0",
            "subject": mi_object_id,
            "audiences": ["api://AzureADTokenExchange"],
        }
    )
    return (
        f"let app {acting.client_id} trust the function app's managed identity: "
        f"`az ad app federated-credential create --id {acting.client_id} --parameters '{parameters}'`"
    )


def connection_fix(error: errors.AzureError, endpoint: str = "") -> str:
    """The fix for a request that never got an answer (TLS, proxy, network); empty for an answer."""
    where = f" {endpoint}" if endpoint else ""
    if error.code == "TlsError":
        return (
            f"no credential was refused: the TLS handshake with{where or ' the endpoint'} failed. Trust its CA: set "
            "REQUESTS_CA_BUNDLE to a PEM file holding it (behind a TLS-inspecting proxy, that proxy's CA), "
            "then run the doctor again"
        )
    if error.code == "ProxyError":
        return (
            "no credential was refused: the proxy refused the connection or could not be reached. Check "
            "HTTPS_PROXY (and NO_PROXY for endpoints it must not carry), then run the doctor again"
        )
    if error.code == "NetworkError":
        return (
            f"no credential was refused: could not connect to{where or ' the endpoint'} (network, DNS, firewall "
            "or HTTPS_PROXY). Check the outbound network, then run the doctor again"
        )
    return ""


def _secret_fix(acting: model.ActingIdentity, error: errors.AzureError) -> str:
    reset = (
        f"`az ad app credential reset --id {acting.client_id} --append --display-name palwatch --query password "
        f"-o tsv` and store it in {acting.secret_setting} (a Key Vault reference)"
    )
    if error.code == "AADSTS7000222":
        return f"the secret in {acting.secret_setting} has expired: create a new one with {reset}"
    return (
        f"the secret in {acting.secret_setting} was refused ({error.code or 'invalid_client'}): create one with {reset}"
    )


def offer_fix(mi_object_id: str) -> str:
    """The app must be authorized in each delegation to read it."""
    return (
        f"add the app's managed identity (principalId {mi_object_id}) to your Lighthouse offer's "
        f"authorizations with Reader ({READER_ROLE}) and have customers update to that offer version"
    )


def graph_fix(permission: str, *, graph_endpoint: str, mi_object_id: str) -> str:
    """Grant one Microsoft Graph application permission to the managed identity."""
    body = json.dumps(
        {
            "principalId": mi_object_id,
            "resourceId": "<Graph service principal id>",
            "appRoleId": GRAPH_ROLES[permission],
        }
    )
    return (
        f"grant the Microsoft Graph application permission {permission} to the managed identity: "
        f"scripts/grant-permissions.sh, or `az rest --method POST --uri "
        f"{graph_endpoint}/v1.0/servicePrincipals/{mi_object_id}/appRoleAssignments --body "
        f"'{body}'` (Graph service principal id: `az ad sp show --id {GRAPH_APP_ID} --query id -o tsv`)"
    )


def monitoring_reader_fix(mi_object_id: str) -> str:
    """The tenant activity log needs Monitoring Reader at root scope."""
    return (
        f"assign Monitoring Reader at root scope to the managed identity (a Global Administrator first "
        f"elevates access): `az role assignment create --assignee-object-id {mi_object_id} "
        f"--assignee-principal-type ServicePrincipal --role 'Monitoring Reader' --scope /`"
    )


def retry_or(fix: str, error: errors.AzureError) -> str:
    """`fix`, unless the error says the problem is elsewhere (a blip, an untrusted CA)."""
    connection = connection_fix(error)
    if connection:
        return connection
    if isinstance(error, errors.TransientError):
        return "the service was unreachable or throttled after retries: run the doctor again"
    return fix
