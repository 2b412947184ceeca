"""`make screenshot`: the README's sample alert, rendered from the demo's own alert mail.

Takes the demo's critical alert (.run/inbox, written by `make run`; the demo runs first when the
inbox is empty), writes its HTML part to a file and has headless Chromium (Debian's `chromium`
package) photograph it into docs/sample-alert.png. Nothing is drawn by hand: the image is what the
ops inbox receives.
"""

from __future__ import annotations

import email
import email.policy
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from scripts import services

INBOX = services.ROOT / ".run" / "inbox"
IMAGE = services.ROOT / "docs" / "sample-alert.png"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def critical_alert(inbox: Path = INBOX) -> str:
    """The HTML of the first alert mail that carries a critical finding."""
    for path in sorted(inbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if "critical" in str(message["Subject"]).lower():
            return message.get_body(("html",)).get_content()
    raise SystemExit(f"no critical alert in {inbox}: run `make run` first")


def main() -> int:
    browser = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if browser is None:
        print("make screenshot needs Chromium: apt-get install -y chromium", file=sys.stderr)
        return 1
    if not list(INBOX.glob("*.eml")):
        subprocess.run([sys.executable, "-m", "scripts.demo"], cwd=services.ROOT, check=True, stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory(prefix="palwatch-shot-") as workdir:
        page = Path(workdir) / "alert.html"
        page.write_text(critical_alert(), encoding="utf-8")
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--force-device-scale-factor=1", "--window-size=820,1300", f"--user-data-dir={workdir}/profile",
             f"--screenshot={IMAGE}", page.as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    print(f"wrote {IMAGE.relative_to(services.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
