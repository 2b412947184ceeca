"""The emulator process: one TLS HTTP/1.1 server for Entra, ARM, Graph and the control API,
plus a plain-http loopback server for the App Service managed-identity endpoint.

`python -m emulator serve` (see `__main__.py`) builds an `App`, starts both servers and
writes the ready file. Each request runs in its own thread: faults, latency and throttling
are applied outside the world lock, the handler runs under it, and the request is journaled.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import secrets
import socket
import ssl
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import trustme

from emulator import (
    arm_authorization,
    arm_costs,
    arm_lighthouse,
    arm_misc,
    arm_pal,
    control,
    entra,
    graph,
    graph_billing,
    graph_subscriptions,
)
from emulator.tokens import ARM_AUDIENCES, GRAPH_AUDIENCES, Signer, TokenError
from emulator.traffic import Faults, Journal, Throttle
from emulator.web import Request, Response, Route, arm_error, graph_error
from emulator.world import World

log = logging.getLogger(__name__)


class App:
    """Everything a handler may need: the world, the signing key, journal, faults, endpoints."""

    def __init__(self, world: World, workdir: Path) -> None:
        self.world = world
        self.signer = Signer.create()
        self.journal = Journal()
        self.faults = Faults()
        self.throttle = Throttle()
        self.identity_header = secrets.token_urlsafe(24)
        self.base = ""
        self.identity_endpoint = ""
        self.ca = trustme.CA()
        self.ca_path = workdir / "emulator-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_path))
        self.scenario_path: str | None = None
        self.routes: list[Route] = []
        modules = (
            entra,
            arm_pal,
            arm_lighthouse,
            arm_authorization,
            arm_misc,
            arm_costs,
            graph,
            graph_subscriptions,
            graph_billing,
        )
        modules += (control,)
        for module in modules:
            self.routes.extend(module.routes(self))

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        return context

    def find(self, method: str, path: str, surfaces: set[str]) -> tuple[Route | None, Any, bool]:
        path_known = False
        for candidate in self.routes:
            if candidate.surface not in surfaces:
                continue
            match = candidate.pattern.match(path)
            if match:
                path_known = True
                if candidate.method == method:
                    return candidate, match, True
        return None, None, path_known

    def authenticate(self, req: Request, surface: str) -> Response | None:
        header = req.headers.get("Authorization", "")
        audiences = ARM_AUDIENCES if surface == "arm" else GRAPH_AUDIENCES
        if not header.lower().startswith("bearer "):
            message = "Authentication failed. The 'Authorization' header is missing."
            if surface == "graph":
                return graph_error(401, "InvalidAuthenticationToken", "Access token is empty.")
            return self._unauthorized("AuthenticationFailed", message)
        try:
            req.claims = self.signer.verify(header[7:].strip(), audiences)
        except TokenError as e:
            if surface == "graph":
                return graph_error(401, "InvalidAuthenticationToken", e.message)
            return self._unauthorized(e.code, e.message)
        with self.world.lock:
            req.caller = self.world.principal(req.oid, req.tid, include_deleted=True)
        return None

    def _unauthorized(self, code: str, message: str) -> Response:
        response = arm_error(401, code, message)
        response.headers["WWW-Authenticate"] = (
            f'Bearer authorization_uri="{self.base}/common", error="invalid_token", error_description="{message}"'
        )
        return response

    def handle(self, req: Request, surfaces: set[str]) -> Response:
        found, match, path_known = self.find(req.method, req.path, surfaces)
        if found is None:
            if req.path.lower().startswith("/v1.0"):
                return graph_error(405 if path_known else 400, "BadRequest", f"Unsupported request: {req.path}")
            code = "MethodNotAllowed" if path_known else "NoRegisteredProviderFound"
            return arm_error(405 if path_known else 404, code, f"No route for {req.method} {req.path}")
        req.match = match
        req.surface = found.surface
        if found.surface != "control":
            fault = self.faults.pick(req.method, req.path)
            delay = (fault.latency_ms if fault else 0) + float(self.world.config.get("latencyMs") or 0)
            if delay:
                time.sleep(delay / 1000)
            if fault and fault.status == "drop":
                return Response(drop=True)
            if fault and fault.status is not None:
                return self._fault_response(found.surface, fault)
        extra: dict[str, str] = {}
        if found.surface in ("arm", "graph"):
            denied = self.authenticate(req, found.surface)
            if denied:
                return denied
            who = f"{req.tid}/{req.oid}"
            if found.surface == "arm":
                ok, extra, wait = self.throttle.take_arm(who, req.path, req.method)
            else:
                ok, wait = self.throttle.take_graph(who)
            if not ok:
                return self._throttled(found.surface, wait, extra)
        if found.surface == "graph" and req.path.lower().endswith("/$batch"):
            return self._batch(req)  # sub-requests take the lock (and faults, latency) one by one
        with self.world.lock:
            response = found.handler(req)
        response.headers.update(extra)
        return response

    def _batch(self, req: Request) -> Response:
        """Graph JSON batching: up to 20 requests, each dispatched as if sent alone."""
        try:
            items = (req.json() or {}).get("requests")
        except ValueError:
            items = None
        if not isinstance(items, list) or not 0 < len(items) <= 20:
            return graph_error(400, "BadRequest", "A batch holds 1 to 20 requests.")
        answers = []
        for item in items:
            parts = urlsplit("/v1.0/" + str(item.get("url", "")).lstrip("/"))
            body = item.get("body")
            sub = Request(
                str(item.get("method", "GET")).upper(),
                "/" + "/".join(p for p in unquote(parts.path).split("/") if p),
                dict(parse_qsl(parts.query, keep_blank_values=True)),
                req.headers,
                json.dumps(body).encode() if body is not None else b"",
                req.base,
            )
            started = time.monotonic()
            result = self.handle(sub, {"graph"})
            if result.drop:  # a connection drops whole: no answer for the batch, none for its requests
                return result
            entry = {
                "method": sub.method,
                "path": sub.path,
                "query": parts.query,
                "status": result.status,
                "tenantId": req.claims.get("tid"),
                "objectId": req.claims.get("oid"),
                "appId": req.claims.get("appid"),
                "startedAt": started,
                "endedAt": time.monotonic(),
                "inBatch": True,  # one of a $batch's requests: the $batch itself is the round trip
                **self.journal.bodies(sub.surface, sub.body, result.payload()),
            }
            if sub.body:
                entry["bodyHash"] = hashlib.sha256(sub.body).hexdigest()[:16]
            self.journal.add(entry)
            answers.append(
                {
                    "id": str(item.get("id")),
                    "status": result.status,
                    "headers": result.headers,
                    "body": result.body if not isinstance(result.body, bytes) else None,
                }
            )
        return Response(200, {"responses": answers})

    def _fault_response(self, surface: str, fault: Any) -> Response:
        status = int(fault.status)
        if fault.body is not None:
            response = Response(status, fault.body)
        elif surface == "graph":
            code = "TooManyRequests" if status == 429 else "serviceNotAvailable"
            response = graph_error(status, code, "Injected fault")
        elif status == 429:
            response = arm_error(429, "TooManyRequests", "The request was throttled (injected fault).")
        else:
            response = arm_error(status, "InternalServerError" if status < 503 else "ServiceUnavailable", "Injected")
        if fault.retry_after is not None:
            response.headers["Retry-After"] = str(fault.retry_after)
        return response

    def _throttled(self, surface: str, wait: float, extra: dict[str, str]) -> Response:
        seconds = str(max(1, math.ceil(wait)))
        if surface == "graph":
            response = graph_error(429, "TooManyRequests", "Too many requests.")
        else:
            response = arm_error(
                429, "TooManyRequests", f"Number of requests exceeded the limit. Retry after {seconds} seconds."
            )
        response.headers.update(extra)
        response.headers["Retry-After"] = seconds
        return response


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes (two TLS records); with Nagle on, the second waits for the
    # client's delayed ACK of the first, tens of milliseconds per answer on loopback.
    disable_nagle_algorithm = True
    server_version = "PalWatchEmulator/1.0"
    app: App
    surfaces: set[str]

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _serve(self) -> None:
        started = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        path = "/" + "/".join(p for p in unquote(parts.path).split("/") if p)
        if parts.path.endswith("/") and path != "/":
            path += "/"
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
        scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
        req = Request(self.command, path, query, self.headers, body, f"{scheme}://{host}")
        try:
            response = self.app.handle(req, self.surfaces)
        except Exception:
            log.exception("handler failed for %s %s", self.command, path)
            response = arm_error(500, "InternalServerError", "The emulator failed on this request.")
        payload = b"" if response.drop else response.payload()
        # Journaled before the answer is written: a client reading the journal right after its
        # answer finds its request there.
        if not path.startswith("/_emulator"):
            entry = {
                "method": self.command,
                "path": path,
                "query": parts.query,
                "status": "drop" if response.drop else response.status,
                "tenantId": req.claims.get("tid") or req.tid or None,
                "objectId": req.claims.get("oid") or None,
                "appId": req.claims.get("appid") or None,
                # Seconds on the emulator's monotonic clock: which requests overlapped (round trips).
                "startedAt": started,
                "endedAt": time.monotonic(),
                **self.app.journal.bodies(req.surface, body, None if response.drop else payload),
            }
            if body:  # tells requests to the same URL apart (two getByIds batches are two reads)
                entry["bodyHash"] = hashlib.sha256(body).hexdigest()[:16]
            if path.endswith("/token"):  # who asked for which audience (the form, or the MI query)
                form = dict(parse_qsl(body.decode(errors="replace"))) if body else {}
                asked = {**query, **form}
                entry["token"] = f"{asked.get('client_id', '')} {asked.get('scope') or asked.get('resource', '')}"
            self.app.journal.add(entry)

        if response.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self.send_response(response.status)
            if payload and not any(k.lower() == "content-type" for k in response.headers):
                self.send_header("Content-Type", "application/json; charset=utf-8")
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("x-ms-request-id", secrets.token_hex(16))
            self.end_headers()
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = do_HEAD = _serve  # noqa: N815 - stdlib names


class TLSServer(ThreadingHTTPServer):
    """Accepts plain sockets and does the TLS handshake in the connection's own thread."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], handler: type, context: ssl.SSLContext | None) -> None:
        super().__init__(address, handler)
        self.context = context

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.context is not None:
            try:
                request = self.context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)


def make_servers(app: App, port: int) -> tuple[TLSServer, TLSServer]:
    surfaces = {"arm", "graph", "entra", "blob", "control"}  # blob: the partner billing export's SAS downloads
    main_handler = type("MainHandler", (Handler,), {"app": app, "surfaces": surfaces})
    mi_handler = type("IdentityHandler", (Handler,), {"app": app, "surfaces": {"mi"}})
    main = TLSServer(("127.0.0.1", port), main_handler, app.ssl_context())
    identity = TLSServer(("127.0.0.1", 0), mi_handler, None)
    app.base = f"https://127.0.0.1:{main.server_address[1]}"
    app.identity_endpoint = f"http://127.0.0.1:{identity.server_address[1]}/msi/token"
    return main, identity
