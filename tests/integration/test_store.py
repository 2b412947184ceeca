"""The Table Storage store over Azurite's real protocol: keys, etags, races, leases, cursors."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import model, roles
from shared.snapshots import AttributedBy, CoverageRow, DelegationSnapshot
from shared.store import RememberedIdentity, Store, StoreError, decode_key, encode_key

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOSTILE = [
    "/subscriptions/0afefe50-734e-4610-8c82-a144aff49dea/resourceGroups/rg#1?x=y\\z/providers/x",
    "quote'n\"double",
    "ctrl\x00\x01\x1f\x7fchars",
    "percent%2F%25already",
    "ünïcödé/名前",
    "",
    "a" * 900,
]


@pytest.fixture
def store(azurite: str) -> Store:
    # A fresh prefix per test: the Azurite instance is shared by the whole session.
    return Store.from_connection_string(azurite, prefix="t" + uuid.uuid4().hex[:12])


def finding(key: str, subject: str = "sub-a", **kw: object) -> model.Finding:
    return model.Finding(
        key=key,
        kind="unattributed_delegation",
        severity=model.Severity.WARNING,
        subject=subject,
        title=f"title {key}",
        **kw,
    )  # type: ignore[arg-type]


@pytest.mark.parametrize("value", HOSTILE[:-1])
def test_key_encoding_is_reversible_and_legal(value: str) -> None:
    key = encode_key(value)
    assert decode_key(key) == value
    assert not any(c in key for c in "/\\#?'")
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in key)


def test_snapshot_round_trip_with_hostile_keys(store: Store) -> None:
    for i, raw in enumerate(HOSTILE):
        snap = DelegationSnapshot(
            key=raw.lower(),
            assignment_id=raw,
            customer_tenant_id="t",
            scope="/subscriptions/x",
            customer_tenant_name=f"Fabrikam {i}",
            authorizations=(model.Authorization("p1", roles.CONTRIBUTOR, "Ops"),),
            attributed_by=(
                AttributedBy("p1", roles.CONTRIBUTOR, "", True, None, "Ops", "ServicePrincipal"),
                AttributedBy("u1", "r", "g1", False, NOW, "Ann", "User"),
            ),
            attributed=True,
            since=NOW,
            updated_at=NOW,
        )
        assert store.put_delegation(snap)
        assert store.get_delegation(raw.lower()) == snap
    assert len(store.list_delegations()) == len(HOSTILE)
    assert store.get_delegation("missing") is None


def test_put_delegation_never_overwrites_a_newer_snapshot(store: Store) -> None:
    newer = DelegationSnapshot(
        key="k", assignment_id="k", customer_tenant_id="t", scope="s", attributed=True, updated_at=NOW
    )
    older = DelegationSnapshot(
        key="k",
        assignment_id="k",
        customer_tenant_id="t",
        scope="s",
        attributed=False,
        updated_at=NOW - timedelta(minutes=1),
    )
    assert store.put_delegation(newer)
    assert not store.put_delegation(older)
    assert store.get_delegation("k") == newer


def test_sync_opens_refreshes_and_resolves(store: Store) -> None:
    opened, resolved = store.sync_findings("sub-a", [finding("a"), finding("b")], NOW)
    assert {r.finding.key for r in opened} == {"a", "b"}
    assert resolved == []
    later = NOW + timedelta(minutes=5)
    opened, resolved = store.sync_findings("sub-a", [finding("a", detail="new words")], later)
    assert opened == []
    assert [r.finding.key for r in resolved] == ["b"]
    (a,) = [r for r in store.list_findings(include_resolved=True) if r.finding.key == "a"]
    assert a is not None
    assert a.open
    assert a.opened_at == NOW
    assert a.last_seen_at == later
    assert a.finding.detail == "new words"
    (b,) = [r for r in store.list_findings(include_resolved=True) if r.finding.key == "b"]
    assert b is not None
    assert b.resolved_at == later
    # Another subject is untouched by this subject's sync.
    store.sync_findings("sub-b", [finding("c", "sub-b")], NOW)
    store.sync_findings("sub-a", [], later)
    assert [r.finding.key for r in store.open_findings()] == ["c"]
    assert {r.finding.key for r in store.list_findings(include_resolved=True)} == {"a", "b", "c"}
    # Re-opening a resolved finding reports it as opened again.
    opened, _ = store.sync_findings("sub-a", [finding("b")], later + timedelta(hours=1))
    assert [r.finding.key for r in opened] == ["b"]


def test_hostile_subjects_and_keys_in_findings(store: Store) -> None:
    for raw in HOSTILE:
        opened, _ = store.sync_findings(raw, [finding("k:" + raw, raw)], NOW)
        assert len(opened) == 1
        assert store.open_findings(raw)[0].finding.key == "k:" + raw


def test_concurrent_syncs_open_and_resolve_each_finding_once(store: Store) -> None:
    keys = [f"f{i}" for i in range(6)]
    opened: list[str] = []
    resolved: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def run(findings_now: list[model.Finding]) -> None:
        barrier.wait()
        o, r = store.sync_findings("race", findings_now, NOW)
        with lock:
            opened.extend(x.finding.key for x in o)
            resolved.extend(x.finding.key for x in r)

    threads = [threading.Thread(target=run, args=([finding(k, "race") for k in keys],)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(opened) == sorted(keys)

    barrier = threading.Barrier(6)
    threads = [threading.Thread(target=run, args=([],)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(resolved) == sorted(keys)
    assert store.open_findings("race") == []


def test_sync_all_findings_resolves_everything_not_holding(store: Store) -> None:
    store.sync_findings("s1", [finding("x", "s1")], NOW)
    store.sync_findings("s2", [finding("y", "s2")], NOW)
    opened, resolved = store.sync_all_findings([finding("y", "s2"), finding("z", "s3")], None, NOW)
    assert [r.finding.key for r in opened] == ["z"]
    assert [r.finding.key for r in resolved] == ["x"]
    # With explicit subjects, other subjects stay as they are.
    store.sync_findings("s9", [finding("w", "s9")], NOW)
    store.sync_all_findings([], ["s3"], NOW)
    assert {r.finding.key for r in store.open_findings()} == {"y", "w"}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    observations=st.lists(st.sets(st.sampled_from(["a", "b", "c", "d"]), max_size=4), min_size=1, max_size=4),
    order=st.randoms(use_true_random=False),
)
def test_any_order_and_duplication_of_one_observation_ends_in_the_same_open_set(
    azurite: str, observations: list[set[str]], order: object
) -> None:
    # Every sync carries the same final observation after a random prefix of others, repeated.
    store = Store.from_connection_string(azurite, prefix="p" + uuid.uuid4().hex[:12])
    final = observations[-1]
    sequence = [*observations[:-1], final, final]
    order.shuffle(sequence)  # type: ignore[attr-defined]
    sequence.append(final)
    for i, obs in enumerate(sequence):
        store.sync_findings("prop", [finding(k, "prop") for k in sorted(obs)], NOW + timedelta(seconds=i))
    assert {r.finding.key for r in store.open_findings("prop")} == final


def test_cursor_moves_only_from_what_was_read(store: Store) -> None:
    assert store.get_cursor("activity") == (None, None)
    assert store.set_cursor("activity", "2026-01-01T00:00:00Z", None)
    assert not store.set_cursor("activity", "other", None)  # someone set it already
    value, etag = store.get_cursor("activity")
    assert value == "2026-01-01T00:00:00Z"
    assert etag
    assert store.set_cursor("activity", "2026-01-02T00:00:00Z", etag)
    assert not store.set_cursor("activity", "stale writer", etag)  # etag is old now
    assert store.get_cursor("activity")[0] == "2026-01-02T00:00:00Z"


def test_lease_is_exclusive_until_released_or_expired(store: Store) -> None:
    ttl = timedelta(minutes=5)
    assert store.try_acquire("verify", "me", ttl, NOW)
    assert not store.try_acquire("verify", "you", ttl, NOW + timedelta(minutes=1))
    assert store.try_acquire("verify", "me", ttl, NOW + timedelta(minutes=1))  # renew by the holder
    store.release("verify", "you")  # not the holder: no effect
    assert not store.try_acquire("verify", "you", ttl, NOW + timedelta(minutes=2))
    store.release("verify", "me")
    assert store.try_acquire("verify", "you", ttl, NOW + timedelta(minutes=2))
    assert store.try_acquire("verify", "me", ttl, NOW + timedelta(minutes=10))  # expired


def test_concurrent_lease_has_one_winner(store: Store) -> None:
    wins: list[str] = []
    barrier = threading.Barrier(5)

    def run(owner: str) -> None:
        barrier.wait()
        if store.try_acquire("pal-write:t:o", owner, timedelta(minutes=1), NOW):
            wins.append(owner)

    threads = [threading.Thread(target=run, args=(f"w{i}",)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1


def test_attestations_identities_state_and_coverage(store: Store) -> None:
    store.attest_user("TENANT", "User-1", "1234567", "ann@contoso", NOW)
    store.attest_user("tenant", "user-1", "1234567", "ann@contoso", NOW)  # idempotent, case-folded
    [att] = store.list_attested_users()
    assert (att.tenant_id, att.object_id, att.partner_id, att.at) == ("tenant", "user-1", "1234567", NOW)
    store.remember_identity(RememberedIdentity("tenant", "sp-1", "app-1", "ops", "federated", NOW, "1234567", NOW))
    assert store.list_remembered_identities()[0].client_id == "app-1"
    assert store.get_state("graph") is None
    store.put_state("graph", {"users": "id-1"})
    assert store.get_state("graph") == {"users": "id-1"}
    assert store.get_coverage() is None
    rows = [
        CoverageRow(f"k{i}", "t", "Fabrikam", f"/subscriptions/{i}", i % 2 == 0, "attributed", since=NOW)
        for i in range(150)
    ]
    store.put_coverage(rows, NOW)
    store.put_coverage(rows[:3], NOW + timedelta(hours=6))
    coverage = store.get_coverage()
    assert coverage is not None
    assert coverage.rows == tuple(rows[:3])
    assert coverage.generated_at == NOW + timedelta(hours=6)


def test_store_errors_are_wrapped() -> None:
    with pytest.raises(StoreError) as caught:
        Store.from_connection_string("not a connection string")
    assert not caught.value.transient
    with pytest.raises(StoreError):
        Store.from_connection_string("UseDevelopmentStorage=true", prefix="bad-prefix!")
    dead = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCD"
        "XJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:9/x;"
    )
    store = Store.from_connection_string(dead, prefix="dead")
    with pytest.raises(StoreError) as caught:
        store.get_delegation("k")
    assert caught.value.transient
