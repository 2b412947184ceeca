"""`python -m emulator serve --scenario FILE [--port N] [--ready-file PATH]`.

Starts the TLS server (Entra, ARM, Graph, control API) and the plain-http managed-identity
endpoint, writes the ready file once both accept requests, and stops cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from emulator import readyfile
from emulator.control import load_scenario
from emulator.server import App, make_servers
from emulator.web import Response, route
from emulator.world import World

log = logging.getLogger("emulator")


def serve(scenario_path: Path, port: int, ready_file: Path | None) -> int:
    world = World()
    load_scenario(world, json.loads(scenario_path.read_text()))
    with tempfile.TemporaryDirectory(prefix="palwatch-emulator-") as workdir:
        app = App(world, Path(workdir))
        app.scenario_path = str(scenario_path)
        app.routes.append(route("GET", r"/_emulator/env", lambda _req: Response(200, readyfile.info(app)), "control"))
        main, identity = make_servers(app, port)
        stop = threading.Event()

        def on_signal(signum: int, _frame: Any) -> None:
            log.info("signal %s: stopping", signum)
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (main, identity)]
        for thread in threads:
            thread.start()
        info = readyfile.info(app)
        if ready_file is not None:
            readyfile.write_atomically(ready_file, info)
        log.info("emulator ready: %s (identity endpoint %s)", app.base, app.identity_endpoint)
        stop.wait()
        for server in (main, identity):
            server.shutdown()
            server.server_close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator", description="Local Azure emulator for PAL Watch")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="serve a scenario over HTTPS on loopback")
    run.add_argument("--scenario", required=True, type=Path)
    run.add_argument("--port", type=int, default=0, help="0 picks a free port")
    run.add_argument("--ready-file", type=Path, default=None)
    run.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return serve(args.scenario, args.port, args.ready_file)


if __name__ == "__main__":
    sys.exit(main())
