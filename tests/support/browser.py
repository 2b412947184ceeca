"""Debian's headless Chromium driven through chromedriver's W3C WebDriver HTTP API on loopback,
with the standard library only: open a local page at a given viewport and run a check in it."""

from __future__ import annotations

import contextlib
import http.client
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def binaries() -> tuple[str, str] | None:
    """The browser and its driver, or None where this machine has no Chromium with chromedriver."""
    browser = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(port: int, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One JSON request to the driver on loopback; its `value`."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        data = json.dumps(body if body is not None else {}) if method == "POST" else None
        connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
        return json.loads(connection.getresponse().read())["value"]
    finally:
        connection.close()


class Session:
    """One WebDriver session: every call is a JSON request to the driver on loopback."""

    def __init__(self, port: int, session_id: str) -> None:
        self.port, self.id = port, session_id

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return _request(self.port, method, f"/session/{self.id}{path}", body)

    def show(self, page: Path, width: int, height: int) -> None:
        """Opens the page as a phone or desktop of that CSS width would lay it out."""
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 700}
        self.call("POST", "/goog/cdp/execute", {"cmd": "Emulation.setDeviceMetricsOverride", "params": metrics})
        self.call("POST", "/url", {"url": page.as_uri()})

    def run(self, script: str, *args: Any) -> Any:
        """Runs a script in the page (WebDriver runs it outside the page's CSP) and returns its value."""
        return self.call("POST", "/execute/sync", {"script": script, "args": list(args)})


@contextlib.contextmanager
def chromium(browser: str, driver: str) -> Iterator[Session]:
    """A headless Chromium session; the driver and the browser end with the block."""
    port = _free_port()
    process = subprocess.Popen([driver, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with contextlib.suppress(OSError):
                _request(port, "GET", "/status")
                break
            time.sleep(0.1)
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        options = {"binary": browser, "args": args}
        body = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}}
        session = Session(port, _request(port, "POST", "/session", body)["sessionId"])
        try:
            yield session
        finally:
            with contextlib.suppress(OSError):
                session.call("DELETE", "")
    finally:
        process.terminate()
        process.wait(timeout=30)
