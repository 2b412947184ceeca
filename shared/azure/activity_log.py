"""The managing tenant's activity log: Lighthouse delegation register/unregister records.

Reads `GET /providers/microsoft.insights/eventtypes/management/values` (api-version 2015-04-01,
needs Monitoring Reader at `/`) and yields `DelegationRecord`s. The record's `description` is a
JSON string written by another service, so it is parsed defensively. Called by the
`watch_delegations` use case (which keeps the cursor) and the doctor.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared import timestamps
from shared.azure.http import AzureHttpClient

log = logging.getLogger(__name__)

API_VERSION = "2015-04-01"
PATH = "/providers/microsoft.insights/eventtypes/management/values"
REGISTER = "microsoft.resources/tenants/register/action"
UNREGISTER = "microsoft.resources/tenants/unregister/action"
_PROVIDERS = re.compile(r"/providers/", re.IGNORECASE)
_MAX_DESCRIPTION = 20_000


@dataclass(frozen=True)
class DelegationRecord:
    """One register (added or changed) or unregister (removed) record."""

    event_id: str
    timestamp: datetime
    operation: str  # "register" | "unregister"
    status: str = ""  # Succeeded, Failed, Started, ...
    event_name: str = ""  # BeginRequest | EndRequest
    delegation_resource_id: str = ""
    subscription_id: str = ""
    customer_tenant_id: str = ""
    correlation_id: str = ""

    @property
    def scope(self) -> str:
        """The delegated scope, `/subscriptions/{sub}[/resourceGroups/{rg}]`.

        `delegationResourceId` is that scope (Microsoft's Lighthouse doc); anything after a
        `/providers/` segment is cut off, and a record without it falls back to its subscription.
        """
        resource = _PROVIDERS.split(self.delegation_resource_id.strip(), maxsplit=1)[0].rstrip("/")
        if resource.lower().startswith("/subscriptions/"):
            return resource
        return f"/subscriptions/{self.subscription_id}" if self.subscription_id else ""

    @property
    def succeeded(self) -> bool:
        return self.status.lower() in ("succeeded", "") and self.event_name.lower() != "beginrequest"


class ActivityLogClient:
    """Tenant-level activity log reads as the managed identity."""

    def __init__(self, http: AzureHttpClient) -> None:
        self._http = http

    @classmethod
    def from_settings(cls, settings: Any, credential: Any, **kwargs: Any) -> ActivityLogClient:
        return cls(AzureHttpClient.for_arm(settings, credential, **kwargs))

    def list_delegation_records(self, since: datetime, until: datetime | None = None) -> Iterator[DelegationRecord]:
        """Register/unregister records with `since <= eventTimestamp [<= until]`, across pages."""
        condition = f"eventTimestamp ge '{_iso(since)}'"
        if until is not None:
            condition += f" and eventTimestamp le '{_iso(until)}'"
        params = {"api-version": API_VERSION, "$filter": condition}
        for item in self._http.list(PATH, params):
            record = parse_record(item)
            if record is not None:
                yield record


def parse_record(item: dict[str, Any]) -> DelegationRecord | None:
    """A `DelegationRecord`, or None for any other record or one we cannot read."""
    operation_value = _value(item.get("operationName")).lower()
    if operation_value == REGISTER:
        operation = "register"
    elif operation_value == UNREGISTER:
        operation = "unregister"
    else:
        return None
    timestamp = timestamps.parse(item.get("eventTimestamp"))
    if timestamp is None:
        log.info("activity log record %s without a readable eventTimestamp: skipped", str(item.get("eventDataId"))[:80])
        return None
    details = _description(item.get("description"))
    return DelegationRecord(
        event_id=str(item.get("eventDataId") or item.get("id") or ""),
        timestamp=timestamp,
        operation=operation,
        status=_value(item.get("status")),
        event_name=_value(item.get("eventName")),
        delegation_resource_id=_text(details.get("delegationResourceId")),
        subscription_id=_text(details.get("subscriptionId") or item.get("subscriptionId")).lower(),
        customer_tenant_id=_text(details.get("subscriptionTenantId")).lower(),
        correlation_id=_text(item.get("correlationId")),
    )


def _description(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str) or not raw.strip() or len(raw) > _MAX_DESCRIPTION:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _value(field: Any) -> str:
    if isinstance(field, dict):
        return _text(field.get("value"))
    return _text(field)


def _text(value: Any) -> str:
    return value[:500] if isinstance(value, str) else ""


def _iso(when: datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
