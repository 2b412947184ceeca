"""Alert mail as the demo configures it and as the tests read it: the sender mailbox and the ops
inbox, the messages Graph's sendMail delivered (the emulator's mailbox), the .eml files the
outbox folder channel wrote."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path
from typing import Any

SENDER = "palwatch@contosomsp.onmicrosoft.com"  # the demo's shared mailbox, a user in the managing tenant
OPS_INBOX = "cloud-ops@contosomsp.example"


def mailbox(emulator: Any) -> list[dict[str, Any]]:
    """Every message sent through Graph's sendMail since the mailbox was last emptied."""
    return emulator.control("GET", "/mailbox")["messages"]


def eml_files(folder: Path) -> list[email.message.EmailMessage]:
    """The messages an outbox folder holds, in file-name order."""
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in sorted(folder.glob("*.eml"))]
