"""`http.EnvironmentOnceSession`: what requests reads from the environment, read once, still honoured."""

from __future__ import annotations

import pytest
import requests

from shared.azure import http


def test_the_ca_bundle_variable_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/emulator-ca.pem")
    session = http.EnvironmentOnceSession()
    assert session.trust_env is False
    assert session.verify == "/etc/emulator-ca.pem"
    # An SDK transport passes verify=True on every call: the bundle still wins, as with trust_env.
    merged = session.merge_environment_settings("https://arm.example/x", {}, None, True, None)
    assert merged["verify"] == "/etc/emulator-ca.pem"
    assert session.merge_environment_settings("https://arm.example/x", {}, None, False, None)["verify"] is False


def test_curl_ca_bundle_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/curl-ca.pem")
    assert http.EnvironmentOnceSession().verify == "/etc/curl-ca.pem"


def test_without_a_bundle_verification_stays_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    session = http.EnvironmentOnceSession()
    assert session.verify is True
    assert session.merge_environment_settings("https://arm.example/", {}, None, None, None)["verify"] is True


def test_proxies_and_no_proxy_are_honoured_and_read_once_per_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    session = http.EnvironmentOnceSession()
    proxied = session.merge_environment_settings("https://management.example/a", {}, None, None, None)
    assert proxied["proxies"].get("https") == "http://proxy.corp:3128"
    direct = session.merge_environment_settings("https://internal.example/a", {}, None, None, None)
    assert "https" not in direct["proxies"]
    calls: list[str] = []
    monkeypatch.setattr(requests.utils, "get_environ_proxies", lambda url, no_proxy=None: calls.append(url) or {})
    for _ in range(5):
        session.merge_environment_settings("https://management.example/other", {}, None, None, None)
    assert calls == []  # the origin was resolved already


def test_sessions_we_build_do_not_read_the_environment_per_request() -> None:
    assert http.new_session().trust_env is False
    assert http.transport_session().trust_env is False


def test_the_pool_is_as_large_as_the_concurrency() -> None:
    for session in (http.new_session(pool_size=32), http.transport_session(pool_size=32)):
        adapter = session.get_adapter("https://management.azure.com/")
        assert adapter._pool_maxsize == 32
