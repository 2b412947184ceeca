"""The `coverage` HTTP function (function-key auth): JSON by default, the HTML page on request."""

from __future__ import annotations

import json

import azure.functions as func

import function_app
from shared.reports import page
from tests.integration.verify_helpers import verify_now


def get(params: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> func.HttpResponse:
    request = func.HttpRequest("GET", "/api/coverage", params=params or {}, headers=headers or {}, body=b"")
    return function_app.coverage(request)


def test_before_any_verify_it_answers_404_with_a_hint(emulator, palwatch):
    response = get()
    assert response.status_code == 404
    body = json.loads(response.get_body())
    assert body["error"]["code"] == "NoVerificationYet"
    assert "palwatch verify" in body["error"]["message"]


def test_json_and_html_with_safe_headers(emulator, palwatch):
    verify_now()

    response = get()
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = json.loads(response.get_body())
    assert body["totals"]["delegations"] == len(body["delegations"]) > 0
    for headers in (response.headers, get({"format": "html"}).headers):
        assert headers["Content-Security-Policy"] == page.CSP
        assert headers["Cache-Control"] == "no-store"
        assert headers["X-Content-Type-Options"] == "nosniff"

    html = get({"format": "html"})
    assert html.status_code == 200
    assert html.mimetype == "text/html"
    assert "<svg" in html.get_body().decode()

    browser = get(headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.mimetype == "text/html"
    assert get(headers={"Accept": "*/*"}).mimetype == "application/json"
    assert get({"format": "xml"}).status_code == 400


def test_csv_download_for_finance(emulator, palwatch):
    import csv
    import io

    verify_now()
    document = json.loads(get().get_body())

    response = get({"format": "csv"})

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_body().decode())))
    assert [r["delegationKey"] for r in rows] == [d["delegationKey"] for d in document["delegations"]]
