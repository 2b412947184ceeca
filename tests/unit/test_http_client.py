"""The HTTP client retries what is transient, pages, classifies errors once, and never logs a token.

A tiny scripted HTTP server on 127.0.0.1 stands in for ARM/Graph, so urllib3's retry logic runs for real.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
from azure.identity import CredentialUnavailableError

from shared.azure import errors
from shared.azure.activity_log import ActivityLogClient
from shared.azure.arm import ArmClient
from shared.azure.graph import GraphClient
from shared.azure.http import AzureHttpClient, new_session, parse_error_body, retry_after_seconds
from shared.azure.lighthouse import LighthouseClient
from shared.azure.pal import PartnerLinkClient
from tests.support.scripted_http import TOKEN, FakeCredential, FakeService, Reply, client
from tests.support.world import allow_every_write


def test_get_sends_a_bearer_token_and_returns_json(service: FakeService) -> None:
    service.on("/x", Reply(200, {"a": 1}))
    assert client(service).get("/x", {"api-version": "2022-12-01", "$filter": "a eq 'b c'"}) == {"a": 1}
    seen = service.seen[0]
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "$filter=a%20eq%20'b%20c'" in seen.path
    assert "api-version=2022-12-01" in seen.path


def test_429_is_retried_after_retry_after(service: FakeService) -> None:
    service.on("/x", Reply(429, {"error": {"code": "TooManyRequests"}}, {"Retry-After": "1"}), Reply(200, {"ok": True}))
    assert client(service).get("/x") == {"ok": True}
    assert len(service.seen) == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_server_errors_are_retried(service: FakeService, status: int) -> None:
    service.on("/x", Reply(status, {"error": {"code": "Boom"}}), Reply(200, {"ok": True}))
    assert client(service).get("/x") == {"ok": True}
    assert len(service.seen) == 2


def test_put_patch_delete_are_retried_because_our_writes_are_idempotent(service: FakeService) -> None:
    for verb in ("put", "patch", "delete"):
        service.seen.clear()
        service.on("/w", Reply(503, {}), Reply(200, {"verb": verb}))
        assert getattr(client(service), verb)("/w") == {"verb": verb}
        assert len(service.seen) == 2


def test_a_dropped_connection_is_retried(service: FakeService) -> None:
    service.on("/x", Reply(drop=True), Reply(200, {"ok": True}))
    assert client(service).get("/x") == {"ok": True}
    assert len(service.seen) == 2


def test_retries_exhausted_become_transient_with_retry_after(service: FakeService) -> None:
    service.on("/x", Reply(429, {"error": {"code": "TooManyRequests", "message": "slow down"}}, {"Retry-After": "0"}))
    with pytest.raises(errors.TransientError) as caught:
        client(service, max_retries=2).get("/x")
    assert caught.value.status == 429
    assert caught.value.code == "TooManyRequests"
    assert caught.value.retry_after == 0.0
    assert len(service.seen) == 3


def test_connection_refused_is_transient() -> None:
    dead = AzureHttpClient("http://127.0.0.1:9", FakeCredential(), "s", timeout=1.0, max_retries=1, backoff_factor=0.0)
    with pytest.raises(errors.TransientError) as caught:
        dead.get("/x")
    assert caught.value.status is None


def test_non_idempotent_post_is_not_retried_on_500_but_is_on_429(service: FakeService) -> None:
    service.on("/mail", Reply(500, {"error": {"code": "Boom"}}), Reply(202))
    with pytest.raises(errors.TransientError):
        client(service).post("/mail", {"m": 1})
    assert len(service.seen) == 1
    service.seen.clear()
    service.on("/mail", Reply(429, {}, {"Retry-After": "0"}), Reply(202))
    assert client(service).post("/mail", {"m": 1}) == {}
    assert len(service.seen) == 2
    service.seen.clear()
    service.on("/read", Reply(500, {}), Reply(200, {"value": []}))
    assert client(service).post("/read", {"ids": []}, idempotent=True) == {"value": []}
    assert len(service.seen) == 2


@pytest.mark.parametrize(
    ("status", "body", "cls", "code"),
    [
        (
            400,
            {
                "error": {"code": "PartnerIdInvalid", "message": "The Partner ID is not valid"},
                "code": "PartnerIdInvalid",
                "message": "The Partner ID is not valid",
            },
            errors.PartnerIdInvalidError,
            "PartnerIdInvalid",
        ),
        (400, {"error": {"code": "BadRequest", "message": "nope"}}, errors.PermanentError, "BadRequest"),
        (
            401,
            {"error": {"code": "InvalidAuthenticationToken", "message": "bad"}},
            errors.CredentialError,
            "InvalidAuthenticationToken",
        ),
        (
            403,
            {"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}},
            errors.ForbiddenError,
            "Authorization_RequestDenied",
        ),
        (
            404,
            {"code": "ManagementPartnerNotFound", "message": "not linked"},
            errors.NotFoundError,
            "ManagementPartnerNotFound",
        ),
        (409, {"error": {"code": "Conflict"}}, errors.ConflictError, "Conflict"),
        (422, "not json at all", errors.PermanentError, ""),
    ],
)
def test_error_answers_are_classified(
    service: FakeService, status: int, body: Any, cls: type[errors.AzureError], code: str
) -> None:
    raw = body.encode() if isinstance(body, str) else None
    service.on("/x", Reply(status, body, raw=raw))
    with pytest.raises(cls) as caught:
        client(service).get("/x")
    assert type(caught.value) is cls
    assert caught.value.status == status
    assert caught.value.code == code
    assert isinstance(caught.value, errors.PermanentError)


def test_success_with_a_body_that_is_not_json_is_permanent(service: FakeService) -> None:
    service.on("/x", Reply(200, raw=b"<html>proxy</html>"))
    with pytest.raises(errors.PermanentError) as caught:
        client(service).get("/x")
    assert caught.value.code == "MalformedResponse"


def test_list_follows_next_links_across_pages(service: FakeService) -> None:
    base = service.url
    service.on("/items", Reply(200, {"value": [{"n": 1}, {"n": 2}], "nextLink": f"{base}/items2?skip=2"}))
    service.on("/items2", Reply(200, {"value": [{"n": 3}], "@odata.nextLink": f"{base}/items3?skip=3"}))
    service.on("/items3", Reply(200, {"value": []}))
    assert [i["n"] for i in client(service).list("/items")] == [1, 2, 3]
    assert [s.path for s in service.seen][1:] == ["/items2?skip=2", "/items3?skip=3"]


def test_paging_loop_is_stopped(service: FakeService) -> None:
    service.on("/loop", Reply(200, {"value": [{"n": 1}], "nextLink": f"{service.url}/loop?again"}))
    with pytest.raises(errors.PermanentError) as caught:
        list(client(service).list("/loop"))
    assert caught.value.code == "PagingLoop"


def test_next_link_to_another_host_is_refused(service: FakeService) -> None:
    service.on("/items", Reply(200, {"value": [{"n": 1}], "nextLink": "https://evil.example.com/steal"}))
    with pytest.raises(errors.PermanentError) as caught:
        list(client(service).list("/items"))
    assert caught.value.code == "ForeignLink"
    assert len(service.seen) == 1


@pytest.mark.parametrize(
    ("failure", "cls", "code"),
    [
        (
            ClientAuthenticationError("AADSTS7000215: Invalid client secret provided."),
            errors.CredentialError,
            "AADSTS7000215",
        ),
        (
            CredentialUnavailableError("ManagedIdentityCredential authentication unavailable"),
            errors.CredentialError,
            "",
        ),
        (ServiceRequestError("connection refused"), errors.TransientError, "NetworkError"),
        (ValueError("Could not deserialize key data"), errors.CredentialError, "InvalidCredential"),
    ],
)
def test_token_failures_are_classified(
    service: FakeService, failure: Exception, cls: type[errors.AzureError], code: str
) -> None:
    with pytest.raises(cls) as caught:
        client(service, FakeCredential(failure)).get("/x")
    assert caught.value.code == code
    assert caught.value.__cause__ is failure
    assert service.seen == []


def test_failed_requests_are_logged_once_without_token_or_query(
    service: FakeService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    service.on("/secret-path", Reply(400, {"error": {"code": "InvalidRequest", "message": "x" * 1000}}))
    with pytest.raises(errors.PermanentError):
        client(service).get("/secret-path", {"sig": "query-secret"})
    failures = [r for r in caplog.records if r.name == "shared.azure.http" and r.levelno >= logging.WARNING]
    assert len(failures) == 1
    line = failures[0].getMessage()
    assert "GET /secret-path -> 400" in line
    assert len(line) < 400
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert TOKEN not in everything
    assert "Bearer" not in everything
    assert "query-secret" not in everything


def test_expected_refusals_are_logged_at_info(service: FakeService, caplog: pytest.LogCaptureFixture) -> None:
    """403 for an identity that holds only resource-group delegations is routine, not an operator warning."""
    caplog.set_level(logging.DEBUG)
    service.on("/rg-only", Reply(403, {"error": {"code": "AuthorizationFailed", "message": "no"}}))
    with pytest.raises(errors.ForbiddenError):
        client(service).get("/rg-only")
    lines = [r for r in caplog.records if r.name == "shared.azure.http" and "/rg-only -> 403" in r.getMessage()]
    assert [r.levelno for r in lines] == [logging.INFO]


def test_parse_error_body_shapes() -> None:
    assert parse_error_body('{"error": {"code": "A", "message": "m"}}') == ("A", "m")
    assert parse_error_body('{"code": "B", "message": "n"}') == ("B", "n")
    assert parse_error_body('{"error": "invalid_client", "error_description": "AADSTS1"}') == (
        "invalid_client",
        "AADSTS1",
    )
    assert parse_error_body("") == ("", "")


def test_retry_after_header_forms() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_seconds("soon") is None


# -- no requests / azure.core exception escapes any adapter ---------------------------------------


def _calls(http: AzureHttpClient) -> list[Callable[[], Any]]:
    pal, arm, lh, graph = PartnerLinkClient(http), ArmClient(http), LighthouseClient(http), GraphClient(http)
    activity = ActivityLogClient(http)
    return [
        pal.get_link,
        lambda: pal.ensure_link("5127255", may_write=allow_every_write),
        lambda: list(arm.list_tenants()),
        lambda: list(arm.list_subscriptions()),
        lambda: list(arm.list_resource_groups("s")),
        lambda: arm.get_role_definition("r"),
        lambda: list(lh.list_assignments("/subscriptions/s")),
        lambda: lh.get_assignment("/subscriptions/s/providers/Microsoft.ManagedServices/registrationAssignments/a"),
        lambda: graph.get_principals(["0000"]),
        lambda: list(graph.list_transitive_member_ids("0000")),
        lambda: list(graph.list_subscriptions()),
        lambda: graph.send_mail("a@b.c", {}),
        lambda: list(activity.list_delegation_records(datetime(2026, 1, 1, tzinfo=UTC))),
    ]


@pytest.mark.parametrize(
    "reply",
    [
        Reply(drop=True),
        Reply(500, raw=b"oops"),
        Reply(200, raw=b"{not json"),
        Reply(200, {"value": "nope"}),
        Reply(401, {"error": {"code": "InvalidAuthenticationToken"}}),
        Reply(200, {"value": [{"id": 5}, "x", None]}),
    ],
)
def test_no_library_exception_escapes_the_adapters(service: FakeService, reply: Reply) -> None:
    service.handler = lambda _seen: reply
    http = client(service, max_retries=1)
    for call in _calls(http):
        with contextlib.suppress(errors.AzureError):  # the only kind allowed out
            call()


def test_token_failures_do_not_escape_the_adapters_either(service: FakeService) -> None:
    http = client(service, FakeCredential(ClientAuthenticationError("AADSTS700016: app not found")))
    for call in _calls(http):
        with pytest.raises(errors.AzureError):
            call()


def test_the_event_budget_gives_up_sooner_and_keeps_its_cap_across_attempts() -> None:
    from shared.usecases import engine as engine_module

    session = new_session(**engine_module.BUDGETS["event"])
    retry = session.get_adapter("https://management.azure.com").max_retries
    assert retry.total == 2
    assert retry.parse_retry_after("30") == 5.0
    assert retry.new(total=1).parse_retry_after("30") == 5.0  # urllib3 rebuilds Retry on each attempt

    patient = new_session().get_adapter("https://management.azure.com").max_retries
    assert patient.total == 4
    assert patient.parse_retry_after("30") == 30.0
