"""Cost Management Query API (`POST {scope}/providers/Microsoft.CostManagement/query`) for the scenario.

Costs live in the scenario's `costs` key (see emulator/README.md): per subscription, charges per
resource group, pricing model, publisher type and charge type, in one currency or several. A query
at a subscription sums all of its charges; at a resource group, that group's. The answer has the
shape of Microsoft's spec (azure-rest-api-specs, cost-management stable/2023-03-01
costmanagement.json, Query_Usage and its SubscriptionQueryGrouping example): the aggregated column
named after the aggregated column (`Cost`, `PreTaxCost`), one column per grouping, then `Currency`.

Throttling is Microsoft's documented QPU budget per tenant (MicrosoftDocs/azure-docs
articles/cost-management-billing/costs/manage-automation.md, "Query API query processing units"):
one QPU per month of data queried, 12 QPU per 10 seconds, 60 per minute, 600 per hour; a refused
query gets 429 and `x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after`. `POST
/_emulator/costs/qpu` changes or turns off the quotas, and can put them on a virtual clock that the
caller sets and advances (`{"clock": seconds}`, `{"advance": seconds}`), so a test whose client
paces itself on a fake clock is judged by the same windows in the same virtual time.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any

from emulator.arm_lighthouse import denied
from emulator.web import Request, Response, Route, arm_error, route

if TYPE_CHECKING:
    from emulator.server import App

API_VERSIONS = {"2019-11-01", "2021-10-01", "2022-10-01", "2023-03-01", "2023-11-01", "2024-08-01", "2025-03-01"}
TYPES = {"usage": "PreTaxCost", "actualcost": "Cost", "amortizedcost": "Cost"}
TIMEFRAMES = {"MonthToDate", "BillingMonthToDate", "TheLastMonth", "TheLastBillingMonth", "WeekToDate", "Custom"}
DOCUMENTED_QUOTAS = ((10.0, 12), (60.0, 60), (3600.0, 600))  # (window seconds, QPU), per tenant
QPU_PER_QUERY = 1  # one month of data
DIMENSIONS = {
    "pricingmodel": ("PricingModel", "pricingModel", "OnDemand"),
    "publishertype": ("PublisherType", "publisherType", "Azure"),
    "chargetype": ("ChargeType", "chargeType", "Usage"),
    "resourcegroup": ("ResourceGroup", "resourceGroup", ""),
    "resourcegroupname": ("ResourceGroupName", "resourceGroup", ""),
}
PREFIX = "x-ms-ratelimit-microsoft.costmanagement-qpu-"
QUERY_ACTION = "Microsoft.CostManagement/query/read"


class QpuQuotas:
    """Sliding windows of QPU spent per tenant; `take` answers (ok, seconds to wait, remaining)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.quotas: tuple[tuple[float, int], ...] | None = DOCUMENTED_QUOTAS
        self._spent: dict[str, deque[float]] = {}
        self.virtual: float | None = None  # seconds on a caller's clock; None: the real monotonic clock

    def set_clock(self, seconds: float | None) -> None:
        with self._lock:
            self._spent.clear()
            self.virtual = None if seconds is None else float(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            if self.virtual is None:
                raise ValueError("the QPU quotas are on the real clock: set a virtual one first")
            self.virtual += max(0.0, float(seconds))

    def configure(self, raw: Any) -> None:
        with self._lock:
            self._spent.clear()
            self.virtual = None
            if raw is True or raw is None:
                self.quotas = DOCUMENTED_QUOTAS
            elif raw is False:
                self.quotas = None
            else:
                self.quotas = tuple((float(w), int(c)) for w, c in raw)

    def take(self, tenant: str, now: float | None = None) -> tuple[bool, float, dict[float, int]]:
        with self._lock:
            if now is None:
                now = time.monotonic() if self.virtual is None else self.virtual
            if self.quotas is None:
                return True, 0.0, {}
            spent = self._spent.setdefault(tenant, deque())
            longest = max(w for w, _ in self.quotas)
            while spent and spent[0] <= now - longest:
                spent.popleft()
            wait = 0.0
            for window, cap in self.quotas:
                inside = [t for t in spent if t > now - window]
                if len(inside) + QPU_PER_QUERY > cap:
                    wait = max(wait, inside[len(inside) - cap] + window - now if len(inside) >= cap else 0.0)
            if wait > 0:
                return False, wait, {}
            spent.append(now)
            remaining = {w: cap - sum(1 for t in spent if t > now - w) for w, cap in self.quotas}
            return True, 0.0, remaining


def routes(app: App) -> list[Route]:
    world = app.world
    quotas = QpuQuotas()
    loaded: dict[str, Any] = {"scenario": None, "accounts": {}}

    def sync_quotas() -> None:
        """On the first request after a reset loaded a new scenario: its quotas, its costs by subscription."""
        if loaded["scenario"] is not world.scenario:
            loaded["scenario"] = world.scenario
            quotas.configure(world.scenario.get("emulator", {}).get("costQpu", True))
            loaded["accounts"] = {
                str(a.get("subscriptionId", "")).lower(): a
                for a in reversed(world.scenario.get("costs", {}).get("subscriptions", []))
            }

    def query(req: Request) -> Response:
        assert req.match is not None
        if req.q("api-version") not in API_VERSIONS:
            return arm_error(400, "InvalidApiVersionParameter", f"The api-version '{req.q('api-version')}' is invalid.")
        sub = req.match.group("sub").lower()
        rg = (req.match.group("rg") or "").lower() or None
        scope = f"/subscriptions/{sub}" + (f"/resourceGroups/{rg}" if rg else "")
        access = world.access(req.tid, req.oid)
        readable = sub in access.full or (rg is not None and rg in access.groups.get(sub, set()))
        if not readable or not world.allows(req.tid, req.oid, (sub, rg), QUERY_ACTION):
            return denied(req, QUERY_ACTION, scope)
        try:
            body = req.json()
        except ValueError:
            body = None
        problem = _invalid(body)
        if problem:
            return arm_error(400, "BadRequest", f"Invalid query definition: {problem}")
        sync_quotas()
        account = loaded["accounts"].get(sub, {})
        if account.get("offer", "").upper() == "EA" and account.get("viewCharges") is False:
            return arm_error(
                int(world.assumptions["costViewChargesOffStatus"]),
                "AccountCostDisabled",
                "Cost Management is not enabled for this account: the enterprise administrator has not enabled "
                "view charges for account owners.",
            )
        ok, wait, remaining = quotas.take(req.tid)
        if not ok:
            seconds = str(max(1, math.ceil(wait)))
            response = arm_error(429, "429", "Too many requests. Please retry.")
            response.headers[PREFIX + "retry-after"] = seconds
            if world.assumptions["costThrottleHeaders"] == "both":
                response.headers["Retry-After"] = seconds
            return response
        answer = _answer(req, body, account, scope, rg)
        answer.headers[PREFIX + "consumed"] = str(QPU_PER_QUERY)
        # The form seen in recorded production answers (the documentation says "list of remaining quotas").
        named = [(f"QueriesPer{name}", remaining[w]) for w, name in ((3600.0, "Hour"), (60.0, "Min")) if w in remaining]
        if named:
            answer.headers[PREFIX + "remaining"] = ",".join(f"{name}:{left}" for name, left in named)
        return answer

    def qpu(req: Request) -> Response:
        body = req.json() or {}
        sync_quotas()
        if "quotas" in body or not ({"clock", "advance"} & set(body)):
            quotas.configure(body.get("quotas", True))
        if "clock" in body:
            quotas.set_clock(body["clock"])
        if "advance" in body:
            try:
                quotas.advance(body["advance"])
            except ValueError as e:
                return Response(409, {"error": str(e)})
        return Response(
            200,
            {"quotas": [list(q) for q in quotas.quotas] if quotas.quotas else None, "clock": quotas.virtual},
        )

    scope = r"/subscriptions/(?P<sub>[^/]+)(?:/resourceGroups/(?P<rg>[^/]+))?"
    return [
        route("POST", scope + r"/providers/Microsoft\.CostManagement/query/?", query, "arm"),
        route("POST", r"/_emulator/costs/qpu", qpu, "control"),
    ]


def _invalid(body: Any) -> str:
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    for name in ("type", "timeframe", "dataset"):
        if name not in body:
            return f"'{name}' is required"
    if str(body["type"]).lower() not in TYPES:
        return f"type '{body['type']}' is not supported"
    if body["timeframe"] not in TIMEFRAMES:
        return f"timeframe '{body['timeframe']}' is not supported"
    if body["timeframe"] != "TheLastMonth":
        return "this emulator's scenario holds last month's costs only (timeframe TheLastMonth)"
    dataset = body["dataset"]
    if not isinstance(dataset, dict):
        return "'dataset' must be an object"
    aggregation = dataset.get("aggregation") or {}
    grouping = dataset.get("grouping") or []
    if not isinstance(aggregation, dict) or len(aggregation) > 2:
        return "a query can have up to 2 aggregation clauses"
    if not isinstance(grouping, list) or len(grouping) > 2:
        return "a query can have up to 2 group by clauses"
    for clause in aggregation.values():
        if not isinstance(clause, dict) or clause.get("function") != "Sum" or not clause.get("name"):
            return "every aggregation needs a 'name' and the function 'Sum'"
    for clause in grouping:
        if not isinstance(clause, dict) or clause.get("type") != "Dimension":
            return "grouping by a TagKey is not supported here; use type 'Dimension'"
        if str(clause.get("name", "")).lower() not in DIMENSIONS:
            return f"dimension '{clause.get('name')}' is not valid for grouping"
    return ""


def _answer(req: Request, body: dict[str, Any], account: dict[str, Any], scope: str, rg: str | None) -> Response:
    dataset = body["dataset"]
    aggregated = next(iter((dataset.get("aggregation") or {}).values()), None)
    cost_column = str(aggregated["name"]) if aggregated else TYPES[str(body["type"]).lower()]
    groups = [DIMENSIONS[str(g["name"]).lower()] for g in dataset.get("grouping") or []]
    sums: dict[tuple[str, ...], float] = {}
    for charge in account.get("charges", []):
        if rg is not None and str(charge.get("resourceGroup") or "").lower() != rg:
            continue
        key = tuple(str(charge.get(field) or default) for _, field, default in groups)
        currency = str(charge.get("currency") or account.get("currency") or "USD")
        sums[(*key, currency)] = sums.get((*key, currency), 0.0) + float(charge.get("cost", 0))
    rows = [[round(total, 6), *key] for key, total in sorted(sums.items())]
    columns = [{"name": cost_column, "type": "Number"}]
    columns += [{"name": name, "type": "String"} for name, _, _ in groups]
    columns.append({"name": "Currency", "type": "String"})
    query_id = str(uuid.uuid4())
    return Response(
        200,
        {
            "id": f"{scope.lstrip('/')}/providers/Microsoft.CostManagement/query/{query_id}",
            "name": query_id,
            "type": "microsoft.costmanagement/Query",
            "properties": {"nextLink": None, "columns": columns, "rows": rows},
        },
    )
