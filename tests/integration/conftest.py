"""Fixtures the integration tests share beyond tests/conftest.py."""

from __future__ import annotations

import pytest

from shared.usecases import engine as engine_module
from tests.support.mail import OPS_INBOX, SENDER


@pytest.fixture
def mailed(emulator, palwatch, monkeypatch):
    """The engine with Graph mail alerts configured (the demo's sender mailbox), the mailbox emptied."""
    monkeypatch.setenv("PAL_ALERT_MAIL_FROM", SENDER)
    monkeypatch.setenv("PAL_ALERT_MAIL_TO", OPS_INBOX)
    engine_module.reset_engine()
    emulator.control("DELETE", "/mailbox")
    return engine_module.get_engine()
