"""Outbox on Azurite: each alert sent once per channel across duplicates, overlaps and outages."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import model
from shared.notify import channel, dispatch, notices
from shared.store import outbox as outbox_

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


class Recorder:
    """A channel that records what it was given; `down` makes it fail like an unreachable server."""

    def __init__(self, name: str = "rec", *, kinds: tuple[str, ...] | None = None) -> None:
        self.name = name
        self.kinds = kinds
        self.down = False
        self.permanent = False
        self.batches: list[list[str]] = []
        self.lock = threading.Lock()
        self.gate: threading.Barrier | None = None

    def accepts(self, notice: notices.Notice) -> bool:
        return self.kinds is None or notice.kind.value in self.kinds

    def send(self, batch: Sequence[notices.Notice], now: datetime) -> None:
        if self.down:
            raise channel.DeliveryError("ConnectionError", transient=not self.permanent)
        with self.lock:
            self.batches.append([n.notice_id for n in batch])

    @property
    def sent(self) -> Counter[str]:
        return Counter(i for batch in self.batches for i in batch)


def make_outbox(conn: str) -> outbox_.Outbox:
    return outbox_.Outbox(conn, prefix="t" + uuid.uuid4().hex[:12])


def rec_finding(key: str, severity=model.Severity.CRITICAL, opened=T0, resolved=None) -> model.RecordedFinding:
    f = model.Finding(
        key=key,
        kind="attribution_lost",
        severity=severity,
        subject=key,
        title=f"Lost {key}",
        tenant_name="Contoso",
        tenant_id="t1",
        scope="/subscriptions/s1",
    )
    return model.RecordedFinding(finding=f, opened_at=opened, resolved_at=resolved)


def opened(*keys: str) -> list[notices.Notice]:
    return [notices.opened(rec_finding(k)) for k in keys]


def test_duplicate_enqueues_store_each_notice_once(azurite: str) -> None:
    box = make_outbox(azurite)
    batch = opened("a", "b", "c")
    assert box.enqueue(batch + batch, T0) == 3
    assert box.enqueue(batch, T0 + timedelta(minutes=5)) == 0
    many = opened(*[f"k{i}" for i in range(130)])
    assert box.enqueue(many[:60], T0) == 60
    assert box.enqueue(many, T0) == 70  # the existing 60 are found, the rest go in transactions
    entries = box.list_entries()
    assert len(entries) == 133
    assert {e.notice_id for e in entries} == {n.notice_id for n in batch + many}
    # a key full of characters row keys forbid still round-trips
    odd = opened("/subscriptions/x/providers/Microsoft.ManagedServices/registrationAssignments/a#?\\")
    assert box.enqueue(odd, T0) == 1
    assert box.get(odd[0].notice_id).payload == odd[0].to_payload()


def test_batch_goes_out_as_one_message_per_channel_once(azurite: str) -> None:
    box = make_outbox(azurite)
    mail, hook = Recorder("mail"), Recorder("hook")
    d = dispatch.Dispatcher(box, [mail, hook])
    box.enqueue(opened("a", "b", "c"), T0)
    report = d.dispatch(T0)
    assert len(mail.batches) == 1
    assert len(hook.batches) == 1
    assert sorted(mail.batches[0]) == sorted(n.notice_id for n in opened("a", "b", "c"))
    assert report.channels["mail"].sent == 3
    assert report.pending == 0
    d.dispatch(T0 + timedelta(minutes=5))
    box.enqueue(opened("a", "b"), T0 + timedelta(minutes=6))  # duplicate event after delivery
    d.dispatch(T0 + timedelta(minutes=10))
    assert len(mail.batches) == 1
    assert all(v == 1 for v in mail.sent.values())
    assert box.list_pending() == []


def test_two_concurrent_dispatchers_send_each_alert_once(azurite: str) -> None:
    conn = azurite
    prefix = "t" + uuid.uuid4().hex[:12]
    outbox_.Outbox(conn, prefix=prefix).enqueue(opened(*[f"k{i}" for i in range(40)]), T0)
    shared_channel = Recorder("mail")
    barrier = threading.Barrier(4)
    reports: list[dispatch.DispatchReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        d = dispatch.Dispatcher(outbox_.Outbox(conn, prefix=prefix), [shared_channel])
        barrier.wait()
        try:
            reports.append(d.dispatch(T0))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(shared_channel.sent) == 40
    assert set(shared_channel.sent.values()) == {1}
    assert sum(r.channels["mail"].sent for r in reports) == 40


def test_channel_down_for_three_runs_then_up_delivers_each_pending_alert_once(azurite: str) -> None:
    box = make_outbox(azurite)
    up, flaky = Recorder("up"), Recorder("flaky")
    d = dispatch.Dispatcher(box, [up, flaky])
    flaky.down = True
    now = T0
    expected = set()
    for run in range(3):
        batch = opened(f"run{run}-a", f"run{run}-b")
        expected |= {n.notice_id for n in batch}
        box.enqueue(batch, now)
        report = d.dispatch(now)
        assert report.channels["flaky"].failed >= 2
        assert report.channels["flaky"].errors == ["ConnectionError"]
        now += timedelta(hours=2)
    assert set(up.sent) == expected
    assert set(up.sent.values()) == {1}
    assert flaky.batches == []
    entry = box.get(next(iter(expected)))
    assert entry.delivery("flaky").state == "pending"
    assert entry.delivery("flaky").attempts >= 1
    assert entry.delivery("flaky").next_attempt_at > entry.created_at
    assert entry.delivery("up").state == "sent"
    flaky.down = False
    report = d.dispatch(now)
    assert len(flaky.batches) == 1  # everything owed goes out together
    assert set(flaky.sent) == expected
    assert set(flaky.sent.values()) == {1}
    assert set(up.sent.values()) == {1}  # nothing resent where it already went through
    assert report.pending == 0
    assert box.list_pending() == []


def test_backoff_holds_retries_until_next_attempt(azurite: str) -> None:
    box = make_outbox(azurite)
    ch = Recorder("mail")
    ch.down = True
    d = dispatch.Dispatcher(box, [ch])
    box.enqueue(opened("a"), T0)
    d.dispatch(T0)
    ch.down = False
    report = d.dispatch(T0 + timedelta(seconds=30))  # inside the first one-minute back-off
    assert ch.batches == []
    assert report.channels["mail"].pending == 1
    d.dispatch(T0 + timedelta(minutes=1))
    assert len(ch.batches) == 1


def test_a_channel_refusing_everything_keeps_its_notices_and_is_named_down(azurite: str) -> None:
    box = make_outbox(azurite)
    broken, ok = Recorder("broken"), Recorder("ok")
    broken.down = broken.permanent = True
    d = dispatch.Dispatcher(box, [broken, ok], policy=dispatch.DispatchPolicy(max_permanent_attempts=2))
    box.enqueue(opened("a", "b"), T0)
    for hours in range(0, 12, 2):
        report = d.dispatch(T0 + timedelta(hours=hours))
        assert report.dead_letters == []
    assert report.channels["broken"].down == "ConnectionError"
    assert {e.delivery("broken").state for e in box.list_pending()} == {"pending"}
    broken.down = False
    d.dispatch(T0 + timedelta(hours=14))
    assert set(broken.sent) == {n.notice_id for n in opened("a", "b")}
    assert box.list_pending() == []


class Picky(Recorder):
    """Accepts every message except those carrying a notice whose id holds `refuse`."""

    def __init__(self, name: str, refuse: str) -> None:
        super().__init__(name)
        self.refuse = refuse

    def send(self, batch: Sequence[notices.Notice], now: datetime) -> None:
        if any(self.refuse in n.notice_id for n in batch):
            raise channel.DeliveryError("HTTP 400", transient=False)
        super().send(batch, now)


def test_dead_letter_only_for_a_notice_refused_while_others_pass_and_it_is_reported_everywhere(azurite: str) -> None:
    box = make_outbox(azurite)
    picky, ok = Picky("picky", refuse="poison"), Recorder("ok")
    d = dispatch.Dispatcher(box, [picky, ok], policy=dispatch.DispatchPolicy(max_permanent_attempts=2))
    box.enqueue(opened("poison", "a"), T0)
    d.dispatch(T0)
    box.enqueue(opened("b"), T0)
    report = d.dispatch(T0 + timedelta(hours=1))
    assert report.dead_letters == [opened("poison")[0].notice_id]
    assert box.get(opened("poison")[0].notice_id).delivery("picky").state == "dead"
    for rec in (picky, ok):  # the working channel and the refusing one both hear of it
        assert len([i for i in rec.sent if i.startswith("outbox:dead-letter:picky:")]) == 1
    assert {opened("a")[0].notice_id, opened("b")[0].notice_id} <= set(picky.sent)
    assert len(box.list_dead()) == 1
    d.dispatch(T0 + timedelta(hours=5))
    assert box.list_pending() == []


def test_reminders_and_resolved_notices_follow_a_fake_clock(azurite: str) -> None:
    box = make_outbox(azurite)
    mail, grid = Recorder("mail"), Recorder("grid", kinds=("opened", "resolved"))
    d = dispatch.Dispatcher(box, [mail, grid], remind_every=timedelta(hours=24))
    crit = rec_finding("crit")
    warn = rec_finding("warn", severity=model.Severity.WARNING)
    d.enqueue(notices.notices_for([crit, warn], []), T0)
    d.dispatch(T0)
    for hours in (1, 12, 23):  # runs every few hours: no reminder before a day has passed
        d.remind([crit, warn], T0 + timedelta(hours=hours))
        d.dispatch(T0 + timedelta(hours=hours))
    assert len(mail.batches) == 1
    for minutes in (0, 5, 10):  # three runs in the 24th hour: one reminder
        now = T0 + timedelta(hours=24, minutes=minutes)
        d.remind([crit, warn], now)
        d.dispatch(now)
    assert len(mail.batches) == 2
    assert mail.batches[1] == ["crit|20250301T080000Z|reminder-1"]
    assert len(grid.batches) == 1  # reminders are not events
    d.remind([crit], T0 + timedelta(hours=48, minutes=1))
    d.dispatch(T0 + timedelta(hours=48, minutes=1))
    assert mail.batches[2] == ["crit|20250301T080000Z|reminder-2"]
    done = model.RecordedFinding(finding=crit.finding, opened_at=T0, resolved_at=T0 + timedelta(hours=50))
    for _ in range(3):  # duplicate resolutions: one notice
        d.enqueue(notices.notices_for([], [done]), T0 + timedelta(hours=50))
        d.dispatch(T0 + timedelta(hours=50))
    d.remind([done], T0 + timedelta(hours=72))  # resolved: no more reminders
    d.dispatch(T0 + timedelta(hours=72))
    assert mail.batches[3:] == [["crit|20250301T080000Z|resolved"]]
    assert grid.batches[1:] == [["crit|20250301T080000Z|resolved"]]
    assert box.list_pending() == []


op = st.one_of(
    st.tuples(st.just("enqueue"), st.lists(st.integers(0, 7), min_size=1, max_size=6)),
    st.tuples(st.just("dispatch"), st.booleans()),  # channel b up or down during this run
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, min_size=1, max_size=10))
def test_any_order_of_duplicates_and_outages_ends_with_each_alert_once(azurite: str, ops) -> None:
    box = make_outbox(azurite)
    a, b = Recorder("a"), Recorder("b")
    d = dispatch.Dispatcher(box, [a, b])
    now = T0
    expected = set()
    for kind, arg in ops:
        now += timedelta(minutes=7)
        if kind == "enqueue":
            batch = opened(*[f"k{i}" for i in arg])
            expected |= {n.notice_id for n in batch}
            d.enqueue(batch, now)
        else:
            b.down = not arg
            d.dispatch(now)
    b.down = False
    for _ in range(3):
        now += timedelta(hours=2)
        d.dispatch(now)
    assert set(a.sent) == expected
    assert set(b.sent) == expected
    assert set(a.sent.values()) <= {1}
    assert set(b.sent.values()) <= {1}
    assert box.list_pending() == []
