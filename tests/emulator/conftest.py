"""Fixtures for the emulator's own tests: the demo scenario as data, so tests name principals
instead of copying GUIDs (raw calls as one principal are in tests.support.callers)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.services import DEMO_SCENARIO


@dataclass
class Demo:
    """The demo scenario as data, so tests name principals instead of copying GUIDs."""

    scenario: dict[str, Any]

    @property
    def home(self) -> str:
        return next(t["tenantId"] for t in self.scenario["tenants"] if t.get("home"))

    def tenant(self, display_prefix: str) -> dict[str, Any]:
        return next(t for t in self.scenario["tenants"] if t["displayName"].startswith(display_prefix))

    def principal(self, display_name: str, tenant: str | None = None) -> dict[str, Any]:
        for t in self.scenario["tenants"]:
            if tenant and t["tenantId"] != tenant:
                continue
            for p in t["principals"]:
                if p["displayName"] == display_name:
                    return p
        raise KeyError(display_name)

    def delegation(self, description_part: str) -> dict[str, Any]:
        return next(d for d in self.scenario["delegations"] if f"({description_part})" in d["description"])


@pytest.fixture
def demo() -> Demo:
    return Demo(json.loads(DEMO_SCENARIO.read_text()))
