"""Start and stop the local services (Azurite, the emulator) for tests, the demo and benchmarks.

Used by tests/support/services.py, scripts/demo.py and bench/. Every service listens on 127.0.0.1 on a
free port and is stopped by the context manager that started it.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
DEMO_SCENARIO = ROOT / "emulator" / "scenarios" / "demo.json"
# Azurite's published development key: not a secret (https://learn.microsoft.com/azure/storage/common/storage-use-azurite).
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"service exited early with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"service did not listen on port {port} within {timeout}s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextlib.contextmanager
def azurite() -> Iterator[str]:
    """A fresh in-memory Azurite table service; yields its connection string."""
    with azurite_service() as service:
        yield service.connection_string


@dataclass(frozen=True)
class Azurite:
    connection_string: str
    pid: int  # for reading its CPU time from /proc (bench)


@contextlib.contextmanager
def azurite_service() -> Iterator[Azurite]:
    """A fresh in-memory Azurite table service, with its process id."""
    binary = ROOT / "node_modules" / ".bin" / "azurite-table"
    if not binary.exists():
        raise RuntimeError("Azurite is not installed: run `make setup` (it runs `npm ci`)")
    port = free_port()
    process = subprocess.Popen(
        [
            str(binary),
            "--tableHost",
            "127.0.0.1",
            "--tablePort",
            str(port),
            "--inMemoryPersistence",
            "--disableTelemetry",
            "--silent",
            "--skipApiVersionCheck",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process)
        yield Azurite(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            f"AccountKey={AZURITE_KEY};TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;",
            process.pid,
        )
    finally:
        _stop(process)


@dataclass
class Emulator:
    """A running emulator: its ready-file contract plus helpers for the control API."""

    info: dict[str, Any]
    session: requests.Session = field(default_factory=requests.Session)
    pid: int = 0  # the emulator process (bench reads its CPU time from /proc)

    def __post_init__(self) -> None:
        # Not from the environment: REQUESTS_CA_BUNDLE there (often the system bundle) would win over `verify`.
        self.session.trust_env = False
        self.session.verify = self.info["ca_bundle"]

    @property
    def env(self) -> dict[str, str]:
        return dict(self.info["env"])

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self.session.request(method, self.info["control"].rstrip("/") + path, json=body, timeout=60)
        response.raise_for_status()
        return response.json() if response.content else None

    def reset(self, scenario: dict[str, Any] | None = None) -> None:
        if scenario is None:
            scenario = json.loads(DEMO_SCENARIO.read_text())
        self.control("POST", "/reset", scenario)

    def journal(self) -> list[dict[str, Any]]:
        return self.control("GET", "/journal")["requests"]

    def signed_in(self, object_id: str, tenant_id: str) -> SignedIn:
        """A person's sign-in (what `az login` gives azure-identity), minted by the emulator."""
        answer = self.control("POST", "/tokens", {"objectId": object_id, "tenantId": tenant_id})
        return SignedIn(answer["access_token"], int(answer["expires_on"]))


@dataclass(frozen=True)
class SignedIn:
    """A token credential holding one access token: azure-identity's developer credentials stand-in."""

    token: str
    expires_on: int

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(self.token, self.expires_on)


@contextlib.contextmanager
def emulator(scenario: Path = DEMO_SCENARIO, extra_args: tuple[str, ...] = ()) -> Iterator[Emulator]:
    """Run `python -m emulator serve` until the block ends; yields once its ready file exists."""
    with tempfile.TemporaryDirectory(prefix="palwatch-emu-") as workdir:
        ready = Path(workdir) / "ready.json"
        log_path = Path(workdir) / "emulator.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "emulator",
                    "serve",
                    "--scenario",
                    str(scenario),
                    "--port",
                    "0",
                    "--ready-file",
                    str(ready),
                    *extra_args,
                ],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                deadline = time.monotonic() + 60
                while not ready.exists():
                    if process.poll() is not None:
                        log.flush()
                        raise RuntimeError("emulator exited early:\n" + log_path.read_text()[-3000:])
                    if time.monotonic() > deadline:
                        raise RuntimeError("emulator did not become ready in 60s")
                    time.sleep(0.05)
                yield Emulator(info=json.loads(ready.read_text()), pid=process.pid)
            finally:
                _stop(process)
