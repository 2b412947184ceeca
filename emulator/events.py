"""The Event Grid payloads Azure would publish for a change made through the control API.

ARM events for a customer subscription's system topic (Event Grid schema, facts §3) and
Microsoft Graph change notifications as CloudEvents 1.0 from the Graph partner topic.
"""

from __future__ import annotations

import uuid
from typing import Any

from emulator.clock import iso, utcnow
from emulator.world import Delegation, Principal


def arm_event(delegation: Delegation, customer_tenant: str, *, delete: bool) -> dict[str, Any]:
    operation = "Microsoft.ManagedServices/registrationAssignments/" + ("delete" if delete else "write")
    correlation = str(uuid.uuid4())
    admin = str(uuid.uuid5(uuid.NAMESPACE_URL, "admin:" + customer_tenant))
    data: dict[str, Any] = {
        "authorization": {
            "scope": delegation.resource_id,
            "action": operation,
            "evidence": {"role": "Owner", "roleAssignmentScope": f"/subscriptions/{delegation.subscription_id}"},
        },
        "claims": {
            "aud": "https://management.azure.com/",
            "appid": "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
            "http://schemas.microsoft.com/identity/claims/tenantid": customer_tenant,
            "http://schemas.microsoft.com/identity/claims/objectidentifier": admin,
        },
        "correlationId": correlation,
        "resourceProvider": "Microsoft.ManagedServices",
        "resourceUri": delegation.resource_id,
        "operationName": operation,
        "status": "Succeeded",
        "subscriptionId": delegation.subscription_id,
        "tenantId": customer_tenant,
    }
    if delete:
        data["httpRequest"] = {
            "clientRequestId": str(uuid.uuid4()),
            "clientIpAddress": "203.0.113.10",
            "method": "DELETE",
            "url": f"https://management.azure.com{delegation.resource_id}?api-version=2022-10-01",
        }
    return {
        "id": str(uuid.uuid4()),
        "topic": f"/subscriptions/{delegation.subscription_id}",
        "subject": delegation.resource_id,
        "eventType": "Microsoft.Resources.ResourceDeleteSuccess"
        if delete
        else "Microsoft.Resources.ResourceWriteSuccess",
        "eventTime": iso(utcnow()),
        "data": data,
        "dataVersion": "2",
        "metadataVersion": "1",
    }


def graph_event(subscription: dict[str, Any], principal: Principal, change_type: str, sequence: int) -> dict[str, Any]:
    """One CloudEvent for one Graph subscription (users or groups) and one changed object."""
    kind = "User" if principal.type == "User" else "Group"
    resource = f"{kind}s/{principal.object_id}"
    now = iso(utcnow())
    tenant = subscription["tenantId"]
    return {
        "id": str(uuid.uuid4()),
        "type": f"Microsoft.Graph.{kind}{'Deleted' if change_type == 'deleted' else 'Updated'}",
        "source": f"/tenants/{tenant}/applications/{subscription['applicationId']}",
        "subject": resource,
        "time": now,
        "datacontenttype": "application/json",
        "specversion": "1.0",
        "data": {
            "changeType": change_type,
            "clientState": subscription.get("clientState"),
            "resource": resource,
            "resourceData": {
                "@odata.type": f"#Microsoft.Graph.{kind}",
                "@odata.id": resource,
                "id": principal.object_id,
                "organizationId": tenant,
                "eventTime": now,
                "sequenceNumber": sequence,
            },
            "subscriptionExpirationDateTime": subscription["expirationDateTime"],
            "subscriptionId": subscription["id"],
            "tenantId": tenant,
        },
    }


def lifecycle_event(subscription: dict[str, Any], event: str = "reauthorizationRequired") -> dict[str, Any]:
    tenant = subscription["tenantId"]
    names = {
        "reauthorizationRequired": "SubscriptionReauthorizationRequired",
        "subscriptionRemoved": "SubscriptionRemoved",
        "missed": "SubscriptionMissed",
    }
    return {
        "id": str(uuid.uuid4()),
        "type": f"Microsoft.Graph.{names.get(event, 'SubscriptionReauthorizationRequired')}",
        "source": f"/tenants/{tenant}/applications/{subscription['applicationId']}",
        "subject": f"Subscriptions/{subscription['id']}",
        "time": iso(utcnow()),
        "datacontenttype": "application/json",
        "specversion": "1.0",
        "data": {
            "lifecycleEvent": event,
            "clientState": subscription.get("clientState"),
            "resource": subscription["resource"],
            "subscriptionExpirationDateTime": subscription["expirationDateTime"],
            "subscriptionId": subscription["id"],
            "tenantId": tenant,
        },
    }
