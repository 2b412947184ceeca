"""Cost Management Query API: last full month's cost of one delegated scope, within Microsoft's QPU limits.

Called only by the daily cost snapshot (`shared.usecases.costs`); alerts and pages read its cache.
`POST {scope}/providers/Microsoft.CostManagement/query?api-version=2023-03-01` (Query_Usage in
Azure/azure-rest-api-specs cost-management stable/2023-03-01/costmanagement.json) with timeframe
`TheLastMonth`, `ActualCost` summed, grouped by PricingModel and PublisherType (the spec allows
two groupings) so that reservations, savings plans, Spot and Marketplace show apart.

Throttling (MicrosoftDocs/azure-docs articles/cost-management-billing/costs/manage-automation.md):
per tenant, 12 QPU per 10 s, 60 per minute, 600 per hour; one QPU per month of data, so one query
here is one QPU. `QpuPacer` keeps this client under those windows with headroom left for other
tools in the tenant; a 429 is retried after `x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after`
(or Retry-After) a few times, never at once. urllib3 retries only network errors and 5xx here:
its own 429 retries (it sleeps out a Retry-After by itself) would wait outside the pacer and spend
the same budget unseen. Errors are classified once:
`AccountCostDisabled` (EA view charges off, whatever the status), 403, other refusals.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from shared import money
from shared.azure import errors, http, identity

log = logging.getLogger(__name__)

API_VERSION = "2023-03-01"
QUERY = "/providers/Microsoft.CostManagement/query"
QPU_HEADER = "x-ms-ratelimit-microsoft.costmanagement-qpu-"
DOCUMENTED_QUOTAS = ((10.0, 12), (60.0, 60), (3600.0, 600))  # (seconds, QPU) per tenant
HEADROOM = 0.8  # use at most this share of each window: other tools in the tenant share the budget
THROTTLED_ATTEMPTS = 4
MAX_THROTTLE_WAIT = 120.0
BODY: dict[str, Any] = {
    "type": "ActualCost",
    "timeframe": "TheLastMonth",
    "dataset": {
        "aggregation": {"totalCost": {"name": "Cost", "function": "Sum"}},
        "grouping": [{"type": "Dimension", "name": "PricingModel"}, {"type": "Dimension", "name": "PublisherType"}],
    },
}


class ViewChargesOffError(errors.PermanentError):
    """`AccountCostDisabled`: an EA subscription whose 'account owner can view charges' setting is off."""


class CostThrottledError(errors.TransientError):
    """The QPU budget stayed exhausted through every retry: try this scope another day."""


@dataclass
class QpuPacer:
    """Sliding windows of the queries this process sent; `wait` sleeps until one more fits.

    `clock` and `sleep` are parameters so a test can run a day of queries on a fake clock and
    check the schedule; the defaults are the real ones.
    """

    quotas: tuple[tuple[float, int], ...] = DOCUMENTED_QUOTAS
    headroom: float = HEADROOM
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    sent: deque[float] = field(default_factory=deque)
    hour_remaining: int | None = None  # what the service last said is left this hour (all callers)

    def limits(self) -> list[tuple[float, int]]:
        return [(window, max(1, int(cap * self.headroom))) for window, cap in self.quotas]

    def next_slot(self, now: float) -> float:
        """The earliest instant >= now at which one more query stays inside every window."""
        slot = now
        for window, cap in self.limits():
            inside = [t for t in self.sent if t > slot - window]
            if len(inside) >= cap:
                slot = max(slot, inside[len(inside) - cap] + window)
        return slot

    def wait(self) -> float:
        """Sleep until the next query fits, record it, return the instant it may go."""
        now = self.clock()
        slot = self.next_slot(now)
        if slot > now:
            self.sleep(slot - now)
        longest = max(w for w, _ in self.quotas)
        while self.sent and self.sent[0] <= slot - longest:
            self.sent.popleft()
        self.sent.append(slot)
        return slot

    def hour_budget_left(self) -> bool:
        """False when the service says this hour's quota is (nearly) spent by anyone in the tenant."""
        reserve = int(dict(self.quotas).get(3600.0, 600) * (1 - self.headroom))
        return self.hour_remaining is None or self.hour_remaining > reserve

    def observe(self, headers: Any) -> None:
        remaining = _remaining(headers.get(QPU_HEADER + "remaining"))
        if "QueriesPerHour" in remaining:
            self.hour_remaining = remaining["QueriesPerHour"]


class CostClient:
    """Last month's cost per scope, as one identity (Lighthouse: a managing-tenant identity)."""

    def __init__(
        self,
        endpoint: str,
        credential: Any,
        scope: str,
        *,
        pacer: QpuPacer | None = None,
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.credential = credential
        self.token_scope = scope
        self.timeout = timeout
        self.pacer = pacer or QpuPacer()
        self._session = session or _session()

    @classmethod
    def from_settings(cls, settings: Any, credential: Any, *, pacer: QpuPacer | None = None) -> CostClient:
        return cls(
            settings.arm_endpoint, credential, settings.arm_scope, pacer=pacer, timeout=settings.http_timeout_seconds
        )

    def last_month(self, scope: str) -> list[money.ChargeLine]:
        """The scope's charges for the last full month, one line per pricing model, publisher, currency.

        Raises ViewChargesOffError, ForbiddenError, PermanentError, CostThrottledError, TransientError.
        """
        url = f"{self.endpoint}{_checked(scope)}{QUERY}?api-version={API_VERSION}"
        lines: list[money.ChargeLine] = []
        for _ in range(20):  # nextLink pages: a grouped month is a handful of rows
            answer = self._post(url)
            properties = answer.get("properties") if isinstance(answer.get("properties"), dict) else {}
            lines += parse_rows(properties)
            next_link = properties.get("nextLink")
            if not next_link:
                return lines
            if not isinstance(next_link, str) or not next_link.startswith(self.endpoint + "/"):
                raise errors.PermanentError("a cost query's nextLink points elsewhere", code="MalformedResponse")
            url = next_link
        raise errors.PermanentError("a cost query kept paging", code="PagingLoop")

    def _post(self, url: str) -> dict[str, Any]:
        for attempt in range(1, THROTTLED_ATTEMPTS + 1):
            self.pacer.wait()
            token = identity.acquire_token(self.credential, self.token_scope)
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            try:
                response = self._session.post(url, json=BODY, headers=headers, timeout=self.timeout)
            except requests.exceptions.RequestException as e:
                raise errors.TransientError(f"cost query: {type(e).__name__}", code="NetworkError") from e
            self.pacer.observe(response.headers)
            if response.status_code == 429:
                wait = min(MAX_THROTTLE_WAIT, _retry_after(response.headers))
                log.info("cost query throttled (attempt %d); waiting %.0f s as the service asks", attempt, wait)
                if attempt < THROTTLED_ATTEMPTS:
                    self.pacer.sleep(wait)
                    continue
                raise CostThrottledError("Cost Management kept throttling", status=429, code="429", retry_after=wait)
            return _answer(response)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._session.close()


def parse_rows(properties: dict[str, Any]) -> list[money.ChargeLine]:
    """ChargeLines from `columns` + `rows`, finding each column by name (their order is not fixed)."""
    columns = [str(c.get("name", "")) for c in properties.get("columns") or [] if isinstance(c, dict)]
    types = [str(c.get("type", "")) for c in properties.get("columns") or [] if isinstance(c, dict)]
    lowered = [c.lower() for c in columns]
    try:
        cost_at = next(
            i for i, (n, t) in enumerate(zip(lowered, types, strict=True)) if t.lower() == "number" and n != "usagedate"
        )
    except StopIteration:
        if properties.get("rows"):
            raise errors.PermanentError("a cost answer without a cost column", code="MalformedResponse") from None
        return []
    model_at = lowered.index("pricingmodel") if "pricingmodel" in lowered else None
    publisher_at = lowered.index("publishertype") if "publishertype" in lowered else None
    currency_at = lowered.index("currency") if "currency" in lowered else None
    lines = []
    for row in properties.get("rows") or []:
        if not isinstance(row, list) or len(row) != len(columns):
            raise errors.PermanentError("a cost row does not match the columns", code="MalformedResponse")
        try:
            cost = float(row[cost_at])
        except (TypeError, ValueError) as e:
            raise errors.PermanentError("a cost that is not a number", code="MalformedResponse") from e
        lines.append(
            money.ChargeLine(
                cost,
                str(row[model_at] or "") if model_at is not None else "",
                str(row[publisher_at] or "") if publisher_at is not None else "",
                str(row[currency_at] or "") if currency_at is not None else "",
            )
        )
    return lines


def _answer(response: requests.Response) -> dict[str, Any]:
    if response.status_code == 204:
        return {}
    if response.status_code < 400:
        try:
            payload = response.json()
        except ValueError as e:
            raise errors.PermanentError("a cost answer that is not JSON", code="MalformedResponse") from e
        return payload if isinstance(payload, dict) else {}
    code, message = http.parse_error_body(response.text)
    log.info("cost query -> %s %s", response.status_code, code)
    if code.lower() == "accountcostdisabled":
        raise ViewChargesOffError(message or "view charges is off", status=response.status_code, code=code)
    if response.status_code >= 500 or response.status_code == 408:
        raise errors.TransientError(message or "cost query failed", status=response.status_code, code=code)
    raise errors.error_for(response.status_code, code, message or "cost query refused")


# Cost Management throttles by more than the QPU windows: per entity (scope), per tenant and per
# client type, each bucket naming its own wait (MicrosoftDocs/azure-docs
# articles/cost-management-billing/costs/manage-automation.md, "Error code 429"); plus Retry-After.
RETRY_AFTER_HEADERS = (
    *(f"x-ms-ratelimit-microsoft.costmanagement-{bucket}-retry-after" for bucket in ("qpu", "entity", "tenant")),
    "x-ms-ratelimit-microsoft.costmanagement-clienttype-retry-after",
    "Retry-After",
)


def _retry_after(headers: Any) -> float:
    """The longest wait any throttling header asks for: waiting less would only be refused again."""
    waits = [http.retry_after_seconds(headers.get(name)) for name in RETRY_AFTER_HEADERS]
    known = [w for w in waits if w is not None]
    if known:
        return max(1.0, *known)
    return 60.0  # the documented minute window: a shorter guess would only be refused again


def _remaining(value: str | None) -> dict[str, int]:
    """`QueriesPerHour:577,QueriesPerMin:59` -> {"QueriesPerHour": 577, ...}; unreadable parts skipped."""
    out: dict[str, int] = {}
    for part in (value or "").split(","):
        name, _, number = part.partition(":")
        if number.strip().lstrip("-").isdigit():
            out[name.strip()] = int(number)
    return out


def _checked(scope: str) -> str:
    parts = [p for p in scope.split("/") if p]
    if not (
        len(parts) in (2, 4)
        and parts[0].lower() == "subscriptions"
        and (len(parts) == 2 or parts[2].lower() == "resourcegroups")
    ):
        raise errors.PermanentError(f"not a subscription or resource group scope: {scope[:120]!r}", code="BadScope")
    return "/" + "/".join(parts)


class _ServerErrorRetry(Retry):
    """urllib3's Retry without its 429 (and 413) retries on a Retry-After: throttling is the pacer's."""

    RETRY_AFTER_STATUS_CODES = frozenset({503})


def _session() -> requests.Session:
    retry = _ServerErrorRetry(
        total=3,
        connect=3,
        read=3,
        status=3,
        other=0,
        backoff_factor=0.5,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"POST"}),  # a query is a read
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_connections=2, pool_maxsize=4)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = "palwatch/0.1"
    return session
