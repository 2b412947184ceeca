"""The money at stake in alerts: read from the cost cache the snapshot filled, never queried on an
alert path (counted on the emulator's journal), with the PEC estimate only when PAL_PEC_RATE is set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import function_app
from shared.usecases import costs
from tests.support import clocks, demo, engines, mail, remembered, triggers, world


def _mails(outbox) -> list[str]:
    return [m.get_body(preferencelist=("plain",)).get_content() for m in mail.eml_files(outbox)]


@pytest.fixture
def alerting(emulator, palwatch, monkeypatch, tmp_path):
    return engines.rebuilt(monkeypatch, PAL_ALERT_OUTBOX_DIR=str(tmp_path), PAL_COST="true"), tmp_path


@pytest.mark.parametrize("rate", ["", "0.15"])
def test_the_lost_user_alert_names_the_money_and_no_alert_path_queries_costs(emulator, alerting, monkeypatch, rate):
    engine, outbox = alerting
    if rate:
        engine = engines.rebuilt(monkeypatch, PAL_PEC_RATE=rate)
    emulator.control("POST", "/costs/qpu", {"quotas": False})
    remembered.attest(engine, demo.ALICE.object_id)
    triggers.onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.ALICE, demo.CONTRIBUTOR)))
    triggers.subscribe(engine)
    snapshot = costs.run_cost_snapshot(engine, datetime.now(UTC), pacer=clocks.fake_pacer(clocks.FakeClock()))
    assert snapshot.counts["read"] > 0
    mark = emulator.journal()[-1]["seq"]

    triggers.identity_events(
        world.act(emulator, demo.ALICE.object_id, "softDelete")
    )  # the Graph notification: the identity_events trigger
    triggers.watch_now()  # alerts enqueued, reminded, sent

    assert world.cost_queries(emulator, mark) == []
    lost = [m for m in _mails(outbox) if "Alice Operator" in m and "Relecloud" in m]
    assert lost, _mails(outbox)
    text = " ".join(lost[0].split())
    assert "≈ $7,300/month of Azure consumed revenue on this scope" in text  # 2,600 + 3,900 + 800 Spot
    if rate:
        assert "≈ $975/month partner earned credit at stake" in text  # 15% of 6,500 on-demand
        assert "≈ $32 is lost for each day this lasts" in text  # 975 a month / 30.4 days
    else:
        assert "partner earned credit at stake" not in text


def test_an_alert_says_plainly_when_the_scope_cost_cannot_be_read(emulator, alerting):
    engine, outbox = alerting
    remembered.attest(engine, demo.ALICE.object_id)
    triggers.onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.ALICE, demo.CONTRIBUTOR)))
    triggers.subscribe(engine)  # no cost snapshot has run

    triggers.identity_events(world.act(emulator, demo.ALICE.object_id, "softDelete"))
    triggers.watch_now()

    assert world.cost_queries(emulator) == []
    lost = [" ".join(m.split()) for m in _mails(outbox) if "Alice Operator" in m]
    assert lost
    assert "Revenue on this scope: not read yet" in lost[0]


def test_a_reminder_days_later_says_the_credit_lost_so_far(emulator, alerting, monkeypatch):
    _, outbox = alerting
    engine = engines.rebuilt(monkeypatch, PAL_PEC_RATE="15%")
    opened_at = datetime.now(UTC)
    clock = [opened_at]
    monkeypatch.setattr(function_app, "_now", lambda: clock[0])
    emulator.control("POST", "/costs/qpu", {"quotas": False})
    remembered.attest(engine, demo.ALICE.object_id)
    triggers.onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.ALICE, demo.CONTRIBUTOR)))
    triggers.subscribe(engine)
    costs.run_cost_snapshot(engine, opened_at, pacer=clocks.fake_pacer(clocks.FakeClock()))
    triggers.identity_events(world.act(emulator, demo.ALICE.object_id, "softDelete"))
    triggers.watch_now()
    mark = emulator.journal()[-1]["seq"]
    first = len(_mails(outbox))

    clock[0] = opened_at + timedelta(days=3, minutes=5)  # three daily reminders' worth later
    triggers.watch_now()

    reminders = [" ".join(m.split()) for m in _mails(outbox)[first:] if "Alice Operator" in m and "Relecloud" in m]
    assert reminders, _mails(outbox)
    assert "≈ $96 lost so far (3 days since the finding opened)" in reminders[-1]  # 975 a month, 3 of 30.4 days
    assert world.cost_queries(emulator, mark) == []
