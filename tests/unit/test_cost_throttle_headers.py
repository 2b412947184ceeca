"""Cost Management throttles per QPU window, per entity, per tenant and per client type, each bucket
naming its wait in its own header: a 429 is waited out for the longest of them (and Retry-After),
on the pacer's clock, never for the QPU one alone."""

from __future__ import annotations

from shared.azure import costs
from tests.support import clocks, scripted_http
from tests.support.scripted_http import Reply

SCOPE = "/subscriptions/0afefe50-734e-4610-8c82-a144aff49dea"
ANSWER = {"properties": {"columns": [{"name": "Cost", "type": "Number"}], "rows": [[12.5]], "nextLink": None}}


def test_a_429_waits_for_the_largest_of_every_throttling_header(service: scripted_http.FakeService) -> None:
    throttled = Reply(
        429,
        {"error": {"code": "429", "message": "Too many requests. Please retry."}},
        headers={
            "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after": "12",
            "x-ms-ratelimit-microsoft.costmanagement-entity-retry-after": "37",
            "x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after": "20",
            "x-ms-ratelimit-microsoft.costmanagement-clienttype-retry-after": "5",
            "Retry-After": "9",
        },
    )
    service.on(SCOPE + costs.QUERY, throttled, Reply(200, ANSWER))
    clock = clocks.FakeClock()
    client = costs.CostClient(
        service.url,
        scripted_http.FakeCredential(),
        "https://management.azure.com/.default",
        pacer=clocks.fake_pacer(clock),
    )
    started = clock.clock()
    lines = client.last_month(SCOPE)
    assert [line.cost for line in lines] == [12.5]
    assert len(service.seen) == 2
    assert clock.clock() - started >= 37  # the entity bucket's wait, the longest named
