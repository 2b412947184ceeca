"""Findings in Table Storage: open, refresh, resolve — each transition won by exactly one caller.

Used by `shared.store.Store`. Rows: PartitionKey = encoded subject, RowKey = encoded finding
key, so one subject's findings are one partition query. Every transition is a conditional
write (insert, or replace with the etag just read); the loser of a race re-reads and retries
on what it finds, so two concurrent syncs never both report the same finding as opened or
resolved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from shared import model
from shared.store import codec, errors, keys, tables

TABLE = "Findings"
_MAX_ATTEMPTS = 8
# A finding that still holds unchanged is rewritten (to move LastSeenAt) at most this often by
# the verification: one write per finding per run costs more than the date is worth.
LAST_SEEN_REFRESH = timedelta(days=1)


def _row(
    subject: str, f: model.Finding, *, opened_at: str, last_seen: str, resolved_at: str = "", notified: str = ""
) -> dict[str, Any]:
    props = codec.finding_properties(f)
    props.update(
        {
            "PartitionKey": keys.encode_key(subject),
            "RowKey": keys.encode_key(f.key),
            "Subject": subject,
            "Open": not resolved_at,
            "OpenedAt": opened_at,
            "LastSeenAt": last_seen,
            "ResolvedAt": resolved_at,
            "LastNotifiedAt": notified,
        }
    )
    return props


def read_subject(client: Any, subject: str) -> dict[str, Any]:
    pk = keys.encode_key(subject)
    return {e["Key"]: e for e in tables.query(client, "PartitionKey eq @pk", {"pk": pk})}


def sync_subject(
    client: Any,
    subject: str,
    findings_now: Iterable[model.Finding],
    now: datetime,
    existing: Mapping[str, Any] | None = None,
) -> tuple[list[model.RecordedFinding], list[model.RecordedFinding]]:
    """Make the open findings of `subject` equal `findings_now`; (opened, resolved) by this call."""
    wanted: dict[str, model.Finding] = {}
    for f in findings_now:
        wanted[f.key] = f if f.subject == subject else _with_subject(f, subject)
    rows = dict(existing) if existing is not None else read_subject(client, subject)
    stamp = codec.iso(now)
    opened = [r for key, f in wanted.items() if (r := _open_or_refresh(client, subject, f, rows.get(key), stamp))]
    resolved = [
        r
        for key, entity in rows.items()
        if key not in wanted and entity.get("Open") and (r := _resolve(client, subject, key, entity, stamp))
    ]
    return opened, resolved


def _open_or_refresh(
    client: Any, subject: str, f: model.Finding, entity: Any | None, stamp: str
) -> model.RecordedFinding | None:
    """Open it (returned) unless open already; then refresh its content and last_seen (None)."""
    for _ in range(_MAX_ATTEMPTS):
        if entity is None or not entity.get("Open"):
            row = _row(subject, f, opened_at=stamp, last_seen=stamp)
            if tables.write(client, row, None if entity is None else tables.etag_of(entity)):
                return codec.finding(row)
        else:
            row = _row(
                subject,
                f,
                opened_at=entity.get("OpenedAt") or stamp,
                last_seen=max(stamp, entity.get("LastSeenAt") or ""),
                notified=entity.get("LastNotifiedAt") or "",
            )
            if tables.write(client, row, tables.etag_of(entity)):
                return None
        entity = tables.get(client, keys.encode_key(subject), keys.encode_key(f.key))
    raise errors.TransientStoreError(f"finding {f.key[:120]} kept changing under us")


def _resolve(client: Any, subject: str, key: str, entity: Any | None, stamp: str) -> model.RecordedFinding | None:
    """Resolve it (returned) unless someone else resolved or removed it first (None)."""
    for _ in range(_MAX_ATTEMPTS):
        if entity is None or not entity.get("Open"):
            return None
        row = dict(entity)
        row.update({"Open": False, "ResolvedAt": stamp})
        if tables.write(client, row, tables.etag_of(entity)):
            return codec.finding(row)
        entity = tables.get(client, keys.encode_key(subject), keys.encode_key(key))
    raise errors.TransientStoreError(f"finding {key[:120]} kept changing under us")


def sync_subject_batched(
    client: Any,
    subject: str,
    findings_now: Iterable[model.Finding],
    now: datetime,
    existing: Mapping[str, Any],
) -> tuple[list[model.RecordedFinding], list[model.RecordedFinding]]:
    """`sync_subject` for the verification: the subject's changes in one table transaction.

    `existing` is the subject's rows as read at the start. A finding that still holds unchanged
    is not written (its LastSeenAt moves at most once per `LAST_SEEN_REFRESH`). Every operation
    is conditional on the row read; if another writer got there first, nothing is written and
    the subject is synced row by row from a fresh read instead.
    """
    findings_now = list(findings_now)
    wanted: dict[str, model.Finding] = {}
    for f in findings_now:
        wanted[f.key] = f if f.subject == subject else _with_subject(f, subject)
    stamp = codec.iso(now)
    refresh_before = codec.iso(now - LAST_SEEN_REFRESH)
    operations: list[Any] = []
    opened: list[model.RecordedFinding] = []
    resolved: list[model.RecordedFinding] = []
    for key, f in wanted.items():
        entity = existing.get(key)
        if entity is None or not entity.get("Open"):
            row = _row(subject, f, opened_at=stamp, last_seen=stamp)
            operations.append(
                tables.insert_op(row) if entity is None else tables.replace_op(row, tables.etag_of(entity))
            )
            opened.append(codec.finding(row))
            continue
        last_seen = entity.get("LastSeenAt") or ""
        row = _row(
            subject,
            f,
            opened_at=entity.get("OpenedAt") or stamp,
            last_seen=max(stamp, last_seen) if last_seen < refresh_before else last_seen,
            notified=entity.get("LastNotifiedAt") or "",
        )
        if set(entity) != set(row) or any(entity.get(k) != v for k, v in row.items()):
            operations.append(tables.replace_op(row, tables.etag_of(entity)))
    for key, entity in existing.items():
        if key not in wanted and entity.get("Open"):
            row = dict(entity)
            row.update({"Open": False, "ResolvedAt": stamp})
            operations.append(tables.replace_op(row, tables.etag_of(entity)))
            resolved.append(codec.finding(row))
    if len(operations) <= tables.BATCH and tables.transact(client, operations):
        return opened, resolved
    return sync_subject(client, subject, findings_now, now)


def record_notice(client: Any, f: model.Finding, at: datetime) -> model.RecordedFinding | None:
    """Keep a notice: one closed row said at `at` (returned), or None when that notice is kept already.

    The row replaces the previous notice of the same key (the history keeps the latest of each),
    and an open row of that key from an older release, which it closes.
    """
    stamp = codec.iso(at)
    row = {**_row(f.subject, f, opened_at=stamp, last_seen=stamp, resolved_at=stamp), "Notice": True}
    entity = tables.get(client, keys.encode_key(f.subject), keys.encode_key(f.key))
    for _ in range(_MAX_ATTEMPTS):
        kept_at = codec.when(entity.get("OpenedAt")) if entity is not None and entity.get("Notice") else None
        if kept_at is not None and kept_at >= at:
            return None  # this notice (or a later one) is kept: a retry, or a concurrent pass
        if tables.write(client, row, None if entity is None else tables.etag_of(entity)):
            return codec.finding(row)
        entity = tables.get(client, keys.encode_key(f.subject), keys.encode_key(f.key))
    raise errors.TransientStoreError(f"notice {f.key[:120]} kept changing under us")


def list_notices(client: Any, since: datetime) -> list[model.RecordedFinding]:
    """The notices said at or after `since`."""
    kept = (codec.finding(e) for e in tables.query(client, "Notice eq true"))
    return [r for r in kept if r.opened_at >= since]


def _with_subject(f: model.Finding, subject: str) -> model.Finding:
    from dataclasses import replace

    return replace(f, subject=subject)


def mark_notified(client: Any, subject: str, key: str, at: datetime) -> bool:
    """Record that an alert went out for this finding (used by the alerts engine)."""
    for _ in range(_MAX_ATTEMPTS):
        entity = tables.get(client, keys.encode_key(subject), keys.encode_key(key))
        if entity is None:
            return False
        row = dict(entity)
        row["LastNotifiedAt"] = codec.iso(at)
        if tables.write(client, row, tables.etag_of(entity)):
            return True
    raise errors.TransientStoreError(f"finding {key[:120]} kept changing under us")
