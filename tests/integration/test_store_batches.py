"""The verification's store writes over Azurite: table transactions, and nothing rewritten that did not change.

Rows are compared by etag: an etag that did not move is a row that was not written.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import model
from shared.snapshots import CoverageRow, DelegationSnapshot
from shared.store import Store, encode_key

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(azurite: str) -> Store:
    return Store.from_connection_string(azurite, prefix="t" + uuid.uuid4().hex[:12])


def snapshot(i: int, at: datetime = NOW, **kw: Any) -> DelegationSnapshot:
    return DelegationSnapshot(
        key=f"/subscriptions/s{i}/providers/microsoft.managedservices/registrationassignments/a{i}",
        assignment_id=f"a{i}",
        customer_tenant_id="t",
        scope=f"/subscriptions/s{i}",
        updated_at=at,
        **kw,
    )


def finding(key: str, subject: str, **kw: Any) -> model.Finding:
    return model.Finding(
        key=key, kind="unattributed_delegation", severity=model.Severity.WARNING, subject=subject, title=key, **kw
    )


def etags(store: Store, table: str) -> dict[str, str]:
    client = store._t.table(table)
    return {e["RowKey"]: e.metadata["etag"] for e in client.list_entities()}


def test_many_snapshots_are_stored_in_transactions_and_newer_ones_are_kept(store: Store) -> None:
    store.list_delegations()
    first = [snapshot(i) for i in range(250)]
    assert store.put_delegations(first) == 250
    assert {s.key for s in store.list_delegations()} == {s.key for s in first}

    # An event handler stores a newer snapshot of one of them after the verification listed them.
    store.put_delegation(replace(first[7], updated_at=NOW + timedelta(minutes=5), reason="newer"))
    later = [replace(s, updated_at=NOW + timedelta(minutes=1), reason="verify") for s in first]
    assert store.put_delegations(later) == 249  # the chunk with the changed row was redone row by row

    stored = {s.key: s for s in store.list_delegations()}
    assert stored[first[7].key].reason == "newer"
    assert {s.reason for k, s in stored.items() if k != first[7].key} == {"verify"}


def test_snapshots_listed_as_newer_are_not_overwritten(store: Store) -> None:
    store.put_delegation(snapshot(1, NOW + timedelta(hours=1), reason="newer"))
    store.list_delegations()
    assert store.put_delegations([snapshot(1, NOW, reason="older")]) == 0
    assert store.get_delegation(snapshot(1).key).reason == "newer"


def test_an_unchanged_finding_is_not_rewritten_until_its_last_seen_is_a_day_old(store: Store) -> None:
    subjects = {f"s{i}" for i in range(30)}
    now = [finding(f"k{i}", f"s{i}") for i in range(30)]
    opened, _ = store.sync_all_findings(now, subjects, NOW)
    assert len(opened) == 30
    before = etags(store, "Findings")

    opened, resolved = store.sync_all_findings(now, subjects, NOW + timedelta(hours=6))
    assert (opened, resolved) == ([], [])
    assert etags(store, "Findings") == before  # nothing written

    changed = [*now[:29], finding("k29", "s29", detail="new words")]
    store.sync_all_findings(changed, subjects, NOW + timedelta(hours=12))
    after = etags(store, "Findings")
    assert [k for k in after if after[k] != before[k]] == [encode_key("k29")]
    recorded = store.list_findings(include_resolved=True)
    assert [r.finding.detail for r in recorded if r.finding.key == "k29"] == ["new words"]

    store.sync_all_findings(changed, subjects, NOW + timedelta(days=1, hours=1))
    (refreshed,) = [r for r in store.list_findings(include_resolved=True) if r.finding.key == "k0"]
    assert refreshed.last_seen_at == NOW + timedelta(days=1, hours=1)
    assert refreshed.opened_at == NOW


def test_a_finding_changed_by_another_writer_is_synced_from_a_fresh_read(store: Store) -> None:
    store.sync_all_findings([finding("k", "s")], {"s"}, NOW)
    store.mark_notified(finding("k", "s"), NOW + timedelta(minutes=1))  # another writer moves the etag
    existing = etags(store, "Findings")
    _opened, resolved = store.sync_all_findings([], {"s"}, NOW + timedelta(minutes=2))
    assert [r.finding.key for r in resolved] == ["k"]
    assert etags(store, "Findings") != existing
    (recorded,) = [r for r in store.list_findings(include_resolved=True) if r.finding.key == "k"]
    assert not recorded.open
    assert recorded.last_notified_at == NOW + timedelta(minutes=1)


def test_the_same_coverage_is_not_written_again(store: Store) -> None:
    rows = [
        CoverageRow(
            delegation_key=f"d{i}",
            customer_tenant_id="t",
            customer_tenant_name="T",
            scope=f"/s/{i}",
            attributed=True,
            status="attributed",
        )
        for i in range(150)
    ]
    store.put_coverage(rows, NOW)
    generation = etags(store, "Coverage")
    store.put_coverage(rows, NOW + timedelta(hours=6))
    after = etags(store, "Coverage")
    assert {k: v for k, v in after.items() if k != "current"} == {k: v for k, v in generation.items() if k != "current"}
    coverage = store.get_coverage()
    assert coverage.generated_at == NOW + timedelta(hours=6)
    assert len(coverage.rows) == 150
    store.put_coverage(rows[:149], NOW + timedelta(hours=12))
    assert len(store.get_coverage().rows) == 149


def test_scan_memory_round_trip(store: Store) -> None:
    learnt = {("managed-identity", f"sub-{i}"): NOW for i in range(120)} | {("ops", "SUB-X"): NOW}
    store.update_scan_memory(learnt, [])
    assert store.list_scan_memory() == {(r, s.lower()): at for (r, s), at in learnt.items()}
    store.update_scan_memory({}, [("managed-identity", "sub-0"), ("ops", "sub-x"), ("ops", "never-known")])
    memory = store.list_scan_memory()
    assert ("managed-identity", "sub-0") not in memory
    assert ("ops", "sub-x") not in memory
    assert len(memory) == 119
