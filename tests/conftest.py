"""Fixtures every test shares: a loopback-only network, Azurite and the emulator.

The services are started once per session, on free ports, and stopped at the end, so that
`make test` needs nothing running beforehand. Tests never reach anything but loopback: a
guard refuses any other address, and `IDENTITY_ENDPOINT` always points at loopback so that
azure-identity never falls back to the cloud metadata address.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
DEMO_SCENARIO = ROOT / "emulator" / "scenarios" / "demo.json"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

# Set before anything imports azure-identity: no test may reach the metadata endpoint.
os.environ["IDENTITY_ENDPOINT"] = "http://127.0.0.1:9/msi/token"
os.environ["IDENTITY_HEADER"] = "tests-no-identity"
for _name in ("MSI_ENDPOINT", "MSI_SECRET", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "IMDS_ENDPOINT"):
    os.environ.pop(_name, None)


def _is_loopback(address: Any) -> bool:
    if not isinstance(address, tuple):
        return True  # AF_UNIX paths
    host = address[0]
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise ConnectionRefusedError(f"tests talk to loopback only; refused {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise ConnectionRefusedError(f"tests talk to loopback only; refused {address!r}")
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]


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


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    """A fresh in-memory Azurite table service; yields its connection string."""
    binary = ROOT / "node_modules" / ".bin" / "azurite-table"
    if not binary.exists():
        pytest.fail("Azurite is not installed: run `make test` (it runs `npm ci`)")
    port = free_port()
    process = subprocess.Popen(
        [str(binary), "--tableHost", "127.0.0.1", "--tablePort", str(port), "--inMemoryPersistence",
         "--disableTelemetry", "--silent", "--skipApiVersionCheck"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process)
        yield (
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            f"AccountKey={AZURITE_KEY};TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
        )
    finally:
        _stop(process)


@dataclass
class Emulator:
    """A running emulator: its ready-file contract plus helpers for the control API."""

    info: dict[str, Any]
    session: requests.Session

    @property
    def env(self) -> dict[str, str]:
        return dict(self.info["env"])

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self.session.request(method, self.info["control"].rstrip("/") + path, json=body, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None

    def reset(self, scenario: dict[str, Any] | None = None) -> None:
        if scenario is None:
            scenario = json.loads(DEMO_SCENARIO.read_text())
        self.control("POST", "/reset", scenario)

    def journal(self) -> list[dict[str, Any]]:
        return self.control("GET", "/journal")["requests"]


@pytest.fixture(scope="session")
def emulator_process() -> Iterator[Emulator]:
    """One emulator for the session, on the demo scenario. Tests reset it as they need."""
    with tempfile.TemporaryDirectory(prefix="palwatch-emu-") as workdir:
        ready = Path(workdir) / "ready.json"
        log = open(Path(workdir) / "emulator.log", "wb")  # noqa: SIM115 - closed below
        process = subprocess.Popen(
            [sys.executable, "-m", "emulator", "serve", "--scenario", str(DEMO_SCENARIO), "--port", "0",
             "--ready-file", str(ready)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while not ready.exists():
                if process.poll() is not None:
                    log.flush()
                    raise RuntimeError("emulator exited early:\n" + (Path(workdir) / "emulator.log").read_text()[-3000:])
                if time.monotonic() > deadline:
                    raise RuntimeError("emulator did not become ready in 30s")
                time.sleep(0.05)
            info = json.loads(ready.read_text())
            session = requests.Session()
            session.verify = info["ca_bundle"]
            yield Emulator(info=info, session=session)
        finally:
            _stop(process)
            log.close()


@pytest.fixture
def emulator(emulator_process: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """The emulator reset to the demo scenario, with its settings in the environment."""
    emulator_process.reset()
    emulator_process.control("DELETE", "/faults")
    for name, value in emulator_process.env.items():
        monkeypatch.setenv(name, value)
    return emulator_process
