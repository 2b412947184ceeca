"""`make sandbox` prints export lines a shell reads back exactly, PEMs and all."""

from __future__ import annotations

import subprocess

from scripts import sandbox, services

PEM = "-----BEGIN PRIVATE KEY-----\nMIIB'quoted' $HOME `x`\n-----END PRIVATE KEY-----\n"


def test_exports_survive_a_shell_round_trip() -> None:
    emulator = services.Emulator(info={"env": {"PAL_IDENTITY_DEPLOY_CERT": PEM}, "ca_bundle": "/dev/null"})
    lines = sandbox.exports(emulator, "UseDevelopmentStorage=true")

    script = "\n".join([*lines, 'printf %s "$PAL_IDENTITY_DEPLOY_CERT"'])
    echoed = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout

    assert echoed == PEM
    assert "export AzureWebJobsStorage=UseDevelopmentStorage=true" in lines
