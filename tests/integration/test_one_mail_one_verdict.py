"""One mail, one verdict per scope: a person who links herself and is then deleted, before the next
watch tick sends, gives one message that says the scope lost its credit, and tells what happened
before (she linked herself) instead of a green "earns partner credit now" card beside the red one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import function_app
from shared.usecases import users
from tests.support import demo, mail, triggers, world
from tests.support.triggers import decode_event

RG = f"/subscriptions/{demo.RELECLOUD.subscription_id}/resourceGroups/rg-only-alice"


def test_a_scope_lost_after_it_resolved_is_told_once_with_the_real_reason(emulator, mailed):
    body = world.new_delegation(demo.RELECLOUD, (demo.ALICE, demo.CONTRIBUTOR))
    body["scope"] = RG
    triggers.onboard(emulator, body)
    triggers.subscribe(mailed)
    users.link_me(mailed, emulator.signed_in(demo.ALICE.object_id, demo.MANAGING), datetime.now(UTC))
    for event in world.act(emulator, demo.ALICE.object_id, "softDelete"):
        function_app.identity_events(decode_event(event))

    triggers.watch_now()

    messages = [m["message"] for m in mail.mailbox(emulator) if "rg-only-alice" in m["message"]["body"]["content"]]
    assert len(messages) == 1, [m["subject"] for m in messages]
    content = messages[0]["body"]["content"]
    assert "lost" in content.lower()
    assert "earns partner credit now" not in content, content
    assert "linked" in content.lower()


def test_a_subject_counts_in_plural_words(emulator, mailed):
    for _ in range(2):
        triggers.delegation_events(
            world.onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.BOB, demo.CONTRIBUTOR)))
        )

    triggers.watch_now()

    subjects = [m["message"]["subject"] for m in mail.mailbox(emulator)]
    assert any(re.search(r"\b[2-9] warnings\b", s) for s in subjects), subjects
    assert not any(re.search(r"\b[2-9] warning\b", s) for s in subjects), subjects
