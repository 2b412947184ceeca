"""The demo's actors as bare object ids, for code that passes ids around by the dozen (the ordering
properties replay lists of them); elsewhere `demo.ALICE.object_id` says what the id belongs to."""

from __future__ import annotations

from tests.support import demo

MI = demo.MI.object_id
AUTOMATION = demo.AUTOMATION.object_id
OPS = demo.OPS.object_id
PIPELINE = demo.PIPELINE.object_id
PORTAL = demo.PORTAL.object_id
ALICE = demo.ALICE.object_id
BOB = demo.BOB.object_id
TIER2 = demo.TIER2.object_id
OPERATORS = demo.OPERATORS.object_id
