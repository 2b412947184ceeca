"""Fixtures every test shares: a loopback-only network, Azurite and the emulator.

The services are started once per session, on free ports, and stopped at the end, so that
`make test` needs nothing running beforehand. Tests never reach anything but loopback: a
guard refuses any other address, and `IDENTITY_ENDPOINT` always points at loopback so that
azure-identity never falls back to the cloud metadata address.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from scripts import services
from scripts.services import DEMO_SCENARIO, ROOT, Emulator, free_port

__all__ = ["DEMO_SCENARIO", "ROOT", "Emulator", "free_port"]

# Set before anything imports azure-identity: no test may reach the metadata endpoint.
os.environ["IDENTITY_ENDPOINT"] = "http://127.0.0.1:9/msi/token"
os.environ["IDENTITY_HEADER"] = "tests-no-identity"
for _name in ("MSI_ENDPOINT", "MSI_SECRET", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "IMDS_ENDPOINT"):
    os.environ.pop(_name, None)


# CI replays the same examples every run (a landing must not hinge on a lucky draw); local runs
# explore new ones. `HYPOTHESIS_PROFILE=explore` overrides. No per-example deadline in CI: on a
# loaded 2-core machine a pure example can take longer than 200 ms, which says nothing about it.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None)
hypothesis_settings.register_profile("explore", print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "explore"))


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


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    """A fresh in-memory Azurite table service; yields its connection string."""
    with services.azurite() as connection_string:
        yield connection_string


@pytest.fixture(scope="session")
def emulator_process() -> Iterator[Emulator]:
    """One emulator for the session, on the demo scenario. Tests reset it as they need."""
    with services.emulator() as running:
        yield running


@pytest.fixture
def emulator(emulator_process: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """The emulator reset to the demo scenario, with its settings in the environment."""
    emulator_process.reset()
    emulator_process.control("DELETE", "/faults")
    for name, value in emulator_process.env.items():
        monkeypatch.setenv(name, value)
    return emulator_process


@pytest.fixture
def palwatch(emulator: Emulator, azurite: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The engine as the function app builds it: emulator settings, a fresh set of tables on Azurite."""
    import uuid

    from shared.usecases import engine

    monkeypatch.setenv("AzureWebJobsStorage", azurite)
    monkeypatch.setenv("PAL_TABLE_PREFIX", "t" + uuid.uuid4().hex[:12])
    engine.reset_engine()
    yield engine.get_engine()
    engine.reset_engine()


def decode_event(event: dict[str, Any]) -> Any:
    """An Event Grid event (either schema) exactly as the Functions worker hands it to a trigger."""
    import json

    from azure.functions import meta
    from azure.functions.eventgrid import EventGridEventInConverter

    return EventGridEventInConverter.decode(meta.Datum(json.dumps(event), "json"), trigger_metadata={})
