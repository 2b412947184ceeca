"""Entra ID and the App Service managed-identity endpoint, as MSAL and azure-identity call them.

Routes: OIDC discovery and JWKS per tenant, `/{tenant}/oauth2/v2.0/token` (client secret,
certificate assertion, federated assertion = our own MI token for api://AzureADTokenExchange),
`/common/discovery/instance`, and `GET /msi/token` on the plain-http identity port.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import jwt

from emulator.tokens import EXCHANGE_AUDIENCE, TokenError, audience_for_scope, verify_certificate_assertion
from emulator.web import Request, Response, Route, route
from emulator.world import Principal

if TYPE_CHECKING:
    from emulator.server import App

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def entra_error(status: int, error: str, code: int, description: str) -> Response:
    return Response(
        status,
        {
            "error": error,
            "error_description": f"AADSTS{code}: {description}",
            "error_codes": [code],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            "trace_id": "00000000-0000-0000-0000-000000000000",
            "correlation_id": "00000000-0000-0000-0000-000000000000",
            "error_uri": f"https://login.microsoftonline.com/error?code={code}",
        },
    )


def routes(app: App) -> list[Route]:
    world = app.world

    def discovery(req: Request) -> Response:
        name = req.match.group("tenant") if req.match else ""
        tid = world.tenant_id(name) or name
        base = f"{req.base}/{tid}"
        return Response(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "issuer": f"{req.base}/{tid}/v2.0",
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "tenant_region_scope": "NA",
                "cloud_instance_name": "microsoftonline.com",
            },
        )

    def instance(req: Request) -> Response:
        host = req.base.split("://", 1)[1]
        return Response(
            200,
            {
                "tenant_discovery_endpoint": f"{req.base}/common/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
            },
        )

    def keys(req: Request) -> Response:
        return Response(200, app.signer.jwks())

    def token(req: Request) -> Response:
        name = req.match.group("tenant") if req.match else ""
        form = dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
        tid = world.tenant_id(name)
        if tid is None:
            return entra_error(400, "invalid_request", 90002, f"Tenant '{name}' not found.")
        if form.get("grant_type") != "client_credentials":
            return entra_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
        client_id = form.get("client_id", "").lower()
        principal = world.app_principal(client_id, tid)
        if principal is None or not principal.active:
            return entra_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{tid}'. This can happen"
                " if the application has not been installed by the administrator of the tenant.",
            )
        if not principal.account_enabled:
            return entra_error(400, "unauthorized_client", 7000112, f"Application '{client_id}' is disabled.")
        home = world.app_home(client_id)
        creds: dict[str, Any] = home.credentials if home else {}
        failure = _check_credentials(app, form, creds, client_id)
        if failure:
            return failure
        audience = audience_for_scope(form.get("scope", ""))
        extra = app_roles(principal, audience)
        access, exp = app.signer.issue(
            tenant_id=tid, object_id=principal.object_id, app_id=client_id, audience=audience, extra=extra
        )
        return Response(
            200,
            {
                "token_type": "Bearer",
                "expires_in": exp - int(time.time()),
                "ext_expires_in": 3599,
                "access_token": access,
            },
        )

    def managed_identity(req: Request) -> Response:
        if req.headers.get("X-IDENTITY-HEADER") != app.identity_header:
            return Response(
                401, {"error": "invalid_request", "error_description": "X-IDENTITY-HEADER is wrong or missing"}
            )
        if req.q("api-version") != "2019-08-01":
            return Response(400, {"error": "invalid_request", "error_description": "api-version 2019-08-01 required"})
        resource = req.q("resource") or ""
        if not resource:
            return Response(400, {"error": "invalid_request", "error_description": "resource is required"})
        mi = _find_mi(app, req)
        if mi is None:
            return Response(
                400, {"error": "invalid_request", "error_description": "No managed identity found for the request"}
            )
        audience = audience_for_scope(resource) if resource.endswith("/.default") else resource
        if audience in ("https://management.azure.com", "https://management.core.windows.net"):
            audience += "/"
        access, exp = app.signer.issue(
            tenant_id=mi.tenant_id,
            object_id=mi.object_id,
            app_id=mi.app_id,
            audience=audience,
            extra={
                "xms_mirid": mi.raw.get("resourceId", f"/managedIdentities/{mi.object_id}"),
                **app_roles(mi, audience),
            },
        )
        return Response(
            200,
            {
                "access_token": access,
                "expires_on": str(exp),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": mi.app_id,
            },
        )

    t = r"(?P<tenant>[^/_][^/]*)"
    return [
        route("GET", rf"/{t}/v2\.0/\.well-known/openid-configuration", discovery, "entra"),
        route("GET", rf"/{t}/\.well-known/openid-configuration", discovery, "entra"),
        route("GET", rf"/{t}/discovery/v2\.0/keys", keys, "entra"),
        route("GET", r"/common/discovery/instance", instance, "entra"),
        route("POST", rf"/{t}/oauth2/v2\.0/token", token, "entra"),
        route("GET", r"/msi/token/?", managed_identity, "mi"),
    ]


def app_roles(principal: Principal, audience: str) -> dict[str, Any]:
    # App-only tokens carry `roles` only when application permissions were granted (Entra omits it
    # otherwise); the Graph handlers check the same grants.
    if audience.startswith("https://graph.microsoft.com") and principal.graph_app_roles:
        return {"roles": list(principal.graph_app_roles)}
    return {}


def _find_mi(app: App, req: Request) -> Principal | None:
    world = app.world
    home = world.home_tenant()
    wanted_client = (req.q("client_id") or "").lower()
    wanted_object = (req.q("object_id") or req.q("principal_id") or "").lower()
    wanted_res = (req.q("mi_res_id") or req.q("msi_res_id") or "").lower()
    for principal in world.principals.values():
        if principal.type != "ManagedIdentity" or principal.tenant_id != home or not principal.active:
            continue
        if wanted_client and principal.app_id != wanted_client:
            continue
        if wanted_object and principal.object_id != wanted_object:
            continue
        if wanted_res and str(principal.raw.get("resourceId", "")).lower() != wanted_res:
            continue
        return principal
    return None


def _check_credentials(app: App, form: dict[str, str], creds: dict[str, Any], client_id: str) -> Response | None:
    if "client_secret" in form:
        if not creds.get("secret") or form["client_secret"] != creds["secret"]:
            return entra_error(
                401,
                "invalid_client",
                7000215,
                f"Invalid client secret provided. Ensure the secret being sent in the request is the client secret"
                f" value, not the client secret ID, for a secret added to app '{client_id}'.",
            )
        return None
    assertion = form.get("client_assertion")
    if not assertion or form.get("client_assertion_type") != ASSERTION_TYPE:
        return entra_error(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return entra_error(401, "invalid_client", 50027, "JWT token is invalid or malformed.")
    if str(unverified.get("iss", "")).lower() == client_id:
        pem = creds.get("certificatePem")
        if not pem:
            return entra_error(
                401,
                "invalid_client",
                700027,
                "Client assertion contains an invalid signature (no certificate registered).",
            )
        try:
            verify_certificate_assertion(assertion, pem, client_id)
        except (jwt.PyJWTError, ValueError):
            return entra_error(
                401,
                "invalid_client",
                700027,
                "Client assertion failed signature validation against the registered certificate.",
            )
        return None
    try:
        claims = app.signer.verify(assertion, {EXCHANGE_AUDIENCE})
    except TokenError as e:
        return entra_error(
            400,
            "invalid_client",
            700211 if "audience" in e.code.lower() else 700024,
            f"Client assertion is not valid: {e.message}",
        )
    subjects = {str(s).lower() for s in creds.get("federatedSubjects", [])}
    if str(claims.get("sub", "")).lower() not in subjects:
        return entra_error(
            400,
            "invalid_client",
            700213,
            f"No matching federated identity record found for presented assertion subject '{claims.get('sub')}'."
            " Check your federated identity credential Subject, Audience and Issuer against the presented assertion.",
        )
    return None
