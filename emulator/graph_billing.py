"""Microsoft Graph partner billing export (v1.0, namespace microsoft.graph.partners.billing).

The scenario's top-level `partnerBilling` (`{"currency": "USD", "usage": [...]}`) holds daily
rated usage lines in Microsoft's own attribute names (the `full` attribute set). The engine asks
for an export (`POST /v1.0/reports/partners/billing/usage/{unbilled,billed}/export`), gets 202 and
a `Location` to the long-running `operation`, polls it (`notStarted` / `running`, then `succeeded`
or `failed`), reads the `manifest` it links to, and downloads the gzipped JSON-lines blobs from
`rootDirectory` with the manifest's `sasToken`, here served by the same HTTPS server under
`/partnerbillingblobs/`. Sources and assumptions: emulator/README.md, "Partner billing export".
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import secrets
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from emulator.clock import iso, utcnow
from emulator.graph import forbidden
from emulator.web import Request, Response, Route, graph_error, route

if TYPE_CHECKING:
    from emulator.server import App

PERMISSION = "PartnerBilling.Read.All"
NAMESPACE = "#microsoft.graph.partners.billing."
BLOB_PREFIX = "/partnerbillingblobs"
DEFAULT_LINES_PER_BLOB = 1000  # Microsoft splits "past the supported number" without saying it: a switch
DEFAULT_POLLS_BEFORE_DONE = 2  # GETs that answer notStarted, then running, before the outcome
DEFAULT_RETRY_AFTER = 1
SAS_HOURS = 1
# attributeSet basic (resources/partners-billing-attributeset.md: the "Basic" column).
BASIC = frozenset(
    {
        "AdditionalInfo",
        "BenefitOrderID",
        "BenefitType",
        "BillingCurrency",
        "BillingPreTaxTotal",
        "ChargeEndDate",
        "ChargeStartDate",
        "ChargeType",
        "CreditPercentage",
        "CreditType",
        "CustomerId",
        "CustomerName",
        "EffectiveUnitPrice",
        "EntitlementId",
        "InvoiceNumber",
        "PartnerId",
        "PartnerName",
        "PCToBCExchangeRate",
        "PricingCurrency",
        "PricingPreTaxTotal",
        "ProductId",
        "PublisherName",
        "Quantity",
        "ResourceURI",
        "SkuId",
        "SkuName",
        "SubscriptionId",
        "UnitPrice",
        "UnitType",
        "UsageDate",
    }
)
PERIODS = ("current", "last")
ATTRIBUTE_SETS = ("full", "basic")


class _Exports:
    """The operations, manifests and blobs of this emulator run (not part of the scenario)."""

    def __init__(self) -> None:
        self.key = secrets.token_bytes(32)
        self.operations: dict[str, dict[str, Any]] = {}
        self.manifests: dict[str, dict[str, Any]] = {}
        self.blobs: dict[str, bytes] = {}  # blob path under BLOB_PREFIX -> gzipped JSON lines

    def sign(self, directory: str, expiry: str) -> str:
        return hmac.new(self.key, f"{directory}\n{expiry}".encode(), hashlib.sha256).hexdigest()


def _config(world: Any) -> dict[str, Any]:
    raw = world.scenario.get("partnerBilling")
    return raw if isinstance(raw, dict) else {}


def _month(moment: datetime, back: int = 0) -> str:
    year, month = moment.year, moment.month - back
    while month < 1:
        year, month = year - 1, month + 12
    return f"{year:04d}-{month:02d}"


def _lines(config: dict[str, Any], kind: str, wanted: dict[str, str]) -> list[dict[str, Any]]:
    """The usage lines an export request selects: the billing period's (unbilled) or the invoice's (billed)."""
    currency = str(config.get("currency") or "USD")
    out = []
    for raw in config.get("usage") or []:
        line = {"BillingCurrency": currency, **raw}
        if str(line["BillingCurrency"]).upper() != wanted["currencyCode"].upper() and kind == "unbilled":
            continue
        if kind == "billed":
            if str(line.get("InvoiceNumber") or "") != wanted["invoiceId"]:
                continue
        elif str(line.get("UsageDate") or "")[:7] != wanted["month"] or line.get("InvoiceNumber"):
            continue
        if wanted["attributeSet"] == "basic":
            line = {k: v for k, v in line.items() if k in BASIC}
        out.append(line)
    return out


def _request_error(req: Request, kind: str) -> tuple[dict[str, str] | None, Response | None]:
    try:
        body = req.json() or {}
    except ValueError:
        return None, graph_error(400, "BadRequest", "The request body is not valid JSON.")
    if not isinstance(body, dict):
        return None, graph_error(400, "BadRequest", "The request body must be a JSON object.")
    attribute_set = str(body.get("attributeSet") or "full")
    if attribute_set not in ATTRIBUTE_SETS:
        return None, graph_error(400, "BadRequest", f"Invalid attributeSet '{attribute_set}'.")
    wanted = {"attributeSet": attribute_set}
    if kind == "billed":
        if not body.get("invoiceId"):
            return None, graph_error(400, "BadRequest", "invoiceId is required.")
        wanted.update(invoiceId=str(body["invoiceId"]), currencyCode="", month="")
        return wanted, None
    period, currency = body.get("billingPeriod"), body.get("currencyCode")
    if period not in PERIODS:
        return None, graph_error(400, "BadRequest", "billingPeriod is required: current or last.")
    if not isinstance(currency, str) or not currency:
        return None, graph_error(400, "BadRequest", "currencyCode is required.")
    wanted.update(currencyCode=currency, month=_month(utcnow(), 0 if period == "current" else 1), invoiceId="")
    return wanted, None


def routes(app: App) -> list[Route]:
    world = app.world
    exports = _Exports()

    def refused(req: Request) -> Response | None:
        """Only an app token with PartnerBilling.Read.All, in the partner's own (home) tenant."""
        roles = req.claims.get("roles") or []
        if PERMISSION not in roles or req.tid != (world.home_tenant() or ""):
            return forbidden()
        return None

    def retry_after(response: Response) -> Response:
        if world.assumptions["billingRetryAfter"] == "sent":
            response.headers["Retry-After"] = str(_config(world).get("retryAfterSeconds", DEFAULT_RETRY_AFTER))
        return response

    def export(req: Request) -> Response:
        denied = refused(req)
        if denied:
            return denied
        kind = req.match.group("kind").lower() if req.match else "unbilled"
        wanted, error = _request_error(req, kind)
        if error or wanted is None:
            return error or graph_error(400, "BadRequest", "Bad request.")
        op_id = str(uuid.uuid4())
        now = iso(utcnow())
        exports.operations[op_id] = {
            "id": op_id,
            "kind": kind,
            "wanted": wanted,
            "tenant": req.tid,
            "created": now,
            "last": now,
            "polls": 0,
        }
        location = f"{req.base}/v1.0/reports/partners/billing/operations/{op_id}"
        return retry_after(Response(202, None, {"Location": location}))

    def finish(op: dict[str, Any], base: str) -> None:
        config = _config(world)
        failure = config.get("fail")
        lines = _lines(config, op["kind"], op["wanted"])
        if failure or not lines:
            failure = failure if isinstance(failure, dict) else {"code": "5000", "message": "No data available"}
            op.update(status="failed", error={"code": str(failure.get("code")), "message": str(failure.get("message"))})
            return
        size = max(1, int(config.get("linesPerBlob") or DEFAULT_LINES_PER_BLOB))
        month = (op["wanted"]["month"] or utcnow().strftime("%Y-%m")).replace("-", "")
        fragment = op["wanted"]["attributeSet"]
        container = "unbilledusagefastpath" if op["kind"] == "unbilled" else "billedusagefastpath"
        directory = (
            f"{BLOB_PREFIX}/{container}/v1/PartnerTenantId={op['tenant']}/BillingMonth={month}"
            f"/Fragment={fragment}/PartitionType=default/Export={op['id']}"
        )
        blobs = []
        for start in range(0, len(lines), size):
            name = f"part-{start // size:05d}-{op['id']}.c000.json.gz"
            text = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines[start : start + size])
            exports.blobs[f"{directory}/{name}"] = gzip.compress(text.encode())
            blobs.append({"name": name, "partitionValue": "default"})
        expiry = iso(utcnow() + timedelta(hours=SAS_HOURS))[:19] + "Z"
        sas = f"sv=2021-08-06&se={quote(expiry, safe='')}&sr=d&sp=rl&sig={exports.sign(directory, expiry)}"
        manifest_id = str(uuid.uuid4())
        exports.manifests[manifest_id] = {
            "id": manifest_id,
            "schemaVersion": "2",
            "dataFormat": "compressedJSONLines",
            "createdDateTime": iso(utcnow()),
            "eTag": secrets.token_urlsafe(12),
            "partnerTenantId": op["tenant"],
            "rootDirectory": base + directory,
            "sasToken": sas,
            "partitionType": "default",
            "blobCount": len(blobs),
            "blobs": blobs,
        }
        op.update(status="succeeded", manifest=manifest_id)

    def operation(req: Request) -> Response:
        denied = refused(req)
        if denied:
            return denied
        op = exports.operations.get(req.match.group("id").lower() if req.match else "")
        if op is None or op["tenant"] != req.tid:
            return graph_error(404, "NotFound", "The operation was not found.")
        polls = int(_config(world).get("pollsBeforeDone", DEFAULT_POLLS_BEFORE_DONE))
        if "status" not in op:
            op["polls"] += 1
            op["last"] = iso(utcnow())
            if op["polls"] > polls:
                finish(op, req.base)
        status = op.get("status") or ("notStarted" if op["polls"] == 1 and polls > 1 else "running")
        body: dict[str, Any] = {
            "id": op["id"],
            "status": status,
            "createdDateTime": op["created"],
            "lastActionDateTime": op["last"],
        }
        if status == "succeeded":
            body["@odata.type"] = NAMESPACE + "exportSuccessOperation"
            link = f"{req.base}/v1.0/reports/partners/billing/manifests/{op['manifest']}"
            body["resourceLocation@odata.navigationLink"] = link
            return Response(200, body)
        if status == "failed":
            body["@odata.type"] = NAMESPACE + "failedOperation"
            body["error"] = op["error"]
            return Response(200, body)
        body["@odata.type"] = NAMESPACE + "runningOperation"
        return retry_after(Response(200, body))

    def manifest(req: Request) -> Response:
        denied = refused(req)
        if denied:
            return denied
        found = exports.manifests.get(req.match.group("id").lower() if req.match else "")
        if found is None or found["partnerTenantId"] != req.tid:
            return graph_error(404, "NotFound", "The manifest was not found.")
        return Response(200, {"@odata.type": NAMESPACE + "manifest", **found})

    def blob(req: Request) -> Response:
        """A blob read with the manifest's SAS: Azure Storage's answers (XML errors, no bearer token)."""
        path = req.path
        directory, _, _name = path.rpartition("/")
        expiry = req.q("se") or ""
        if not hmac.compare_digest(req.q("sig") or "", exports.sign(directory, expiry)):
            return _storage_error(403, "AuthenticationFailed", "Signature did not match.")
        if expiry < iso(utcnow())[:19] + "Z":
            return _storage_error(403, "AuthenticationFailed", "Signed expiry time has passed.")
        data = exports.blobs.get(path)
        if data is None:
            return _storage_error(404, "BlobNotFound", "The specified blob does not exist.")
        return Response(200, data, {"Content-Type": "application/octet-stream", "x-ms-blob-type": "BlockBlob"})

    def put_usage(req: Request) -> Response:
        """Control API: replace the partner's billing data (a demo computes its dates from today)."""
        body = req.json()
        if not isinstance(body, dict) or not isinstance(body.get("usage"), list):
            return Response(400, {"error": "partnerBilling must be an object with a 'usage' list"})
        world.scenario["partnerBilling"] = body
        return Response(200, {"usage": len(body["usage"])})

    base = r"/v1\.0/reports/partners/billing"
    return [
        route("POST", base + r"/usage/(?P<kind>unbilled|billed)/export", export, "graph"),
        route("GET", base + r"/operations/(?P<id>[^/]+)", operation, "graph"),
        route("GET", base + r"/manifests/(?P<id>[^/]+)", manifest, "graph"),
        route("GET", BLOB_PREFIX + r"/.+", blob, "blob"),
        route("PUT", r"/_emulator/partnerBilling", put_usage, "control"),
    ]


def _storage_error(status: int, code: str, message: str) -> Response:
    body = f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Response(status, body.encode(), {"Content-Type": "application/xml", "x-ms-error-code": code})
