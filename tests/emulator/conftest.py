"""Helpers for the emulator's own tests: the demo scenario's principals by name, raw HTTPS
calls with a bearer token, and azure-identity credentials pointed at the emulator."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.conftest import DEMO_SCENARIO, Emulator

# A machine-wide REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE (the system bundle) would override the
# session's `verify=ca_bundle` in requests before the `emulator` fixture patches the variable
# to the emulator's CA; drop them so the shared session trusts the emulator from the start.
for _name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
    os.environ.pop(_name, None)

ARM_SCOPE = "https://management.azure.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


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


@dataclass
class Caller:
    """Raw HTTPS calls to the emulator as one principal (token minted by the control API)."""

    emulator: Emulator
    token: str

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        url = path if path.startswith("https://") else self.emulator.info["arm"] + path
        return self.emulator.session.request(method, url, headers=headers, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)


def caller(
    emulator: Emulator, object_id: str, audience: str = "https://management.azure.com/", tenant: str | None = None
) -> Caller:
    body: dict[str, Any] = {"objectId": object_id, "audience": audience}
    if tenant:
        body["tenantId"] = tenant
    return Caller(emulator, emulator.control("POST", "/tokens", body)["access_token"])


def identities(emulator: Emulator) -> dict[str, dict[str, Any]]:
    return {i["name"]: i for i in json.loads(emulator.env["PAL_IDENTITIES"])}
