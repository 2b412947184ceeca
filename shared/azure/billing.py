"""Microsoft Graph partner billing export: the daily rated usage lines Microsoft billed the partner.

Called only by the daily credit snapshot (`shared.usecases.credit`). Graph v1.0, namespace
`microsoft.graph.partners.billing` (microsoftgraph/microsoft-graph-docs-contrib
api-reference/v1.0/api/partners-billing-unbilledusage-export.md, -billedusage-export.md,
-operation-get.md, -manifest-get.md): `POST /reports/partners/billing/usage/unbilled/export`
answers 202 with a `Location` to the long-running `operation`; its GET says `notStarted` /
`running`, then `succeeded` (its `resourceLocation` is the `manifest`) or `failed` (`error`). The
manifest names `blobs` under `rootDirectory`, read with its `sasToken`; each blob is gzipped JSON
lines (`dataFormat` `compressedJSONLines`). Application permission `PartnerBilling.Read.All`.

The blobs live in Azure Storage, not on Graph: they are read with the SAS alone (the bearer token
never leaves for that host), streamed and decompressed line by line, so memory stays flat in the
number of lines. The polling honours Retry-After (the service's, else `DEFAULT_POLL_SECONDS`) and
gives up after `MAX_WAIT_SECONDS` with a `TransientError`: the next run asks again.
"""

from __future__ import annotations

import gzip
import json
import logging
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from urllib3.exceptions import HTTPError as TransportError

from shared.azure import errors, http

log = logging.getLogger(__name__)

EXPORTS = "/v1.0/reports/partners/billing/usage"
DATA_FORMAT = "compressedJSONLines"
DEFAULT_POLL_SECONDS = 10.0  # when the service sends no Retry-After
MAX_POLL_SECONDS = 60.0  # one wait is never longer, whatever Retry-After says
MAX_WAIT_SECONDS = 6 * 60.0  # the Functions timeout is 10 minutes: the download needs the rest
RUNNING = frozenset({"notStarted", "running"})
BLOB_TIMEOUT = 60.0


class ExportFailedError(errors.PermanentError):
    """The operation ended `failed`; `code` is Microsoft's (e.g. "5000", "No data available")."""


class ExportPendingError(errors.TransientError):
    """The export was still running when this run's wait ran out: ask again next run."""


@dataclass(frozen=True)
class Manifest:
    """Where the exported files are: `rootDirectory`, the blob names, and the SAS that reads them."""

    id: str
    root_directory: str
    sas_token: str
    blobs: tuple[str, ...]
    data_format: str = DATA_FORMAT

    def url(self, name: str) -> str:
        return f"{self.root_directory.rstrip('/')}/{quote(name)}?{self.sas_token.lstrip('?')}"


class BillingClient:
    """The partner billing export as the app's own identity (in the partner's tenant)."""

    def __init__(
        self,
        graph_http: http.AzureHttpClient,
        *,
        blob_session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = graph_http
        self._blobs = blob_session or http.new_session(pool_size=2)
        self._sleep = sleep
        self._clock = clock
        self.skipped_lines = 0  # lines that were not JSON objects (counted, never raised)

    @classmethod
    def from_settings(cls, settings: Any, credential: Any, **kwargs: Any) -> BillingClient:
        session = kwargs.pop("session", None)
        return cls(http.AzureHttpClient.for_graph(settings, credential, session=session), **kwargs)

    def export_unbilled(self, currency: str, period: str = "current") -> Manifest:
        """Export the billing period's unbilled usage (`attributeSet: full`) and wait for its manifest."""
        return self._follow(*self.start_unbilled(currency, period))

    def start_unbilled(self, currency: str, period: str = "current") -> tuple[str, float | None]:
        """Only start the unbilled export: the operation's `Location` and the Retry-After (the doctor's probe)."""
        body = {"currencyCode": currency, "billingPeriod": period, "attributeSet": "full"}
        return self._start("unbilled", body)

    def export_billed(self, invoice_id: str) -> Manifest:
        """Export one invoice's billed usage (`attributeSet: full`) and wait for its manifest."""
        return self._export("billed", {"invoiceId": invoice_id, "attributeSet": "full"})

    def _export(self, kind: str, body: dict[str, str]) -> Manifest:
        return self._follow(*self._start(kind, body))

    def _start(self, kind: str, body: dict[str, str]) -> tuple[str, float | None]:
        _answer, headers = self._http.exchange("POST", f"{EXPORTS}/{kind}/export", body=body)
        location = headers.get("Location") or headers.get("location")
        if not location:
            raise errors.PermanentError("the billing export answered without a Location", code="MalformedResponse")
        return location, _retry_after(headers)

    def _follow(self, location: str, wait: float | None) -> Manifest:
        deadline = self._clock() + MAX_WAIT_SECONDS
        while True:
            pause = min(DEFAULT_POLL_SECONDS if wait is None else wait, MAX_POLL_SECONDS)
            if self._clock() + pause > deadline:
                raise ExportPendingError("the billing export is still running; the next run asks again")
            self._sleep(pause)
            operation, headers = self._http.exchange("GET", location)
            status = str(operation.get("status") or "")
            if status == "succeeded":
                return self._manifest(operation)
            if status == "failed":
                error = operation.get("error") if isinstance(operation.get("error"), dict) else {}
                raise ExportFailedError(
                    str(error.get("message") or "the billing export failed")[:300], code=str(error.get("code") or "")
                )
            if status not in RUNNING:
                raise errors.PermanentError(f"unknown billing operation status {status[:40]!r}", code="Malformed")
            wait = _retry_after(headers)

    def _manifest(self, operation: Mapping[str, Any]) -> Manifest:
        found = operation.get("resourceLocation")
        if not isinstance(found, dict):
            link = operation.get("resourceLocation@odata.navigationLink")
            if not isinstance(link, str) or not link:
                raise errors.PermanentError("the finished export names no manifest", code="MalformedResponse")
            found = self._http.get(link)
        return parse_manifest(found)

    def list_usage(self, manifest: Manifest) -> Iterator[dict[str, Any]]:
        """Every usage line of every blob, one at a time (one GET per blob)."""
        for name in manifest.blobs:
            yield from self._blob_lines(manifest.url(name), name)

    def _blob_lines(self, url: str, name: str) -> Iterator[dict[str, Any]]:
        try:
            response = self._blobs.get(url, stream=True, timeout=BLOB_TIMEOUT)
        except requests.exceptions.RequestException as e:
            raise errors.TransientError(f"billing blob {name[:80]}: {type(e).__name__}", code="NetworkError") from e
        with response:
            if response.status_code >= 400:
                code = response.headers.get("x-ms-error-code", "")
                log.warning("billing blob %s -> %s %s", urlsplit(url).path, response.status_code, code)
                raise errors.error_for(response.status_code, code, f"billing blob {name[:80]} was refused ({code})")
            try:
                yield from self.lines_of(response.raw)
            except (requests.exceptions.RequestException, TransportError, OSError, EOFError, zlib.error) as e:
                raise errors.TransientError(f"billing blob {name[:80]} broke off: {type(e).__name__}") from e

    def lines_of(self, stream: Any) -> Iterator[dict[str, Any]]:
        """The JSON objects of a gzipped JSON-lines stream, decompressed as they are read."""
        with gzip.GzipFile(fileobj=stream, mode="rb") as lines:
            for raw in lines:
                if not raw.strip():
                    continue
                try:
                    line = json.loads(raw)
                except ValueError:
                    line = None
                if isinstance(line, dict):
                    yield line
                else:
                    self.skipped_lines += 1

    def close(self) -> None:
        self._blobs.close()


def parse_manifest(raw: Mapping[str, Any]) -> Manifest:
    """A `manifest` as Graph returns it; PermanentError when it cannot be read."""
    blobs = raw.get("blobs")
    root, sas = raw.get("rootDirectory"), raw.get("sasToken")
    if not isinstance(blobs, list) or not isinstance(root, str) or not isinstance(sas, str):
        raise errors.PermanentError("the billing manifest lacks blobs, rootDirectory or sasToken", code="Malformed")
    if not root.lower().startswith("https://"):
        raise errors.PermanentError("the billing manifest's rootDirectory is not https", code="Malformed")
    names = tuple(str(b["name"]) for b in blobs if isinstance(b, dict) and b.get("name"))
    data_format = str(raw.get("dataFormat") or DATA_FORMAT)
    if data_format.lower() not in ("compressedjsonlines", "compressedjson"):  # the manifest-get example says the latter
        raise errors.PermanentError(f"billing data format {data_format[:40]!r} is not gzipped JSON lines")
    return Manifest(str(raw.get("id") or ""), root, sas, names, data_format)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    return http.retry_after_seconds(headers.get("Retry-After") or headers.get("retry-after"))
