"""The one HTTP client for ARM and Microsoft Graph: bearer tokens, retries, paging, error classes.

Every adapter (pal, arm, lighthouse, graph, activity_log) sends its requests through an
`AzureHttpClient`. Retries come from urllib3's `Retry` (429/5xx/connection errors, honouring
Retry-After); whatever still fails is classified once into `shared.azure.errors`. Paging
follows `nextLink` / `@odata.nextLink`, only on the client's own host, so a bearer token never
leaves for another host. One log line per failed request; never a token or header.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from shared.azure import errors, identity

log = logging.getLogger(__name__)


class _PathsOnly(logging.Filter):
    """urllib3 logs URLs with their query (skip and delta tokens, filters); keep the path only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(a.split("?", 1)[0] if isinstance(a, str) and "?" in a else a for a in record.args)
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_PathsOnly())

_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
MAX_RETRY_AFTER_SECONDS = 60.0  # a Functions invocation cannot wait longer; the caller retries later
_BODY_LOG_CHARS = 300
_EXPECTED_REFUSALS = frozenset({401, 403, 404, 409})
_MAX_PAGES = 100_000


class _Retry(Retry):
    """urllib3 Retry that also retries a non-idempotent POST when the server refused it unprocessed.

    429 and 503-with-Retry-After mean the request was not acted on, so repeating any method is
    safe; other failures of a POST that is not idempotent must not be repeated (mail sent twice).
    Retry-After is capped so one call never sleeps for minutes.
    """

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() == "POST" and (status_code == 429 or (status_code == 503 and has_retry_after)):
            return bool(self.total)
        return super().is_retry(method, status_code, has_retry_after)

    retry_after_cap = MAX_RETRY_AFTER_SECONDS  # a class attribute: urllib3 rebuilds Retry on every attempt

    def parse_retry_after(self, retry_after: str) -> float:
        return min(super().parse_retry_after(retry_after), self.retry_after_cap)


class EnvironmentOnceSession(requests.Session):
    """A `requests.Session` that reads the environment once instead of on every request.

    With `trust_env` (the default) requests re-reads the proxy variables, the netrc file and the
    CA bundle variables for every request, which costs more CPU than sending it. Here the CA
    bundle (`REQUESTS_CA_BUNDLE`, then `CURL_CA_BUNDLE`: how a sovereign cloud's or the
    emulator's CA is trusted) is read when the session is made, and each origin's proxies
    (`HTTPS_PROXY`, `NO_PROXY`, ...) the first time it is called; netrc is never read (every call
    carries its own Authorization header). Also used as Table Storage's transport session.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        super().__init__()
        env = os.environ if environ is None else environ
        self.trust_env = False
        self.ca_bundle = env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE") or None
        if self.ca_bundle:
            self.verify = self.ca_bundle
        self._origin_proxies: dict[tuple[str, str], dict[str, str]] = {}

    def merge_environment_settings(self, url: str, proxies: Any, stream: Any, verify: Any, cert: Any) -> dict[str, Any]:
        origin = (urlsplit(url).scheme, urlsplit(url).netloc)
        found = self._origin_proxies.get(origin)
        if found is None:
            no_proxy = proxies.get("no_proxy") if proxies else None
            found = self._origin_proxies[origin] = requests.utils.get_environ_proxies(url, no_proxy=no_proxy)
        merged = dict(proxies or {})
        for scheme, proxy in found.items():
            merged.setdefault(scheme, proxy)
        if (verify is True or verify is None) and self.ca_bundle:
            verify = self.ca_bundle  # what requests does with the variable when it trusts the environment
        return super().merge_environment_settings(url, merged, stream, verify, cert)


def new_session(
    *,
    pool_size: int = 16,
    max_retries: int = 4,
    backoff_factor: float = 0.5,
    idempotent_post: bool = False,
    retry_after_cap: float = MAX_RETRY_AFTER_SECONDS,
) -> requests.Session:
    """A `requests.Session` with our retry policy and a bounded connection pool.

    Sessions can be shared by several `AzureHttpClient`s (one per identity) to share connections.
    `retry_after_cap` bounds how long one call waits when throttled (event handlers must answer
    Event Grid within 30 s: they give up sooner and let Event Grid redeliver).
    """
    methods = _IDEMPOTENT | {"POST"} if idempotent_post else _IDEMPOTENT
    retry_class = (
        _Retry
        if retry_after_cap == _Retry.retry_after_cap
        else type("_CappedRetry", (_Retry,), {"retry_after_cap": retry_after_cap})
    )
    retry = retry_class(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        other=0,
        backoff_factor=backoff_factor,
        backoff_max=30,
        status_forcelist=_RETRY_STATUSES,
        allowed_methods=methods,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=max(1, pool_size), pool_block=True)
    session = EnvironmentOnceSession()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = "palwatch/0.1"
    return session


def transport_session(*, pool_size: int = 16) -> requests.Session:
    """A session for an Azure SDK client's transport (`RequestsTransport(session=...)`): the
    environment read once, a pool as large as the concurrency, and no retries of its own (the
    SDK's pipeline retries)."""
    adapter = HTTPAdapter(
        max_retries=Retry(total=False, redirect=False, raise_on_status=False),
        pool_connections=4,
        pool_maxsize=max(1, pool_size),
    )
    session = EnvironmentOnceSession()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class AzureHttpClient:
    """JSON over HTTPS to one service (ARM or Graph) as one identity."""

    def __init__(  # params: endpoint, credential, scope as the SDK clients take them; the rest are options
        self,
        endpoint: str,
        credential: Any,
        scope: str,
        *,
        timeout: float = 30.0,
        max_retries: int = 4,
        session: requests.Session | None = None,
        pool_size: int = 16,
        backoff_factor: float = 0.5,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.credential = credential
        self.scope = scope
        self.timeout = timeout
        self._host = urlsplit(self.endpoint).netloc.lower()
        self._session = session or new_session(
            pool_size=pool_size, max_retries=max_retries, backoff_factor=backoff_factor
        )
        self._session_options = {"pool_size": pool_size, "max_retries": max_retries, "backoff_factor": backoff_factor}
        self._post_session: requests.Session | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_arm(cls, settings: Any, credential: Any, *, session: requests.Session | None = None) -> AzureHttpClient:
        """A client for ARM at `settings.arm_endpoint` with the ARM audience."""
        return cls(
            settings.arm_endpoint,
            credential,
            settings.arm_scope,
            timeout=settings.http_timeout_seconds,
            session=session,
            pool_size=settings.max_concurrency,
        )

    @classmethod
    def for_graph(cls, settings: Any, credential: Any, *, session: requests.Session | None = None) -> AzureHttpClient:
        """A client for Microsoft Graph at `settings.graph_endpoint` with the Graph audience."""
        return cls(
            settings.graph_endpoint,
            credential,
            settings.graph_scope,
            timeout=settings.http_timeout_seconds,
            session=session,
            pool_size=settings.max_concurrency,
        )

    # -- verbs -------------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        return self.request("GET", path, params=params)

    def put(self, path: str, body: Any = None, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        return self.request("PUT", path, params=params, body=body)

    def patch(self, path: str, body: Any = None, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        return self.request("PATCH", path, params=params, body=body)

    def post(
        self, path: str, body: Any = None, params: Mapping[str, str] | None = None, *, idempotent: bool = False
    ) -> dict[str, Any]:
        """POST; `idempotent=True` (a read such as a Graph JSON batch of GETs) lets every failure be retried."""
        return self.request("POST", path, params=params, body=body, idempotent=idempotent)

    def delete(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        return self.request("DELETE", path, params=params)

    def list(self, path: str, params: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Yield the items of `value` across every page."""
        for page in self.pages(path, params):
            items = page.get("value")
            if items is None:
                continue
            if not isinstance(items, list):
                raise errors.PermanentError(
                    f"'value' is not a list in the answer to {_path_of(path)}", code="MalformedResponse"
                )
            for item in items:
                if isinstance(item, dict):
                    yield item

    def pages(self, path: str, params: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Yield every page of a list, following `nextLink` / `@odata.nextLink` (absolute URLs)."""
        page = self.get(path, params)
        seen: set[str] = set()
        for _ in range(_MAX_PAGES):
            yield page
            next_link = page.get("nextLink") or page.get("@odata.nextLink")
            if not next_link:
                return
            if not isinstance(next_link, str) or next_link in seen:
                raise errors.PermanentError(
                    f"paging loop in {_path_of(path)}: a nextLink came back twice", code="PagingLoop"
                )
            seen.add(next_link)
            page = self.get(next_link)
        raise errors.PermanentError(f"more than {_MAX_PAGES} pages in {_path_of(path)}", code="PagingLoop")

    # -- the one request path ----------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        idempotent: bool = False,
    ) -> dict[str, Any]:
        """Send one request (with the library's retries) and return its JSON body ({} when empty)."""
        return self.exchange(method, path, params=params, body=body, idempotent=idempotent)[0]

    def exchange(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        idempotent: bool = False,
    ) -> tuple[dict[str, Any], Mapping[str, str]]:
        """`request`, also returning the answer's headers (a 202's `Location` and `Retry-After`)."""
        url = self._url(path, params)
        token = identity.acquire_token(self.credential, self.scope)
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        data: bytes | None = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif method in ("PUT", "PATCH", "POST"):
            headers["Content-Length"] = "0"
        session = self._session_for(method, idempotent)
        started = time.monotonic()
        try:
            response = session.request(method, url, headers=headers, data=data, timeout=self.timeout)
        except requests.exceptions.SSLError as e:
            log.warning("%s %s -> TLS error %s", method, _path_of(url), type(e).__name__)
            raise errors.PermanentError(
                f"TLS failure talking to {self._host}: is the CA trusted (REQUESTS_CA_BUNDLE)?", code="TlsError"
            ) from e
        except requests.exceptions.ProxyError as e:
            log.warning("%s %s -> proxy error", method, _path_of(url))
            raise errors.TransientError(
                f"{method} {_path_of(url)}: the proxy refused or is unreachable (HTTPS_PROXY, NO_PROXY)",
                code="ProxyError",
            ) from e
        except (
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ) as e:
            log.warning("%s %s -> %s after retries", method, _path_of(url), type(e).__name__)
            raise errors.TransientError(f"{method} {_path_of(url)}: {type(e).__name__}", code="NetworkError") from e
        except requests.exceptions.RequestException as e:
            log.warning("%s %s -> %s", method, _path_of(url), type(e).__name__)
            raise errors.PermanentError(f"{method} {_path_of(url)}: {type(e).__name__}", code="RequestError") from e
        return self._answer(method, url, response, time.monotonic() - started), response.headers

    def _answer(self, method: str, url: str, response: requests.Response, elapsed: float) -> dict[str, Any]:
        if response.status_code < 400:
            log.debug("%s %s -> %s in %.2fs", method, _path_of(url), response.status_code, elapsed)
            if not response.content or not response.content.strip():
                return {}
            try:
                payload = response.json()
            except ValueError as e:
                raise errors.PermanentError(
                    f"{method} {_path_of(url)} answered {response.status_code} with a body that is not JSON",
                    status=response.status_code,
                    code="MalformedResponse",
                ) from e
            return payload if isinstance(payload, dict) else {"value": payload}
        code, message = parse_error_body(response.text)
        # 401/403/404/409 are often the expected answer (get_link when unlinked, deletedItems lookups,
        # an identity that holds only resource-group delegations): INFO; the caller decides whether
        # it matters. Throttling and server errors that survived the retries are worth a WARNING.
        log.log(
            logging.INFO if response.status_code in _EXPECTED_REFUSALS else logging.WARNING,
            "%s %s -> %s %s",
            method,
            _path_of(url),
            response.status_code,
            response.text[:_BODY_LOG_CHARS].replace("\n", " "),
        )
        raise errors.error_for(
            response.status_code,
            code,
            message or f"{method} {_path_of(url)} failed",
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )

    def _session_for(self, method: str, idempotent: bool) -> requests.Session:
        if method != "POST" or not idempotent:
            return self._session
        with self._lock:
            if self._post_session is None:
                self._post_session = new_session(idempotent_post=True, **self._session_options)
            return self._post_session

    def _url(self, path: str, params: Mapping[str, str] | None) -> str:
        if path.startswith(("https://", "http://")):
            parts = urlsplit(path)
            if parts.netloc.lower() != self._host:
                # A nextLink to another host would receive our bearer token: refuse.
                raise errors.PermanentError(
                    f"refusing to follow a link to another host ({parts.hostname})", code="ForeignLink"
                )
            url = path
        else:
            url = self.endpoint + "/" + path.lstrip("/")
        if params:
            query = urlencode({k: v for k, v in params.items() if v is not None}, quote_via=quote, safe="$',:()")
            url += ("&" if "?" in url else "?") + query
        return url

    def close(self) -> None:
        self._session.close()
        if self._post_session is not None:
            self._post_session.close()


def parse_error_body(text: str) -> tuple[str, str]:
    """(code, message) from an ARM, Graph or OAuth error body; ('', '') when there is none."""
    try:
        body = json.loads(text) if text else None
    except ValueError:
        return "", text[:_BODY_LOG_CHARS].strip()
    if not isinstance(body, dict):
        return "", ""
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("code") or body.get("code") or ""), str(error.get("message") or body.get("message") or "")
    if isinstance(error, str):  # OAuth shape: {"error": "invalid_client", "error_description": "AADSTS..."}
        return error, str(body.get("error_description") or "")
    return str(body.get("code") or ""), str(body.get("message") or "")


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _path_of(url: str) -> str:
    """The path alone: queries may carry filters or (in links) tokens, so logs never show them."""
    return urlsplit(url).path or "/"
