"""A verification the partner ID guard stops says that it stopped and why, through the timer.

With every link the app can read pointing to another partner ID, the verification judges nothing
and writes nothing; its outcome must say it halted, with the reason, and never read as an empty
estate ("0 delegation(s) in 9 subscription(s): 0 attributed").
"""

from __future__ import annotations

from tests.support import demo, engines, triggers

OTHER_VALID = "6000001"


def test_a_halted_verification_says_it_halted_and_why(emulator, palwatch, monkeypatch):
    for object_id in (demo.MI.object_id, demo.OPS.object_id):
        emulator.control("PUT", f"/links/{demo.MANAGING}/{object_id}", {"partnerId": OTHER_VALID})
    engine = engines.rebuilt(monkeypatch)
    emulator.control("DELETE", "/journal")

    triggers.verify_now()

    said = str((engine.store.get_state("verify-last") or {}).get("outcome", ""))
    assert said.startswith("partial: halted"), said
    assert OTHER_VALID in said, said
    assert "0 attributed" not in said, said
