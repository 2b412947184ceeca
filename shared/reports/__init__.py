"""Reports: where attribution stands, for people (terminal, HTML page) and machines (JSON).

Called by `shared.cli` (`palwatch report`, `palwatch findings`, `palwatch verify`), the
`coverage` HTTP function and the demo, with what the store returns (`store.Coverage`, or
None before the first verify, and `model.RecordedFinding`s). Everything here is pure: no
I/O, no clock, no settings; every string a customer controls is cleaned for the terminal
(`text`) or escaped for HTML (`page`).

- `coverage_table(coverage, *, width=None) -> str`
- `coverage_json(coverage) -> dict`
- `coverage_html(coverage, *, title=...) -> str`
- `coverage_csv(coverage) -> str`
- `findings_table(recorded, *, width=None) -> str`
- `findings_json(recorded) -> list[dict]`
"""

from __future__ import annotations

from shared.reports.coverage import coverage_json, coverage_table
from shared.reports.findings import findings_json, findings_table
from shared.reports.page import coverage_html
from shared.reports.spreadsheet import coverage_csv

__all__ = ["coverage_csv", "coverage_html", "coverage_json", "coverage_table", "findings_json", "findings_table"]
