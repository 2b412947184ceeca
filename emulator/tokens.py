"""Signing and checking the emulator's access tokens (RS256 JWTs, like Entra ID's).

Used by the Entra and managed-identity endpoints to issue tokens, by the ARM and Graph
handlers to authenticate callers, and by the token endpoint to check client assertions
(certificate assertions from MSAL, federated assertions that are our own MI tokens).
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ARM_AUDIENCES = frozenset(
    {"https://management.azure.com/", "https://management.azure.com", "https://management.core.windows.net/"}
)
GRAPH_AUDIENCES = frozenset(
    {"https://graph.microsoft.com", "https://graph.microsoft.com/", "00000003-0000-0000-c000-000000000000"}
)
EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
TOKEN_LIFETIME = 3599
_VERIFIED_KEPT = 10_000  # tokens whose signature was checked, remembered (a client reuses each for an hour)


class TokenError(Exception):
    """A presented token is unusable; `code` is ARM's error code for it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def audience_for_scope(scope: str) -> str:
    """`https://management.azure.com/.default` -> the audience Entra stamps in the token."""
    first = scope.split(maxsplit=1)[0] if scope.strip() else ""
    aud = first[: -len("/.default")] if first.endswith("/.default") else first
    if aud in ("https://management.azure.com", "https://management.core.windows.net"):
        aud += "/"  # ARM's identifier URI carries the slash
    return aud


@dataclass
class Signer:
    """The emulator's signing key; one per process, so tokens die with it."""

    key: rsa.RSAPrivateKey
    kid: str
    # token -> its claims, once the signature checked out: the RSA check is most of the CPU a
    # request costs the emulator, and a token's signature cannot change. Expiry is checked on
    # every use all the same.
    _verified: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    @classmethod
    def create(cls) -> Signer:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
        kid = base64.urlsafe_b64encode(hashlib.sha1(der).digest()).decode().rstrip("=")  # noqa: S324 - key id only
        return cls(key=key, kid=kid)

    def issue(
        self, *, tenant_id: str, object_id: str, app_id: str, audience: str, extra: dict[str, Any] | None = None
    ) -> tuple[str, int]:
        now = int(time.time())
        exp = now + TOKEN_LIFETIME
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": f"https://sts.windows.net/{tenant_id}/",
            "iat": now,
            "nbf": now,
            "exp": exp,
            "tid": tenant_id,
            "oid": object_id,
            "sub": object_id,
            "appid": app_id,
            "azp": app_id,
            "idtyp": "app",
            "ver": "1.0",
            "uti": uuid.uuid4().hex,
        }
        claims.update(extra or {})
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid, "x5t": self.kid})
        return token, exp

    def verify(self, token: str, audiences: frozenset[str] | set[str]) -> dict[str, Any]:
        claims = self._verified.get(token)
        if claims is None:
            claims = self._check_signature(token)
        elif claims["exp"] <= time.time():  # as PyJWT decides it (no leeway)
            raise TokenError("ExpiredAuthenticationToken", "The access token expiry UTC time is in the past.")
        if claims.get("aud") not in audiences:
            raise TokenError(
                "InvalidAuthenticationTokenAudience",
                f"The access token has been obtained for wrong audience or resource '{claims.get('aud')}'.",
            )
        return dict(claims)

    def _check_signature(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as e:
            raise TokenError("InvalidAuthenticationToken", "The access token is invalid.") from e
        if header.get("kid") != self.kid:
            raise TokenError("InvalidAuthenticationToken", "The access token has an invalid signature.")
        try:
            claims = jwt.decode(token, self.key.public_key(), algorithms=["RS256"], options={"verify_aud": False})
        except jwt.ExpiredSignatureError as e:
            raise TokenError("ExpiredAuthenticationToken", "The access token expiry UTC time is in the past.") from e
        except jwt.PyJWTError as e:
            raise TokenError("InvalidAuthenticationToken", "The access token has an invalid signature.") from e
        if isinstance(claims.get("exp"), int | float):  # only tokens that expire are remembered
            if len(self._verified) >= _VERIFIED_KEPT:
                self._verified.clear()
            self._verified[token] = claims
        return claims

    def jwks(self) -> dict[str, Any]:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        jwk.update({"kid": self.kid, "use": "sig", "x5t": self.kid})
        return {"keys": [jwk]}


def verify_certificate_assertion(assertion: str, certificate_pem: str, client_id: str) -> dict[str, Any]:
    """Check an MSAL client assertion against the app's registered certificate; raises on failure."""
    cert = x509.load_pem_x509_certificate(certificate_pem.encode())
    claims = jwt.decode(
        assertion,
        cert.public_key(),  # type: ignore[arg-type]
        algorithms=["RS256", "PS256"],
        options={"verify_aud": False, "require": ["exp"]},
    )
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise jwt.InvalidTokenError("iss/sub of the assertion are not the client id")
    return claims


def unverified_claims(token: str) -> dict[str, Any]:
    try:
        return jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
