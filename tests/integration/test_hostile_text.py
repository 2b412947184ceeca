"""A customer tenant named to phish: its name reaches the alerts as text, never as a link or a
reversed subject. Delivered through the triggers to a real SMTP server and a webhook receiver."""

from __future__ import annotations

import json
import re

import pytest

from shared.usecases import engine
from tests.support import demo, triggers, world
from tests.support.services import Receiver
from tests.support.world import onboard

HOSTILE = "Relecloud [verify your account](https://evil.example/login) <https://evil.example|Teams> \u202egnp.exe\u2066"
LINK = re.compile(r"\[[^\]]*\]\(https?://|<https?://|(?<![\\/])https?://evil")


@pytest.fixture
def channels(palwatch, smtp, monkeypatch):
    with Receiver() as webhook:
        monkeypatch.setenv("PAL_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{webhook.port}/hook")
        engine.reset_engine()
        yield smtp, webhook


def test_a_hostile_customer_name_is_escaped_in_webhook_text_and_stripped_from_subjects(emulator, channels):
    smtp_server, webhook = channels
    triggers.watch_now()  # what the demo estate owes goes first
    smtp_server.messages.clear()
    webhook.requests.clear()
    emulator.control("PUT", f"/tenants/{demo.RELECLOUD.tenant_id}", {"displayName": HOSTILE})
    triggers.delegation_events(
        onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.BOB, demo.CONTRIBUTOR)))
    )  # users only: a finding
    triggers.watch_now()

    bodies = [json.loads(r["body"]) for r in webhook.requests]
    assert any("evil" in b["text"] for b in bodies), "the hostile name reached the webhook"
    for body in bodies:
        for field in ("text", "subject"):
            assert not LINK.search(body[field]), body[field]
            assert not set(body[field]) & {"\u202e", "\u2066"}
    subjects = [str(m["Subject"]) for m in smtp_server.messages]
    # Subjects stay short: the name is cut to fit, and what is shown is the name as written.
    assert any("— Relecloud [verify your account]" in s for s in subjects), subjects
    for message in smtp_server.messages:
        for name, value in message.items():
            assert not set(str(value)) & {"\u202e", "\u2066", "\r", "\n"}, (name, value)


ESCAPES = "Relecloud \x1b[2J\x1b[1;31mURGENT\x1b[0m \x1b]8;;https://evil.example\x07click\x1b]8;;\x07 \x9b6n"


def test_terminal_escapes_in_a_customer_name_never_reach_the_plain_text_part(emulator, channels):
    smtp_server, _webhook = channels
    triggers.watch_now()
    smtp_server.messages.clear()
    emulator.control("PUT", f"/tenants/{demo.RELECLOUD.tenant_id}", {"displayName": ESCAPES})
    triggers.delegation_events(onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.BOB, demo.CONTRIBUTOR))))
    triggers.watch_now()

    plain = [
        part.get_content() for m in smtp_server.messages for part in m.walk() if part.get_content_type() == "text/plain"
    ]
    assert any("URGENT" in text for text in plain), "the name reached the plain-text part"
    for text in plain:
        assert not set(text) & {"\x1b", "\x07", "\x9b"}, repr(text[:400])
