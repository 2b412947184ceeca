"""With PAL_COST off (its default), an alert says the cost snapshot is off and how to turn it on,
never that the cost is "not read yet": `palwatch verify` through `cli.main`, mail through Graph."""

from __future__ import annotations

import json

from shared import cli
from tests.support.mail import mailbox


def _bodies(emulator) -> str:
    return json.dumps(mailbox(emulator))


def test_alerts_say_the_cost_snapshot_is_off_and_how_to_turn_it_on(emulator, mailed, monkeypatch):
    monkeypatch.delenv("PAL_COST", raising=False)
    assert cli.main(["verify", "-o", "none", "--fail-on", "none"]) == 0
    said = _bodies(emulator)
    assert "earns no partner credit" in said  # the demo's unattributed delegations were alerted
    assert "cost snapshot off: set PAL_COST=true" in said
    assert "not read yet" not in said
