"""What Microsoft's billing export said: per scope and complete day, the billed amount and the credit applied;
and the Azure subscriptions the export names (the partner's own CSP business).

Written by the credit snapshot (`shared.usecases.credit`), read through `Store.billing` by the
coverage view and reports ("credited: 15 % of $X (Microsoft billing)") and by the recognition
decisions (`csp_subscriptions`). Table `Credit`: partition `day` (one row per scope and day) and
partition `subscription` (one row per Azure subscription id, with its customer tenant).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from shared.snapshots import ObservedCredit
from shared.store import codec, keys, tables

TABLE = "Credit"
_DAYS = "day"
_SUBSCRIPTIONS = "subscription"


class BillingRecord:
    """Facade over the Credit table (built by `Store.billing`)."""

    def __init__(self, tables_: tables.Tables) -> None:
        self._t = tables_

    def _upsert(self, rows: Iterable[dict[str, Any]], what: str) -> int:
        from azure.data.tables import UpdateMode

        unique = list({r["RowKey"]: r for r in rows}.values())  # one operation per row in a transaction
        client = self._t.table(TABLE)
        for start in range(0, len(unique), tables.BATCH):
            operations = [("upsert", r, {"mode": UpdateMode.REPLACE}) for r in unique[start : start + tables.BATCH]]
            tables.submit(client, operations, what)
        return len(unique)

    def put_observed(self, rows: Iterable[ObservedCredit], read_at: datetime) -> int:
        """Keep each scope's complete days, in table transactions of up to 100."""
        return self._upsert((_day_row(r, read_at) for r in rows), "write observed credit")

    def put_subscriptions(self, customers: Mapping[str, str], read_at: datetime) -> int:
        """Azure subscription id -> customer tenant id, for every subscription the export named."""
        return self._upsert(
            (
                {
                    "PartitionKey": _SUBSCRIPTIONS,
                    "RowKey": keys.encode_key(sub.lower()),
                    "SubscriptionId": sub.lower(),
                    "CustomerId": tenant,
                    "SeenAt": codec.iso(read_at),
                }
                for sub, tenant in customers.items()
            ),
            "write billed subscriptions",
        )

    def csp_subscriptions(self) -> frozenset[str]:
        """The Azure subscriptions Microsoft's billing export named: the partner's CSP business (lower case)."""
        found = tables.query(self._t.table(TABLE), "PartitionKey eq @pk", {"pk": _SUBSCRIPTIONS})
        return frozenset(str(e.get("SubscriptionId") or "").lower() for e in found if e.get("SubscriptionId"))

    def observed(self) -> list[ObservedCredit]:
        """Every stored scope-day, oldest first."""
        found = tables.query(self._t.table(TABLE), "PartitionKey eq @pk", {"pk": _DAYS})
        return sorted((_observed(e) for e in found), key=lambda r: (r.scope, r.day))

    def latest(self) -> dict[str, ObservedCredit]:
        """Scope (lower case) -> its most recent complete day in the billing export."""
        out: dict[str, ObservedCredit] = {}
        for row in self.observed():
            out[row.scope] = row  # sorted by day within a scope: the last one wins
        return out


def _day_row(r: ObservedCredit, read_at: datetime) -> dict[str, Any]:
    return {
        "PartitionKey": _DAYS,
        "RowKey": keys.encode_key(f"{r.scope.lower()}|{r.day}"),
        "Scope": r.scope.lower(),
        "Day": r.day,
        "Billed": float(r.billed),
        "Percent": float(r.percent),
        "Currency": r.currency,
        "MpnIds": ",".join(r.mpn_ids),
        "Tier2MpnIds": ",".join(r.tier2_mpn_ids),
        "ReadAt": codec.iso(read_at),
    }


def _observed(e: Any) -> ObservedCredit:
    def ids(name: str) -> tuple[str, ...]:
        return tuple(i for i in str(e.get(name) or "").split(",") if i)

    return ObservedCredit(
        scope=str(e.get("Scope") or ""),
        day=str(e.get("Day") or ""),
        billed=float(e.get("Billed") or 0.0),
        percent=float(e.get("Percent") or 0.0),
        currency=str(e.get("Currency") or ""),
        mpn_ids=ids("MpnIds"),
        tier2_mpn_ids=ids("Tier2MpnIds"),
    )
