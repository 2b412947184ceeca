"""A webhook key in the URL path never shows: not in `palwatch doctor --show-settings` (text or
JSON), not in the DEBUG log of a watch run that posts to it (urllib3's request line included)."""

from __future__ import annotations

import logging

import pytest

from shared import cli
from shared.usecases import engine
from tests import campaign
from tests.support import triggers
from tests.support.services import Receiver

PATH_KEY = "k3yInThePath0f7heW0rkflow"
SIGNATURE = "s1gnatureInTheQuery"


def webhook_url(port: int) -> str:
    return (
        f"http://127.0.0.1:{port}/workflows/{PATH_KEY}/triggers/manual/paths/invoke"
        f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIGNATURE}"
    )


@pytest.fixture
def receiver(emulator, azurite, monkeypatch):
    with Receiver() as running:
        monkeypatch.setenv("PAL_ALERT_WEBHOOK_URL", webhook_url(running.port))
        engine.reset_engine()
        yield running
    engine.reset_engine()


def test_doctor_settings_show_scheme_and_host_only(palwatch, receiver, capsys):
    for argv in (["doctor", "--show-settings"], ["doctor", "--json"]):
        cli.main(argv)
        out = capsys.readouterr().out
        assert "PAL_ALERT_WEBHOOK_URL" in out
        assert f"http://127.0.0.1:{receiver.port}/(redacted)" in out
        assert PATH_KEY not in out
        assert SIGNATURE not in out
        assert "workflows" not in out


def test_debug_logs_of_a_run_that_posts_to_the_webhook_hold_no_key(palwatch, receiver, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("shared", "azure", "urllib3"):  # function_app sets these loggers' levels: an operator lowers them
        caplog.set_level(logging.DEBUG, logger=name)
    triggers.verify_now()
    triggers.watch_now()
    assert receiver.requests, "the run posted its alerts"
    assert PATH_KEY in receiver.requests[0]["path"]  # the key did travel, to the receiver only
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert any(r.name == "urllib3.connectionpool" and str(receiver.port) in r.getMessage() for r in caplog.records)
    leaks = sum(secret in logged for secret in (PATH_KEY, SIGNATURE))
    campaign.record("secret_leaks_debug_log", secrets=2, lines=len(caplog.records), leaks=leaks)
    assert PATH_KEY not in logged
    assert SIGNATURE not in logged
