"""The alert outbox: notices written to Table Storage before they are sent, with per-channel state.

Use cases `enqueue` notices (anything with a `notice_id` and a JSON-safe `to_payload()`),
and `shared.notify.dispatch.Dispatcher` lists what is pending, `claim`s entries with an etag
lease, sends them and `complete`s them with each channel's delivery state. The row key is a
hash of the notice id, so a notice enqueued twice — duplicate events, retries, concurrent
invocations — is stored once (conditional insert), and a claim taken with `If-Match` means two
dispatchers never both hold the same entry. The table `{prefix}outbox` is created on first use.

This module knows nothing of findings or channels: payloads are opaque JSON and deliveries a
dict keyed by channel name; it imports nothing from `shared.notify` (a peer layer). Its errors
are store errors (`OutboxError` is a `StoreError`), its delivery states `model.DeliveryState`. The store
builds it on its own table client (`Store.outbox()`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from azure.core import MatchConditions
from azure.core import exceptions as core_errors
from azure.data.tables import TableClient, TableServiceClient, TableTransactionError, UpdateMode

from shared import model, words
from shared.store import errors

log = logging.getLogger(__name__)
T = TypeVar("T")

PARTITION = "notice"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CHUNK_CHARS = 30_000  # a Table string property holds 64 KiB of UTF-16
_MAX_CHUNKS = 15
_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}\Z")


class OutboxError(errors.StoreError):
    """The outbox table could not be read or written (the whole dispatch run fails): a store error."""

    def __init__(self, message: str, *, transient: bool = True) -> None:
        super().__init__(message)
        self.transient = transient


class Enqueueable(Protocol):
    @property
    def notice_id(self) -> str: ...

    def to_payload(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Delivery:
    """One channel's state for one entry."""

    state: model.DeliveryState = model.DeliveryState.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str = ""
    sent_at: datetime | None = None
    # The message this notice went out in when its outcome was unknown (the send may have been
    # taken): the notices sharing it are resent together, alone, so the resend keeps its identity.
    batch: str = ""

    @property
    def terminal(self) -> bool:
        return self.state.terminal

    def due(self, now: datetime) -> bool:
        return not self.terminal and (self.next_attempt_at is None or self.next_attempt_at <= now)

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "attempts": self.attempts,
            "next": self.next_attempt_at.isoformat() if self.next_attempt_at else None,
            "error": self.last_error,
            "sent": self.sent_at.isoformat() if self.sent_at else None,
            **({"batch": self.batch} if self.batch else {}),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Delivery:
        return cls(
            state=_state(raw.get("state")),
            attempts=int(raw.get("attempts", 0)),
            next_attempt_at=datetime.fromisoformat(raw["next"]) if raw.get("next") else None,
            last_error=str(raw.get("error", "")),
            sent_at=datetime.fromisoformat(raw["sent"]) if raw.get("sent") else None,
            batch=str(raw.get("batch") or ""),
        )


@dataclass(frozen=True)
class OutboxEntry:
    notice_id: str
    payload: dict[str, Any]
    created_at: datetime
    deliveries: dict[str, Delivery] = field(default_factory=dict)
    pending: bool = True
    claimed_by: str = ""
    claimed_until: datetime = EPOCH
    etag: str = ""
    row_key: str = ""

    def delivery(self, channel: str) -> Delivery:
        return self.deliveries.get(channel, Delivery())

    def claimed(self, now: datetime) -> bool:
        return self.claimed_until > now


def _state(raw: Any) -> model.DeliveryState:
    """A stored state; one this release does not know is still owed (pending), never dropped."""
    try:
        return model.DeliveryState(raw)
    except ValueError:
        return model.DeliveryState.PENDING


def row_key(notice_id: str) -> str:
    """Notice ids hold `/` (ARM ids), which row keys forbid: the key is their hash."""
    return hashlib.sha256(notice_id.encode()).hexdigest()


def _split_payload(payload: Mapping[str, Any]) -> dict[str, str]:
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    chunks = [text[i : i + _CHUNK_CHARS] for i in range(0, len(text), _CHUNK_CHARS)] or [""]
    if len(chunks) > _MAX_CHUNKS:
        raise ValueError(f"notice payload of {len(text)} characters is too large for the outbox")
    return {f"Payload{i}": chunk for i, chunk in enumerate(chunks)}


def _join_payload(entity: Mapping[str, Any]) -> dict[str, Any]:
    parts = []
    for i in range(_MAX_CHUNKS):
        part = entity.get(f"Payload{i}")
        if part is None:
            break
        parts.append(part)
    return json.loads("".join(parts))


def _entry(entity: Mapping[str, Any]) -> OutboxEntry:
    deliveries = {k: Delivery.from_json(v) for k, v in json.loads(entity.get("Deliveries") or "{}").items()}
    return OutboxEntry(
        notice_id=entity["NoticeId"],
        payload=_join_payload(entity),
        created_at=words.utc(entity["CreatedAt"]),
        deliveries=deliveries,
        pending=bool(entity.get("Pending", True)),
        claimed_by=entity.get("ClaimedBy", ""),
        claimed_until=words.utc(entity.get("ClaimedUntil") or EPOCH),
        etag=entity.metadata["etag"],
        row_key=entity["RowKey"],
    )


class Outbox:
    """The `{prefix}outbox` table. Give it a `TableServiceClient` or a connection string."""

    def __init__(self, service: TableServiceClient | str, *, prefix: str = "palwatch") -> None:
        self.table_name = f"{prefix}outbox"
        if not _TABLE_NAME.match(self.table_name):
            raise ValueError(f"PAL_TABLE_PREFIX {prefix!r} does not make a valid table name")
        self._service = TableServiceClient.from_connection_string(service) if isinstance(service, str) else service
        self._client: TableClient | None = None

    def _table(self) -> TableClient:
        if self._client is None:
            try:
                self._client = self._service.create_table_if_not_exists(self.table_name)
            except core_errors.AzureError as exc:
                raise OutboxError(f"cannot create table {self.table_name}: {type(exc).__name__}") from exc
        return self._client

    def _with_table(self, action: Callable[[TableClient], T]) -> T:
        """Run `action`; when the table vanished since this process created it, create it again and retry once."""
        try:
            return action(self._table())
        except core_errors.HttpResponseError as exc:
            if getattr(exc, "error_code", None) != "TableNotFound" and "TableNotFound" not in str(exc):
                raise
        log.warning("outbox: table %s is missing; creating it again", self.table_name)
        self._client = None
        return action(self._table())

    # -- writing notices -------------------------------------------------------------------

    def _existing_keys(self, keys: set[str]) -> set[str]:
        if len(keys) <= 20:
            return set()  # a handful: conditional inserts are cheaper than a scan
        rows = self._with_table(
            lambda t: list(t.query_entities("PartitionKey eq @pk", parameters={"pk": PARTITION}, select=["RowKey"]))
        )
        return {entity["RowKey"] for entity in rows} & keys

    def _create_one(self, entity: dict[str, Any]) -> bool:
        try:
            self._with_table(lambda t: t.create_entity(entity))
        except core_errors.ResourceExistsError:
            return False
        return True

    def enqueue(self, notices: Iterable[Enqueueable], now: datetime) -> int:
        """Write notices not yet in the outbox; returns how many were new. Idempotent."""
        now = words.utc(now)
        entities: dict[str, dict[str, Any]] = {}
        for notice in notices:
            key = row_key(notice.notice_id)
            entities.setdefault(
                key,
                {
                    "PartitionKey": PARTITION,
                    "RowKey": key,
                    "NoticeId": notice.notice_id,
                    "CreatedAt": now,
                    "Pending": True,
                    "Deliveries": "{}",
                    "ClaimedBy": "",
                    "ClaimedUntil": EPOCH,
                    **_split_payload(notice.to_payload()),
                },
            )
        try:
            existing = self._existing_keys(set(entities))
            todo = [e for k, e in entities.items() if k not in existing]
            created = 0
            for start in range(0, len(todo), 100):
                chunk = todo[start : start + 100]
                if len(chunk) == 1:
                    created += self._create_one(chunk[0])
                    continue
                try:  # one round trip for the chunk; any conflict voids it, then one by one
                    self._table().submit_transaction([("create", e) for e in chunk])
                    created += len(chunk)
                except TableTransactionError:
                    created += sum(self._create_one(e) for e in chunk)
        except core_errors.AzureError as exc:
            raise OutboxError(f"cannot write to {self.table_name}: {type(exc).__name__}") from exc
        if created:
            log.info("outbox: %d new notices (%d already there)", created, len(entities) - created)
        return created

    # -- reading -----------------------------------------------------------------------------

    def _query(self, query_filter: str, parameters: dict[str, Any]) -> list[OutboxEntry]:
        try:
            rows = self._with_table(lambda t: list(t.query_entities(query_filter, parameters=parameters)))
            return [_entry(e) for e in rows]
        except core_errors.AzureError as exc:
            raise OutboxError(f"cannot read {self.table_name}: {type(exc).__name__}") from exc

    def list_pending(self) -> list[OutboxEntry]:
        """Entries some channel still has to deliver, claimed or not, oldest first."""
        entries = self._query("PartitionKey eq @pk and Pending eq true", {"pk": PARTITION})
        return sorted(entries, key=lambda e: (e.created_at, e.notice_id))

    def list_entries(self) -> list[OutboxEntry]:
        """Every entry (tests, `palwatch` diagnostics); the outbox stays small after `purge`."""
        entries = self._query("PartitionKey eq @pk", {"pk": PARTITION})
        return sorted(entries, key=lambda e: (e.created_at, e.notice_id))

    def list_dead(self) -> list[OutboxEntry]:
        return [
            e for e in self.list_entries() if any(d.state is model.DeliveryState.DEAD for d in e.deliveries.values())
        ]

    def get(self, notice_id: str) -> OutboxEntry | None:
        try:
            return _entry(self._with_table(lambda t: t.get_entity(PARTITION, row_key(notice_id))))
        except core_errors.ResourceNotFoundError:
            return None
        except core_errors.AzureError as exc:
            raise OutboxError(f"cannot read {self.table_name}: {type(exc).__name__}") from exc

    # -- claiming and completing ----------------------------------------------------------

    def _update(self, entry: OutboxEntry, changes: dict[str, Any]) -> str | None:
        """A MERGE conditioned on the entry's etag; None when someone else changed it first."""
        entity = {"PartitionKey": PARTITION, "RowKey": entry.row_key, **changes}
        try:
            meta = self._table().update_entity(
                entity, mode=UpdateMode.MERGE, etag=entry.etag, match_condition=MatchConditions.IfNotModified
            )
        except (core_errors.ResourceModifiedError, core_errors.ResourceNotFoundError):
            return None
        except core_errors.HttpResponseError as exc:
            if exc.status_code == 412:
                return None
            raise OutboxError(f"cannot update {self.table_name}: {type(exc).__name__}") from exc
        except core_errors.AzureError as exc:
            raise OutboxError(f"cannot update {self.table_name}: {type(exc).__name__}") from exc
        return meta["etag"]

    def claim(self, entry: OutboxEntry, owner: str, now: datetime, lease: timedelta) -> OutboxEntry | None:
        """Take the entry for `lease`; None if another dispatcher holds or changed it."""
        now = words.utc(now)
        if entry.claimed(now) and entry.claimed_by != owner:
            return None
        until = now + lease
        etag = self._update(entry, {"ClaimedBy": owner, "ClaimedUntil": until})
        if etag is None:
            return None
        return replace(entry, claimed_by=owner, claimed_until=until, etag=etag)

    def complete(self, entry: OutboxEntry, deliveries: Mapping[str, Delivery], *, pending: bool) -> OutboxEntry | None:
        """Record deliveries and release the claim; None if the lease was lost meanwhile."""
        changes = {
            "Deliveries": json.dumps({k: d.to_json() for k, d in deliveries.items()}),
            "Pending": pending,
            "ClaimedBy": "",
            "ClaimedUntil": EPOCH,
        }
        etag = self._update(entry, changes)
        if etag is None:
            log.warning("outbox: lost the claim on a notice before recording its delivery")
            return None
        return replace(
            entry, deliveries=dict(deliveries), pending=pending, claimed_by="", claimed_until=EPOCH, etag=etag
        )

    def purge(self, before: datetime) -> int:
        """Delete delivered entries created before `before`; pending ones stay. Returns the count.

        The row is what makes a notice "already sent": purge only past the time a duplicate of
        that notice could still be enqueued (keep at least the reminder period, e.g. 30 days).
        """
        before = words.utc(before)
        gone = 0
        try:
            for entry in self.list_entries():
                if not entry.pending and entry.created_at < before:
                    self._table().delete_entity(PARTITION, entry.row_key)
                    gone += 1
        except core_errors.AzureError as exc:
            raise OutboxError(f"cannot purge {self.table_name}: {type(exc).__name__}") from exc
        return gone
