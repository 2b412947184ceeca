"""Fixtures the integration tests share beyond tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import engines, services
from tests.support.mail import OPS_INBOX, SENDER


@pytest.fixture
def mailed(emulator, palwatch, monkeypatch):
    """The engine with Graph mail alerts configured (the demo's sender mailbox), the mailbox emptied."""
    mailed = engines.rebuilt(monkeypatch, PAL_ALERT_MAIL_FROM=SENDER, PAL_ALERT_MAIL_TO=OPS_INBOX)
    emulator.control("DELETE", "/mailbox")
    return mailed


@pytest.fixture
def smtp(emulator, azurite, monkeypatch) -> Iterator[services.Mailroom]:
    """Alerts over plain SMTP with a login to a real SMTP server on loopback, whose refusals a test sets."""
    yield from services.smtp_alerts(monkeypatch)
