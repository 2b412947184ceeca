"""`make sandbox`: the emulator on the demo estate and Azurite, for trying `palwatch` by hand.

Starts both services (as the demo and the tests do), prints the `export` lines that point
`palwatch` at them from another shell, and keeps them running until Ctrl-C.
"""

from __future__ import annotations

import os
import shlex
import sys
import threading

from scripts import services

PARTNER_MAILBOX = "cloud-ops@contosomsp.example"


def exports(emulator: services.Emulator, storage: str) -> list[str]:
    """Shell lines, each value quoted (certificate PEMs span lines), that reproduce the app's settings."""
    values = {
        **emulator.env,
        "AzureWebJobsStorage": storage,
        "PAL_TABLE_PREFIX": "sandbox",
        "PAL_ALERT_OUTBOX_DIR": str(services.ROOT / ".run" / "sandbox-inbox"),
        "PAL_ALERT_MAIL_TO": PARTNER_MAILBOX,
    }
    return [f"export {name}={shlex.quote(value)}" for name, value in sorted(values.items())]


def main() -> int:
    bold, reset = ("\033[1m", "\033[0m") if sys.stderr.isatty() else ("", "")
    try:
        with services.azurite() as storage, services.emulator() as emulator:
            lines = exports(emulator, storage)
            env_file = services.ROOT / ".run" / "sandbox.env"
            env_file.parent.mkdir(exist_ok=True)
            env_file.write_text("\n".join(lines) + "\n")
            os.chmod(env_file, 0o600)
            print("\n".join(lines))
            print(
                f"\n{bold}PAL Watch sandbox running{reset} (emulated Entra ID, ARM, Graph; Azurite tables).\n"
                f"In another shell:  source {env_file}  then  .venv/bin/palwatch doctor\n"
                "Ctrl-C stops both services.",
                file=sys.stderr,
            )
            threading.Event().wait()
    except KeyboardInterrupt:
        print("\nsandbox stopped", file=sys.stderr)
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
