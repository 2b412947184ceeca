"""The Engine: settings, credentials, Azure clients and the store, wired once per process.

function_app.py asks `get_engine()` for the process-wide instance (built lazily on the first
invocation so module import stays light for cold starts); the CLI and the tests build their
own with `Engine(settings)`. Clients are cached per identity and tenant so tokens and
connections are reused across invocations.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from shared import model
from shared import settings as settings_module
from shared.azure import activity_log, arm, errors, graph, http, identity, lighthouse, pal
from shared.store import store as store_module

log = logging.getLogger(__name__)
T = TypeVar("T")


class Engine:
    """Everything a use case needs to observe Azure, act on it and remember what it saw."""

    def __init__(
        self,
        settings: settings_module.Settings,
        *,
        store: store_module.Store | None = None,
        budget: str = "timer",
    ) -> None:
        """`budget` "event" gives up sooner on throttling and server errors (Event Grid waits 30 s
        for an answer and redelivers what failed); "timer" (timers, CLI) is patient."""
        self.settings = settings
        self.credentials = identity.Credentials(settings)
        self._store = store
        self._session = http.new_session(pool_size=settings.max_concurrency, **BUDGETS[budget])
        self._storage_session = http.transport_session(pool_size=settings.max_concurrency)
        self._cache: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.RLock()

    # -- wiring --------------------------------------------------------------------------------

    def _cached(self, key: tuple[Any, ...], build: Callable[[], T]) -> T:
        with self._lock:
            if key not in self._cache:
                self._cache[key] = build()
            return self._cache[key]

    def cached(self, key: tuple[Any, ...], build: Callable[[], T]) -> T:
        """An object built once per engine and `key` (a client, the alert dispatcher), shared by threads."""
        return self._cached(key, build)

    def read_only(self) -> None:
        """From now on the store reads and never writes (`shared.store.readonly`): a dry run."""
        from shared.store import readonly

        with self._lock:
            if not getattr(self._store, "read_only", False):
                self._store = readonly.ReadOnlyStore(self.store)  # type: ignore[assignment]

    @property
    def store(self) -> store_module.Store:
        with self._lock:
            if self._store is None:
                self._store = open_store(self.settings, self.credentials, session=self._storage_session)
            return self._store

    @property
    def managing_tenant_id(self) -> str:
        return self.settings.managing_tenant_id

    def arm(self) -> arm.ArmClient:
        """ARM as the app's managed identity."""
        return self._cached(
            ("arm",),
            lambda: arm.ArmClient.from_settings(
                self.settings, self.credentials.managed_identity(), session=self._session
            ),
        )

    def arm_as(self, credential: Any, key: tuple[str, ...]) -> arm.ArmClient:
        return self._cached(
            ("arm", *key), lambda: arm.ArmClient.from_settings(self.settings, credential, session=self._session)
        )

    def lighthouse(self) -> lighthouse.LighthouseClient:
        return self._cached(
            ("lighthouse",),
            lambda: lighthouse.LighthouseClient.from_settings(
                self.settings, self.credentials.managed_identity(), session=self._session
            ),
        )

    def graph(self) -> graph.GraphClient:
        return self._cached(
            ("graph",),
            lambda: graph.GraphClient.from_settings(
                self.settings, self.credentials.managed_identity(), session=self._session
            ),
        )

    def lighthouse_readers(self) -> list[tuple[str, lighthouse.LighthouseClient]]:
        """Lighthouse as each identity we act as, the managed identity first.

        A managing-tenant identity sees a delegation only where it (or a group it is in) holds
        an authorization, so together they see every delegation the app could do anything for.
        """
        readers = [("managed-identity", self.lighthouse())]
        for acting in self.settings.identities[1:]:
            readers.append(
                (
                    acting.name,
                    self._cached(
                        ("lighthouse", acting.kind, acting.client_id.lower()),
                        lambda acting=acting: lighthouse.LighthouseClient.from_settings(
                            self.settings, self.credential_for(acting), session=self._session
                        ),
                    ),
                )
            )
        return readers

    def activity_log(self) -> activity_log.ActivityLogClient:
        return self._cached(
            ("activity_log",),
            lambda: activity_log.ActivityLogClient.from_settings(
                self.settings, self.credentials.managed_identity(), session=self._session
            ),
        )

    def credential_for(self, acting: model.ActingIdentity, tenant_id: str | None = None) -> Any:
        return self.credentials.for_identity(acting, tenant_id or self.managing_tenant_id)

    def pal_for(self, acting: model.ActingIdentity, tenant_id: str | None = None) -> pal.PartnerLinkClient:
        """The PAL client that calls as `acting` in `tenant_id` (a link always belongs to the caller)."""
        tenant = (tenant_id or self.managing_tenant_id).lower()
        return self._cached(
            ("pal", acting.kind, acting.client_id.lower(), tenant),
            lambda: pal.PartnerLinkClient.from_settings(
                self.settings, self.credential_for(acting, tenant), session=self._session
            ),
        )

    def whoami(self, acting: model.ActingIdentity, tenant_id: str | None = None) -> identity.TokenIdentity:
        """The object id `acting` has in `tenant_id`, learned from its own ARM token (cached)."""
        tenant = (tenant_id or self.managing_tenant_id).lower()
        return self._cached(
            ("whoami", acting.kind, acting.client_id.lower(), tenant),
            lambda: identity.whoami(self.credential_for(acting, tenant), self.settings.arm_scope),
        )

    def use_credentials(self, credentials: identity.Credentials) -> None:
        """Get tokens another way from now on (the CLI's `--credential default`); drops cached clients."""
        with self._lock:
            self.credentials.close()
            self.credentials = credentials
            self._cache.clear()

    def forget(self, *key_prefix: Any) -> None:
        """Drop cached clients whose key starts with `key_prefix` (e.g. after a credential failed)."""
        with self._lock:
            for key in [k for k in self._cache if k[: len(key_prefix)] == key_prefix]:
                del self._cache[key]

    def close(self) -> None:
        self.credentials.close()
        self._session.close()
        if self._store is not None:
            self._store.close()
        self._storage_session.close()


def open_store(
    settings: settings_module.Settings, credentials: identity.Credentials, *, session: Any = None
) -> store_module.Store:
    """The store on `AzureWebJobsStorage`: a connection string, or identity-based with the MI."""
    storage = settings.storage
    if storage.connection_string:
        return store_module.Store.from_connection_string(
            storage.connection_string, prefix=storage.table_prefix, session=session
        )
    if storage.identity_based:
        return store_module.Store.from_endpoint(
            storage.endpoint, credentials.managed_identity(), prefix=storage.table_prefix, session=session
        )
    raise settings_module.SettingsError(
        [
            (
                "AzureWebJobsStorage",
                "not set: set it to a storage connection string, or set "
                "AzureWebJobsStorage__tableServiceUri (identity-based) for the app's state tables",
            )
        ]
    )


BUDGETS: dict[str, dict[str, float]] = {
    "timer": {},  # the HTTP client's defaults: 4 retries, Retry-After honoured up to a minute
    "event": {"max_retries": 2, "backoff_factor": 0.25, "retry_after_cap": 5.0},
}

_engines: dict[str, Engine] = {}
_engine_lock = threading.Lock()


def get_engine(budget: str = "timer") -> Engine:
    """The process-wide engine for `budget`, built on first use from the app settings (validated then).

    Event triggers use "event" (give up sooner, Event Grid redelivers), timers and HTTP "timer".
    Both read and write the same store.
    """
    with _engine_lock:
        if budget not in _engines:
            _engines[budget] = Engine(settings_module.load_settings(), budget=budget)
        return _engines[budget]


def reset_engine() -> None:
    """Forget the process-wide engines (tests, and after settings change)."""
    with _engine_lock:
        for built in _engines.values():
            built.close()
        _engines.clear()


__all__ = ["Engine", "errors", "get_engine", "open_store", "reset_engine"]
