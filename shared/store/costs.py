"""The cost cache: each delegated scope's last-full-month cost, as the daily snapshot read it.

Written by the cost snapshot (`shared.usecases.costs`), read by alerts, reports and the digest
through `Store.costs` (so nothing on those paths queries Cost Management). One row per scope
(lower case) in the `Costs` table, with the month, when it was read, the currency, the charge
lines and, when the scope could not be read, why.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from shared import money
from shared.store import codec, keys, tables

TABLE = "Costs"
_PK = "scope"


class CostCache:
    """Facade over the Costs table (built by `Store.costs`)."""

    def __init__(self, tables_: tables.Tables) -> None:
        self._t = tables_

    def put_many(self, costs: Iterable[money.ScopeCost]) -> None:
        """Store many costs, up to 100 to a table transaction (one partition holds them all)."""
        from azure.data.tables import UpdateMode

        rows = list({r["RowKey"]: r for r in map(_row, costs)}.values())  # one operation per row
        client = self._t.table(TABLE)
        for start in range(0, len(rows), tables.BATCH):
            operations = [("upsert", r, {"mode": UpdateMode.REPLACE}) for r in rows[start : start + tables.BATCH]]
            tables.submit(client, operations, "write costs")

    def get(self, scope: str) -> money.ScopeCost | None:
        entity = tables.get(self._t.table(TABLE), _PK, keys.encode_key(scope.lower()))
        return _cost(entity) if entity is not None else None

    def all(self) -> dict[str, money.ScopeCost]:
        """Scope (lower case) -> cached cost."""
        found = (_cost(e) for e in tables.query(self._t.table(TABLE), "PartitionKey eq @pk", {"pk": _PK}))
        return {c.scope.lower(): c for c in found if c is not None}

    def for_scopes(self, scopes: Iterable[str]) -> dict[str, money.ScopeCost]:
        wanted = {s.lower() for s in scopes if s}
        if not wanted:
            return {}
        if len(wanted) <= 5:
            return {s: c for s in wanted if (c := self.get(s)) is not None}
        return {s: c for s, c in self.all().items() if s in wanted}


def _row(cost: money.ScopeCost) -> dict[str, Any]:
    return {
        "PartitionKey": _PK,
        "RowKey": keys.encode_key(cost.scope.lower()),
        "Scope": cost.scope,
        "Month": cost.month,
        "ReadAt": codec.iso(cost.read_at),
        "Status": cost.status.value,
        "Currency": cost.currency,
        "Lines": codec.text(
            json.dumps([[ln.cost, ln.pricing_model, ln.publisher_type, ln.currency] for ln in cost.lines])
        ),
        "Detail": codec.text(cost.detail)[:1000],
    }


def _cost(entity: Any) -> money.ScopeCost | None:
    try:
        raw = json.loads(entity.get("Lines") or "[]")
        lines = tuple(money.ChargeLine(float(c), str(m), str(p), str(cur)) for c, m, p, cur in raw)
        status = money.CostStatus(entity.get("Status") or "ok")
    except (ValueError, TypeError):
        return None  # a row this version cannot read: as if never read, the snapshot reads it again
    return money.ScopeCost(
        scope=str(entity.get("Scope") or ""),
        month=str(entity.get("Month") or ""),
        read_at=codec.when(entity.get("ReadAt")) or datetime.min,
        status=status,
        currency=str(entity.get("Currency") or ""),
        lines=lines,
        detail=str(entity.get("Detail") or ""),
    )
