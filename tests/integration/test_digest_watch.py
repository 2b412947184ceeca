"""The daily digest through the watch timer, over the emulator (Graph mailbox) and Azurite (outbox).

A fake clock goes in through `now`: one digest per UTC day however many watch runs (also
concurrent ones, from separate engines as separate function instances would be), none before
`PAL_ALERT_DIGEST_HOUR`, none when `PAL_ALERT_DIGEST` is off; the `.eml` folder channel
(`PAL_ALERT_OUTBOX_DIR`) and Graph mail both receive it.
"""

from __future__ import annotations

import email
import email.policy
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from shared import snapshots
from shared.notify import digest as digest_notice
from shared.settings import load_settings
from shared.usecases import alerts, digest, outcomes, watch
from shared.usecases import engine as engine_module
from tests.support import engines, mail

pytestmark = pytest.mark.integration

DAY = datetime(2025, 3, 1, tzinfo=UTC)
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    return tmp_path / "mail"


@pytest.fixture
def configure(emulator, palwatch, monkeypatch, inbox):
    """Returns a function that turns the digest on or off and gives a fresh engine."""
    emulator.control("DELETE", "/mailbox")

    def apply(on: bool = True, hour: int = 7) -> engine_module.Engine:
        return engines.rebuilt(
            monkeypatch,
            PAL_ALERT_DIGEST="true" if on else "false",
            PAL_ALERT_DIGEST_HOUR=str(hour),
            PAL_ALERT_OUTBOX_DIR=str(inbox),
            PAL_ALERT_MAIL_FROM=mail.SENDER,
            PAL_ALERT_MAIL_TO=mail.OPS_INBOX,
        )

    return apply


def eml_digests(inbox: Path) -> list[email.message.EmailMessage]:
    return [m for m in mail.eml_files(inbox) if "daily digest" in str(m["Subject"]).lower()]


def digest_day(message: email.message.EmailMessage) -> str:
    text = message.get_body(("plain",)).get_content()
    return text.split("Daily digest for ", 1)[1][:10]


def graph_digests(emulator) -> list[dict]:
    messages = mail.mailbox(emulator)
    return [m for m in messages if "daily digest" in m["message"]["subject"].lower()]


def digest_entries(engine: engine_module.Engine) -> list[str]:
    box = alerts.dispatcher(engine).outbox
    return [e.notice_id for e in box.list_entries() if e.payload.get("kind") == "digest"]


def tick(engine: engine_module.Engine, now: datetime) -> outcomes.Steps:
    return watch.run_watch(engine, now)


def test_off_sends_nothing(configure, inbox, emulator) -> None:
    engine = configure(on=False)
    for hours in (7, 8, 23):
        run = tick(engine, DAY + timedelta(hours=hours))
        assert "digest" not in run.steps
    assert digest.enqueue_digest(engine, DAY + timedelta(hours=9)).status == "off"
    assert digest_entries(engine) == []
    assert eml_digests(inbox) == []
    assert graph_digests(emulator) == []


def test_one_digest_a_day_from_the_configured_hour(configure, inbox, emulator) -> None:
    engine = configure(on=True, hour=7)

    early = tick(engine, DAY + timedelta(hours=6, minutes=59))
    assert "due from 07:00 UTC" in early.steps["digest"]
    assert digest_entries(engine) == []

    for at in (timedelta(hours=7, minutes=1), timedelta(hours=7, minutes=6), timedelta(hours=12)):
        tick(engine, DAY + at)
    assert digest_entries(engine) == [digest_notice.notice_id(date(2025, 3, 1))]
    assert len(eml_digests(inbox)) == 1
    mailed = graph_digests(emulator)
    assert len(mailed) == 1
    assert mailed[0]["message"]["subject"].startswith("[PAL Watch] Daily digest 2025-03-01")

    # two overlapping runs on separate instances (engines) later that day: still one
    others = [engine_module.Engine(load_settings()) for _ in range(2)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda e: tick(e, DAY + timedelta(hours=13)), others))
    assert all("digest" in run.steps and "failed" not in run.steps["digest"] for run in runs)
    assert len(eml_digests(inbox)) == 1
    assert len(graph_digests(emulator)) == 1

    # the next day, before the hour nothing, then one more
    tick(engine, DAY + timedelta(days=1, hours=3))
    assert len(eml_digests(inbox)) == 1
    tick(engine, DAY + timedelta(days=1, hours=7, minutes=2))
    tick(engine, DAY + timedelta(days=1, hours=7, minutes=7))
    days = sorted(digest_day(m) for m in eml_digests(inbox))
    assert days == ["2025-03-01", "2025-03-02"]
    assert len(graph_digests(emulator)) == 2


def test_two_concurrent_first_runs_write_one_digest(configure, inbox) -> None:
    configure(on=True, hour=0)
    engines = [engine_module.Engine(load_settings()) for _ in range(2)]
    at = DAY + timedelta(minutes=5)
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda e: digest.enqueue_digest(e, at), engines))
    assert sorted(o.status for o in outcomes) in (["enqueued", "exists"], ["enqueued", "enqueued"])
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda e: alerts.deliver(e, at), engines))
    assert len(digest_entries(engines[0])) == 1
    assert len(eml_digests(inbox)) == 1


def _html(message: email.message.EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def test_a_hostile_customer_name_is_text_in_the_mail(configure, inbox) -> None:
    engine = configure(on=True)
    now = DAY + timedelta(hours=8)
    row = snapshots.CoverageRow(
        delegation_key="/subscriptions/s1/providers/microsoft.managedservices/registrationassignments/a",
        customer_tenant_id="11111111-1111-1111-1111-111111111111",
        customer_tenant_name=HOSTILE,
        scope="/subscriptions/s1",
        attributed=False,
        status="not_attributed",
    )
    engine.store.put_coverage([row], now - timedelta(hours=2))
    assert digest.enqueue_digest(engine, now).status == "enqueued"
    alerts.deliver(engine, now)

    (message,) = eml_digests(inbox)
    html = _html(message)
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert HOSTILE in message.get_body(("plain",)).get_content()
    assert "1 not attributed" in str(message["Subject"])
    assert "verification has not run" not in html


def test_no_coverage_yet_gives_the_hint(configure, inbox) -> None:
    engine = configure(on=True)
    now = DAY + timedelta(hours=8)
    digest.enqueue_digest(engine, now)
    alerts.deliver(engine, now)

    (message,) = eml_digests(inbox)
    text = message.get_body(("plain",)).get_content()
    assert "No coverage yet" in text
    assert "palwatch verify" in text
    assert "no coverage yet" in str(message["Subject"])
    assert mail.SENDER in str(message["From"]) or "palwatch@" in str(message["From"])
