"""The few error classes that cross the adapter boundary.

Every adapter in `shared/azure` turns HTTP statuses, network failures and token failures into
one of these, once, in `http.py` / `identity.py`. Callers (use cases, doctor) only ask "try
again later?" (`TransientError`) or "this will never work as is" (`PermanentError` and its
narrower kinds, where a caller branches on them). No `requests` or `azure.core` exception
escapes the adapters.
"""

from __future__ import annotations


class AzureError(Exception):
    """Base of every adapter error. `status` is the HTTP status (None when no response)."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def __str__(self) -> str:
        parts = [str(self.status) if self.status is not None else "", self.code, self.message]
        return " ".join(part for part in parts if part)


class TransientError(AzureError):
    """Network failure, timeout, 408, 429 or 5xx that outlived the retries: try again later."""

    def __init__(
        self, message: str, *, status: int | None = None, code: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


class PermanentError(AzureError):
    """Any other 4xx, or an answer we cannot read: repeating the call will not help."""


class NotFoundError(PermanentError):
    """404: the object does not exist (or is not visible to the caller)."""


class ForbiddenError(PermanentError):
    """403: the caller lacks a role or Graph permission.

    `permission` and `call` name, where the adapter knows them, the permission the refused call is
    documented to need and the call itself (e.g. "Group.Read.All", "GET /v1.0/groups").
    """

    permission: str = ""
    call: str = ""

    def needing(self, permission: str, call: str) -> ForbiddenError:
        """This refusal, labelled with what the call needed (the adapter that made it knows)."""
        self.permission, self.call = permission, call
        return self


class ConflictError(PermanentError):
    """409 (or 412): the object exists already or changed under us."""


class CredentialError(PermanentError):
    """A token could not be had (wrong secret, unknown app, no federation trust) or was refused (401).

    `code` carries the AADSTS code when Entra gave one; the message never holds a secret.
    """


class PartnerIdInvalidError(PermanentError):
    """400 `PartnerIdInvalid`: Microsoft does not know that partner id (often the global id was used)."""


# Error codes that deserve their own class whatever the status.
_CODE_CLASSES: dict[str, type[PermanentError]] = {
    "partneridinvalid": PartnerIdInvalidError,
}
_STATUS_CLASSES: dict[int, type[PermanentError]] = {
    401: CredentialError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    412: ConflictError,
}


def error_for(status: int, code: str = "", message: str = "", *, retry_after: float | None = None) -> AzureError:
    """Classify an HTTP error answer (after retries) into the adapter error hierarchy."""
    message = message or f"HTTP {status}"
    if status in (408, 429) or status >= 500:
        return TransientError(message, status=status, code=code, retry_after=retry_after)
    cls = _CODE_CLASSES.get(code.lower()) or _STATUS_CLASSES.get(status, PermanentError)
    return cls(message, status=status, code=code)
