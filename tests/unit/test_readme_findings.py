"""README's finding table names every kind of finding the catalogue can build.

The table ("What the ops inbox hears about") is what an operator reads to learn what an alert
means; a kind added to `catalogue.Kind` without a row there is an alert nobody explained.
"""

from __future__ import annotations

import re
from pathlib import Path

from shared import catalogue

README = Path(__file__).resolve().parents[2] / "README.md"


def _table_kinds(text: str) -> set[str]:
    """The first cell's backticked name of each row of the finding table."""
    start = text.index("### What the ops inbox hears about")
    rows = text[start:].split("\n\n", 2)[1]
    return {m.group(1) for line in rows.splitlines() if (m := re.match(r"\| `([a-z_]+)`", line))}


def test_every_kind_has_a_row_in_the_readme_finding_table() -> None:
    documented = _table_kinds(README.read_text(encoding="utf-8"))
    assert documented, "the README finding table was not found or has no rows"
    missing = sorted(k.value for k in catalogue.Kind if k.value not in documented)
    assert not missing, f"README.md's finding table has no row for: {', '.join(missing)}"
