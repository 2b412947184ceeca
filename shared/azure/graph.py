"""Microsoft Graph v1.0: principals and their state, group members, subscriptions, mail.

Resolves the principals of Lighthouse authorizations into `model.Principal` (active, disabled,
soft-deleted in `directory/deletedItems`, gone, or unknown when Graph did not say), in bulk with
per-type reads (`/users`, `/groups`, `/servicePrincipals` filtered by `id in (...)`, 20 to a
`$batch`), each with its documented least-privilege permission and the exact `$select` the
decisions use; keeps the Graph change-notification subscriptions; sends alert mail. Called by
the reconcile/identity/verify use cases, the alert channel and the doctor.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from shared import model, timestamps
from shared.azure import errors
from shared.azure.http import AzureHttpClient

V1 = "/v1.0"
BATCH_LIMIT = 20  # requests per JSON batch (learn: json-batching)
BATCH_CONCURRENCY = 4  # JSON batches in flight at once: few, Graph throttles per app and tenant
FILTER_IN_LIMIT = 15  # values in one `in` clause (learn: filter-query-parameter)
_TYPES = {
    "#microsoft.graph.user": model.PrincipalKind.USER,
    "#microsoft.graph.group": model.PrincipalKind.GROUP,
    "#microsoft.graph.serviceprincipal": model.PrincipalKind.SERVICE_PRINCIPAL,
}
# Exactly the properties parse_principal reads, per type: Graph's default sets lack accountEnabled
# for users (learn: resources/user), so a read without $select cannot tell a disabled user.
USER_SELECT = "id,displayName,userPrincipalName,accountEnabled"
GROUP_SELECT = "id,displayName"
SP_SELECT = "id,appId,displayName,accountEnabled,servicePrincipalType"


@dataclass(frozen=True)
class PrincipalRead:
    """One per-type read the engine makes, with the application permission Graph documents for it."""

    name: str
    collection: str  # users | groups | servicePrincipals
    select: str
    kind: model.PrincipalKind
    permission: str
    deleted: bool = False  # directory/deletedItems/microsoft.graph.{type} instead of the live collection

    @property
    def path(self) -> str:
        if self.deleted:
            return f"{V1}/directory/deletedItems/microsoft.graph.{_CAST[self.collection]}"
        return f"{V1}/{self.collection}"

    def params(self, object_ids: Sequence[str]) -> dict[str, str]:
        return {"$filter": "id in (" + ",".join(f"'{i}'" for i in object_ids) + ")", "$select": self.select}


_CAST = {"users": "user", "groups": "group", "servicePrincipals": "servicePrincipal"}
# learn: user-list, group-list, serviceprincipal-list, directory-deleteditems-list (per type).
LIVE_READS = (
    PrincipalRead("users", "users", USER_SELECT, model.PrincipalKind.USER, "User.Read.All"),
    PrincipalRead("groups", "groups", GROUP_SELECT, model.PrincipalKind.GROUP, "Group.Read.All"),
    PrincipalRead(
        "service principals",
        "servicePrincipals",
        SP_SELECT,
        model.PrincipalKind.SERVICE_PRINCIPAL,
        "Application.Read.All",
    ),
)
DELETED_READS = tuple(
    PrincipalRead(f"deleted {r.name}", r.collection, r.select, r.kind, r.permission, deleted=True) for r in LIVE_READS
)
PRINCIPAL_READS = LIVE_READS + DELETED_READS
MEMBERS_SELECT = "id"


_MEMBER_OF_COLLECTIONS = {
    "user": "users",
    "group": "groups",
    "serviceprincipal": "servicePrincipals",
    "managedidentity": "servicePrincipals",
}


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

    def get_principals(self, object_ids: Iterable[str]) -> dict[str, model.Principal]:
        """Many principals in few calls, keyed by lower-cased object id.

        Live objects by per-type reads, then what is missing in `directory/deletedItems`
        (soft-deleted: users, service principals, Microsoft 365 and security groups for 30 days), else
        DELETED (hard-deleted, past the window, or a distribution group, which Graph deletes for good).
        """
        wanted = list(dict.fromkeys(_guid(i) for i in object_ids))
        found = self._read(LIVE_READS, wanted, model.PrincipalState.ACTIVE)
        missing = [i for i in wanted if i not in found]
        if missing:
            found.update(self._read(DELETED_READS, missing, model.PrincipalState.SOFT_DELETED))
        for object_id in wanted:
            if object_id not in found:
                found[object_id] = model.Principal(
                    object_id=object_id, kind=model.PrincipalKind.UNKNOWN, state=model.PrincipalState.DELETED
                )
        return found

    def read_principals(self, read: PrincipalRead, object_ids: Sequence[str]) -> list[model.Principal]:
        """One per-type read as the engine makes it (the doctor probes each with this)."""
        state = model.PrincipalState.SOFT_DELETED if read.deleted else model.PrincipalState.ACTIVE
        return list(self._read((read,), list(object_ids), state).values())

    def _read(
        self, reads: Sequence[PrincipalRead], object_ids: list[str], found_as: model.PrincipalState
    ) -> dict[str, model.Principal]:
        requests = [
            (read, object_ids[start : start + FILTER_IN_LIMIT])
            for start in range(0, len(object_ids), FILTER_IN_LIMIT)
            for read in reads
        ]
        found: dict[str, model.Principal] = {}
        for read, items in self._batch(requests):
            for item in items:
                principal = parse_principal(item, default_kind=read.kind)
                if found_as is model.PrincipalState.SOFT_DELETED:
                    principal = _soft_deleted(principal)
                found[principal.object_id] = principal
        return found

    def _batch(
        self, requests: Sequence[tuple[PrincipalRead, list[str]]]
    ) -> Iterator[tuple[PrincipalRead, list[dict[str, Any]]]]:
        """Run reads 20 to a JSON batch, a few batches at a time."""
        chunks = [requests[start : start + BATCH_LIMIT] for start in range(0, len(requests), BATCH_LIMIT)]
        if len(chunks) <= 1:
            for chunk in chunks:
                yield from self._one_batch(chunk)
            return
        with ThreadPoolExecutor(max_workers=min(BATCH_CONCURRENCY, len(chunks)), thread_name_prefix="graph") as pool:
            for answers in pool.map(self._one_batch, chunks):
                yield from answers

    def _one_batch(
        self, chunk: Sequence[tuple[PrincipalRead, list[str]]]
    ) -> list[tuple[PrincipalRead, list[dict[str, Any]]]]:
        """One JSON batch; a read that failed transiently (429, 5xx), has more pages or succeeded
        without its list is re-sent alone, through the client's retries (which honour Retry-After);
        any other failure raises."""
        body = {
            "requests": [
                {"id": str(n), "method": "GET", "url": _relative(read.path, read.params(ids))}
                for n, (read, ids) in enumerate(chunk)
            ]
        }
        answer = self._http.post(f"{V1}/$batch", body, idempotent=True)
        by_id = {str(r.get("id")): r for r in answer.get("responses") or [] if isinstance(r, dict)}
        results: list[tuple[PrincipalRead, list[dict[str, Any]]]] = []
        for n, (read, ids) in enumerate(chunk):
            sub = by_id.get(str(n)) or {}
            status = int(sub.get("status") or 0)
            payload = sub.get("body") if isinstance(sub.get("body"), dict) else {}
            # A success without the list it answers (no body, no `value`) is no answer: read again.
            complete = isinstance(payload.get("value"), list) and not payload.get("@odata.nextLink")
            if status == 200 and complete:
                results.append((read, [i for i in payload["value"] if isinstance(i, dict) and i.get("id")]))
            elif status == 200 or status in (0, 408, 429) or status >= 500:
                results.append((read, self._read_alone(read, ids)))
            else:
                error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
                failure = errors.error_for(
                    status, str(error.get("code") or ""), str(error.get("message") or f"GET {read.path} failed")
                )
                if isinstance(failure, errors.ForbiddenError):
                    failure.needing(read.permission, f"GET {read.path}")
                raise failure
        return results

    def _read_alone(self, read: PrincipalRead, ids: list[str]) -> list[dict[str, Any]]:
        """One per-type read sent on its own, every page; a page without its `value` list is a
        transient failure (never "none found": that would read as deleted)."""
        found: list[dict[str, Any]] = []
        try:
            for page in self._http.pages(read.path, read.params(ids)):
                items = page.get("value")
                if not isinstance(items, list):
                    raise errors.TransientError(f"GET {read.path} answered without its list", code="IncompleteResponse")
                found += [i for i in items if isinstance(i, dict) and i.get("id")]
        except errors.ForbiddenError as e:
            e.needing(read.permission, f"GET {read.path}")
            raise
        return found

    def list_transitive_member_ids(self, group_id: str) -> Iterator[str]:
        """Object ids of every member of the group, through nested groups."""
        path = f"{V1}/groups/{_guid(group_id)}/transitiveMembers"
        try:
            for item in self._http.list(path, {"$select": MEMBERS_SELECT}):
                if item.get("id"):
                    yield str(item["id"]).lower()
        except errors.ForbiddenError as e:
            e.needing("Group.Read.All", f"GET {V1}/groups/{{id}}/transitiveMembers")
            raise

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

    def list_group_ids_named(self, display_name: str) -> Iterator[str]:
        """Object ids of the groups with this display name (`$filter=displayName eq '…'`, Group.Read.All)."""
        quoted = display_name.replace("'", "''")
        for item in self._http.list(f"{V1}/groups", {"$filter": f"displayName eq '{quoted}'", "$select": "id"}):
            if item.get("id"):
                yield str(item["id"]).lower()

    def get_user(self, user: str) -> model.Principal:
        """A user by object id or UPN (raises NotFoundError)."""
        return parse_principal(
            self._http.get(f"{V1}/users/{user}", {"$select": USER_SELECT}),
            default_kind=model.PrincipalKind.USER,
        )

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
    """A Graph directory object as a principal. Groups have no `accountEnabled`: they are active
    while they exist. For users and service principals an absent `accountEnabled` is UNKNOWN,
    never enabled (Graph leaves it out unless it is `$select`ed)."""
    kind = _TYPES.get(str(item.get("@odata.type") or "").lower(), default_kind)
    if (
        kind is model.PrincipalKind.SERVICE_PRINCIPAL
        and str(item.get("servicePrincipalType") or "") == "ManagedIdentity"
    ):
        kind = model.PrincipalKind.MANAGED_IDENTITY
    enabled = item.get("accountEnabled")
    if kind is model.PrincipalKind.GROUP or enabled is True:
        state = model.PrincipalState.ACTIVE
    elif enabled is False:
        state = model.PrincipalState.DISABLED
    else:
        state = model.PrincipalState.UNKNOWN
    return model.Principal(
        object_id=str(item.get("id") or "").lower(),
        kind=kind,
        state=state,
        display_name=str(item.get("displayName") or ""),
        app_id=str(item.get("appId") or "").lower(),
        user_principal_name=str(item.get("userPrincipalName") or ""),
    )


def _soft_deleted(principal: model.Principal) -> model.Principal:
    return replace(principal, state=model.PrincipalState.SOFT_DELETED)


def _relative(path: str, params: dict[str, str]) -> str:
    """A batch request's `url`: relative to the version, with its query encoded."""
    return path.removeprefix(V1) + "?" + urlencode(params, quote_via=quote, safe="$',()")


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
