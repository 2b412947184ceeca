"""`make reliability` (`python -m bench.reliability`): the fault, crash and fuzz campaign, broad.

Runs the campaign's own tests (the same ones CI runs small) with `PALWATCH_CAMPAIGN=full`:
500-delegation estates under 10 % and 30 % injected faults, thousands of fuzzed deliveries, more
interleavings of events and world changes. Each test appends its figures (tried / held) to a
report file; this prints them as the Markdown tables of RELIABILITY.md, with the pytest verdict.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGN = [
    "tests/integration/test_verify_under_faults.py",
    "tests/integration/test_watch_under_faults.py",
    "tests/integration/test_channel_down.py",
    "tests/integration/test_tables_and_lease.py",
    "tests/integration/test_handler_fuzz.py",
    "tests/integration/test_hostile_events.py",
    "tests/integration/test_secret_urls.py",
    "tests/integration/test_ordering_between_changes.py",
    "tests/integration/test_verify_degrades.py",
    "tests/integration/test_identity_ordering.py",
    "tests/integration/test_identity_stories.py",
    "tests/integration/test_delegation_ordering.py",
    "tests/integration/test_bad_exemptions.py",
    "tests/integration/test_hung_storage.py",
    "tests/integration/test_hostile_text.py",
    "tests/integration/test_halted_verification.py",
]


def run() -> tuple[int, float, list[dict[str, Any]]]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "campaign.jsonl"
        env = {**os.environ, "PALWATCH_CAMPAIGN": "full", "PALWATCH_CAMPAIGN_REPORT": str(report)}
        env.pop("CI", None)
        started = time.monotonic()
        # Full-size estates under faults take minutes per test: a longer per-test timeout than CI's.
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout", "1500", *CAMPAIGN]
        code = subprocess.call(command, cwd=ROOT, env=env)
        seconds = time.monotonic() - started
        rows = [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []
    return code, seconds, rows


def markdown(code: int, seconds: float, rows: list[dict[str, Any]]) -> str:
    lines = [
        f"Command: `python -m bench.reliability` ({seconds / 60:.1f} min; pytest "
        f"{'passed' if code == 0 else f'FAILED (exit {code})'}).",
        "",
        "| check | figures |",
        "| --- | --- |",
    ]
    for row in rows:
        figures = ", ".join(f"{k} {v}" for k, v in row.items() if k != "check")
        lines.append(f"| {row['check']} | {figures} |")
    return "\n".join(lines)


def main() -> int:
    code, seconds, rows = run()
    print(markdown(code, seconds, rows))
    return code


if __name__ == "__main__":
    sys.exit(main())
