"""The CLI answers user errors and broken pipes with a line a person can act on, never a traceback."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from shared import cli
from shared.cli import app as cli_app
from tests.support.services import ROOT

TENANT = "83abe5cd-bcc3-441a-bd86-e6a75360cecc"


def _palwatch(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PAL_", "AzureWebJobsStorage", "AZURE_"))}
    return subprocess.run(
        [sys.executable, "-m", "shared", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", ["verify", "report", "findings"])
def test_missing_storage_setting_names_the_setting_without_a_traceback(command: str) -> None:
    done = _palwatch(command, env={"PAL_PARTNER_ID": "1234567", "PAL_MANAGING_TENANT_ID": TENANT})

    assert done.returncode == 1
    assert "AzureWebJobsStorage" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_closed_pipe_ends_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    def reader_went_away(_args: argparse.Namespace) -> int:
        raise BrokenPipeError

    monkeypatch.setitem(cli.COMMANDS, "pipe", cli.Command("pipe", "test", lambda _p: None, reader_went_away))
    monkeypatch.setattr(cli_app, "_silence_stdout", lambda: None)

    assert cli.main(["pipe"]) == 0


def test_unexpected_failure_is_one_line_unless_asked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(_args: argparse.Namespace) -> int:
        raise RuntimeError("the store answered nonsense")

    monkeypatch.setitem(cli.COMMANDS, "broken", cli.Command("broken", "test", lambda _p: None, broken))

    assert cli.main(["broken"]) == 1
    err = capsys.readouterr().err
    assert "the store answered nonsense" in err
    assert "Traceback" not in err
