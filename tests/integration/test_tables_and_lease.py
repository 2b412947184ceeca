"""State tables vanishing under a live worker, and the verification lease, through the triggers.

A worker that has created its tables keeps running when they disappear (deleted by hand, Azurite
restarted in memory): the next use creates them again. A verification refused because another
holds the lease says who holds it and for how long; a holder that died frees it within minutes.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables import TableServiceClient

from shared.usecases import estate_scan, leases, outcomes, verify
from tests import campaign
from tests.support import demo, remembered, triggers, world
from tests.support.world import onboard


def verify_log(caplog: pytest.LogCaptureFixture) -> str:
    """The one-line outcome of the last verify_attribution run, as the host logs it."""
    return "verify_attribution " + campaign.trigger_outcomes(caplog.records, "verify_attribution")[-1]["summary"]


def drop_tables(azurite: str, prefix: str) -> list[str]:
    service = TableServiceClient.from_connection_string(azurite)
    names = [t.name for t in service.list_tables() if t.name.startswith(prefix)]
    for name in names:
        service.delete_table(name)
    return names


def test_tables_deleted_under_a_live_worker_are_created_again(emulator, palwatch, azurite, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    prefix = os.environ["PAL_TABLE_PREFIX"]
    triggers.verify_now()
    triggers.watch_now()
    assert triggers.coverage().status_code == 200

    dropped = len(drop_tables(azurite, prefix))
    assert dropped >= 5  # the worker keeps its clients and its memory of them

    triggers.verify_now()
    assert verify_log(caplog).startswith(("verify_attribution ok", "verify_attribution partial")), verify_log(caplog)
    assert triggers.coverage().status_code == 200
    triggers.watch_now()  # raises when every step fails

    drop_tables(azurite, prefix)
    body = world.new_delegation(demo.RELECLOUD, (demo.PIPELINE, demo.CONTRIBUTOR))
    triggers.delegation_events(onboard(emulator, body))  # raised a permanent error before: Event Grid dead-letters it
    assert remembered.snapshot_of(palwatch, body["registrationAssignmentId"]).attributed
    campaign.record("tables_deleted_under_a_live_worker", tables_dropped=dropped, triggers_after=4, coverage_status=200)


def test_a_storage_failure_is_never_reported_as_another_run(emulator, palwatch, monkeypatch):
    from shared.store import errors

    def unreachable(*_args, **_kwargs):
        raise errors.TransientStoreError("write palwatchLeases: storage unreachable (ServiceRequestError)")

    monkeypatch.setattr(palwatch.store, "try_acquire", unreachable)
    with pytest.raises(errors.TransientStoreError):
        triggers.verify_now()


def test_a_refused_run_names_the_holder_and_its_age(emulator, palwatch, caplog):
    caplog.set_level(logging.INFO)
    now = datetime.now(UTC)
    assert palwatch.store.try_acquire(verify.LEASE, "worker-7/pid 42/abc", leases.TTL, now - timedelta(seconds=40))
    triggers.verify_now()
    line = verify_log(caplog)
    assert line.startswith("verify_attribution skipped"), line
    assert "worker-7/pid 42/abc" in line
    assert "running for 4" in line  # 40-odd seconds
    assert triggers.coverage().status_code == 404


def test_a_killed_verification_frees_the_lease_within_two_minutes(emulator, palwatch, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    real_scan = estate_scan.enumerate_estate

    def killed(*_args, **_kwargs):
        raise SystemExit("killed")  # the process dies mid-run: nothing after this runs ...

    monkeypatch.setattr(estate_scan, "enumerate_estate", killed)
    monkeypatch.setattr(palwatch.store, "release", lambda *_a: None)  # ... not even the release
    with pytest.raises(SystemExit):
        triggers.verify_now()
    monkeypatch.setattr(estate_scan, "enumerate_estate", real_scan)
    holder = palwatch.store.get_lease(verify.LEASE)
    assert holder is not None

    two_minutes_later = datetime.now(UTC) + timedelta(minutes=2, seconds=1)
    assert verify.run_verify(palwatch, two_minutes_later).status in ("ok", "partial")


def test_a_long_run_keeps_its_lease_by_heartbeat(emulator, palwatch, monkeypatch):
    monkeypatch.setattr(leases, "TTL", timedelta(seconds=2))
    monkeypatch.setattr(leases, "HEARTBEAT", timedelta(seconds=0.3))
    inside, finish = threading.Event(), threading.Event()
    real_scan = estate_scan.enumerate_estate

    def slow(*args, **kwargs):
        inside.set()
        finish.wait(30)
        return real_scan(*args, **kwargs)

    monkeypatch.setattr(estate_scan, "enumerate_estate", slow)
    first: list[outcomes.Outcome] = []
    worker = threading.Thread(target=lambda: first.append(verify.run_verify(palwatch, datetime.now(UTC))))
    worker.start()
    try:
        assert inside.wait(30)
        threading.Event().wait(3)  # longer than the lease itself: only the heartbeat keeps it
        second = verify.run_verify(palwatch, datetime.now(UTC))
        assert second.status == "skipped"
        assert "renewed every" in second.problems[0]
    finally:
        finish.set()
        worker.join(60)
    assert first[0].status in ("ok", "partial")
    assert palwatch.store.get_lease(verify.LEASE) is None  # released at the end
    assert json.loads(json.dumps(first[0].to_json()))["status"] == first[0].status
