"""`scripts/grant-permissions.sh --elevate` waits for the elevation to apply: the assignment at "/" is
retried a bounded number of times, then the script says what to do. Run in a real bash with a
fake `az` on PATH that refuses the assignment a given number of times."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "grant-permissions.sh"
FAKE_AZ = r"""#!/usr/bin/env bash
echo "$*" >> "$AZ_LOG"
case "$*" in
  "account show"*) echo tenant-1 ;;
  "role assignment list"*) echo 0 ;;
  "ad signed-in-user show"*) echo me ;;
  "role assignment create"*)
    n=$(( $(cat "$AZ_COUNT" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$AZ_COUNT"
    if [ "$n" -le "$CREATE_FAILS" ]; then echo "AuthorizationFailed" >&2; exit 1; fi ;;
esac
"""


def _grant(tmp_path: Path, fails: int, tries: int = 4) -> tuple[subprocess.CompletedProcess, list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "az").write_text(FAKE_AZ)
    (bin_dir / "az").chmod(0o755)
    log = tmp_path / "az.log"
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "AZ_LOG": str(log),
        "AZ_COUNT": str(tmp_path / "count"),
        "CREATE_FAILS": str(fails),
        "PAL_ELEVATE_TRIES": str(tries),
        "PAL_ELEVATE_WAIT": "0",
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        ["bash", str(SCRIPT), "--principal-id", "mi-object", "--skip-graph", "--elevate"],
        env=env, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    return done, log.read_text().splitlines()


def _creates(calls: list[str]) -> list[str]:
    return [c for c in calls if c.startswith("role assignment create")]


def test_the_assignment_is_retried_until_the_elevation_applies(tmp_path: Path) -> None:
    done, calls = _grant(tmp_path, fails=2)
    assert done.returncode == 0, done.stderr
    assert any("elevateAccess" in c for c in calls)
    assert len(_creates(calls)) == 3
    assert "elevation takes a few minutes to apply" in done.stdout
    # The temporary elevation is removed afterwards.
    assert any(c.startswith("role assignment delete") for c in calls)


def test_a_bounded_wait_then_what_to_do(tmp_path: Path) -> None:
    done, calls = _grant(tmp_path, fails=99, tries=4)
    assert done.returncode == 1
    assert len(_creates(calls)) == 4
    assert "Sign out and in again" in done.stderr
    assert "rerun this script with --elevate" in done.stderr
