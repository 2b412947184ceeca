"""Debian's headless Chromium, driven by Selenium through Debian's chromedriver on loopback: open a
local page at a given device width and run a check in it. No browser or driver is downloaded."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def binaries() -> tuple[str, str] | None:
    """The browser and its driver, or None where this machine has no Chromium with chromedriver."""
    browser = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


class Session:
    """One browser session: show a page at a device width, run a script in it."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def show(self, page: Path, width: int, height: int) -> None:
        """Opens the page as a phone or desktop of that CSS width would lay it out."""
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 700}
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        self.driver.get(page.as_uri())

    def run(self, script: str, *args: Any) -> Any:
        """Runs a script in the page (WebDriver runs it outside the page's CSP) and returns its value."""
        return self.driver.execute_script(script, *args)


@contextlib.contextmanager
def chromium(browser: str, driver: str) -> Iterator[Session]:
    """A headless Chromium session; the driver and the browser end with the block."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    session = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    try:
        yield Session(session)
    finally:
        session.quit()
