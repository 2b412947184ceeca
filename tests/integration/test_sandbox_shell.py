"""README's "Try the CLI on the local sandbox", pasted into a real shell: `make sandbox` (its script),
`source` the file it writes, then `palwatch doctor`, `verify`, `report` and `findings`."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripts import services

BASH = "/bin/bash"


def _wait_for(path: Path, process: subprocess.Popen, bound: float = 120.0) -> None:
    deadline = time.monotonic() + bound
    while not path.exists():
        assert process.poll() is None, f"the sandbox exited early: {process.communicate()}"
        assert time.monotonic() < deadline, "the sandbox wrote no settings file"
        time.sleep(0.2)


def _refuses(url: str) -> bool:
    port = int(re.search(r":(\d+)", url.split("//", 1)[-1]).group(1))
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.skipif(not Path(BASH).exists(), reason="needs bash")
def test_the_sourced_sandbox_file_runs_every_first_command_then_sigterm_stops_the_services(tmp_path):
    env_file = tmp_path / "sandbox.env"
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "scripts.sandbox", "--env-file", str(env_file), "--inbox", str(tmp_path / "inbox")],
        cwd=services.ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(env_file, sandbox)
        assert env_file.stat().st_mode & 0o077 == 0, "the file holds certificate keys: owner only"
        shell = subprocess.run(
            [
                BASH,
                "-c",
                f"set -u; source {env_file}; "
                + "; ".join(
                    f"palwatch {command} > {tmp_path / command}.out 2>&1; echo {command}=$?"
                    for command in ("doctor", "verify", "report", "findings")
                ),
            ],
            env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path)},
            cwd=tmp_path,
            check=False,
            capture_output=True,
            text=True,
            timeout=600,
        )
        outputs = {c: (tmp_path / f"{c}.out").read_text() for c in ("doctor", "verify", "report", "findings")}
        assert shell.stdout.split() == ["doctor=0", "verify=0", "report=0", "findings=0"], outputs
        assert "All required checks passed" in outputs["doctor"]
        assert outputs["verify"].startswith("Verification ok:")
        assert "Tailwind Traders" in outputs["report"]
        assert "Open findings:" in outputs["findings"]
        settings = dict(re.findall(r"^export (\w+)='?([^'\n]*)", env_file.read_text(), re.M))
    finally:
        sandbox.send_signal(signal.SIGTERM)
        out, err = sandbox.communicate(timeout=120)
    assert sandbox.returncode == 0, err
    assert _refuses(settings["PAL_ARM_ENDPOINT"]), "SIGTERM left the emulator running"
    assert _refuses(settings["AzureWebJobsStorage"].split("TableEndpoint=")[1]), "SIGTERM left Azurite running"
    # It says what to source; the settings (a private key among them) stay in the file.
    assert f"source {env_file}" in out
    assert "export " not in out + err
    assert "PRIVATE KEY" not in out + err
    assert not os.path.exists(env_file), "a stopped sandbox leaves no settings pointing at nothing"


def test_make_run_leaves_a_running_sandboxs_files_alone(tmp_path):
    from scripts import demo

    (tmp_path / "sandbox-inbox").mkdir()
    (tmp_path / "sandbox.env").write_text("export PAL_TABLE_PREFIX=sandbox\n")
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "old.eml").write_text("an alert of the last demo")
    (tmp_path / "coverage.html").write_text("the last demo's page")

    demo.clear_previous_run(tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["inbox", "sandbox-inbox", "sandbox.env"]
    assert not list((tmp_path / "inbox").iterdir())
