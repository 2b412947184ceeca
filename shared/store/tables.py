"""Table Storage access: one service client, tables created lazily once per process.

Used only by `shared.store` modules. azure-data-tables is imported lazily (cold start); its
own retry policy is bounded so a handler finishes in seconds.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from shared.store import errors

_CREATED: set[tuple[str, str]] = set()  # (account url, table) created by this process
_CREATED_LOCK = threading.Lock()
_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,39}$")
_CLIENT_OPTIONS = {"retry_total": 3, "retry_backoff_factor": 0.4, "connection_timeout": 10, "read_timeout": 20}


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
    def from_connection_string(cls, conn: str, prefix: str, session: Any = None) -> Tables:
        from azure.data.tables import TableServiceClient

        with errors.wrapped("open storage"):
            try:
                service = TableServiceClient.from_connection_string(conn, **_options(session))
            except ValueError as e:
                raise errors.PermanentStoreError("the storage connection string is not valid") from e
        return cls(service, prefix)

    @classmethod
    def from_endpoint(cls, table_service_uri: str, credential: Any, prefix: str, session: Any = None) -> Tables:
        from azure.data.tables import TableServiceClient

        with errors.wrapped("open storage"):
            try:
                service = TableServiceClient(table_service_uri, credential=credential, **_options(session))
            except ValueError as e:
                raise errors.PermanentStoreError("the table service URI is not valid") from e
        return cls(service, prefix)

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


def _options(session: Any) -> dict[str, Any]:
    """Client options; with `session` (a requests.Session the caller sized and owns) as the transport."""
    if session is None:
        return dict(_CLIENT_OPTIONS)
    from azure.core.pipeline.transport import RequestsTransport

    return {**_CLIENT_OPTIONS, "transport": RequestsTransport(session=session, session_owner=False)}


def query(client: Any, flt: str, parameters: Mapping[str, Any] | None = None) -> Iterator[Any]:
    """Entities matching an OData filter, paging hidden, errors wrapped."""
    with errors.wrapped(f"query {client.table_name}"):
        yield from client.query_entities(flt, parameters=dict(parameters or {}))


def list_all(client: Any) -> Iterator[Any]:
    with errors.wrapped(f"list {client.table_name}"):
        yield from client.list_entities()


def get(client: Any, pk: str, rk: str) -> Any | None:
    """The entity, or None when absent."""
    from azure.core.exceptions import ResourceNotFoundError

    with errors.wrapped(f"read {client.table_name}"):
        try:
            return client.get_entity(pk, rk)
        except ResourceNotFoundError:
            return None


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

    with errors.wrapped(f"write {client.table_name}"):
        try:
            if etag is None:
                client.create_entity(entity)
            else:
                client.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
                )
        except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
            return False
    return True
