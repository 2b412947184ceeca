"""`palwatch doctor` tells a connection that failed (an untrusted CA, a proxy) from a credential that
was refused, each with its own fix, and skips the partner ID check when no link could be read:
through `cli.main`, over the emulator."""

from __future__ import annotations

import json
import ssl

from shared import cli
from tests.support.services import free_port


def _doctor(capsys) -> dict[str, dict]:
    cli.main(["doctor", "-o", "json"])
    return {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}


def test_an_untrusted_ca_is_a_tls_failure_with_its_fix_not_a_refused_secret(emulator, palwatch, monkeypatch, capsys):
    system_bundle = ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", system_bundle)  # trusts real CAs, not the emulator's
    checks = _doctor(capsys)

    tokens = {n: c for n, c in checks.items() if n.startswith("token: ") and n != "token: managed-identity"}
    assert tokens
    for name, check in tokens.items():
        assert check["status"] == "FAIL", name
        assert "credential reset" not in check["fix"], (name, check["fix"])
        assert "was refused" not in check["fix"].replace("no credential was refused", ""), (name, check["fix"])
        assert "REQUESTS_CA_BUNDLE" in check["fix"], (name, check["fix"])
    assert checks["partner ID"]["status"] == "SKIP"


def test_a_proxy_that_refuses_is_said_as_such(emulator, palwatch, monkeypatch, capsys):
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.delenv("no_proxy", raising=False)
    checks = _doctor(capsys)

    failing = {n: c for n, c in checks.items() if c["status"] == "FAIL"}
    assert failing
    for name, check in failing.items():
        assert "credential reset" not in check["fix"], (name, check["fix"])
    assert any("HTTPS_PROXY" in c["fix"] for c in failing.values())
