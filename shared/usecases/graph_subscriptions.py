"""Upkeep of the Microsoft Graph change-notification subscriptions (users, groups).

Called by `shared.usecases.identities` (the watch timer's `ensure_graph_subscriptions` step and
the lifecycle notifications of the `identity_events` trigger), which re-reads identities when
this module reports a gap. Graph keeps a users/groups subscription for at most 41,760 minutes;
we ask for a bit less, renew when fewer than two days remain, recreate one that vanished, and
remove duplicates left by concurrent runs. A subscription counts as ours when it watches
`users` or `groups` and delivers to the configured `PAL_GRAPH_NOTIFICATION_URL`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from shared.azure import errors
from shared.azure import graph as graph_module
from shared.usecases.engine import Engine

log = logging.getLogger(__name__)

RESOURCES = ("users", "groups")
LIFETIME = timedelta(minutes=41_000)  # Graph's cap for users/groups is 41,760 minutes
RENEW_WHEN_LEFT = timedelta(days=2)


@dataclass
class Upkeep:
    """What one upkeep pass did; `gap` means notifications may have been lost (re-read identities)."""

    created: list[str] = field(default_factory=list)  # resources
    renewed: list[str] = field(default_factory=list)
    removed_duplicates: list[str] = field(default_factory=list)  # subscription ids
    kept: list[str] = field(default_factory=list)
    gap: bool = False

    def summary(self) -> str:
        parts = [
            f"{label} {', '.join(items)}"
            for label, items in (
                ("created", self.created),
                ("renewed", self.renewed),
                ("kept", self.kept),
                ("removed duplicate(s)", self.removed_duplicates),
            )
            if items
        ]
        return "; ".join(parts) or "nothing to do"


def missing_settings(engine: Engine) -> str:
    """Why upkeep cannot run ("" when it can): both settings are needed to create a verifiable subscription."""
    settings = engine.settings
    if not settings.graph_notification_url:
        return "PAL_GRAPH_NOTIFICATION_URL is not set: identity changes are found only by polling"
    if not settings.graph_client_state:
        return "PAL_GRAPH_CLIENT_STATE is not set: Graph notifications could not be verified, so none are requested"
    return ""


def _resource(subscription: graph_module.GraphSubscription) -> str:
    return subscription.resource.strip("/").lower()


def same_address(a: str, b: str) -> bool:
    """Whether two notification URLs name the same place: by parameters, case-insensitively.

    Graph is not documented to echo `notificationUrl` verbatim, and an Event Grid partner topic
    address (`EventGrid:?azuresubscriptionid=...&resourcegroup=...`) names Azure resources,
    whose names are case-insensitive; so order and case of its parameters do not matter.
    """
    base_a, _, query_a = a.strip().partition("?")
    base_b, _, query_b = b.strip().partition("?")

    def params(query: str) -> list[tuple[str, str]]:
        return sorted((k.lower(), v.lower()) for k, v in parse_qsl(query, keep_blank_values=True))

    return base_a.lower() == base_b.lower() and params(query_a) == params(query_b)


def upkeep(engine: Engine, now: datetime) -> Upkeep:
    """Create, renew and de-duplicate our users and groups subscriptions. Raises AzureError."""
    settings = engine.settings
    graph = engine.graph()
    url = settings.graph_notification_url
    ours: dict[str, list[graph_module.GraphSubscription]] = {r: [] for r in RESOURCES}
    for subscription in graph.list_subscriptions():
        if _resource(subscription) in ours and same_address(subscription.notification_url, url):
            ours[_resource(subscription)].append(subscription)
    done = Upkeep()
    for resource in RESOURCES:
        found = sorted(ours[resource], key=lambda s: (s.expiration or now - LIFETIME, s.subscription_id))
        keep = found[-1] if found else None
        for extra in found[:-1]:
            # Two concurrent runs may both have created one; every run keeps the same (latest) one.
            graph.delete_subscription(extra.subscription_id)
            done.removed_duplicates.append(extra.subscription_id)
        if keep is None:
            _create(engine, resource, now)
            done.created.append(resource)
            done.gap = True
        elif keep.expiration is None or keep.expiration - now < RENEW_WHEN_LEFT:
            if renew(engine, keep.subscription_id, resource, now):
                done.gap = done.gap or (keep.expiration is not None and keep.expiration <= now)
                done.renewed.append(resource)
            else:
                done.created.append(resource)
                done.gap = True
        else:
            done.kept.append(resource)
    return done


def renew(engine: Engine, subscription_id: str, resource: str, now: datetime) -> bool:
    """Renew (which also reauthorizes) one subscription; recreate it when Graph no longer has it.

    Returns True when renewed, False when it had to be created again (a gap: re-read).
    """
    try:
        engine.graph().renew_subscription(subscription_id, now + LIFETIME)
        log.info("Graph subscription %s (%s) renewed until %s", subscription_id, resource, (now + LIFETIME).isoformat())
        return True
    except errors.NotFoundError:
        log.info("Graph subscription %s (%s) is gone; creating it again", subscription_id, resource)
    _create(engine, resource, now)
    return False


def get_ours(engine: Engine, subscription_id: str) -> graph_module.GraphSubscription | None:
    """Our subscription `subscription_id` (users/groups, to the configured address), or None."""
    try:
        subscription = engine.graph().get_subscription(subscription_id)
    except errors.NotFoundError:
        return None
    if _resource(subscription) not in RESOURCES:
        return None
    if not same_address(subscription.notification_url, engine.settings.graph_notification_url):
        return None
    return replace(subscription, resource=_resource(subscription))


def _create(engine: Engine, resource: str, now: datetime) -> None:
    settings = engine.settings
    created = engine.graph().create_subscription(
        resource,
        settings.graph_notification_url,
        now + LIFETIME,
        settings.graph_client_state,
        change_type="updated,deleted",
        lifecycle_notification_url=settings.graph_notification_url,
    )
    log.info("Graph subscription %s created for %s", created.subscription_id, resource)
