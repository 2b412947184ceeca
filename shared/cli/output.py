"""How every `palwatch` command prints its result: Azure CLI's `-o/--output` and `--query`.

Commands hand `emit` a JSON-ready value and, for `-o table`, a function that draws their own
table. `--query` is JMESPath over that value, as in `az`; `tsv` prints scalars tab-separated,
one row per list item (nested objects and lists are left out, as `az` does); `none` prints
nothing, for scripts that want only the exit code.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

FORMATS = ("json", "jsonc", "table", "tsv", "yaml", "none", "csv", "html")
EMPTY = "Nothing to list."


class QueryError(ValueError):
    """The `--query` expression is not valid JMESPath."""


def apply_query(value: Any, query: str | None) -> Any:
    if not query:
        return value
    import jmespath
    from jmespath import exceptions

    try:
        return jmespath.search(query, value)
    except exceptions.JMESPathError as e:
        raise QueryError(f"--query {query!r} is not valid JMESPath: {' '.join(str(e).split())}") from e


def render(value: Any, fmt: str, *, table: Callable[[], str] | None = None, color: bool = False) -> str:
    """`value` as text in `fmt`; `table` draws the command's own table (used when no query reshaped it)."""
    if fmt == "html":
        raise QueryError("-o html is the coverage page of `palwatch report`; this command prints table, json or tsv")
    if fmt == "table":
        return table().rstrip("\n") + "\n" if table is not None else _generic_table(value)
    if fmt == "jsonc" and color:
        return _colored_json(value) + "\n"
    return _RENDERERS[fmt](value)


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def _yaml(value: Any) -> str:
    import yaml

    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True)


def _tsv(value: Any) -> str:
    return "".join("\t".join(_scalar(v) for v in row) + "\n" for row in _rows(value))


def _rows(value: Any) -> list[list[Any]]:
    items = value if isinstance(value, list) else [value]
    rows = []
    for item in items:
        if isinstance(item, dict):
            rows.append([v for v in item.values() if not isinstance(v, dict | list)])
        elif not isinstance(item, list):
            rows.append([item])
    return rows


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return " ".join(str(value).split())  # one line a row: tabs and newlines would break the columns


def _csv(value: Any) -> str:
    import csv
    import io

    items = value if isinstance(value, list) else [value]
    dicts = [i for i in items if isinstance(i, dict)]
    out = io.StringIO()
    if not dicts:
        writer = csv.writer(out)
        for item in items:
            writer.writerow([_scalar(item)])
        return out.getvalue()
    columns = [k for k, v in dicts[0].items() if not isinstance(v, dict | list)]
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for item in dicts:
        writer.writerow({k: _scalar(item.get(k)) for k in columns})
    return out.getvalue()


def _generic_table(value: Any) -> str:
    if value in ([], None, {}):
        return EMPTY + "\n"
    items = value if isinstance(value, list) else [value]
    dicts = [i for i in items if isinstance(i, dict)]
    if not dicts:
        return "".join(_scalar(i) + "\n" for i in items)
    columns = [k for k, v in dicts[0].items() if not isinstance(v, dict | list)]
    cells = [[_scalar(d.get(c)) for c in columns] for d in dicts]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines) + "\n"


def _colored_json(value: Any) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False)
    import re

    key = re.compile(r'^(\s*)("(?:[^"\\]|\\.)*")(:)', re.MULTILINE)
    return key.sub(lambda m: f"{m.group(1)}\033[36m{m.group(2)}\033[0m{m.group(3)}", text)


_RENDERERS: dict[str, Callable[[Any], str]] = {
    "json": _json,
    "jsonc": _json,
    "yaml": _yaml,
    "tsv": _tsv,
    "csv": _csv,
    "none": lambda _value: "",
}


def is_terminal() -> bool:
    return sys.stdout.isatty()
