"""A loopback HTTPS server for faking Azure services with the REAL client libraries.

Each fake (Data Factory, Azure ML, Azure DevOps) registers routes on a :class:`FakeService`. The
server records every request (method, path, query, headers, JSON body) so tests assert on what the
SDK sent, and injects faults (status codes with headers, dropped connections, delays) before or after
the handler ran, which is how "the service created the run but the answer was lost" is simulated.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trustme


@dataclass
class Request:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        """The body parsed as JSON (``None`` when empty)."""
        return json.loads(self.body) if self.body else None

    @property
    def api_version(self) -> str | None:
        """``api-version`` from the query string or the Accept header (Azure DevOps style)."""
        if "api-version" in self.query:
            return self.query["api-version"]
        match = re.search(r"api-version=([\w.\-]+)", self.headers.get("accept", ""))
        return match.group(1) if match else None


@dataclass
class Response:
    """What a route handler answers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """A fault injected on the next matching request.

    Args:
        method: HTTP method to match.
        path: Regular expression searched in the path.
        status: Answer with this status (and ``headers``) instead of the handler's answer.
        drop: Close the connection without any answer.
        delay: Seconds to wait before answering.
        after_handler: Run the real handler first (its side effects happen), then apply the fault.
        times: How many matching requests the fault applies to.
    """

    method: str
    path: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    drop: bool = False
    delay: float = 0.0
    after_handler: bool = False
    times: int = 1


Handler = Callable[[Request, "re.Match[str]"], Response]


class _QuietServer(ThreadingHTTPServer):
    """Does not print a traceback when a client went away first (it timed out waiting for a slow answer)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class FakeService:
    """An HTTPS server on 127.0.0.1 with routes, request recording and fault injection.

    ``hostnames`` adds names to its certificate (wildcards allowed, e.g. ``*.blob.core.chinacloudapi.cn``),
    for clients that reach it under a cloud's real host names through a routing proxy.
    """

    def __init__(self, ca: trustme.CA, *, hostnames: tuple[str, ...] = ()) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.requests: list[Request] = []
        service = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _handle(self) -> None:
                service._dispatch(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle

        self._server = _QuietServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost", *hostnames).configure_cert(context)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        """Base URL, e.g. ``https://127.0.0.1:54321``."""
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeService:
        """Start serving in a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def route(self, method: str, pattern: str, handler: Handler, *, first: bool = False) -> None:
        """Answer ``method`` requests whose path fully matches ``pattern`` with ``handler``.

        Routes are tried in the order they were added; ``first=True`` puts this one before all others.
        """
        entry = (method.upper(), re.compile(pattern + r"/?$", re.IGNORECASE), handler)
        if first:
            self._routes.insert(0, entry)
        else:
            self._routes.append(entry)

    def inject(self, fault: Fault) -> None:
        """Queue a fault for the next matching request(s)."""
        with self._lock:
            self._faults.append(fault)

    def requests_to(self, method: str, pattern: str) -> list[Request]:
        """Recorded requests whose method matches and whose path matches ``pattern`` (regex search)."""
        compiled = re.compile(pattern, re.IGNORECASE)
        return [r for r in self.requests if r.method == method.upper() and compiled.search(r.path)]

    # -- internals ---------------------------------------------------------------------------------

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method.upper() == method and re.search(fault.path, path, re.IGNORECASE):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _dispatch(self, http: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(http.path)
        length = int(http.headers.get("Content-Length") or 0)
        body = http.rfile.read(length) if length else b""
        request = Request(
            method=http.command,
            path=parts.path,
            query={key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()},
            headers={key.lower(): value for key, value in http.headers.items()},
            body=body,
        )
        with self._lock:
            self.requests.append(request)
        fault = self._take_fault(request.method, request.path)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and not fault.after_handler:
            self._apply_fault(http, fault)
            return
        response = self._answer(request)
        if fault is not None:
            self._apply_fault(http, fault)
            return
        self._send(http, response)

    def _answer(self, request: Request) -> Response:
        for method, pattern, handler in self._routes:
            if method != request.method:
                continue
            match = pattern.match(request.path)
            if match:
                try:
                    return handler(request, match)
                except Exception as error:  # a fake bug must show up as a clear 500 in the test
                    return Response(500, {"error": {"code": "FakeError", "message": repr(error)}})
        return Response(
            404, {"error": {"code": "NotFound", "message": f"no fake route for {request.method} {request.path}"}}
        )

    def _apply_fault(self, http: BaseHTTPRequestHandler, fault: Fault) -> None:
        if fault.drop:
            http.close_connection = True
            http.connection.close()
            return
        self._send(
            http,
            Response(
                fault.status or 500,
                fault.body or {"error": {"code": "Injected", "message": "injected fault"}},
                dict(fault.headers),
            ),
        )

    @staticmethod
    def _send(http: BaseHTTPRequestHandler, response: Response) -> None:
        payload = b"" if response.body is None else json.dumps(response.body).encode()
        http.send_response(response.status)
        headers = {"Content-Type": "application/json; charset=utf-8", "x-ms-request-id": "fake-request-id"}
        headers.update(response.headers)
        for key, value in headers.items():
            http.send_header(key, value)
        http.send_header("Content-Length", str(len(payload)))
        http.end_headers()
        if payload and http.command != "HEAD":
            http.wfile.write(payload)


def write_ca(ca: trustme.CA, folder: Path) -> Path:
    """Write the CA certificate as PEM into ``folder`` and return its path."""
    path = folder / "fake-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path
