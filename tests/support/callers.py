"""Raw HTTPS calls to the emulator as one principal, with a token its control API mints: what the
emulator's own tests and the conformance probes send where no SDK client would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import requests

from tests.support import demo
from tests.support.services import Emulator

ARM_SCOPE = "https://management.azure.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
ARM_AUDIENCE = "https://management.azure.com/"
GRAPH_AUDIENCE = "https://graph.microsoft.com"


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


def caller(emulator: Emulator, object_id: str, audience: str = ARM_AUDIENCE, tenant: str | None = None) -> Caller:
    body: dict[str, Any] = {"objectId": object_id, "audience": audience}
    if tenant:
        body["tenantId"] = tenant
    return Caller(emulator, emulator.control("POST", "/tokens", body)["access_token"])


def identities(emulator: Emulator) -> dict[str, dict[str, Any]]:
    """name -> the acting identity as the emulator's PAL_IDENTITIES setting lists it."""
    return {i["name"]: i for i in json.loads(emulator.env["PAL_IDENTITIES"])}


class Probe:
    """Raw HTTPS calls to the emulator as one principal, with a token minted by the control API."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self._tokens: dict[tuple[str, str], str] = {}

    def token(self, object_id: str, audience: str = ARM_AUDIENCE) -> str:
        if (object_id, audience) not in self._tokens:
            answer = self.emulator.control("POST", "/tokens", {"objectId": object_id, "audience": audience})
            self._tokens[(object_id, audience)] = answer["access_token"]
        return self._tokens[(object_id, audience)]

    def call(
        self, method: str, path: str, who: str | None = demo.MI.object_id, *, graph: bool = False, **kwargs: Any
    ) -> Any:
        headers = (
            {"Authorization": f"Bearer {self.token(who, GRAPH_AUDIENCE if graph else ARM_AUDIENCE)}"} if who else {}
        )
        base = self.emulator.info["graph" if graph else "arm"]
        return self.emulator.session.request(method, base + path, headers=headers, timeout=30, **kwargs)
