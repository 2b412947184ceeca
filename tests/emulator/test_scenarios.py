"""The emulator's contract around scenarios: the ready file, the generated bench estate and a
clean stop on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from emulator.control import load_scenario
from emulator.large_scenario import large
from emulator.world import World
from tests.support.services import DEMO_SCENARIO, ROOT

CONTRACT_ENV = {
    "PAL_ARM_ENDPOINT",
    "PAL_GRAPH_ENDPOINT",
    "AZURE_AUTHORITY_HOST",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "REQUESTS_CA_BUNDLE",
    "PAL_MANAGING_TENANT_ID",
    "AZURE_CLIENT_ID",
    "PAL_PARTNER_ID",
    "PAL_IDENTITIES",
    "PAL_GRAPH_CLIENT_STATE",
}


def test_ready_file_contract(emulator, demo):
    info = emulator.info
    assert {"arm", "graph", "authority", "control", "identity_endpoint", "ca_bundle", "env"} <= set(info)
    assert set(info["env"]) >= CONTRACT_ENV
    assert info["env"]["PAL_MANAGING_TENANT_ID"] == demo.home
    assert info["env"]["PAL_PARTNER_ID"] == "5127255"
    entries = json.loads(info["env"]["PAL_IDENTITIES"])
    assert {e["name"]: e["kind"] for e in entries} == {
        "automation": "federated",
        "ops": "secret",
        "deploy": "certificate",
        "portal": "secret",
    }
    for entry in entries:
        setting = entry.get("secretSetting") or entry.get("certificateSetting")
        assert setting is None or info["env"][setting]
    assert emulator.control("GET", "/env")["env"]["PAL_IDENTITIES"] == info["env"]["PAL_IDENTITIES"]


def test_large_estate_loads_with_the_counts_asked_for():
    scenario = large(tenants=60, delegations=300, users=100, groups=5)
    world = World()
    load_scenario(world, scenario)
    assert len(world.delegations) == 300
    assert len([t for t in world.tenants.values() if not t["home"]]) == 61  # 60 customers + Fourth Coffee
    mi = next(p for p in world.principals.values() if p.type == "ManagedIdentity")
    access = world.access(world.home_tenant() or "", mi.object_id)
    held = [d for d in world.delegations.values() if any(a["principalId"] == mi.object_id for a in d.authorizations)]
    assert {d.subscription_id for d in held} <= access.full | set(access.groups)
    assert len(world.activity.by_tenant[world.home_tenant()]) == 300


def test_sigterm_stops_cleanly():
    with tempfile.TemporaryDirectory() as workdir:
        ready = Path(workdir) / "ready.json"
        process = subprocess.Popen(
            [sys.executable, "-m", "emulator", "serve", "--scenario", str(DEMO_SCENARIO), "--ready-file", str(ready)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while not ready.exists() and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.05)
            assert ready.exists()
            ca = Path(json.loads(ready.read_text())["ca_bundle"])
            assert ca.exists()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
            assert not ca.exists()  # the throwaway CA went with it
        finally:
            if process.poll() is None:
                process.kill()
