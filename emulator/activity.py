"""The managing tenant's activity log: delegation register/unregister records (facts §0, §2).

`World` appends a record per delegated scope when a delegation is added, changed or removed
(scenario load and control API); `arm_misc` serves them at
`/providers/microsoft.insights/eventtypes/management/values`, newest first, paged. The record's
`description.delegationResourceId` is the delegated subscription or resource group, never the
registration assignment (Microsoft's Lighthouse doc, "Monitor delegation changes in your
managing tenant": "The ID of the delegated subscription or resource group").
"""

from __future__ import annotations

import bisect
import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from emulator.clock import iso, utcnow

if TYPE_CHECKING:
    from emulator.world import Delegation

REGISTER = "Microsoft.Resources/tenants/register/action"
UNREGISTER = "Microsoft.Resources/tenants/unregister/action"


class ActivityLog:
    """Records per managing tenant, in time order (timestamps are fixed-width ISO strings)."""

    def __init__(self) -> None:
        self.by_tenant: dict[str, list[dict[str, Any]]] = {}
        self.times: dict[str, list[str]] = {}

    def record(self, delegation: Delegation, customer_tenant: str, register: bool) -> dict[str, Any]:
        now = utcnow()
        stamp = iso(now)
        event_id = str(uuid.uuid4())
        operation = REGISTER if register else UNREGISTER
        details = {
            "delegationResourceId": delegation.scope,
            "subscriptionTenantId": customer_tenant,
            "subscriptionId": delegation.subscription_id,
        }
        ticks = int((now - datetime(1, 1, 1, tzinfo=UTC)).total_seconds() * 10_000_000)
        record = {
            "authorization": {"action": operation, "scope": "/"},
            "caller": "Microsoft.ManagedServices",
            "channels": "Operation",
            "claims": {},
            "correlationId": str(uuid.uuid4()),
            "description": json.dumps(details),
            "eventDataId": event_id,
            "eventName": {"value": "EndRequest", "localizedValue": "End request"},
            "category": {"value": "Administrative", "localizedValue": "Administrative"},
            "eventTimestamp": stamp,
            "id": f"/providers/Microsoft.Resources/tenants/events/{event_id}/ticks/{ticks}",
            "level": "Informational",
            "operationId": str(uuid.uuid4()),
            "operationName": {
                "value": operation,
                "localizedValue": "Register tenant" if register else "Unregister tenant",
            },
            "resourceProviderName": {"value": "Microsoft.Resources", "localizedValue": "Microsoft Resources"},
            "resourceType": {"value": "Microsoft.Resources/tenants", "localizedValue": "Microsoft.Resources/tenants"},
            "resourceId": "/",
            "status": {"value": "Succeeded", "localizedValue": "Succeeded"},
            "subStatus": {"value": "", "localizedValue": ""},
            "submissionTimestamp": stamp,
            "tenantId": delegation.managed_by,
            "properties": {"eventCategory": "Administrative", **details},
        }
        self.by_tenant.setdefault(delegation.managed_by, []).append(record)
        self.times.setdefault(delegation.managed_by, []).append(stamp)
        return record

    def window(self, tenant: str, since: str, until: str | None) -> tuple[int, int]:
        """Index range [lo, hi) of the tenant's records with since <= eventTimestamp <= until."""
        times = self.times.get(tenant, [])
        lo = bisect.bisect_left(times, since)
        hi = bisect.bisect_right(times, until) if until else len(times)
        return lo, hi


def normalize_time(text: str) -> str:
    """Any ISO 8601 instant -> our fixed-width UTC form, so bisect on strings works."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return iso(moment)
