"""Credentials for every identity the app can act as, per tenant, reused so tokens stay cached.

`Credentials` hands out one azure-identity credential per (identity, tenant): the app's managed
identity, federated app registrations (the managed identity's token is the client assertion,
no secret anywhere), certificate and secret ones. `acquire_token` turns azure-identity failures
into `CredentialError` / `TransientError` (with the AADSTS code, never a secret). Used by
`http.AzureHttpClient`, the use cases and the doctor. azure.identity is imported lazily to keep
cold start light.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared import model
from shared.azure import errors

log = logging.getLogger(__name__)

TOKEN_EXCHANGE_SCOPE = "api://AzureADTokenExchange/.default"  # noqa: S105 - a scope, not a secret
_AADSTS = re.compile(r"AADSTS\d+")
_JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*")
_MESSAGE_CHARS = 300
REFRESH_MARGIN_SECONDS = 300  # as azure-core's bearer policy: a fresh token 5 minutes before expiry

# azure-core's HTTP logging policy logs request headers at INFO (redacted, but still noise that
# must never become a leak if a header is added to its allow list); MSAL logs token traffic at DEBUG.
for _name in ("azure.core.pipeline.policies.http_logging_policy", "msal"):
    logging.getLogger(_name).setLevel(logging.WARNING)


@dataclass(frozen=True)
class TokenIdentity:
    """Who a token says we are (read from its payload, not verified)."""

    tenant_id: str
    object_id: str
    app_id: str
    audience: str = ""
    roles: tuple[str, ...] = ()
    has_roles_claim: bool = False


def token_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, without verifying it ({} if it is not a JWT)."""
    parts = token.split(".")
    if len(parts) < 2:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, json.JSONDecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def token_identity(token: str) -> TokenIdentity:
    claims = token_claims(token)
    roles = claims.get("roles")
    return TokenIdentity(
        tenant_id=str(claims.get("tid") or ""),
        object_id=str(claims.get("oid") or ""),
        app_id=str(claims.get("appid") or claims.get("azp") or ""),
        audience=str(claims.get("aud") or ""),
        roles=tuple(str(r) for r in roles) if isinstance(roles, list) else (),
        has_roles_claim=isinstance(roles, list),
    )


def acquire_token(credential: Any, scope: str) -> str:
    """A bearer token for `scope`, the credential's cache first; failures classified."""
    from azure.core import exceptions as core_errors

    try:
        return credential.get_token(scope).token
    except errors.AzureError:
        raise
    except (core_errors.ClientAuthenticationError, core_errors.ServiceRequestError) as e:
        failed = connection_failure(e)
        if failed is None and isinstance(e, core_errors.ServiceRequestError):
            failed = ("NetworkError", "could not connect to the identity endpoint")
        if failed is not None:
            # Nothing was refused: the request never reached Entra ID (or the identity endpoint).
            code, what = failed
            log.warning("token for %s: %s", scope, what)
            kind = errors.PermanentError if code == "TlsError" else errors.TransientError
            raise kind(f"token for {scope}: {what}", code=code) from e
        if not isinstance(e, core_errors.ClientAuthenticationError):
            raise

        # CredentialUnavailableError is a subclass: no managed identity here, no CLI login, ...
        message = _safe_message(e)
        status = getattr(e, "status_code", None) or _status_in(message)
        if isinstance(status, int) and (status in (408, 429) or status >= 500):
            raise errors.TransientError(f"token for {scope}: {message}", status=status, code=_aadsts(message)) from e
        code = _aadsts(message)
        # AADSTS700016 (the app has no principal in that tenant) is an answer, not a fault.
        log.log(logging.INFO if code == "AADSTS700016" else logging.WARNING, "token for %s refused: %s", scope, message)
        raise errors.CredentialError(f"token for {scope}: {message}", status=status, code=code) from e
    except core_errors.ServiceResponseError as e:
        log.warning("token for %s: identity endpoint unreachable (%s)", scope, type(e).__name__)
        raise errors.TransientError(f"token for {scope}: identity endpoint unreachable", code="NetworkError") from e
    except core_errors.AzureError as e:
        message = _safe_message(e)
        status = getattr(e, "status_code", None) or _status_in(message)
        if isinstance(status, int) and (status in (408, 429) or status >= 500):
            raise errors.TransientError(f"token for {scope}: {message}", status=status) from e
        raise errors.CredentialError(f"token for {scope}: {message}", code=_aadsts(str(e))) from e
    except ValueError as e:  # bad PEM, empty secret: raised while building the request
        raise errors.CredentialError(
            f"token for {scope}: {type(e).__name__}: {_safe_message(e)}", code="InvalidCredential"
        ) from e


_HTTP_STATUS = re.compile(r"HTTP Error: (\d{3})\b|\((ServiceUnavailable|TooManyRequests|RequestTimeout)\)")
_NAMED_STATUS = {"ServiceUnavailable": 503, "TooManyRequests": 429, "RequestTimeout": 408}


def _status_in(message: str) -> int | None:
    """The HTTP status an authentication error only names in its text (MSAL's "HTTP Error: 503",
    azure-core's "(ServiceUnavailable) ..."): Entra failing for now is not a refused credential."""
    found = _HTTP_STATUS.search(message)
    if not found:
        return None
    return int(found.group(1)) if found.group(1) else _NAMED_STATUS[found.group(2)]


def whoami(credential: Any, scope: str) -> TokenIdentity:
    """The tenant, object id and app id of the identity behind `credential`."""
    return token_identity(acquire_token(credential, scope))


class HeldTokens:
    """A token credential that keeps each token in process until shortly before it expires.

    azure-identity looks every token up in MSAL's cache on each `get_token` (locks, scope
    normalisation, a search of every cached entry): per request, that costs more CPU than the
    request itself. This holds one token per (scopes, tenant) and asks the credential again only
    when the token is within `REFRESH_MARGIN_SECONDS` (or half its lifetime) of expiry, or when a
    claims challenge asks for a new one. Concurrent first callers wait for one request; a failure
    is not held (the next call asks again).
    """

    def __init__(self, credential: Any, clock: Callable[[], float] = time.time) -> None:
        self.credential = credential
        self._clock = clock
        self._tokens: dict[tuple[Any, ...], tuple[Any, float]] = {}  # key -> (AccessToken, refresh at)
        self._locks: dict[tuple[Any, ...], threading.Lock] = {}
        self._guard = threading.Lock()

    def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None, **kwargs: Any) -> Any:
        key = (scopes, tenant_id, tuple(sorted(kwargs.items())))
        held = self._tokens.get(key)
        if held is not None and not claims and self._clock() < held[1]:
            return held[0]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            held = self._tokens.get(key)
            if held is not None and not claims and self._clock() < held[1]:
                return held[0]  # another thread fetched it while we waited
            options = {
                **kwargs,
                **({"claims": claims} if claims else {}),
                **({"tenant_id": tenant_id} if tenant_id else {}),
            }
            token = self.credential.get_token(*scopes, **options)
            now = self._clock()
            lifetime = max(0.0, float(token.expires_on) - now)
            self._tokens[key] = (token, now + lifetime - min(REFRESH_MARGIN_SECONDS, lifetime / 2))
            return token

    def close(self) -> None:
        self._tokens.clear()
        close = getattr(self.credential, "close", None)
        if close is not None:
            close()


class Credentials:
    """One azure-identity credential per (identity, tenant), created on first use and reused.

    `options` go to every azure-identity credential (e.g. `retry_total=1` for a quick doctor).
    Each credential holds its tokens in process (`HeldTokens`) unless `hold_tokens=False`
    (plain azure-identity objects, as a hand-written script would use them).
    """

    def __init__(self, settings: Any, *, hold_tokens: bool = True, **options: Any) -> None:
        self.settings = settings
        self.hold_tokens = hold_tokens
        self.options = options
        self._cache: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()

    def managed_identity(self) -> Any:
        """The function app's own identity (user-assigned when AZURE_CLIENT_ID is set)."""

        def build() -> Any:
            from azure.identity import ManagedIdentityCredential

            return ManagedIdentityCredential(client_id=self.settings.managed_identity_client_id or None, **self.options)

        return self._get(("managedIdentity", self.settings.managed_identity_client_id, ""), build)

    def for_identity(self, identity: model.ActingIdentity, tenant_id: str | None = None) -> Any:
        """The credential of `identity` in `tenant_id` (default: the managing tenant)."""
        tenant = (tenant_id or self.settings.managing_tenant_id).lower()
        if identity.kind == "managedIdentity":
            return self.managed_identity()  # a managed identity lives in its home tenant only
        if identity.kind == "federated":
            return self.federated_for_client_id(identity.client_id, tenant)
        if identity.kind == "certificate":
            pem = self.settings.certificate_for(identity)

            def build_cert() -> Any:
                from azure.identity import CertificateCredential

                return CertificateCredential(tenant, identity.client_id, certificate_data=pem, **self._authority())

            return self._get(("certificate", identity.client_id, tenant), build_cert)
        if identity.kind == "secret":
            secret = self.settings.secret_for(identity)

            def build_secret() -> Any:
                from azure.identity import ClientSecretCredential

                return ClientSecretCredential(tenant, identity.client_id, secret, **self._authority())

            return self._get(("secret", identity.client_id, tenant), build_secret)
        raise errors.CredentialError(
            f"identity {identity.name!r} has unknown kind {identity.kind!r}", code="InvalidCredential"
        )

    def federated_for_client_id(self, client_id: str, tenant_id: str | None = None) -> Any:
        """An app registration that trusts our managed identity (workload identity federation)."""
        tenant = (tenant_id or self.settings.managing_tenant_id).lower()
        managed = self.managed_identity()

        def assertion() -> str:
            # The MI credential caches this token too; a failure surfaces through acquire_token.
            return managed.get_token(TOKEN_EXCHANGE_SCOPE).token

        def build() -> Any:
            from azure.identity import ClientAssertionCredential

            return ClientAssertionCredential(
                tenant, client_id, assertion, authority=self.settings.authority_host, **self.options
            )

        return self._get(("federated", client_id.lower(), tenant), build)

    def _authority(self) -> dict[str, Any]:
        options: dict[str, Any] = {"authority": self.settings.authority_host, **self.options}
        if not self.settings.public_cloud:
            options["disable_instance_discovery"] = True  # else MSAL asks the public cloud
        return options

    def _get(self, key: tuple[str, str, str], build: Callable[[], Any]) -> Any:
        with self._lock:
            credential = self._cache.get(key)
            if credential is None:
                try:
                    credential = HeldTokens(build()) if self.hold_tokens else build()
                except ValueError as e:  # e.g. a PEM azure-identity cannot load
                    raise errors.CredentialError(
                        f"cannot build the {key[0]} credential for {key[1] or 'the app'}: {_safe_message(e)}",
                        code="InvalidCredential",
                    ) from e
                self._cache[key] = credential
            return credential

    def close(self) -> None:
        with self._lock:
            for credential in self._cache.values():
                close = getattr(credential, "close", None)
                if close is not None:
                    try:
                        close()
                    except Exception:
                        log.debug("closing a credential failed", exc_info=True)
            self._cache.clear()


_TLS = ("CERTIFICATE_VERIFY_FAILED", "SSLError", "SSL:", "certificate verify failed", "WRONG_VERSION_NUMBER")
_PROXY = ("ProxyError", "Unable to connect to proxy", "Tunnel connection failed")
_CONNECT = (
    "ConnectionError",
    "Connection refused",
    "Max retries exceeded",
    "Name or service not known",
    "Temporary failure in name resolution",
    "timed out",
    "NewConnectionError",
)


def connection_failure(error: BaseException) -> tuple[str, str] | None:
    """(code, what happened) when `error`, or what caused it, is a failure to reach the endpoint
    (TLS, proxy, network) rather than an answer from it; None for an answer (a refusal)."""
    texts, seen, current = [], set(), error
    while current is not None and id(current) not in seen and len(seen) < 10:
        seen.add(id(current))
        texts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__ or getattr(current, "inner_exception", None)
    text = " ".join(texts)
    if any(marker in text for marker in _TLS):
        return (
            "TlsError",
            "the TLS handshake failed (the endpoint's certificate is not trusted here): no credential was sent",
        )
    if any(marker in text for marker in _PROXY):
        return "ProxyError", "the proxy refused the connection or could not be reached: no credential was sent"
    if any(marker in text for marker in _CONNECT) and "AADSTS" not in text:
        return "NetworkError", "the endpoint could not be reached: no credential was sent"
    return None


def _aadsts(text: str) -> str:
    match = _AADSTS.search(text)
    return match.group(0) if match else ""


def _safe_message(error: BaseException) -> str:
    """A short, single-line message without anything that looks like a token."""
    text = str(getattr(error, "message", None) or error)
    text = _JWT.sub("<token>", text)
    return " ".join(text.split())[:_MESSAGE_CHARS]
