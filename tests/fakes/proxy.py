"""An HTTP CONNECT proxy on 127.0.0.1 that counts the tunnels it opens, per target.

Like a corporate proxy, it only tunnels where it is allowed to: targets on 127.0.0.1 / localhost.
Any other target (``login.microsoftonline.com``, ``management.azure.com``, ...) is answered
``403`` and recorded in :attr:`ConnectProxy.refused`, so a test can prove that no request left
for a host the configuration did not name.

Two corporate variations: ``credentials=(user, password)`` makes it an authenticating proxy that answers
``407 Proxy Authentication Required`` (RFC 9110 section 15.5.8, ``Proxy-Authenticate: Basic``) to a CONNECT
without the matching ``Proxy-Authorization: Basic`` header; ``routes={"host": port}`` tunnels a named
host (``management.chinacloudapi.cn``) to a loopback port, as a proxy that resolves names itself does,
so clients can use a cloud's real host names against the loopback fakes.
"""

from __future__ import annotations

import base64
import contextlib
import select
import socket
import socketserver
import threading
from collections import Counter
from collections.abc import Iterator

_LOCAL_HOSTS = ("127.0.0.1", "localhost")


class ConnectProxy:
    """A threading CONNECT proxy; ``tunnels`` counts opened tunnels by ``host:port``."""

    def __init__(self, *, credentials: tuple[str, str] | None = None, routes: dict[str, int] | None = None) -> None:
        self.tunnels: Counter[str] = Counter()
        self.refused: list[str] = []
        self.other_requests: list[str] = []
        self.credentials = credentials
        self.routes = {host.lower(): port for host, port in (routes or {}).items()}
        self.authorizations: list[str | None] = []
        """The ``Proxy-Authorization`` header of each CONNECT (``None`` when absent)."""
        self.unauthenticated: list[str] = []
        """CONNECT targets answered 407."""
        self._lock = threading.Lock()
        proxy = self

        class _Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                proxy._handle(self)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def tunnels_to(self, url: str) -> int:
        """Tunnels opened to the host and port of ``url`` (``https://127.0.0.1:1234/...``)."""
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        return self.tunnels[f"{parts.hostname}:{parts.port or 443}"]

    def start(self) -> ConnectProxy:
        """Serve in a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, handler: socketserver.StreamRequestHandler) -> None:
        request_line = handler.rfile.readline(65537).decode("latin-1").strip()
        authorization: str | None = None
        while (line := handler.rfile.readline(65537)) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "proxy-authorization":
                authorization = value.strip()
        method, _, rest = request_line.partition(" ")
        target = rest.split(" ", 1)[0]
        if method.upper() != "CONNECT":
            with self._lock:
                self.other_requests.append(request_line)
            handler.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        with self._lock:
            self.authorizations.append(authorization)
        if self.credentials is not None:
            expected = "Basic " + base64.b64encode(":".join(self.credentials).encode()).decode()
            if authorization != expected:
                with self._lock:
                    self.unauthenticated.append(target)
                handler.wfile.write(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                    b'Proxy-Authenticate: Basic realm="corp"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
                )
                return
        host, _, port = target.rpartition(":")
        routed = self.routes.get(host.strip("[]").lower())
        if routed is not None and port.isdigit():
            self._tunnel(handler, target, routed)
            return
        if host.strip("[]") not in _LOCAL_HOSTS or not port.isdigit():
            with self._lock:
                self.refused.append(target)
            handler.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        self._tunnel(handler, f"127.0.0.1:{port}" if host == "localhost" else target, int(port))

    def _tunnel(self, handler: socketserver.StreamRequestHandler, target: str, port: int) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            handler.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        with self._lock:
            self.tunnels[target] += 1
        handler.wfile.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        handler.wfile.flush()
        _pump(handler.connection, upstream)


def _pump(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    sockets = [client, upstream]
    with contextlib.closing(upstream):
        while True:
            readable, _, broken = select.select(sockets, [], sockets, 30)
            if broken or not readable:
                return
            for source in readable:
                data = source.recv(65536)
                if not data:
                    return
                (upstream if source is client else client).sendall(data)


@contextlib.contextmanager
def connect_proxy(
    *, credentials: tuple[str, str] | None = None, routes: dict[str, int] | None = None
) -> Iterator[ConnectProxy]:
    """A started :class:`ConnectProxy` (see its arguments), stopped on exit."""
    proxy = ConnectProxy(credentials=credentials, routes=routes).start()
    try:
        yield proxy
    finally:
        proxy.stop()
