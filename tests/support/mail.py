"""Alert mail as the demo configures it: the sender mailbox and the ops inbox."""

from __future__ import annotations

SENDER = "palwatch@contosomsp.onmicrosoft.com"  # the demo's shared mailbox, a user in the managing tenant
OPS_INBOX = "cloud-ops@contosomsp.example"
