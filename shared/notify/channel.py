"""What every alert channel looks like to the dispatcher, and the one error it raises.

A channel sends one batch of notices as one message (mail, SMTP, webhook, `.eml` file) or
as one event per notice (Event Grid). It turns its library's exceptions into
`DeliveryError` (transient or permanent, with a short message free of URLs, secrets and
stack traces); the dispatcher records that per channel and retries later. Implemented by
`mail`, `webhook` and `eventgrid`; called by `dispatch`.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from shared.notify import notices as notices_


class DeliveryError(Exception):
    """A send that did not go through.

    `transient`: a later try may pass (network, throttling, 5xx). `channel_wide`: the channel
    itself refuses (credentials, sender, recipients, a webhook that no longer exists), so every
    message would fail the same way; the notices are not to blame and stay pending. `unknown`:
    the request may have reached the receiver before the answer was lost (a timeout or a reset
    after sending), so the message may have been delivered and is resent only as it was.
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool = True,
        retry_after: float | None = None,
        channel_wide: bool = False,
        unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.retry_after = retry_after
        self.channel_wide = channel_wide
        self.unknown = unknown


def outcome_unknown(exc: BaseException) -> bool:
    """Whether a network failure may have come after the request went out. Only a connection
    that never opened (refused, unresolvable name, connect timeout) proves nothing was sent;
    libraries wrap those (requests -> urllib3), so the causes and `reason`s are followed."""
    seen: object = exc
    for _ in range(6):
        if not isinstance(seen, BaseException):
            return True
        if isinstance(seen, ConnectionRefusedError | socket.gaierror) or type(seen).__name__ in _NEVER_SENT:
            return False
        seen = getattr(seen, "reason", None) or seen.__cause__ or seen.__context__
    return True


_NEVER_SENT = frozenset({"NewConnectionError", "NameResolutionError", "ConnectTimeoutError", "ConnectTimeout"})


@runtime_checkable
class Channel(Protocol):
    """An alert channel. `name` keys its delivery state in the outbox: keep it stable."""

    name: str

    def accepts(self, notice: notices_.Notice) -> bool:
        """Whether this channel carries this kind of notice at all (others are marked skipped)."""
        ...

    def send(self, batch: Sequence[notices_.Notice], now: datetime) -> None:
        """Deliver the batch as one message, or raise `DeliveryError`. `now` dates the message."""
        ...


def transient_status(status: int) -> bool:
    """Timeouts, throttling and server errors may pass on a later try; other 4xx will not."""
    return status in (408, 425, 429) or status >= 500


def channel_wide_status(status: int) -> bool:
    """HTTP answers that refuse the caller or the endpoint, whatever the message said."""
    return status in (401, 403, 404, 410)


def describe(exc: BaseException) -> str:
    """A log- and store-safe description of an exception: its class and, for HTTP, the status.

    Library messages can embed the URL (a webhook URL carries its signature in the query)
    or a server's reply, so only the class name and status are kept.
    """
    status = getattr(exc, "status_code", None) or getattr(exc, "status", None)
    code = getattr(exc, "smtp_code", None)
    parts = [type(exc).__name__]
    if isinstance(status, int):
        parts.append(f"HTTP {status}")
    if isinstance(code, int):
        parts.append(f"SMTP {code}")
    return " ".join(parts)
