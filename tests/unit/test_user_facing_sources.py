"""What an operator reads cites only what the repository holds or the public web: no notes kept
outside it (the team's reference files are not shipped)."""

from __future__ import annotations

import re
import subprocess

from tests.support.services import ROOT

USER_FACING = ("README.md", "docs/", "emulator/README.md", "infra/", "customer-onboarding/", "scripts/")
OUTSIDE = re.compile(r"azure-facts|team-notes|facts §\d|shared/reference/")


def test_nothing_user_facing_cites_files_outside_the_repository():
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    found = []
    for name in listed:
        if name.startswith(USER_FACING) and not name.endswith((".png", ".jpg")):
            for number, line in enumerate((ROOT / name).read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                if OUTSIDE.search(line):
                    found.append(f"{name}:{number}: {line.strip()[:100]}")
    assert not found, "\n".join(found)


def test_the_readme_starts_with_what_an_operator_needs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    top = readme.split("\n## ", 1)[0]
    assert "](docs/sample-alert.png)" in top
    assert (ROOT / "docs" / "sample-alert.png").stat().st_size > 10_000
    deploy = top[top.index("**Deploy**") :]
    assert deploy.index("PAL_MODE observe") < deploy.index("PAL_MODE repair")
    assert top.index("```bash\nmake run") > top.index("**Deploy**")
    assert "make test" in top
    steps = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    one, rest = steps.split("\n2. ", 1)
    assert "azd env set PAL_MODE observe" in one
    assert "azd env set PAL_MODE repair" in rest
    assert "PAL_COST true" in rest.split("\n3. ", 1)[0]
