"""Recorded traffic for the conformance suite: the engine's real flows on the demo scenario.

`traffic` runs once per package: it resets the emulator, switches on the journal's body
recording, and drives the engine through its Functions entry points (verification, the watch
timer, delegation and identity events decoded as the worker decodes them) and then a handful of
direct calls for the answers no flow provokes (errors, the caller's own link). It hands back
every journal entry with its bodies and every event the emulator emitted; the environment and
the emulator are restored before any test sees the data.
"""

from __future__ import annotations

import pytest

from tests.contracts import recorded
from tests.contracts.conformance import Checker
from tests.contracts.graph_metadata import GraphMetadata
from tests.contracts.recorded import Traffic
from tests.contracts.swagger import Specs
from tests.support.services import Emulator


@pytest.fixture(scope="package")
def specs() -> Specs:
    return Specs.load()


@pytest.fixture(scope="package")
def checker(specs: Specs) -> Checker:
    return Checker(specs, GraphMetadata.load())


@pytest.fixture(scope="package")
def traffic(emulator_process: Emulator, azurite: str) -> Traffic:
    return recorded.record(emulator_process, azurite)
