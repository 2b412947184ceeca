"""How long a timer may run: the host's `functionTimeout` (host.json, deployed beside function_app.py)
less a margin, so that a run stops starting new work before the host kills it.

Read by the timers' use cases that work in steps (the cost snapshot); one setting, host.json's, is
the source: raising it there raises every timer's deadline with it.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

HOST_JSON = Path(__file__).resolve().parents[2] / "host.json"
FLEX_DEFAULT = timedelta(minutes=30)  # Flex Consumption's default when host.json sets none, or -1 (unbounded)
MARGIN = timedelta(minutes=2)  # what a run needs after its last step: record, alert, release its lease
_SPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$")


def parse_timeout(value: object) -> timedelta:
    """host.json's `functionTimeout` ("[d.]hh:mm:ss"); unset, "-1" or unreadable: Flex's default."""
    found = _SPAN.match(str(value or "").strip())
    if not found:
        return FLEX_DEFAULT
    days, hours, minutes, seconds = (int(part or 0) for part in found.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds) or FLEX_DEFAULT


@cache
def function_timeout(path: Path = HOST_JSON) -> timedelta:
    """The host's timeout for one function execution, as host.json sets it."""
    try:
        return parse_timeout(json.loads(path.read_text(encoding="utf-8")).get("functionTimeout"))
    except (OSError, ValueError) as e:
        log.warning("host.json unreadable (%s): a timer's deadline assumes %s", e, FLEX_DEFAULT)
        return FLEX_DEFAULT


def run_budget(path: Path = HOST_JSON) -> timedelta:
    """How long a timer may keep starting new work: the host's timeout less `MARGIN`."""
    return max(function_timeout(path) - MARGIN, timedelta(minutes=1))
