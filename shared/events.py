"""Untrusted Event Grid payloads -> domain events, or a reasoned Ignored / Rejected.

Called by the Event Grid triggers in `function_app.py` (through the use cases) and by the CLI
and tests. Input is what the azure-functions 1.26 trigger hands over (`func.EventGridEvent` or
`func.CloudEvent`) or the wire JSON as a dict. Nothing here raises on bad input: every path
ends in a value whose `reason` says why, cut to a safe length, and never contains the
`clientState` secret. Events are hints: the handlers re-read current state, so these values
carry only what is needed to know *what* to re-read.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared import timestamps, words

MAX_FIELD = 2048  # longer ids, subjects, types are hostile: Azure's own are far shorter
MAX_SNIPPET = 200  # never echo more than this much of an input in a reason

_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# Resource group names: 1-90 of letters/digits (Unicode), '_', '-', '.', '(' and ')', not ending in '.'.
_RG = r"[\w\-.()]{0,89}[\w\-()]"
_ASSIGNMENT = re.compile(
    rf"^/subscriptions/(?P<sub>{_GUID})(?:/resourceGroups/(?P<rg>{_RG}))?"
    rf"/providers/Microsoft\.ManagedServices/registrationAssignments/(?P<id>{_GUID})\Z",
    re.IGNORECASE,
)
# `\Z`, not `$`: `$` also matches before a trailing newline, which would let "id\n" through.
_SUBSCRIPTION_TOPIC = re.compile(rf"^/subscriptions/(?P<sub>{_GUID})\Z", re.IGNORECASE)
_GRAPH_RESOURCE = re.compile(rf"^/?(?P<kind>users|groups)/(?P<id>{_GUID})\Z", re.IGNORECASE)
_TENANT_SOURCE = re.compile(rf"^/tenants/(?P<tid>{_GUID})(?:/|\Z)", re.IGNORECASE)
# C0/C1 controls, line and paragraph separators, bidi overrides and isolates: none may reach a log line.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")

ARM_WRITE = "microsoft.resources.resourcewritesuccess"
ARM_DELETE = "microsoft.resources.resourcedeletesuccess"
OP_WRITE = "microsoft.managedservices/registrationassignments/write"
OP_DELETE = "microsoft.managedservices/registrationassignments/delete"

_GRAPH_IDENTITY_TYPES = {
    "microsoft.graph.userupdated": ("user", "updated"),
    "microsoft.graph.userdeleted": ("user", "deleted"),
    "microsoft.graph.groupupdated": ("group", "updated"),
    "microsoft.graph.groupdeleted": ("group", "deleted"),
}
_GRAPH_IGNORED_TYPES = {"microsoft.graph.usercreated", "microsoft.graph.groupcreated"}
_LIFECYCLE_TYPES = {
    "microsoft.graph.subscriptionreauthorizationrequired": "reauthorizationRequired",
    "microsoft.graph.subscriptionremoved": "subscriptionRemoved",
    "microsoft.graph.subscriptionmissed": "missed",
    "microsoft.graph.subscriptiondeleted": "subscriptionRemoved",
}
_LIFECYCLE_EVENTS = {
    "reauthorizationrequired": "reauthorizationRequired",
    "subscriptionremoved": "subscriptionRemoved",
    "missed": "missed",
}


# ---------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class DelegationChanged:
    """A registration assignment was written or deleted (per the event; re-read to know)."""

    assignment_id: str  # canonical casing: /subscriptions/{sub}[/resourceGroups/{rg}]/providers/...
    scope: str  # /subscriptions/{sub} or /subscriptions/{sub}/resourceGroups/{rg}
    subscription_id: str
    change: str  # "write" | "delete"
    event_id: str = ""
    event_time: datetime | None = None

    @property
    def key(self) -> str:
        """Same key as `model.Delegation.key`: the assignment id, case-folded."""
        return self.assignment_id.lower()


@dataclass(frozen=True)
class IdentityChanged:
    """Graph says a user or group changed. Classify from Graph's current state, not from this."""

    object_id: str
    kind: str  # "user" | "group"
    change: str  # "updated" | "deleted"
    tenant_id: str = ""
    subscription_id: str = ""  # the Graph subscription that delivered it
    client_state_ok: bool = False  # True only when checked against a configured secret
    event_id: str = ""
    event_time: datetime | None = None


@dataclass(frozen=True)
class GraphSubscriptionLifecycle:
    """A Graph subscription needs care: reauthorizationRequired, subscriptionRemoved, missed."""

    subscription_id: str
    lifecycle_event: str
    tenant_id: str = ""
    client_state_ok: bool = False
    event_id: str = ""
    event_time: datetime | None = None


@dataclass(frozen=True)
class Ignored:
    """Not for us, or malformed: log the reason and return normally (no redelivery)."""

    reason: str
    event_id: str = ""
    event_type: str = ""


@dataclass(frozen=True)
class Rejected:
    """Looks like ours but failed verification (clientState, tenant): log, never act on it."""

    reason: str
    event_id: str = ""
    event_type: str = ""


# ---------------------------------------------------------------- normalising the input


@dataclass(frozen=True)
class _Envelope:
    """The fields we read, whatever schema the event came in."""

    id: str = ""
    type: str = ""
    subject: str = ""
    source: str = ""  # topic (Event Grid schema) or source (CloudEvents)
    time: datetime | None = None
    data: Any = None
    problems: tuple[str, ...] = field(default=())


def snippet(value: object, limit: int = MAX_SNIPPET) -> str:
    """A printable, bounded rendering of untrusted input for reasons and logs."""
    try:
        text = value if isinstance(value, str) else repr(value)
    except Exception:  # a hostile __repr__
        text = f"<{type(value).__name__}>"
    text = _CONTROL.sub("?", text[: limit + 1])
    return words.cut(text, limit)


def _text(value: object, name: str, problems: list[str]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.append(f"{name} is {type(value).__name__}, not a string")
        return ""
    if len(value) > MAX_FIELD:
        problems.append(f"{name} is {len(value)} characters long")
        return ""
    return value


def _envelope(event: object) -> _Envelope | Ignored:
    problems: list[str] = []
    if isinstance(event, dict):
        is_cloud = "specversion" in event
        raw = {
            "id": event.get("id"),
            "type": event.get("type") if is_cloud else event.get("eventType"),
            "subject": event.get("subject"),
            "source": event.get("source") if is_cloud else event.get("topic"),
            "time": event.get("time") if is_cloud else event.get("eventTime"),
            "data": event.get("data"),
        }
    elif hasattr(event, "event_type") and hasattr(event, "get_json"):  # func.EventGridEvent
        raw = {
            "id": getattr(event, "id", None),
            "type": getattr(event, "event_type", None),
            "subject": getattr(event, "subject", None),
            "source": getattr(event, "topic", None),
            "time": getattr(event, "event_time", None),
            "data": event.get_json(),
        }
    elif hasattr(event, "source") and hasattr(event, "type"):  # func.CloudEvent
        data = getattr(event, "data", None)
        if data is None and hasattr(event, "get_json"):
            data = event.get_json()
        raw = {
            "id": getattr(event, "id", None),
            "type": getattr(event, "type", None),
            "subject": getattr(event, "subject", None),
            "source": getattr(event, "source", None),
            "time": getattr(event, "time", None),
            "data": data,
        }
    else:
        return Ignored(f"not an event: got {type(event).__name__}")
    return _Envelope(
        id=_text(raw["id"], "id", problems),
        type=_text(raw["type"], "type", problems),
        subject=_text(raw["subject"], "subject", problems),
        source=_text(raw["source"], "source", problems),
        time=timestamps.parse(raw["time"]),
        data=raw["data"],
        problems=tuple(problems),
    )


# ---------------------------------------------------------------- ARM delegation events


def parse_delegation_event(event: object) -> DelegationChanged | Ignored:
    """An ARM system-topic event about a registration assignment, or why it is ignored."""
    try:
        return _parse_delegation(event)
    except Exception as e:  # the parser must never raise on untrusted input
        return Ignored(f"malformed event ({type(e).__name__})")


def _parse_delegation(event: object) -> DelegationChanged | Ignored:  # noqa: PLR0911, PLR0912  (one check, one reason each)
    env = _envelope(event)
    if isinstance(env, Ignored):
        return env

    def ignored(reason: str) -> Ignored:
        return Ignored(reason, event_id=snippet(env.id, 80), event_type=snippet(env.type, 120))

    if env.problems:
        return ignored("malformed event: " + "; ".join(env.problems))
    event_type = env.type.lower()
    if event_type not in (ARM_WRITE, ARM_DELETE):
        return ignored(f"event type {snippet(env.type or '(none)')!s} is not a resource write/delete success")
    data = env.data
    if not isinstance(data, dict):
        return ignored(f"data is {type(data).__name__}, not an object")
    operation = data.get("operationName")
    if not isinstance(operation, str) or len(operation) > MAX_FIELD:
        return ignored("data.operationName is missing or not a string")
    op = operation.lower()
    if op not in (OP_WRITE, OP_DELETE):
        return ignored(f"operation {snippet(operation)} is not a registration assignment write/delete")
    change = "write" if op == OP_WRITE else "delete"
    if (event_type == ARM_WRITE) != (change == "write"):
        return ignored(f"event type {snippet(env.type)} does not match operation {snippet(operation)}")

    resource_uri = data.get("resourceUri")
    if resource_uri is not None and (not isinstance(resource_uri, str) or len(resource_uri) > MAX_FIELD):
        return ignored("data.resourceUri is not a usable string")
    target = env.subject or resource_uri or ""
    if not target:
        return ignored("neither subject nor data.resourceUri names the assignment")
    if resource_uri and env.subject and resource_uri.lower() != env.subject.lower():
        return ignored("subject and data.resourceUri name different resources")
    match = _ASSIGNMENT.match(target)
    if not match:
        return ignored(
            f"subject {snippet(target)} is not a registration assignment at subscription or resource-group scope"
        )
    sub = match.group("sub").lower()
    rg = match.group("rg")
    topic_match = _SUBSCRIPTION_TOPIC.match(env.source) if env.source else None
    if topic_match and topic_match.group("sub").lower() != sub:
        return ignored("the event's topic is a different subscription than its subject")
    data_sub = data.get("subscriptionId")
    if isinstance(data_sub, str) and data_sub and data_sub.lower() != sub:
        return ignored("data.subscriptionId differs from the subject's subscription")
    status = data.get("status")
    if isinstance(status, str) and status and status.lower() != "succeeded":
        return ignored(f"operation status is {snippet(status, 40)}, not Succeeded")

    scope = f"/subscriptions/{sub}" + (f"/resourceGroups/{rg}" if rg else "")
    assignment_id = f"{scope}/providers/Microsoft.ManagedServices/registrationAssignments/{match.group('id').lower()}"
    return DelegationChanged(
        assignment_id=assignment_id,
        scope=scope,
        subscription_id=sub,
        change=change,
        event_id=snippet(env.id, 128),
        event_time=env.time,
    )


# ---------------------------------------------------------------- Graph notifications


def parse_graph_event(
    event: object,
    *,
    expected_client_state: str | None = None,
    expected_tenant_id: str | None = None,
) -> IdentityChanged | GraphSubscriptionLifecycle | Ignored | Rejected:
    """A Graph change or lifecycle notification from the partner topic, verified.

    With `expected_client_state` set, a notification whose clientState differs (or is absent,
    for change notifications) is Rejected; without it, `client_state_ok` stays False and the
    caller decides. With `expected_tenant_id` set, another tenant is Rejected.
    """
    try:
        return _parse_graph(event, expected_client_state, expected_tenant_id)
    except Exception as e:  # the parser must never raise on untrusted input
        return Ignored(f"malformed event ({type(e).__name__})")


def _parse_graph(  # noqa: PLR0911, PLR0912  (one check, one reason each)
    event: object, expected_client_state: str | None, expected_tenant_id: str | None
) -> IdentityChanged | GraphSubscriptionLifecycle | Ignored | Rejected:
    env = _envelope(event)
    if isinstance(env, Ignored):
        return env
    eid, etype = snippet(env.id, 80), snippet(env.type, 120)
    if env.problems:
        return Ignored("malformed event: " + "; ".join(env.problems), eid, etype)
    data = env.data
    if not isinstance(data, dict):
        return Ignored(f"data is {type(data).__name__}, not an object", eid, etype)
    event_type = env.type.lower()

    # Tenant: every place the payload names one must agree.
    tenants: set[str] = set()
    for candidate in (data.get("tenantId"), _nested(data, "resourceData", "organizationId")):
        if isinstance(candidate, str) and candidate:
            tenants.add(candidate.lower())
    source = _TENANT_SOURCE.match(env.source) if env.source else None
    if source:
        tenants.add(source.group("tid").lower())
    if len(tenants) > 1:
        return Rejected("the notification names more than one tenant", eid, etype)
    tenant_id = next(iter(tenants), "")
    if expected_tenant_id and tenant_id != expected_tenant_id.lower():
        return Rejected(f"tenant {snippet(tenant_id or '(none)', 64)} is not the managing tenant", eid, etype)

    state_ok, state_problem = _check_client_state(data.get("clientState"), expected_client_state)
    subscription_id = data.get("subscriptionId") if isinstance(data.get("subscriptionId"), str) else ""
    subscription_id = snippet(subscription_id, 128)

    lifecycle = _LIFECYCLE_TYPES.get(event_type)
    if lifecycle is None and not event_type and isinstance(data.get("lifecycleEvent"), str):
        lifecycle = _LIFECYCLE_EVENTS.get(data["lifecycleEvent"].lower())
    if lifecycle is not None:
        # Graph puts the subscription's clientState on lifecycle notifications as on change
        # notifications (learn.microsoft.com/graph/change-notifications-lifecycle-events): a
        # missing one is a spoof like a wrong one, and must not cost a single request.
        if state_problem:
            return Rejected(state_problem, eid, etype)
        if not subscription_id:
            return Ignored("lifecycle notification without data.subscriptionId", eid, etype)
        return GraphSubscriptionLifecycle(
            subscription_id, lifecycle, tenant_id, state_ok, snippet(env.id, 128), env.time
        )

    if event_type in _GRAPH_IGNORED_TYPES:
        return Ignored(f"{snippet(env.type)} needs no action (creation)", eid, etype)
    kind_change = _GRAPH_IDENTITY_TYPES.get(event_type)
    resource = _graph_resource(data, env.subject)
    if isinstance(resource, str):
        return Ignored(resource, eid, etype)
    kind, object_id = resource
    if kind_change is None:
        if event_type:
            return Ignored(f"event type {snippet(env.type)} is not a Graph user/group change", eid, etype)
        change_type = data.get("changeType")
        if not isinstance(change_type, str) or change_type.lower() not in ("updated", "deleted"):
            return Ignored("no type, and data.changeType is not updated/deleted", eid, etype)
        kind_change = (kind, change_type.lower())
    elif kind_change[0] != kind:
        return Ignored(f"event type {snippet(env.type)} does not match resource kind {kind}", eid, etype)
    if state_problem:
        return Rejected(state_problem, eid, etype)
    return IdentityChanged(
        object_id=object_id,
        kind=kind_change[0],
        change=kind_change[1],
        tenant_id=tenant_id,
        subscription_id=subscription_id,
        client_state_ok=state_ok,
        event_id=snippet(env.id, 128),
        event_time=env.time,
    )


def _check_client_state(value: object, expected: str | None) -> tuple[bool, str]:
    """(verified, problem). The value itself never appears in the problem text."""
    if not expected:
        return False, ""
    if not isinstance(value, str) or not value:
        return False, "clientState is missing"
    if len(value) > MAX_FIELD:
        return False, "clientState does not match the configured secret"
    if hmac.compare_digest(value.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")):
        return True, ""
    return False, "clientState does not match the configured secret"


def _graph_resource(data: dict[str, Any], subject: str) -> tuple[str, str] | str:
    """(kind, object id) from resourceData.id / resource / subject, agreeing; or a reason."""
    found: set[tuple[str, str]] = set()
    for candidate in (data.get("resource"), subject, _nested(data, "resourceData", "@odata.id")):
        if isinstance(candidate, str) and candidate and len(candidate) <= MAX_FIELD:
            match = _GRAPH_RESOURCE.match(candidate)
            if not match:
                return f"resource {snippet(candidate)} is not Users/{{id}} or Groups/{{id}}"
            found.add((match.group("kind").lower().rstrip("s"), match.group("id").lower()))
    rid = _nested(data, "resourceData", "id")
    if isinstance(rid, str) and rid:
        ids = {oid for _, oid in found}
        if ids and rid.lower() not in ids:
            return "resourceData.id differs from the resource path"
    if not found:
        return "no resource names the user or group"
    if len(found) > 1:
        return "resource, subject and resourceData name different objects"
    return next(iter(found))


def _nested(data: dict[str, Any], *path: str) -> Any:
    node: Any = data
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node
