"""The Store: everything PAL Watch remembers, in Azure Table Storage (Azurite locally).

Called by the use cases and the CLI; the only code that touches Table Storage. Returns model
values (`shared.model`, `shared.snapshots`) and raises only `StoreError`. Concurrency: every
read-modify-write is conditional on the etag read (replace-if-unchanged) or an insert that
fails if the row exists, with a re-read and retry when another writer got there first.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared import model
from shared.snapshots import CoverageRow, DelegationSnapshot
from shared.store import billing, codec, costs, errors, findings, keys, tables
from shared.store import outbox as outbox_module

_ATTEMPTS = 8
_BATCH = tables.BATCH  # entities per table transaction (service limit)
_BATCH_CHARACTERS = 1_500_000  # a transaction's body is limited to 4 MiB: stay well under it
_WRITERS = 8  # concurrent table transactions while syncing many subjects


@dataclass(frozen=True)
class Attestation:
    """A user declared linked to a partner id in a tenant (by `palwatch link-me` or an operator)."""

    tenant_id: str
    object_id: str
    partner_id: str
    by: str
    at: datetime


@dataclass(frozen=True)
class RememberedIdentity:
    """An identity the app found it can act as (e.g. by federation), and its last known link."""

    tenant_id: str
    object_id: str
    client_id: str = ""
    name: str = ""
    kind: str = "federated"
    discovered_at: datetime | None = None
    partner_id: str = ""  # the partner id its link pointed to when last read ("" unknown/none)
    link_checked_at: datetime | None = None


@dataclass(frozen=True)
class Lease:
    """A named lease as stored: its holder renews `expires_at` while it runs."""

    name: str
    owner: str
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Coverage:
    generated_at: datetime
    rows: tuple[CoverageRow, ...]


@dataclass(frozen=True)
class TrendPoint:
    """The coverage of one day (its last verification): delegation counts by status."""

    day: str  # YYYY-MM-DD (UTC)
    generated_at: datetime | None
    counts: dict[str, int]

    @property
    def delegations(self) -> int:
        return sum(self.counts.values())


TREND_DAYS = 400  # one point a day is kept this long


class Store:
    """Facade over the PAL Watch tables. Build it with `from_connection_string` or `from_endpoint`."""

    def __init__(self, tables_: tables.Tables) -> None:
        self._t = tables_
        # RowKey -> (etag, UpdatedAt) of the snapshots as last listed: lets `put_delegations` write
        # conditionally without reading each row again (a stale etag only makes the write fall back).
        self._listed_delegations: dict[str, tuple[str, str]] = {}
        self._listed_lock = threading.Lock()
        self._outbox: outbox_module.Outbox | None = None

    @classmethod
    def from_connection_string(
        cls, conn: str, prefix: str = "palwatch", *, session: Any = None, budget: str = "call"
    ) -> Store:
        """`session`: a requests.Session to send through (sized for the caller's concurrency);
        `budget`: "call" (handlers, timers) or "probe" (the doctor: a hung store answers red quickly)."""
        return cls(tables.Tables.from_connection_string(conn, prefix, session, budget))

    @classmethod
    def from_endpoint(
        cls,
        table_service_uri: str,
        credential: Any,
        prefix: str = "palwatch",
        *,
        session: Any = None,
        budget: str = "call",
    ) -> Store:
        """Identity-based: `AzureWebJobsStorage__tableServiceUri` and a TokenCredential."""
        return cls(tables.Tables.from_endpoint(table_service_uri, credential, prefix, session, budget))

    def close(self) -> None:
        self._t.close()

    @property
    def billing(self) -> billing.BillingRecord:
        """What Microsoft's billing export said per scope and day, and the CSP subscriptions it named."""
        return billing.BillingRecord(self._t)

    @property
    def costs(self) -> costs.CostCache:
        """Each delegated scope's cached last-month cost (`shared.store.costs`)."""
        return costs.CostCache(self._t)

    def outbox(self) -> outbox_module.Outbox:
        """The alert outbox, on this store's table client and prefix (one per store)."""
        if self._outbox is None:
            self._outbox = outbox_module.Outbox(self._t.service, prefix=self._t.prefix)
        return self._outbox

    # ------------------------------------------------------------ delegation snapshots

    def get_delegation(self, key: str) -> DelegationSnapshot | None:
        entity = tables.get(self._t.table("Delegations"), "d", keys.encode_key(key.lower()))
        return codec.snapshot(entity) if entity is not None else None

    def list_delegations(self, *, include_removed: bool = True) -> list[DelegationSnapshot]:
        entities = list(tables.query(self._t.table("Delegations"), "PartitionKey eq 'd'"))
        with self._listed_lock:
            self._listed_delegations = {
                e["RowKey"]: (tables.etag_of(e), str(e.get("UpdatedAt") or "")) for e in entities
            }
        found = [codec.snapshot(e) for e in entities]
        return [s for s in found if include_removed or not s.removed]

    def put_delegations(self, snapshots: Iterable[DelegationSnapshot]) -> int:
        """Store many snapshots as `put_delegation` would, up to 100 to a table transaction.

        Each row is inserted if it was absent, or replaced if unchanged, as of the last
        `list_delegations`; a stored snapshot with a later `updated_at` is kept. A transaction
        that fails on a condition (another writer came first) is redone row by row. Returns the
        number written.
        """
        client = self._t.table("Delegations")
        with self._listed_lock:
            listed = dict(self._listed_delegations)
        pending: list[tuple[DelegationSnapshot, Any]] = []
        for snapshot in snapshots:
            rk = keys.encode_key(snapshot.key.lower())
            row = {"PartitionKey": "d", "RowKey": rk, **codec.snapshot_properties(snapshot)}
            if rk not in listed:
                pending.append((snapshot, tables.insert_op(row)))
                continue
            etag, updated = listed[rk]
            stored = codec.when(updated)
            if stored and snapshot.updated_at and stored > snapshot.updated_at:
                continue
            pending.append((snapshot, tables.replace_op(row, etag)))
        written = 0
        for chunk in _chunks(pending):
            if tables.transact(client, [operation for _, operation in chunk]):
                written += len(chunk)
            else:
                written += sum(self.put_delegation(snapshot) for snapshot, _ in chunk)
        return written

    def put_delegation(self, snapshot: DelegationSnapshot) -> bool:
        """Store it unless a newer snapshot (later `updated_at`) is already there. True if written."""
        client = self._t.table("Delegations")
        rk = keys.encode_key(snapshot.key.lower())
        row = {"PartitionKey": "d", "RowKey": rk, **codec.snapshot_properties(snapshot)}
        for _ in range(_ATTEMPTS):
            current = tables.get(client, "d", rk)
            if current is not None:
                stored = codec.when(current.get("UpdatedAt"))
                if stored and snapshot.updated_at and stored > snapshot.updated_at:
                    return False
            if tables.write(client, row, None if current is None else tables.etag_of(current)):
                return True
        raise errors.TransientStoreError("delegation snapshot kept changing under us")

    # ------------------------------------------------------------ findings

    def sync_findings(
        self, subject: str, findings_now: Iterable[model.Finding], now: datetime
    ) -> tuple[list[model.RecordedFinding], list[model.RecordedFinding]]:
        """Open what is new, refresh what still holds, resolve the rest of `subject`'s open findings."""
        return findings.sync_subject(self._t.table(findings.TABLE), subject, findings_now, now)

    def sync_all_findings(
        self, findings_now: Iterable[model.Finding], subjects: Iterable[str] | None, now: datetime
    ) -> tuple[list[model.RecordedFinding], list[model.RecordedFinding]]:
        """Verify's sync: for every subject in `subjects` (None: every subject with an open finding)
        and every subject of `findings_now`, the open findings become exactly `findings_now`'s."""
        client = self._t.table(findings.TABLE)
        by_subject: dict[str, list[model.Finding]] = {}
        for f in findings_now:
            by_subject.setdefault(f.subject, []).append(f)
        existing: dict[str, dict[str, Any]] = {}
        for entity in tables.list_all(client):
            existing.setdefault(entity.get("Subject", ""), {})[entity.get("Key", "")] = entity
        scope = set(by_subject)
        if subjects is None:
            scope |= {s for s, rows in existing.items() if any(r.get("Open") for r in rows.values())}
        else:
            scope |= set(subjects)
        opened: list[model.RecordedFinding] = []
        resolved: list[model.RecordedFinding] = []

        def sync(subject: str) -> tuple[list[model.RecordedFinding], list[model.RecordedFinding]]:
            return findings.sync_subject_batched(
                client, subject, by_subject.get(subject, []), now, existing.get(subject, {})
            )

        with ThreadPoolExecutor(max_workers=_WRITERS, thread_name_prefix="store-findings") as pool:
            for o, r in pool.map(sync, sorted(scope)):
                opened += o
                resolved += r
        return opened, resolved

    def record_notice(self, notice: model.Finding, at: datetime) -> model.RecordedFinding | None:
        """Keep a notice (something said once: a link put back, a delegation removed) in the findings
        history, closed at `at`; None when this notice is kept already."""
        return findings.record_notice(self._t.table(findings.TABLE), notice, at)

    def list_notices(self, since: datetime) -> list[model.RecordedFinding]:
        """The notices kept at or after `since` (the alert sweep re-enqueues them after a crash)."""
        return _sorted(findings.list_notices(self._t.table(findings.TABLE), since))

    def open_findings(self, subject: str | None = None) -> list[model.RecordedFinding]:
        client = self._t.table(findings.TABLE)
        if subject is None:
            rows: Iterable[Any] = tables.query(client, "Open eq true")
        else:
            rows = [e for e in findings.read_subject(client, subject).values() if e.get("Open")]
        return _sorted([codec.finding(e) for e in rows])

    def list_findings(self, include_resolved: bool = False) -> list[model.RecordedFinding]:
        if not include_resolved:
            return self.open_findings()
        return _sorted([codec.finding(e) for e in tables.list_all(self._t.table(findings.TABLE))])

    def mark_notified(self, finding: model.Finding, at: datetime) -> bool:
        return findings.mark_notified(self._t.table(findings.TABLE), finding.subject, finding.key, at)

    # ------------------------------------------------------------ activity-log cursor

    def get_cursor(self, name: str) -> tuple[str | None, str | None]:
        """(value, etag); (None, None) when never set."""
        entity = tables.get(self._t.table("Cursors"), "cursor", keys.encode_key(name))
        if entity is None:
            return None, None
        return entity.get("Value"), tables.etag_of(entity)

    def set_cursor(self, name: str, value: str, etag: str | None) -> bool:
        """Move the cursor only if nobody moved it since `etag` was read (None: only if unset)."""
        if len(value) > codec.MAX_TEXT:  # a cut value would not parse: refuse rather than corrupt
            raise errors.PermanentStoreError(f"cursor {name[:60]!r} is too large ({len(value)} characters)")
        row = {"PartitionKey": "cursor", "RowKey": keys.encode_key(name), "Name": name, "Value": value}
        return tables.write(self._t.table("Cursors"), row, etag)

    # ------------------------------------------------------------ attestations

    def attest_user(self, tenant_id: str, object_id: str, partner_id: str, by: str, at: datetime) -> None:
        row = {
            "PartitionKey": keys.encode_key(tenant_id.lower()),
            "RowKey": keys.encode_key(object_id.lower()),
            "TenantId": tenant_id.lower(),
            "ObjectId": object_id.lower(),
            "PartnerId": partner_id,
            "By": codec.text(by)[:500],
            "At": codec.iso(at),
        }
        tables.upsert(self._t.table("Attestations"), row)

    def list_attested_users(self) -> list[Attestation]:
        return [
            Attestation(
                e.get("TenantId", ""),
                e.get("ObjectId", ""),
                e.get("PartnerId", ""),
                e.get("By", ""),
                codec.when(e.get("At")) or datetime.min,
            )
            for e in tables.list_all(self._t.table("Attestations"))
        ]

    def remove_attestation(self, tenant_id: str, object_id: str) -> None:
        tables.delete(
            self._t.table("Attestations"), keys.encode_key(tenant_id.lower()), keys.encode_key(object_id.lower())
        )

    # ------------------------------------------------------------ remembered identities

    def remember_identity(self, identity: RememberedIdentity) -> None:
        row = {
            "PartitionKey": keys.encode_key(identity.tenant_id.lower()),
            "RowKey": keys.encode_key(identity.object_id.lower()),
            "TenantId": identity.tenant_id.lower(),
            "ObjectId": identity.object_id.lower(),
            "ClientId": identity.client_id,
            "Name": codec.text(identity.name)[:500],
            "Kind": identity.kind,
            "DiscoveredAt": codec.iso(identity.discovered_at),
            "PartnerId": identity.partner_id,
            "LinkCheckedAt": codec.iso(identity.link_checked_at),
        }
        tables.upsert(self._t.table("Identities"), row)

    def list_remembered_identities(self) -> list[RememberedIdentity]:
        return [
            RememberedIdentity(
                e.get("TenantId", ""),
                e.get("ObjectId", ""),
                e.get("ClientId", ""),
                e.get("Name", ""),
                e.get("Kind", ""),
                codec.when(e.get("DiscoveredAt")),
                e.get("PartnerId", ""),
                codec.when(e.get("LinkCheckedAt")),
            )
            for e in tables.list_all(self._t.table("Identities"))
        ]

    # ------------------------------------------------------------ apps not installed in a tenant

    def remember_not_installed(self, client_id: str, tenant_id: str, retry_at: datetime) -> None:
        """Entra said the app has no principal in `tenant_id` (AADSTS700016): ask again after `retry_at`."""
        row = {
            "PartitionKey": keys.encode_key(client_id.lower()),
            "RowKey": keys.encode_key(tenant_id.lower()),
            "ClientId": client_id.lower(),
            "TenantId": tenant_id.lower(),
            "RetryAt": codec.iso(retry_at),
        }
        tables.upsert(self._t.table("NotInstalled"), row)

    def list_not_installed(self) -> dict[tuple[str, str], datetime]:
        """(client id, tenant id) -> when to ask again."""
        out: dict[tuple[str, str], datetime] = {}
        for e in tables.list_all(self._t.table("NotInstalled")):
            retry_at = codec.when(e.get("RetryAt"))
            if retry_at is not None:
                out[(e.get("ClientId", ""), e.get("TenantId", ""))] = retry_at
        return out

    def forget_not_installed(self, client_id: str, tenant_id: str) -> None:
        tables.delete(
            self._t.table("NotInstalled"), keys.encode_key(client_id.lower()), keys.encode_key(tenant_id.lower())
        )

    # ------------------------------------------------------------ leases

    def try_acquire(self, name: str, owner: str, ttl: timedelta, now: datetime) -> bool:
        """Take (or, as its owner, renew) the named lease for `ttl` unless someone else holds an
        unexpired one. A storage failure raises: False always means another holder."""
        client = self._t.table("Leases")
        rk = keys.encode_key(name)
        for _ in range(_ATTEMPTS):
            current = tables.get(client, "lease", rk)
            acquired = now
            if current is not None:
                expires = codec.when(current.get("ExpiresAt"))
                if current.get("Owner") != owner and expires is not None and expires > now:
                    return False
                if current.get("Owner") == owner:
                    acquired = codec.when(current.get("AcquiredAt")) or now
            row = {
                "PartitionKey": "lease",
                "RowKey": rk,
                "Name": name,
                "Owner": owner,
                "AcquiredAt": codec.iso(acquired),
                "RenewedAt": codec.iso(now),
                "ExpiresAt": codec.iso(now + ttl),
            }
            if tables.write(client, row, None if current is None else tables.etag_of(current)):
                return True
            # Someone wrote between our read and write: look again (they probably hold it now).
        return False

    def get_lease(self, name: str) -> Lease | None:
        """Who holds the named lease, since when and until when; None when nobody ever took it."""
        entity = tables.get(self._t.table("Leases"), "lease", keys.encode_key(name))
        if entity is None:
            return None
        expires = codec.when(entity.get("ExpiresAt")) or datetime.min
        return Lease(
            name,
            str(entity.get("Owner", "")),
            codec.when(entity.get("AcquiredAt")) or expires,
            codec.when(entity.get("RenewedAt")) or expires,
            expires,
        )

    def release(self, name: str, owner: str) -> None:
        """Give the lease back if we hold it; idempotent."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        client = self._t.table("Leases")
        current = tables.get(client, "lease", keys.encode_key(name))
        if current is None or current.get("Owner") != owner:
            return
        with errors.wrapped("release lease"), contextlib.suppress(ResourceModifiedError, ResourceNotFoundError):
            client.delete_entity(
                "lease",
                keys.encode_key(name),
                etag=tables.etag_of(current),
                match_condition=MatchConditions.IfNotModified,
            )

    # ------------------------------------------------------------ coverage snapshot

    def put_coverage(self, rows: Iterable[CoverageRow], now: datetime) -> None:
        """Write a new generation of rows, then point to it, then drop the old one (crash-safe).

        Rows equal to the current generation's (same digest) are not written again: only the
        pointer's GeneratedAt moves.
        """
        client = self._t.table("Coverage")
        generation = f"g{now.strftime('%Y%m%d%H%M%S%f')}-{uuid.uuid4().hex[:8]}"
        rows = list(rows)
        texts = [codec.coverage_json(r) for r in rows]
        digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()
        old = tables.get(client, "meta", "current")
        trend = self._trend_point(rows, now, old)
        if old is not None and old.get("Generation") and old.get("Digest") == digest:
            tables.upsert(client, {**old, "GeneratedAt": codec.iso(now), **trend})
            return
        entities = [{"PartitionKey": generation, "RowKey": f"{i:08d}", "Row": text} for i, text in enumerate(texts)]
        for start in range(0, len(entities), _BATCH):
            tables.submit(client, [("upsert", e) for e in entities[start : start + _BATCH]], "write coverage")
        pointer = {
            "PartitionKey": "meta",
            "RowKey": "current",
            "Generation": generation,
            "GeneratedAt": codec.iso(now),
            "Count": len(entities),
            "Digest": digest,
            **trend,
        }
        tables.upsert(client, pointer)
        if old is not None and old.get("Generation") and old.get("Generation") != generation:
            self._drop_generation(old["Generation"])

    def _trend_point(self, rows: list[CoverageRow], now: datetime, pointer: Any | None) -> dict[str, str]:
        """Write the day's point of the coverage trend when it changed (the day's last verification
        wins; the pointer remembers the last point, so an unchanged one costs nothing), prune old days
        once a day. Returns the pointer's fields that remember it."""
        counts: dict[str, int] = {}
        for r in rows:
            counts[r.status] = counts.get(r.status, 0) + 1
        day, text = now.strftime("%Y-%m-%d"), json.dumps(counts, sort_keys=True)
        if pointer is not None and pointer.get("TrendDay") == day and pointer.get("TrendCounts") == text:
            return {"TrendDay": day, "TrendCounts": text}
        client = self._t.table("Coverage")
        tables.upsert(client, {"PartitionKey": "trend", "RowKey": day, "GeneratedAt": codec.iso(now), "Counts": text})
        if pointer is None or pointer.get("TrendDay") != day:
            cutoff = (now - timedelta(days=TREND_DAYS)).strftime("%Y-%m-%d")
            for stale in tables.query(client, "PartitionKey eq 'trend' and RowKey lt @cutoff", {"cutoff": cutoff}):
                with contextlib.suppress(errors.StoreError), errors.wrapped("drop old trend point"):
                    client.delete_entity("trend", stale["RowKey"])  # best effort: the next day tries again
        return {"TrendDay": day, "TrendCounts": text}

    def list_trend(self, days: int = 90) -> list[TrendPoint]:
        """The last `days` days of coverage, oldest first (days without a verification are absent)."""
        client = self._t.table("Coverage")
        points = sorted(tables.query(client, "PartitionKey eq 'trend'"), key=lambda e: e["RowKey"])[-days:]
        return [
            TrendPoint(
                e["RowKey"],
                codec.when(e.get("GeneratedAt")),
                {str(k): int(v) for k, v in json.loads(e.get("Counts") or "{}").items()},
            )
            for e in points
        ]

    def _drop_generation(self, generation: str) -> None:
        client = self._t.table("Coverage")
        stale = list(tables.query(client, "PartitionKey eq @pk", {"pk": generation}))
        for start in range(0, len(stale), _BATCH):
            tables.submit(client, [("delete", e) for e in stale[start : start + _BATCH]], "drop old coverage")

    def get_coverage(self) -> Coverage | None:
        client = self._t.table("Coverage")
        pointer = tables.get(client, "meta", "current")
        if pointer is None:
            return None
        rows = sorted(
            tables.query(client, "PartitionKey eq @pk", {"pk": pointer["Generation"]}), key=lambda e: e["RowKey"]
        )
        return Coverage(
            codec.when(pointer.get("GeneratedAt")) or datetime.min, tuple(codec.coverage_row(e["Row"]) for e in rows)
        )

    # ------------------------------------------------------------ what the enumeration learnt

    def list_scan_memory(self) -> dict[tuple[str, str], datetime]:
        """(reader, subscription id) -> when the reader was found to see only resource groups there."""
        memory: dict[tuple[str, str], datetime] = {}
        for e in tables.list_all(self._t.table("ScanMemory")):
            at = codec.when(e.get("At"))
            if at is not None and e.get("Reader") and e.get("SubscriptionId"):
                memory[(e["Reader"], e["SubscriptionId"])] = at
        return memory

    def update_scan_memory(self, learnt: dict[tuple[str, str], datetime], forgotten: Iterable[tuple[str, str]]) -> None:
        """Remember and forget (reader, subscription id) pairs: one transaction per reader and 100 rows."""
        by_reader: dict[str, list[Any]] = {}
        for (reader, subscription), at in sorted(learnt.items()):
            row = {
                "PartitionKey": keys.encode_key(reader),
                "RowKey": keys.encode_key(subscription.lower()),
                "Reader": reader,
                "SubscriptionId": subscription.lower(),
                "At": codec.iso(at),
            }
            by_reader.setdefault(reader, []).append(("upsert", row))
        for reader, subscription in sorted(set(forgotten)):
            key = {"PartitionKey": keys.encode_key(reader), "RowKey": keys.encode_key(subscription.lower())}
            by_reader.setdefault(reader, []).append(("delete", key))
        client = self._t.table("ScanMemory")
        for operations in by_reader.values():
            for start in range(0, len(operations), _BATCH):
                chunk = operations[start : start + _BATCH]
                if not tables.transact(client, chunk):  # a row to delete was gone already: row by row
                    for kind, row in chunk:
                        if kind == "upsert":
                            tables.upsert(client, row)
                        else:
                            tables.delete(client, row["PartitionKey"], row["RowKey"])

    # ------------------------------------------------------------ small JSON state

    def put_state(self, name: str, value: Any) -> None:
        data = json.dumps(value, sort_keys=True)
        if len(data) > codec.MAX_TEXT:
            raise errors.PermanentStoreError(f"state {name[:60]!r} is too large ({len(data)} characters)")
        tables.upsert(
            self._t.table("State"),
            {"PartitionKey": "state", "RowKey": keys.encode_key(name), "Name": name, "Json": data},
        )

    def get_state(self, name: str) -> Any | None:
        entity = tables.get(self._t.table("State"), "state", keys.encode_key(name))
        return json.loads(entity["Json"]) if entity is not None and entity.get("Json") else None


def _chunks(pending: list[tuple[Any, Any]]) -> Iterable[list[tuple[Any, Any]]]:
    """Runs of at most `_BATCH` operations and about `_BATCH_CHARACTERS` of row text."""
    chunk: list[tuple[Any, Any]] = []
    size = 0
    for item in pending:
        row_size = sum(len(v) for v in item[1][1].values() if isinstance(v, str))
        if chunk and (len(chunk) == _BATCH or size + row_size > _BATCH_CHARACTERS):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += row_size
    if chunk:
        yield chunk


def _sorted(rows: list[model.RecordedFinding]) -> list[model.RecordedFinding]:
    return sorted(rows, key=lambda r: (r.finding.severity.rank, r.opened_at, r.finding.key))
