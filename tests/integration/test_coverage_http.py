"""The `coverage` HTTP function (function-key auth): JSON by default, the HTML page on request."""

from __future__ import annotations

import json

from shared.reports import page
from tests.support import triggers


def test_before_any_verify_it_answers_404_with_a_hint(emulator, palwatch):
    response = triggers.coverage()
    assert response.status_code == 404
    body = json.loads(response.get_body())
    assert body["error"]["code"] == "NoVerificationYet"
    assert "palwatch verify" in body["error"]["message"]


def test_json_and_html_with_safe_headers(emulator, palwatch):
    triggers.verify_now()

    response = triggers.coverage()
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = json.loads(response.get_body())
    assert body["totals"]["delegations"] == len(body["delegations"]) > 0
    for headers in (response.headers, triggers.coverage({"format": "html"}).headers):
        assert headers["Content-Security-Policy"] == page.CSP
        assert headers["Cache-Control"] == "no-store"
        assert headers["X-Content-Type-Options"] == "nosniff"

    html = triggers.coverage({"format": "html"})
    assert html.status_code == 200
    assert html.mimetype == "text/html"
    assert "<svg" in html.get_body().decode()

    browser = triggers.coverage(headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.mimetype == "text/html"
    assert triggers.coverage(headers={"Accept": "*/*"}).mimetype == "application/json"
    assert triggers.coverage({"format": "xml"}).status_code == 400


def test_csv_download_for_finance(emulator, palwatch):
    import csv
    import io

    triggers.verify_now()
    document = json.loads(triggers.coverage().get_body())

    response = triggers.coverage({"format": "csv"})

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_body().decode())))
    assert [r["delegationKey"] for r in rows] == [d["delegationKey"] for d in document["delegations"]]
