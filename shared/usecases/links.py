"""PAL links of the identities we act as: read them, and the one place that writes them.

Used by the reconcile entry (`shared.usecases.pipeline`: reading for the observation, making
the links the plan asks for) and by the link checks (`shared.usecases.tenant_links`: drift put
back, links in customer tenants). Every PAL write of the engine goes through `Links.ensure`:
GET, then PUT/PATCH only if needed, holding the store lease `link:{tenant}:{object}` so that
concurrent invocations write once. Waiting for the lease uses an injected clock, so tests of
contention do not sleep.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared import model, reconcile
from shared.azure import errors
from shared.usecases import link_guard
from shared.usecases.engine import Engine

log = logging.getLogger(__name__)

LEASE_TTL = timedelta(minutes=2)
LEASE_WAIT_SECONDS = 20.0
LEASE_POLL_SECONDS = 0.25


@dataclass(frozen=True)
class Clock:
    """How long a writer waits for a busy lease: real time, or a test's fake."""

    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    wall: Callable[[datetime], datetime] = lambda now: max(now, datetime.now(now.tzinfo))


@dataclass
class Links:
    """Reads and writes PAL links for one pass, and keeps what it wrote and what it put off.

    `defer_transient`: a link that cannot be read or made for now is left unknown and the pass
    goes on (the verification: one throttled identity must not stop the estate); event handlers
    leave it False so the failure raises and Event Grid redelivers.
    """

    engine: Engine
    now: datetime
    defer_transient: bool = False
    clock: Clock = field(default_factory=Clock)
    written: list[str] = field(default_factory=list)  # "created|repointed identity in tenant"
    problems: list[str] = field(default_factory=list)
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)
    seen: dict[str, reconcile.LinkStatus] = field(default_factory=dict)  # managing-tenant links read
    guard: link_guard.PassGuard = field(default_factory=link_guard.PassGuard)  # what may be written

    # -- reading -----------------------------------------------------------------------------

    def read(
        self, acting: Mapping[str, model.ActingIdentity], *, known: Mapping[str, reconcile.LinkStatus] | None = None
    ) -> dict[str, reconcile.LinkStatus]:
        """The managing-tenant link of each identity we act as: `known` ones as given, the rest one
        GET each, side by side (one round trip for all)."""
        links = dict(known or {})
        missing = [(o, identity) for o, identity in acting.items() if o not in links]
        if len(missing) == 1:
            links[missing[0][0]] = self.read_one(missing[0][1])
        elif missing:
            workers = max(1, min(len(missing), self.engine.settings.max_concurrency))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="links") as pool:
                statuses = list(pool.map(lambda item: self.read_one(item[1]), missing))
            links.update({o: status for (o, _), status in zip(missing, statuses, strict=True)})
        self.seen.update({k.lower(): v for k, v in links.items()})
        return links

    def read_one(self, identity: model.ActingIdentity) -> reconcile.LinkStatus:
        try:
            return reconcile.LinkStatus.from_link(self.engine.pal_for(identity).get_link())
        except errors.TransientError as e:
            return self._deferred(identity, e)
        except errors.AzureError as e:
            return reconcile.LinkStatus(partner_id=None, error_code=e.code or "Unreadable", error_message=str(e))

    # -- writing -----------------------------------------------------------------------------

    def apply(
        self, actions: Iterable[reconcile.LinkAction], acting: Mapping[str, model.ActingIdentity]
    ) -> dict[str, reconcile.LinkStatus]:
        """Make the links the plan asks for; object id -> the link as it is afterwards."""
        made: dict[str, reconcile.LinkStatus] = {}
        for action in actions:
            identity = acting.get(action.object_id.lower())
            if identity is not None:
                made[action.object_id.lower()] = self.ensure(identity, action.tenant_id, action.object_id)
        return made

    def ensure(self, identity: model.ActingIdentity, tenant_id: str, object_id: str) -> reconcile.LinkStatus:
        """Link `identity` (object `object_id` in `tenant_id`) to the partner ID, under the link lease."""
        lease = f"link:{tenant_id.lower()}:{object_id.lower()}"
        store = self.engine.store
        deadline = self.clock.monotonic() + LEASE_WAIT_SECONDS
        while not store.try_acquire(lease, self.owner, LEASE_TTL, self.clock.wall(self.now)):
            if self.clock.monotonic() > deadline:
                busy = errors.TransientError(f"another invocation is still linking {identity.name}; try again later")
                return self._deferred(identity, busy)
            self.clock.sleep(LEASE_POLL_SECONDS)
        try:
            return self._write(identity, tenant_id, object_id)
        finally:
            store.release(lease, self.owner)

    def _write(self, identity: model.ActingIdentity, tenant_id: str, object_id: str) -> reconcile.LinkStatus:
        """The PAL write itself, asked of the partner ID guard first (`link_guard`): every link passes here."""
        return link_guard.guarded_write(self, identity, tenant_id, object_id)

    def deferred(self, identity: model.ActingIdentity, error: errors.TransientError) -> reconcile.LinkStatus:
        return self._deferred(identity, error)

    def _deferred(self, identity: model.ActingIdentity, error: errors.TransientError) -> reconcile.LinkStatus:
        """Raise (Event Grid redelivers), or with `defer_transient` note it and treat the link as unknown."""
        if not self.defer_transient:
            raise error
        self.problems.append(f"PAL link of {identity.name}: {error} (retried on the next run)")
        log.warning("PAL link of %s deferred: %s", identity.name, error)
        return reconcile.LinkStatus(partner_id=None)
