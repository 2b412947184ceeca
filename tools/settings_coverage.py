"""Every app setting the engine reads must be set by the Bicep and documented.

The settings are the rows of ``shared.settings.SETTINGS`` (each may say why infra/ does not set
it), plus any other string literal in the engine's Python source (``function_app.py``,
``shared/**/*.py``) that names a setting (``PAL_*`` and the standard names: the
``AzureWebJobsStorage`` family, ``AZURE_CLIENT_ID``, ``AZURE_AUTHORITY_HOST``, ``IDENTITY_*``,
``REQUESTS_CA_BUNDLE``): binding expressions, adapters' own reads. Each must be an app-setting key
in ``infra/**/*.bicep`` and be mentioned in ``README.md`` or ``docs/deploy.md``.
Called by tests/unit/test_settings_coverage.py and tools/lint-infra.sh
(``python -m tools.settings_coverage``).
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from shared.settings import SETTINGS, Setting

ROOT = Path(__file__).resolve().parent.parent
SOURCE_GLOBS = ("function_app.py", "shared/**/*.py")
DOC_FILES = ("README.md", "docs/deploy.md")

# A whole name, not a prefix: "PAL_IDENTITY_" in f"PAL_IDENTITY_{x}" is skipped.
_NAME = r"(?<![A-Za-z0-9_])({})(?![A-Za-z0-9_])"
SETTING_PATTERNS = (
    re.compile(_NAME.format(r"PAL_[A-Z0-9_]*[A-Z0-9]")),
    re.compile(_NAME.format(r"AzureWebJobsStorage(?:__[A-Za-z]+)?")),
    re.compile(_NAME.format(r"AZURE_CLIENT_ID|AZURE_AUTHORITY_HOST|IDENTITY_ENDPOINT|IDENTITY_HEADER")),
    re.compile(_NAME.format(r"REQUESTS_CA_BUNDLE")),
)

# Read by the code but deliberately not set by infra/ (still documented). Why, for each: the
# table's own reasons, and those of the names read outside it.
NOT_SET_BY_INFRA: dict[str, str] = {
    **{setting.env: setting.not_in_infra for setting in SETTINGS if setting.not_in_infra},
    "IDENTITY_HEADER": "injected by the Functions platform for the managed identity",
    "REQUESTS_CA_BUNDLE": "only for the local emulator's throwaway CA",
}
TABLE = "shared/settings/table.py (SETTINGS)"

# Settings whose names are data, not code: a PAL_IDENTITIES entry names the setting that holds
# its secret or PEM ("secretSetting"/"certificateSetting"). infra/ sets them through the
# `keyVaultSettings` parameter (Key Vault references); the docs describe the family once.
DYNAMIC_FAMILIES: dict[str, re.Pattern[str]] = {
    "PAL_IDENTITY_*": re.compile(r"PAL_IDENTITY_[A-Z0-9_]+"),
}


@dataclass
class Gap:
    """One setting the code reads that infra/ or the docs miss."""

    name: str
    read_at: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # "infra" and/or "docs"

    def advice(self) -> str:
        """A line saying where the name is read and exactly what to add where."""
        fixes = []
        if "infra" in self.missing:
            fixes.append(
                "set it in infra/: add it to `palSettings` in infra/main.bicep (with a param and a "
                "main.parameters.json entry) or to `platformSettings` in infra/app/api.bicep; or, if Azure "
                "must not set it, add it with a reason to NOT_SET_BY_INFRA in tools/settings_coverage.py"
            )
        if "docs" in self.missing:
            fixes.append("document it: add a row to the settings table in docs/deploy.md")
        where = ", ".join(self.read_at[:3]) + (" ..." if len(self.read_at) > 3 else "")
        return f"{self.name} (read at {where}): " + "; ".join(fixes)


def _source_files(root: Path) -> list[Path]:
    files: set[Path] = set()
    for pattern in SOURCE_GLOBS:
        files.update(p for p in root.glob(pattern) if p.is_file())
    return sorted(files)


def settings_declared(rows: tuple[Setting, ...] = SETTINGS) -> dict[str, list[str]]:
    """Setting name -> [the table] for every row of the settings table."""
    return {setting.env: [TABLE] for setting in rows}


def settings_read_by_code(root: Path = ROOT) -> dict[str, list[str]]:
    """Setting name -> where it is read: the table's rows (for this repository), then each
    ``file:line`` where a string literal names it."""
    found: dict[str, list[str]] = settings_declared() if root == ROOT else {}
    for path in _source_files(root):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except SyntaxError:
            continue  # a file being written right now; ruff reports it
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for pattern in SETTING_PATTERNS:
                    for name in pattern.findall(node.value):
                        where = f"{path.relative_to(root)}:{node.lineno}"
                        found.setdefault(name, []).append(where)
    return found


def _strip_bicep_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    return re.sub(r"(?m)//.*$", "", text)


def settings_set_by_infra(root: Path = ROOT) -> set[str]:
    """Names used as object keys (``NAME:`` or ``'NAME':``) in any ``infra/**/*.bicep``."""
    keys: set[str] = set()
    key = re.compile(r"(?m)^\s*'?([A-Za-z_][A-Za-z0-9_]*)'?\s*:")
    for path in sorted((root / "infra").rglob("*.bicep")):
        keys.update(key.findall(_strip_bicep_comments(path.read_text(encoding="utf-8"))))
    return keys


def documented_names(root: Path = ROOT) -> str:
    """The text of README.md and docs/deploy.md (whichever exist), joined."""
    return "\n".join((root / name).read_text(encoding="utf-8") for name in DOC_FILES if (root / name).is_file())


def is_documented(name: str, docs: str) -> bool:
    """True when ``name`` appears in the docs as a whole word."""
    return re.search(_NAME.format(re.escape(name)), docs) is not None


def find_gaps(root: Path = ROOT, names: dict[str, list[str]] | None = None) -> list[Gap]:
    """The settings read by the code (or the given ``names``) that infra/ or the docs miss."""
    read = settings_read_by_code(root) if names is None else names
    infra = settings_set_by_infra(root)
    docs = documented_names(root)
    gaps: list[Gap] = []
    families: dict[str, Gap] = {}
    for name in sorted(read):
        family = next((f for f, rx in DYNAMIC_FAMILIES.items() if rx.fullmatch(name)), None)
        if family is not None:
            if family not in docs:
                gap = families.setdefault(family, Gap(family, [], ["docs"]))
                gap.read_at.extend(read[name])
            continue
        missing = []
        if name not in infra and name not in NOT_SET_BY_INFRA:
            missing.append("infra")
        if not is_documented(name, docs):
            missing.append("docs")
        if missing:
            gaps.append(Gap(name, read[name], missing))
    return sorted([*gaps, *families.values()], key=lambda g: g.name)


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m tools.settings_coverage [ROOT]``; exit 1 when a setting is missed."""
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]).resolve() if args else ROOT
    read = settings_read_by_code(root)
    gaps = find_gaps(root, read)
    for gap in gaps:
        print(gap.advice(), file=sys.stderr)
    print(f"settings_coverage: {len(read) - len(gaps)}/{len(read)} settings read by the code are set and documented")
    return 1 if gaps else 0


if __name__ == "__main__":
    sys.exit(main())
