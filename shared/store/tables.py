"""Table Storage access: one service client, tables created on first use and again when they vanish.

Used only by `shared.store` modules. azure-data-tables is imported lazily (cold start); its
own retry policy is bounded so a handler finishes in seconds. A table is created the first time
a process uses it; when it disappears later (deleted by hand, Azurite restarted in memory), the
first operation that meets `TableNotFound` creates it again and retries once, so a live worker
never mistakes a missing table for a lost race.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from shared.store import errors

log = logging.getLogger(__name__)
T = TypeVar("T")

_CREATED: set[tuple[str, str]] = set()  # (account url, table) created by this process
_CREATED_LOCK = threading.Lock()
_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,39}\Z")
# Every storage call is bounded as a whole (`timeout`: the retry policy's budget for one operation,
# retries included) and per attempt (connect, read): a handler fails within Event Grid's 30 s and
# the Functions front end's 230 s when storage hangs; a probe (the doctor, `health`) within 10 s.
BUDGETS: dict[str, dict[str, float]] = {
    "call": {"retry_total": 3, "retry_backoff_factor": 0.4, "connection_timeout": 5, "read_timeout": 10, "timeout": 15},
    "probe": {"retry_total": 0, "retry_backoff_factor": 0.4, "connection_timeout": 2, "read_timeout": 2, "timeout": 3},
}


def validate_prefix(prefix: str) -> str:
    if not _PREFIX.match(prefix or ""):
        raise errors.PermanentStoreError(
            f"table prefix {prefix[:60]!r} must start with a letter and hold only letters and digits (PAL_TABLE_PREFIX)"
        )
    return prefix


class Tables:
    """Named tables of one account, created on first use."""

    def __init__(self, service: Any, prefix: str) -> None:
        self._service = service
        self._prefix = validate_prefix(prefix)
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_connection_string(cls, conn: str, prefix: str, session: Any = None, budget: str = "call") -> Tables:
        from azure.data.tables import TableServiceClient

        with errors.wrapped("open storage"):
            try:
                service = TableServiceClient.from_connection_string(conn, **_options(session, budget))
            except ValueError as e:
                raise errors.PermanentStoreError("the storage connection string is not valid") from e
        return cls(service, prefix)

    @classmethod
    def from_endpoint(
        cls, table_service_uri: str, credential: Any, prefix: str, session: Any = None, budget: str = "call"
    ) -> Tables:
        from azure.data.tables import TableServiceClient

        with errors.wrapped("open storage"):
            try:
                service = TableServiceClient(table_service_uri, credential=credential, **_options(session, budget))
            except ValueError as e:
                raise errors.PermanentStoreError("the table service URI is not valid") from e
        return cls(service, prefix)

    @property
    def service(self) -> Any:
        """The one TableServiceClient (the outbox shares it: one connection pool, one credential)."""
        return self._service

    @property
    def prefix(self) -> str:
        return self._prefix

    def table(self, name: str) -> Any:
        """The TableClient for `{prefix}{name}`, creating the table the first time in this process."""
        full = f"{self._prefix}{name}"
        with self._lock:
            client = self._clients.get(name)
            if client is None:
                client = self._service.get_table_client(full)
                self._clients[name] = client
        marker = (str(self._service.url).lower(), full.lower())
        if marker not in _CREATED:
            with _CREATED_LOCK:
                if marker not in _CREATED:
                    self._create(full)
                    _CREATED.add(marker)
        return client

    def _create(self, full: str) -> None:
        from azure.core.exceptions import ResourceExistsError

        with errors.wrapped(f"create table {full}"), contextlib.suppress(ResourceExistsError):
            self._service.create_table(full)

    def close(self) -> None:
        with errors.wrapped("close storage"):
            self._service.close()


def _options(session: Any, budget: str = "call") -> dict[str, Any]:
    """Client options; with `session` (a requests.Session the caller sized and owns) as the transport.
    A transport passed in keeps its own timeouts (azure-core's default: 300 s), so they go to it too."""
    options: dict[str, Any] = dict(BUDGETS[budget])
    if session is None:
        return options
    from azure.core.pipeline.transport import RequestsTransport

    timeouts = {k: options[k] for k in ("connection_timeout", "read_timeout")}
    return {**options, "transport": RequestsTransport(session=session, session_owner=False, **timeouts)}


def table_missing(error: BaseException) -> bool:
    """Whether a storage error says the table itself does not exist (not just the entity)."""
    code = getattr(error, "error_code", None)
    return code == "TableNotFound" or "TableNotFound" in str(error)


def recreate(client: Any) -> None:
    """Create `client`'s table again after it vanished; another writer doing the same is fine."""
    from azure.core.exceptions import ResourceExistsError

    log.warning("table %s is missing; creating it again", client.table_name)
    with errors.wrapped(f"create table {client.table_name}"), contextlib.suppress(ResourceExistsError):
        client.create_table()


def call(client: Any, operation: str, action: Callable[[], T]) -> T:
    """Run one storage operation, errors wrapped; a vanished table is created again and the operation retried once."""
    from azure.core.exceptions import HttpResponseError

    with errors.wrapped(f"{operation} {client.table_name}"):
        try:
            return action()
        except HttpResponseError as e:  # ResourceNotFoundError, TableTransactionError
            if not table_missing(e):
                raise
        recreate(client)
        return action()


def query(client: Any, flt: str, parameters: Mapping[str, Any] | None = None) -> Iterator[Any]:
    """Entities matching an OData filter, paging hidden, errors wrapped (a vanished table is empty)."""
    return iter(call(client, "query", lambda: list(client.query_entities(flt, parameters=dict(parameters or {})))))


def list_all(client: Any) -> Iterator[Any]:
    return iter(call(client, "list", lambda: list(client.list_entities())))


def get(client: Any, pk: str, rk: str) -> Any | None:
    """The entity, or None when absent."""
    from azure.core.exceptions import ResourceNotFoundError

    def read() -> Any | None:
        try:
            return client.get_entity(pk, rk)
        except ResourceNotFoundError as e:
            if table_missing(e):
                raise
            return None

    return call(client, "read", read)


def etag_of(entity: Any) -> str:
    return entity.metadata["etag"]


BATCH = 100  # operations per table transaction (the service's limit); all of one partition


def insert_op(entity: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A transaction operation that fails if the row exists (as `write` with no etag)."""
    return ("create", entity)


def replace_op(entity: dict[str, Any], etag: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A transaction operation that replaces the row only if it is unchanged since `etag` was read."""
    from azure.core import MatchConditions
    from azure.data.tables import UpdateMode

    return (
        "update",
        entity,
        {"mode": UpdateMode.REPLACE, "etag": etag, "match_condition": MatchConditions.IfNotModified},
    )


def transact(client: Any, operations: list[Any]) -> bool:
    """Commit up to `BATCH` operations on one partition as one transaction (all or nothing).

    False when a condition failed (a row inserted, changed or removed by another writer since it
    was read): nothing was written, and the caller falls back to its row-by-row path.
    """
    from azure.data.tables import TableTransactionError

    if not operations:
        return True
    with errors.wrapped(f"write {client.table_name}"):
        try:
            client.submit_transaction(operations)
        except TableTransactionError as e:
            if e.status_code in (404, 409, 412):
                return False
            raise
    return True


def write(client: Any, entity: dict[str, Any], etag: str | None) -> bool:
    """Insert (etag None) or replace-if-unchanged. False when another writer got there first."""
    from azure.core import MatchConditions
    from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
    from azure.data.tables import UpdateMode

    def attempt() -> bool:
        try:
            if etag is None:
                client.create_entity(entity)
            else:
                client.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
                )
        except ResourceNotFoundError as e:
            if table_missing(e):
                raise
            return False  # the entity we read was deleted meanwhile
        except (ResourceExistsError, ResourceModifiedError):
            return False
        return True

    return call(client, "write", attempt)


def upsert(client: Any, row: dict[str, Any]) -> None:
    from azure.data.tables import UpdateMode

    call(client, "write", lambda: client.upsert_entity(row, mode=UpdateMode.REPLACE))


def delete(client: Any, pk: str, rk: str) -> None:
    """Delete the entity; succeeds when it (or its whole table) is already gone."""
    from azure.core.exceptions import ResourceNotFoundError

    with errors.wrapped(f"delete {client.table_name}"), contextlib.suppress(ResourceNotFoundError):
        client.delete_entity(pk, rk)


def submit(client: Any, operations: list[tuple[str, dict[str, Any]]], operation: str) -> None:
    """One table transaction, errors wrapped; a vanished table is created again first."""
    call(client, operation, lambda: client.submit_transaction(operations))
