"""Bicep syntax check without the Bicep CLI: every ``.bicep`` file must parse with pycep-parser.

Called by tools/lint-infra.sh (``python -m tools.check_bicep``) and by tests/unit/test_infra.py.
The Bicep CLI and azd cannot be installed on our machines, so this is the syntax gate; checkov
(tools/lint-infra.sh) adds the security lint on top.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pycep import BicepParser

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIRS = ("infra", "customer-onboarding")


def bicep_files(root: Path = ROOT, dirs: Iterable[str] = DEFAULT_DIRS) -> list[Path]:
    """All ``.bicep`` files under the given folders of ``root``, sorted."""
    found: list[Path] = []
    for folder in dirs:
        base = root / folder
        if base.is_dir():
            found.extend(base.rglob("*.bicep"))
    return sorted(found)


def parse_bicep(path: Path) -> dict[str, Any]:
    """The pycep parse tree of one file; raises the parser's error when the syntax is wrong."""
    return BicepParser().parse(file_path=path)


def syntax_errors(paths: Iterable[Path]) -> list[str]:
    """One readable line per file that does not parse (empty when all do)."""
    errors: list[str] = []
    for path in paths:
        try:
            parse_bicep(path)
        except Exception as exc:  # pycep raises lark errors of several kinds
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            errors.append(f"{path}: {type(exc).__name__}: {first}")
    return errors


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m tools.check_bicep [FILE_OR_DIR ...]``; exit 1 on any syntax error."""
    args = sys.argv[1:] if argv is None else argv
    if args:
        paths: list[Path] = []
        for arg in args:
            p = Path(arg)
            paths.extend(sorted(p.rglob("*.bicep")) if p.is_dir() else [p])
    else:
        paths = bicep_files()
    if not paths:
        print("check_bicep: no .bicep files found", file=sys.stderr)
        return 1
    errors = syntax_errors(paths)
    for line in errors:
        print(line, file=sys.stderr)
    print(f"check_bicep: {len(paths) - len(errors)}/{len(paths)} Bicep files parse")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
