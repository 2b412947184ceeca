"""A failing alert channel keeps its alerts; only a notice refused while others pass is given up.

The watch timer runs through `function_app.watch_delegations` on a controlled clock against a real
SMTP server (aiosmtpd) that can refuse logins (535 after a password rotation), refuse every
message (554), or refuse only some. With one channel, the common setup, nothing may be lost or
silently dropped: the channel's problem is one critical `configuration` finding, which the doctor
reports, and every pending alert arrives once the channel works again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import function_app
from shared import doctor
from shared.usecases import alerts, engine
from tests import campaign
from tests.support import triggers


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = datetime.now(UTC)
        monkeypatch.setattr(function_app, "_now", lambda: self.now)

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def watch(clock: Clock, runs: int = 1) -> None:
    for _ in range(runs):
        clock.advance(minutes=5)
        triggers.watch_now()


def outbox_states(box: Any) -> dict[str, str]:
    return {e.notice_id: e.delivery("smtp").state for e in box.list_entries()}


def channel_findings() -> list[Any]:
    return [r for r in engine.get_engine().store.open_findings() if r.finding.subject == "channel:smtp"]


@pytest.mark.parametrize("failure", ["password-rotated", "every-message-refused"])
def test_one_channel_refusing_for_three_runs_loses_nothing(palwatch, smtp, monkeypatch, failure):
    clock = Clock(monkeypatch)
    if failure == "password-rotated":
        smtp.password = b"rotated"  # the server answers 535 to the old password
    else:
        smtp.refuse_all = True
    triggers.verify_now()  # opens the demo estate's findings and queues their notices
    watch(clock, runs=3)
    box = alerts.dispatcher(engine.get_engine()).outbox
    owed = {i for i, state in outbox_states(box).items() if state == "pending"}
    assert owed, "the verification queued notices"
    assert "dead" not in outbox_states(box).values()  # three refusals lose nothing
    (finding,) = channel_findings()
    assert finding.finding.kind == "configuration"
    assert finding.finding.severity.value == "critical"
    checks = doctor.run_doctor()
    assert checks.check("alert delivery").status == doctor.FAIL

    smtp.password, smtp.refuse_all = b"pa55", False
    clock.advance(hours=2)  # past the back-off
    watch(clock)
    delivered = set(smtp.notice_ids())
    campaign.record(
        "channel_down",
        failure=failure,
        runs_refused=3,
        pending=len(owed),
        delivered_after=len(owed & delivered),
        duplicates=len(smtp.notice_ids()) - len(delivered),
    )
    assert owed <= delivered  # every pending notice arrived
    assert len(smtp.notice_ids()) == len(delivered)  # each once
    assert not channel_findings()  # resolved once the channel delivered
    assert set(outbox_states(box).values()) <= {"sent", "skipped"}


def news(n: int) -> Any:
    from shared import model
    from shared.notify import notices

    finding = model.Finding(
        key=f"test:news:{n}",
        kind="link_drift_repaired",
        severity=model.Severity.INFO,
        subject=f"test:{n}",
        title=f"Link {n} put back",
    )
    return notices.Notice(finding, notices.NoticeKind.OPENED, since=datetime(2026, 1, 1, tzinfo=UTC))


def test_only_a_notice_refused_while_others_pass_is_given_up_and_that_is_said(palwatch, smtp, monkeypatch):
    from shared.notify import notices

    clock = Clock(monkeypatch)
    triggers.verify_now()
    watch(clock)
    assert smtp.messages
    store = engine.get_engine().store
    victim = store.open_findings()[0]

    # The receiving side refuses reminders, and only them; other alerts keep flowing.
    smtp.refuse_notice = "|reminder-"
    box = alerts.dispatcher(engine.get_engine()).outbox
    remind = notices.Notice(victim.finding, notices.NoticeKind.REMINDER, since=victim.opened_at, sequence=1)
    box.enqueue([remind], clock.now)
    for n in range(4):
        box.enqueue([news(n)], clock.now)
        clock.advance(hours=3)
        watch(clock)
    assert outbox_states(box)[remind.notice_id] == "dead"
    assert {outbox_states(box)[news(n).notice_id] for n in range(4)} == {"sent"}
    assert not channel_findings()  # the channel works: no configuration finding
    letters = [m for m in smtp.messages if "could not be delivered on channel smtp" in str(m["Subject"])]
    assert len(letters) == 1  # a dead letter is never silent, even with one channel


def test_a_kill_between_send_and_record_resends_the_same_message_never_merged(palwatch, smtp, monkeypatch):
    from shared.store import outbox as outbox_module

    clock = Clock(monkeypatch)

    def killed(*_args, **_kwargs):
        raise SystemExit("the worker died after the send, before the outbox recorded it")

    recording = outbox_module.Outbox.complete
    monkeypatch.setattr(outbox_module.Outbox, "complete", killed)
    with pytest.raises(SystemExit):
        triggers.verify_now()  # opens findings and sends them
    monkeypatch.setattr(outbox_module.Outbox, "complete", recording)
    (first,) = smtp.messages
    box = alerts.dispatcher(engine.get_engine()).outbox
    box.enqueue([news(1)], clock.now)  # something new arrives meanwhile

    clock.advance(minutes=11)  # the dead worker's claim expires
    watch(clock)
    resent = [m for m in smtp.messages[1:] if m["Message-ID"] == first["Message-ID"]]
    campaign.record("kill_between_send_and_record", resent=len(resent), same_message_id=len(resent) == 1)
    assert len(resent) == 1  # the same message again: a mail client drops it
    assert resent[0].get_all("X-PALWatch-Notice") == first.get_all("X-PALWatch-Notice")
    fresh = [i for m in smtp.messages[1:] if m is not resent[0] for i in m.get_all("X-PALWatch-Notice")]
    assert news(1).notice_id in fresh  # sent in a message of its own ...
    assert not set(fresh) & set(first.get_all("X-PALWatch-Notice"))  # ... never merged with the resend
    assert {e.delivery("smtp").state for e in box.list_entries()} == {"sent"}


def test_one_refused_send_is_not_a_failing_channel(palwatch, smtp, monkeypatch):
    """A single refusal (one 554, one 500 or 429 on sendMail) is retried, never announced as a
    critical "alert channel failing"; the channel fails only after consecutive failures across a span."""
    clock = Clock(monkeypatch)
    smtp.refuse_all = True
    triggers.verify_now()  # one attempt, refused
    smtp.refuse_all = False
    clock.advance(hours=1)  # past the back-off
    watch(clock)
    assert smtp.notice_ids(), "delivered on the next attempt"
    store = engine.get_engine().store
    ever = [r for r in store.list_findings(include_resolved=True) if r.finding.subject == "channel:smtp"]
    assert not ever, [r.finding.title for r in ever]


def test_a_send_that_timed_out_after_the_server_took_it_is_resent_alone_with_its_identity(palwatch, smtp, monkeypatch):
    """The server takes the message after the client gave up waiting: the outcome is unknown, so
    the next run resends exactly that message (same Message-ID and batch header), and what arrived
    meanwhile goes in a message of its own."""
    import time

    from shared.notify import mail

    clock = Clock(monkeypatch)
    opened = mail.SmtpChannel.__init__

    def impatient(self, *args, **kwargs):  # the client's timeout, shorter than the server's delay
        opened(self, *args, **kwargs)
        self.timeout = 1.0

    monkeypatch.setattr(mail.SmtpChannel, "__init__", impatient)
    engine.reset_engine()
    box = alerts.dispatcher(engine.get_engine()).outbox
    box.enqueue([news(n) for n in range(7)], clock.now)
    smtp.slow_seconds = 3.0
    watch(clock)  # the server takes the message; its answer comes after the client's timeout
    (first,) = smtp.messages
    assert {e.delivery("smtp").state for e in box.list_entries()} == {"pending"}
    time.sleep(smtp.slow_seconds)  # the server's late answer goes nowhere

    smtp.slow_seconds = 0.0
    box.enqueue([news(n) for n in range(7, 9)], clock.now)  # something new arrives meanwhile
    clock.advance(hours=2)  # past the back-off
    watch(clock)
    later = smtp.messages[1:]
    resent = [m for m in later if m["Message-ID"] == first["Message-ID"]]
    campaign.record("timeout_after_server_took_it", messages=len(later), resent_same_id=len(resent))
    assert len(resent) == 1  # the same message again: a mail client drops it
    assert resent[0]["X-PALWatch-Batch"] == first["X-PALWatch-Batch"]
    assert resent[0].get_all("X-PALWatch-Notice") == first.get_all("X-PALWatch-Notice")
    fresh = [i for m in later if m is not resent[0] for i in m.get_all("X-PALWatch-Notice")]
    assert {news(n).notice_id for n in range(7, 9)} <= set(fresh)  # sent in a message of its own ...
    assert not set(fresh) & set(first.get_all("X-PALWatch-Notice"))  # ... never merged with the resend
    assert {e.delivery("smtp").state for e in box.list_entries()} == {"sent"}
