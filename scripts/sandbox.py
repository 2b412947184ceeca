"""`make sandbox`: the emulator on the demo estate and Azurite, for trying `palwatch` by hand.

Starts both services (as the demo and the tests do), writes the app's settings to an env file
(`.run/sandbox.env`, readable only by you: it holds the emulator's certificate keys) and prints
the one line that loads them in another shell. Runs until Ctrl-C or SIGTERM, which stop both
services; `make run` leaves the sandbox's files alone.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from scripts import services

PARTNER_MAILBOX = "cloud-ops@contosomsp.example"
SENDER_NAME = "PAL Watch alerts"  # the demo tenant's shared mailbox that alerts are sent from
ENV_FILE = services.ROOT / ".run" / "sandbox.env"
INBOX = services.ROOT / ".run" / "sandbox-inbox"


def sender_mailbox(scenario: Path = services.DEMO_SCENARIO) -> str:
    """The demo tenant's alert mailbox, so that mail alerts (and the doctor's mail check) work."""
    world = json.loads(scenario.read_text())
    home = next(t for t in world["tenants"] if t.get("home"))
    return next(p["userPrincipalName"] for p in home["principals"] if p["displayName"] == SENDER_NAME)


def exports(emulator: services.Emulator, storage: str, inbox: Path = INBOX) -> list[str]:
    """Shell lines, each value quoted (certificate PEMs span lines), that reproduce the app's settings."""
    values = {
        **emulator.env,
        "AzureWebJobsStorage": storage,
        "PAL_TABLE_PREFIX": "sandbox",
        "PAL_ALERT_OUTBOX_DIR": str(inbox),
        "PAL_ALERT_MAIL_FROM": sender_mailbox(),
        "PAL_ALERT_MAIL_TO": PARTNER_MAILBOX,
        "PAL_COST": "true",
        "PAL_PEC_RATE": "0.15",  # an example rate, as in the demo: Microsoft publishes none
    }
    return [f"export {name}={shlex.quote(value)}" for name, value in sorted(values.items())]


def write_env_file(path: Path, lines: list[str]) -> None:
    """The settings, created readable by the owner only (never world-readable, not even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    """SIGTERM (a process manager, `kill`) stops the services as Ctrl-C does."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--env-file", type=Path, default=ENV_FILE, help=f"where the settings go (default {ENV_FILE})")
    parser.add_argument("--inbox", type=Path, default=INBOX, help="where mail alerts are also written as .eml")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    bold, reset = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
    env_file: Path = args.env_file.resolve()
    try:
        with services.azurite() as storage, services.emulator() as emulator:
            write_env_file(env_file, exports(emulator, storage, args.inbox.resolve()))
            print(
                f"{bold}PAL Watch sandbox running{reset} (emulated Entra ID, ARM, Graph; Azurite tables).\n"
                f"In another shell, from {services.ROOT}:\n\n"
                f"    source {shlex.quote(str(env_file))}\n"
                "    .venv/bin/palwatch doctor\n\n"
                "Ctrl-C stops both services.",
                flush=True,
            )
            threading.Event().wait()
    except KeyboardInterrupt:
        print("sandbox stopped", file=sys.stderr)
    finally:
        env_file.unlink(missing_ok=True)  # its endpoints are gone: a stale file would only mislead
    return 0


if __name__ == "__main__":
    sys.exit(main())
