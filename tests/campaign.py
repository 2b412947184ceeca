"""The reliability campaign's shared knobs: how broad a run is, and where its figures go.

CI (`CI` set) runs small estates and few examples; a local run is broader; `python -m
bench.reliability` sets `PALWATCH_CAMPAIGN=full` (500-delegation estates, 10 % and 30 % faults)
and `PALWATCH_CAMPAIGN_REPORT` to a file where each campaign test appends its figures (tried /
held) as one JSON line, which the bench turns into RELIABILITY.md's tables.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

from hypothesis import settings

FULL = os.environ.get("PALWATCH_CAMPAIGN") == "full"
CI = bool(os.environ.get("CI")) and not FULL


def size(ci: int, local: int, full: int) -> int:
    return full if FULL else ci if CI else local


def record(check: str, **figures: Any) -> None:
    """Append one check's figures to the campaign report, when a run asked for one."""
    path = os.environ.get("PALWATCH_CAMPAIGN_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps({"check": check, **figures}) + "\n")


def trigger_outcomes(records: list[Any], trigger: str) -> list[dict[str, Any]]:
    """The `PalWatch.TriggerOutcome` records a trigger logged (status, summary, ...), oldest first."""
    found = []
    for record in records:
        message = record.getMessage()
        if message.startswith("PalWatch.TriggerOutcome "):
            data = json.loads(message.split(" ", 1)[1])
            if data.get("trigger") == trigger:
                found.append(data)
    return found


# Hypothesis profiles for the properties that drive the real triggers (each example is seconds of
# HTTP and tables): CI replays a few fixed examples, a local run draws more, `make reliability`
# (PALWATCH_CAMPAIGN=full) many. `settings(campaign.PROPERTIES, ...)` takes its size from here.
# Each example gets its own deadline, well under the test's pytest timeout, so a slow example is
# reported as a deadline exceeded (a timeout), not as pytest-timeout firing inside Hypothesis's
# loop, which Hypothesis would report as a flaky example.
EXAMPLE_DEADLINE = timedelta(seconds=float(os.environ.get("PALWATCH_EXAMPLE_DEADLINE", "120")))
settings.register_profile("triggers-ci", derandomize=True, print_blob=True, max_examples=4, deadline=EXAMPLE_DEADLINE)
settings.register_profile("triggers-explore", print_blob=True, max_examples=10, deadline=EXAMPLE_DEADLINE)
settings.register_profile("triggers-full", print_blob=True, max_examples=150, deadline=EXAMPLE_DEADLINE)
PROPERTIES = settings.get_profile("triggers-full" if FULL else "triggers-ci" if CI else "triggers-explore")


def properties(*, ci: int) -> settings:
    """`PROPERTIES`, with the number of fixed examples a CI run has replayed for this property."""
    return settings(PROPERTIES, max_examples=ci) if CI else PROPERTIES
