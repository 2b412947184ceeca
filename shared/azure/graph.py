"""Microsoft Graph v1.0: principals and their state, group members, SP delta, subscriptions, mail.

Resolves the principals of Lighthouse authorizations into `model.Principal` (active, disabled,
soft-deleted in `directory/deletedItems`, or gone), in bulk with `getByIds`; keeps the Graph
change-notification subscriptions; sends alert mail. Called by the reconcile/identity/verify
use cases, the alert channel and the doctor.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared import model, timestamps
from shared.azure import errors
from shared.azure.http import AzureHttpClient

V1 = "/v1.0"
GET_BY_IDS_CHUNK = 1000  # Graph's limit per getByIds request
_TYPES = {
    "#microsoft.graph.user": model.PrincipalKind.USER,
    "#microsoft.graph.group": model.PrincipalKind.GROUP,
    "#microsoft.graph.serviceprincipal": model.PrincipalKind.SERVICE_PRINCIPAL,
}
_SP_SELECT = "id,appId,displayName,accountEnabled,servicePrincipalType"


_MEMBER_OF_COLLECTIONS = {
    "user": "users",
    "group": "groups",
    "serviceprincipal": "servicePrincipals",
    "managedidentity": "servicePrincipals",
}


@dataclass(frozen=True)
class ServicePrincipalDelta:
    """One delta round: changed service principals, removed ids, and the link for the next round."""

    principals: tuple[model.Principal, ...]
    removed_ids: tuple[str, ...]
    delta_link: str


@dataclass(frozen=True)
class GraphSubscription:
    subscription_id: str
    resource: str
    change_type: str
    notification_url: str
    expiration: datetime | None
    lifecycle_notification_url: str = ""


class GraphClient:
    """Graph reads and the few writes the app makes, as one identity (the managed identity)."""

    def __init__(self, http: AzureHttpClient) -> None:
        self._http = http

    @classmethod
    def from_settings(cls, settings: Any, credential: Any, **kwargs: Any) -> GraphClient:
        return cls(AzureHttpClient.for_graph(settings, credential, **kwargs))

    # -- principals ----------------------------------------------------------------------------

    def get_principal(self, object_id: str) -> model.Principal:
        """The principal as Graph sees it now; a missing one is SOFT_DELETED or DELETED, never an error."""
        try:
            return parse_principal(self._http.get(f"{V1}/directoryObjects/{_guid(object_id)}"))
        except errors.NotFoundError:
            return self._deleted(object_id)

    def get_principals(self, object_ids: Iterable[str]) -> dict[str, model.Principal]:
        """Many principals in few calls (getByIds, 1000 a call), keyed by lower-cased object id."""
        wanted = list(dict.fromkeys(_guid(i) for i in object_ids))
        found: dict[str, model.Principal] = {}
        for start in range(0, len(wanted), GET_BY_IDS_CHUNK):
            chunk = wanted[start : start + GET_BY_IDS_CHUNK]
            body = {"ids": chunk, "types": ["user", "group", "servicePrincipal"]}
            answer = self._http.post(f"{V1}/directoryObjects/getByIds", body, idempotent=True)
            for item in answer.get("value") or []:
                if isinstance(item, dict) and item.get("id"):
                    principal = parse_principal(item)
                    found[principal.object_id] = principal
        for object_id in wanted:
            if object_id not in found:
                found[object_id] = self._deleted(object_id)
        return found

    def _deleted(self, object_id: str) -> model.Principal:
        try:
            item = self._http.get(f"{V1}/directory/deletedItems/{_guid(object_id)}")
        except errors.NotFoundError:
            return model.Principal(
                object_id=object_id.lower(), kind=model.PrincipalKind.UNKNOWN, state=model.PrincipalState.DELETED
            )
        principal = parse_principal(item)
        return model.Principal(
            object_id=principal.object_id,
            kind=principal.kind,
            state=model.PrincipalState.SOFT_DELETED,
            display_name=principal.display_name,
            app_id=principal.app_id,
            user_principal_name=principal.user_principal_name,
        )

    def list_transitive_member_ids(self, group_id: str) -> Iterator[str]:
        """Object ids of every member of the group, through nested groups."""
        for item in self._http.list(f"{V1}/groups/{_guid(group_id)}/transitiveMembers", {"$select": "id"}):
            if item.get("id"):
                yield str(item["id"]).lower()

    def list_transitive_member_of_ids(self, object_id: str, kind: str = "user") -> Iterator[str]:
        """Object ids of every group a user, group or service principal is in, through nested groups.

        `kind` picks Graph's documented path (`/users|groups|servicePrincipals/{id}/transitiveMemberOf`;
        for users User.Read.All is enough, a group's memberships need Directory.Read.All).
        Directory roles and administrative units are skipped. An unknown or deleted object yields
        nothing (Graph answers 404: a deleted object keeps no memberships one can read).
        """
        collection = _MEMBER_OF_COLLECTIONS.get(kind.lower(), "users")
        path = f"{V1}/{collection}/{_guid(object_id)}/transitiveMemberOf"
        try:
            for item in self._http.list(path, {"$select": "id"}):
                kind = str(item.get("@odata.type") or "").lower()
                if item.get("id") and kind in ("", "#microsoft.graph.group"):
                    yield str(item["id"]).lower()
        except errors.NotFoundError:
            return

    def list_objects(self, collection: str, *, select: str = "id", top: int | None = None) -> Iterator[dict[str, Any]]:
        """Raw objects of `users`, `groups` or `servicePrincipals` (the doctor's permission probes)."""
        if collection not in ("users", "groups", "servicePrincipals"):
            raise ValueError(f"unsupported collection {collection!r}")
        params = {"$select": select}
        if top:
            params["$top"] = str(top)
            # One page is enough for a probe: read it without following nextLink.
            yield from self._http.get(f"{V1}/{collection}", params).get("value") or []
            return
        yield from self._http.list(f"{V1}/{collection}", params)

    def get_user(self, user: str) -> model.Principal:
        """A user by object id or UPN (raises NotFoundError)."""
        return parse_principal(
            self._http.get(f"{V1}/users/{user}", {"$select": "id,displayName,userPrincipalName,accountEnabled"}),
            default_kind=model.PrincipalKind.USER,
        )

    def list_service_principals_delta(self, delta_link: str | None = None) -> ServicePrincipalDelta:
        """All service principals (first round) or what changed since `delta_link`."""
        path = delta_link or f"{V1}/servicePrincipals/delta"
        params = None if delta_link else {"$select": _SP_SELECT}
        principals: list[model.Principal] = []
        removed: list[str] = []
        next_delta = ""
        for page in self._http.pages(path, params):
            for item in page.get("value") or []:
                if not isinstance(item, dict) or not item.get("id"):
                    continue
                if "@removed" in item:
                    removed.append(str(item["id"]).lower())
                else:
                    principals.append(parse_principal(item, default_kind=model.PrincipalKind.SERVICE_PRINCIPAL))
            next_delta = str(page.get("@odata.deltaLink") or next_delta)
        if not next_delta:
            raise errors.PermanentError("delta query ended without @odata.deltaLink", code="MalformedResponse")
        return ServicePrincipalDelta(tuple(principals), tuple(removed), next_delta)

    # -- change-notification subscriptions ---------------------------------------------------------

    def list_subscriptions(self) -> Iterator[GraphSubscription]:
        for item in self._http.list(f"{V1}/subscriptions"):
            yield parse_subscription(item)

    def get_subscription(self, subscription_id: str) -> GraphSubscription:
        return parse_subscription(self._http.get(f"{V1}/subscriptions/{subscription_id}"))

    def create_subscription(
        self,
        resource: str,
        notification_url: str,
        expiration: datetime,
        client_state: str,
        *,
        change_type: str = "updated,deleted",
        lifecycle_notification_url: str | None = None,
    ) -> GraphSubscription:
        body = {
            "changeType": change_type,
            "resource": resource,
            "notificationUrl": notification_url,
            "lifecycleNotificationUrl": lifecycle_notification_url or notification_url,
            "expirationDateTime": _iso(expiration),
            "clientState": client_state,
        }
        return parse_subscription(self._http.post(f"{V1}/subscriptions", body))

    def renew_subscription(self, subscription_id: str, expiration: datetime) -> GraphSubscription:
        """PATCH a new expiration (renewing also reauthorizes)."""
        body = {"expirationDateTime": _iso(expiration)}
        return parse_subscription(self._http.patch(f"{V1}/subscriptions/{subscription_id}", body))

    def delete_subscription(self, subscription_id: str) -> None:
        try:
            self._http.delete(f"{V1}/subscriptions/{subscription_id}")
        except errors.NotFoundError:
            return

    # -- mail --------------------------------------------------------------------------------------

    def send_mail(self, sender: str, message: dict[str, Any], *, save_to_sent_items: bool = False) -> None:
        """POST /users/{sender}/sendMail; `message` is Graph's message resource (subject, body, toRecipients)."""
        self._http.post(f"{V1}/users/{sender}/sendMail", {"message": message, "saveToSentItems": save_to_sent_items})


def parse_principal(
    item: dict[str, Any], *, default_kind: model.PrincipalKind = model.PrincipalKind.UNKNOWN
) -> model.Principal:
    kind = _TYPES.get(str(item.get("@odata.type") or "").lower(), default_kind)
    if (
        kind is model.PrincipalKind.SERVICE_PRINCIPAL
        and str(item.get("servicePrincipalType") or "") == "ManagedIdentity"
    ):
        kind = model.PrincipalKind.MANAGED_IDENTITY
    enabled = item.get("accountEnabled")
    return model.Principal(
        object_id=str(item.get("id") or "").lower(),
        kind=kind,
        state=model.PrincipalState.DISABLED if enabled is False else model.PrincipalState.ACTIVE,
        display_name=str(item.get("displayName") or ""),
        app_id=str(item.get("appId") or "").lower(),
        user_principal_name=str(item.get("userPrincipalName") or ""),
    )


def parse_subscription(item: dict[str, Any]) -> GraphSubscription:
    if not item.get("id"):
        raise errors.PermanentError("Graph subscription without an id", code="MalformedResponse")
    return GraphSubscription(
        subscription_id=str(item["id"]),
        resource=str(item.get("resource") or ""),
        change_type=str(item.get("changeType") or ""),
        notification_url=str(item.get("notificationUrl") or ""),
        expiration=timestamps.parse(item.get("expirationDateTime")),
        lifecycle_notification_url=str(item.get("lifecycleNotificationUrl") or ""),
    )


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def _guid(object_id: str) -> str:
    value = str(object_id).strip().lower()
    if not value or any(ch not in "0123456789abcdef-" for ch in value):
        raise errors.PermanentError(f"not an object id: {object_id[:60]!r}", code="InvalidObjectId")
    return value
