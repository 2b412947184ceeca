"""Event Grid channel: every finding opened or resolved becomes a CloudEvent on a custom topic.

Ticketing and automation subscribe to the topic at `PAL_EVENTS_TOPIC_ENDPOINT`. Events are
published with azure-eventgrid's `EventGridPublisherClient` and the credential passed in (the
app's managed identity in production). One CloudEvent per notice: type
`PalWatch.Finding.Opened` or `PalWatch.Finding.Resolved`, source `/palwatch/{managing
tenant}`, subject the finding key, data the finding's public fields, and an id derived from
the notice id so that a subscriber can drop a redelivered copy. Reminders are not events:
the dispatcher marks them skipped for this channel. Built by
`factory.channels_for`; azure-eventgrid is imported on first use (cold start).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shared import words
from shared.notify import channel
from shared.notify import notices as notices_

log = logging.getLogger(__name__)

EVENT_TYPES = {
    notices_.NoticeKind.OPENED: "PalWatch.Finding.Opened",
    notices_.NoticeKind.RESOLVED: "PalWatch.Finding.Resolved",
}
CHUNK = 100  # events per publish call; well inside Event Grid's 1 MB request limit


def event_id(notice: notices_.Notice) -> str:
    return hashlib.sha256(notice.notice_id.encode()).hexdigest()[:32]


def event_data(notice: notices_.Notice) -> dict[str, Any]:
    data = notices_.finding_to_dict(notice.finding)
    data["noticeId"] = notice.notice_id
    data["openedAt"] = words.utc(notice.since).isoformat()
    data["resolvedAt"] = words.utc(notice.resolved_at).isoformat() if notice.resolved_at else None
    return data


class EventGridChannel:
    """Publishes CloudEvents 1.0 to a custom topic; `send_options` go to each `send` call."""

    name = "eventgrid"

    def __init__(
        self,
        endpoint: str,
        credential: Any,
        *,
        managing_tenant_id: str,
        client: Any = None,
        **send_options: Any,
    ) -> None:
        if not endpoint.lower().startswith("https://"):
            raise ValueError("PAL_EVENTS_TOPIC_ENDPOINT must be an https URL")
        self.endpoint = endpoint
        self.source = f"/palwatch/{managing_tenant_id}"
        self._credential = credential
        self._client = client
        # The basic-topic client ignores transport options given to its constructor, so they
        # (e.g. `connection_verify`, `retry_total`, timeouts) are given per call instead.
        self._send_options = {"connection_timeout": 10, "read_timeout": 30, "retry_total": 2, **send_options}

    def __repr__(self) -> str:
        return f"EventGridChannel({self.endpoint})"

    def _publisher(self) -> Any:
        if self._client is None:
            from azure.eventgrid import EventGridPublisherClient

            self._client = EventGridPublisherClient(self.endpoint, self._credential)
        return self._client

    def accepts(self, notice: notices_.Notice) -> bool:
        return notice.kind in EVENT_TYPES

    def events(self, batch: Sequence[notices_.Notice], now: datetime) -> list[Any]:
        from azure.core.messaging import CloudEvent

        return [
            CloudEvent(
                source=self.source,
                type=EVENT_TYPES[n.kind],
                data=event_data(n),
                subject=n.finding.key,
                id=event_id(n),
                time=words.utc(n.resolved_at or n.since),
                datacontenttype="application/json",
            )
            for n in batch
            if self.accepts(n)
        ]

    def send(self, batch: Sequence[notices_.Notice], now: datetime) -> None:
        from azure.core import exceptions as core_errors

        events = self.events(batch, now)
        try:
            for start in range(0, len(events), CHUNK):
                self._publisher().send(events[start : start + CHUNK], **self._send_options)
        except core_errors.ClientAuthenticationError as exc:
            # No token (identity endpoint down) or 401/403: fixable by an operator, retried.
            status = getattr(exc, "status_code", None)
            raise channel.DeliveryError(channel.describe(exc), transient=status is None, channel_wide=True) from exc
        except core_errors.HttpResponseError as exc:
            status = exc.status_code or 0
            raise channel.DeliveryError(
                channel.describe(exc),
                transient=status == 0 or channel.transient_status(status),
                channel_wide=channel.channel_wide_status(status),
            ) from exc
        except core_errors.AzureError as exc:  # connection, TLS, timeouts
            raise channel.DeliveryError(channel.describe(exc), transient=True) from exc
        except ValueError as exc:  # e.g. an endpoint the client refuses
            raise channel.DeliveryError(channel.describe(exc), transient=False, channel_wide=True) from exc
        log.info("event grid: %d events published", len(events))
