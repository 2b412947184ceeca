"""Fixtures every test shares: a loopback-only network, Azurite and the emulator.

The services are started by tests.support.services once per session (once per xdist worker), on
free ports, and stopped at the end, so that `make test` needs nothing running beforehand. Tests
never reach anything but loopback: a guard refuses any other address, and `IDENTITY_ENDPOINT`
always points at loopback so that azure-identity never falls back to the cloud metadata address.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from tests.support import services
from tests.support.services import Emulator

# Set before anything imports azure-identity: no test may reach the metadata endpoint.
os.environ["IDENTITY_ENDPOINT"] = "http://127.0.0.1:9/msi/token"
os.environ["IDENTITY_HEADER"] = "tests-no-identity"
for _name in ("MSI_ENDPOINT", "MSI_SECRET", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "IMDS_ENDPOINT"):
    os.environ.pop(_name, None)
# A machine-wide REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE (the system bundle) would override a session's
# `verify=ca_bundle` in requests before the `emulator` fixture points the variable at the
# emulator's CA; dropped so that every client trusts the emulator from the start.
for _name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
    os.environ.pop(_name, None)


# CI replays the same examples every run (a landing must not hinge on a lucky draw); local runs
# explore new ones. `HYPOTHESIS_PROFILE=explore` overrides. No per-example deadline in CI: on a
# loaded 2-core machine a pure example can take longer than 200 ms, which says nothing about it.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None)
# Locally a pure example still gets a deadline, but one a loaded machine does not miss (Hypothesis's
# 200 ms default reads load as a flaky example); the trigger-driven properties have their own
# (`tests.campaign.PROPERTIES`).
hypothesis_settings.register_profile("explore", print_blob=True, deadline=timedelta(seconds=5))
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
    """A fresh in-memory Azurite table service (one per xdist worker); yields its connection string."""
    yield from services.azurite()


@pytest.fixture(scope="session")
def emulator_process() -> Iterator[Emulator]:
    """One emulator per xdist worker, on the demo scenario. Tests reset it as they need."""
    yield from services.emulator()


@pytest.fixture
def emulator(emulator_process: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """The emulator reset to the demo scenario, with its settings in the environment."""
    return services.on_demo(emulator_process, monkeypatch)


@pytest.fixture
def palwatch(emulator: Emulator, azurite: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The engine as the function app builds it: emulator settings, a fresh set of tables on Azurite."""
    yield from services.palwatch(azurite, monkeypatch)
