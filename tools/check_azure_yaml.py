"""Validates ``azure.yaml`` against the local copy of azd's schema (tools/schemas/azure.yaml.json).

Called by tools/lint-infra.sh (``python -m tools.check_azure_yaml``) and tests/unit/test_infra.py.
azd cannot be installed here, and the schema is not fetched at lint time: the copy is offline.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = Path(__file__).resolve().parent / "schemas" / "azure.yaml.json"


def load_yaml(path: Path) -> Any:
    """The YAML document at ``path`` as plain Python data."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def schema_errors(document: Any, schema_path: Path = SCHEMA) -> list[str]:
    """Every schema violation as ``location: message`` (empty when valid)."""
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    validator = jsonschema.Draft201909Validator(schema)
    found = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}" for e in found]


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m tools.check_azure_yaml [PATH]``; exit 1 when invalid."""
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else ROOT / "azure.yaml"
    errors = schema_errors(load_yaml(path))
    for line in errors:
        print(f"{path}: {line}", file=sys.stderr)
    print(f"check_azure_yaml: {path.name} {'invalid' if errors else 'valid'} against the local azd schema")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
