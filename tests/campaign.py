"""The reliability campaign's shared knobs: how broad a run is, and where its figures go.

CI (`CI` set) runs small estates and few examples; a local run is broader; `python -m
bench.reliability` sets `PALWATCH_CAMPAIGN=full` (500-delegation estates, 10 % and 30 % faults)
and `PALWATCH_CAMPAIGN_REPORT` to a file where each campaign test appends its figures (tried /
held) as one JSON line, which the bench turns into RELIABILITY.md's tables.
"""

from __future__ import annotations

import json
import os
from typing import Any

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
