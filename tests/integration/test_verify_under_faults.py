"""The verification and the watcher under rate-based faults (the emulator's faults API), by the timers.

A share of ARM, PAL and Graph requests answer 503 (`Retry-After: 0`) during two verifications and
two watch runs; then the faults stop and one more verification and watch run. The open findings must be
exactly those of a fault-free verification of the same estate on fresh tables (none lost, none
extra), and no notice may reach the inbox twice (every alert is an `.eml` file whose
`X-PALWatch-Notice` headers name its notices).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from azure.functions.timer import TimerRequest

import function_app
from emulator.large_scenario import large
from shared.usecases import alerts
from tests import campaign
from tests.support import engines, mail, remembered, world

ESTATE = campaign.size(ci=40, local=120, full=500)
RATES = (0.1, 0.3) if campaign.FULL else (0.3,)
ROUTE = r"^/(subscriptions|providers|v1\.0)/"  # ARM, PAL and Graph; not the token endpoints


def notices_in(folder: Path) -> tuple[Counter[str], Counter[str]]:
    """How often each notice (as the messages list them) and each Message-ID reached the inbox."""
    listed: Counter[str] = Counter()
    messages: Counter[str] = Counter()
    for message in mail.eml_files(folder):
        listed.update(message.get_all("X-PALWatch-Notice", []))
        messages[str(message["Message-ID"])] += 1
    return listed, messages


def timer(name: str) -> bool:
    """Run a timer as the host does; False when the run as a whole failed (the host logs it)."""
    try:
        getattr(function_app, name)(TimerRequest(past_due=False))
    except Exception:  # a whole-run failure: the next run picks up
        return False
    return True


def fresh_engine(monkeypatch: pytest.MonkeyPatch, outbox: Path) -> Any:
    outbox.mkdir(parents=True, exist_ok=True)
    return engines.on_fresh_tables(monkeypatch, "f", PAL_ALERT_OUTBOX_DIR=str(outbox))


@pytest.mark.parametrize("rate", RATES)
def test_faults_lose_no_finding_and_double_no_notice(emulator, palwatch, monkeypatch, tmp_path, rate):
    emulator.control(
        "POST", "/reset", large(tenants=max(4, ESTATE // 5), delegations=ESTATE, users=60, groups=4, seed=5)
    )
    reference = fresh_engine(monkeypatch, tmp_path / "reference")
    assert timer("verify_attribution")
    assert timer("watch_delegations")  # the watcher reports what no identity can read; verify leaves it
    expected = remembered.open_as(reference, "kind", "subject", "reason")
    assert expected, "the estate has findings to lose"

    faulty = fresh_engine(monkeypatch, tmp_path / "faulty")
    world.fail_requests(emulator, rate, ROUTE)
    failed_runs = sum(not timer(name) for name in ("verify_attribution", "watch_delegations") * 2)
    world.fail_requests(emulator, 0)
    assert timer("verify_attribution")
    timer("watch_delegations")
    got = remembered.open_as(faulty, "kind", "subject", "reason")
    listed, messages = notices_in(tmp_path / "faulty")
    duplicates = sum(n - 1 for n in listed.values() if n > 1) + sum(n - 1 for n in messages.values() if n > 1)
    box = alerts.dispatcher(faulty).outbox
    sent = [e for e in box.list_entries() if e.delivery("eml").state == "sent"]
    campaign.record(
        "faults",
        rate=rate,
        delegations=ESTATE,
        findings=len(expected),
        lost=len(expected - got),
        extra=len(got - expected),
        notices=len(sent),
        duplicates=duplicates,
        failed_runs=failed_runs,
    )
    assert failed_runs == 0  # a run that cannot read everything says `partial`; it never fails whole
    assert got == expected
    assert duplicates == 0
    assert len(sent) >= len(expected)  # every finding was announced
