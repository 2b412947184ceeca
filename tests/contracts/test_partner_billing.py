"""The emulator's partner billing export against Graph's v1.0 metadata (microsoft.graph.partners.billing,
vendored in specs/graph-v1.0-partners-billing.json) and the docs' examples: the operation in each state,
the manifest, the blobs (gzipped JSON lines behind the SAS), who may call it, and the split into blobs."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.contracts.graph_metadata import SPECS, GraphMetadata
from tests.support import demo

METADATA = GraphMetadata.load(SPECS / "graph-v1.0-partners-billing.json")
ENUMS = json.loads((SPECS / "graph-v1.0-partners-billing.json").read_text())["enumTypes"]
EXPORT = "/v1.0/reports/partners/billing/usage/unbilled/export"
GRAPH = "https://graph.microsoft.com"

# The docs' examples (api-reference/v1.0/api/partners-billing-operation-get.md, -manifest-get.md), as printed.
DOC_SUCCEEDED = {
    "@odata.type": "#microsoft.graph.partners.billing.exportSuccessOperation",
    "id": "6fe687d7-1e0f-4bd6-9091-4672691f64bc",
    "status": "succeeded",
    "createdDateTime": "2023-03-09T08:12:53",
    "lastActionDateTime": "2023-03-09T08:37:48.5046691Z",
    "resourceLocation@odata.navigationLink": "https://graph.microsoft.com/v1.0/reports/partners/billing/manifests/8fe3",
}
DOC_FAILED_ERROR = {"message": "No data available", "code": "5000"}
DOC_MANIFEST_KEYS = {
    "id", "schemaVersion", "dataFormat", "createdDateTime", "eTag", "partnerTenantId", "rootDirectory",
    "sasToken", "partitionType", "blobCount", "blobs",
}  # fmt: skip


def problems(body: dict[str, Any], type_name: str) -> list[str]:
    """Metadata errors of a rendered object; `{navigation}@odata.navigationLink` is an annotation of a declared link."""
    navigation = set()
    name: str | None = type_name
    while name:
        navigation |= set(METADATA.types[name].get("navigationProperties", ()))
        name = METADATA.types[name].get("baseType")
    links = {k for k in body if k.endswith("@odata.navigationLink") and k.split("@")[0] in navigation}
    kept = {k: v for k, v in body.items() if k not in links}
    return METADATA.errors(kept, type_name)


def token(emulator, principal: demo.Actor, tenant_id: str | None = None) -> dict[str, str]:
    body = {"objectId": principal.object_id, "audience": GRAPH}
    if tenant_id:
        body["tenantId"] = tenant_id
    answer = emulator.control("POST", "/tokens", body)
    return {"Authorization": f"Bearer {answer['access_token']}"}


@pytest.fixture
def billing_world(emulator):
    scenario = demo.scenario_copy()
    mi = demo.principal_in(scenario, demo.MI)
    mi["graphAppRoles"] = sorted({*mi["graphAppRoles"], "PartnerBilling.Read.All"})
    emulator.reset(scenario)
    day = datetime.now(UTC).date().isoformat()
    lines = [
        {"EntitlementId": demo.FABRIKAM.subscription_id, "UsageDate": day, "BillingPreTaxTotal": i, "MpnId": "5127255",
         "PartnerEarnedCreditPercentage": 15, "ResourceGroup": "rg-app", "SubscriptionId": "plan"}
        for i in range(5)
    ]  # fmt: skip
    emulator.control("PUT", "/partnerBilling", {"currency": "USD", "usage": lines, "linesPerBlob": 2})
    return emulator


def call(emulator, method: str, url: str, headers: dict[str, str], body: Any = None) -> requests.Response:
    full = url if url.startswith("https://") else emulator.info["graph"] + url
    return emulator.session.request(method, full, headers=headers, json=body, timeout=30)


def test_the_export_walks_through_the_documented_states_into_a_valid_manifest(billing_world):
    emulator = billing_world
    auth = token(emulator, demo.MI)
    wanted = {"currencyCode": "USD", "billingPeriod": "current", "attributeSet": "full"}
    started = call(emulator, "POST", EXPORT, auth, wanted)
    assert started.status_code == 202
    assert not started.content
    location = started.headers["Location"]
    assert "/v1.0/reports/partners/billing/operations/" in location
    assert started.headers["Retry-After"] == "1"

    seen = []
    for _ in range(4):
        body = call(emulator, "GET", location, auth).json()
        kind = body["@odata.type"].rsplit(".", 1)[-1]
        assert not problems(body, kind), problems(body, kind)
        assert body["status"] in ENUMS["longRunningOperationStatus"]
        seen.append(body["status"])
        if body["status"] == "succeeded":
            break
    assert seen == ["notStarted", "running", "succeeded"]
    assert set(body) <= set(DOC_SUCCEEDED)  # nothing the docs' example does not show

    manifest = call(emulator, "GET", body["resourceLocation@odata.navigationLink"], auth).json()
    assert not problems(manifest, "manifest"), problems(manifest, "manifest")
    assert set(manifest) - {"@odata.type"} == DOC_MANIFEST_KEYS
    assert manifest["dataFormat"] == "compressedJSONLines"
    assert manifest["blobCount"] == len(manifest["blobs"]) == 3  # five lines, two to a blob
    assert {b["partitionValue"] for b in manifest["blobs"]} == {"default"}

    lines = []
    for blob in manifest["blobs"]:
        url = f"{manifest['rootDirectory']}/{quote(blob['name'])}?{manifest['sasToken']}"
        answer = emulator.session.get(url, timeout=30)  # the SAS alone: no bearer token
        assert answer.status_code == 200
        lines += [json.loads(x) for x in gzip.decompress(answer.content).decode().splitlines()]
    assert sorted(x["BillingPreTaxTotal"] for x in lines) == [0, 1, 2, 3, 4]
    assert all(x["BillingCurrency"] == "USD" for x in lines)

    tampered = f"{manifest['rootDirectory']}/{quote(manifest['blobs'][0]['name'])}?{manifest['sasToken']}0"
    refused = emulator.session.get(tampered, timeout=30)
    assert refused.status_code == 403
    assert refused.headers["x-ms-error-code"] == "AuthenticationFailed"


def test_a_period_without_usage_fails_as_the_docs_example_does(billing_world):
    emulator = billing_world
    emulator.control("PUT", "/partnerBilling", {"currency": "USD", "usage": [], "pollsBeforeDone": 0})
    auth = token(emulator, demo.MI)
    wanted = {"currencyCode": "USD", "billingPeriod": "last"}
    location = call(emulator, "POST", EXPORT, auth, wanted).headers["Location"]
    body = call(emulator, "GET", location, auth).json()
    assert body["status"] == "failed"
    assert not problems(body, "failedOperation")
    assert body["error"] == DOC_FAILED_ERROR


def test_basic_leaves_out_what_the_attribute_table_marks_full_only(billing_world):
    emulator = billing_world
    auth = token(emulator, demo.MI)
    body = {"currencyCode": "USD", "billingPeriod": "current", "attributeSet": "basic"}
    location = call(emulator, "POST", EXPORT, auth, body).headers["Location"]
    for _ in range(3):
        operation = call(emulator, "GET", location, auth).json()
    manifest = call(emulator, "GET", operation["resourceLocation@odata.navigationLink"], auth).json()
    url = f"{manifest['rootDirectory']}/{quote(manifest['blobs'][0]['name'])}?{manifest['sasToken']}"
    line = json.loads(gzip.decompress(emulator.session.get(url, timeout=30).content).decode().splitlines()[0])
    assert "EntitlementId" in line
    assert "BillingPreTaxTotal" in line
    assert "PartnerEarnedCreditPercentage" not in line
    assert "MpnId" not in line
    assert "ResourceGroup" not in line


def test_only_an_app_with_the_permission_in_the_partner_tenant_may_export(billing_world):
    emulator = billing_world
    body = {"currencyCode": "USD", "billingPeriod": "current"}
    ops = demo.ACTORS["contoso-ops"]  # an app of the partner tenant without PartnerBilling.Read.All
    assert call(emulator, "POST", EXPORT, token(emulator, ops), body).status_code == 403
    assert call(emulator, "POST", EXPORT, token(emulator, demo.MI, demo.FABRIKAM.tenant_id), body).status_code == 403
    bad = call(emulator, "POST", EXPORT, token(emulator, demo.MI), {"billingPeriod": "current"})
    assert bad.status_code == 400  # currencyCode is required
