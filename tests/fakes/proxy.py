"""An HTTP CONNECT proxy on 127.0.0.1 that counts the tunnels it opens, per target.

Like a corporate proxy, it only tunnels where it is allowed to: targets on 127.0.0.1 / localhost.
Any other target (``login.microsoftonline.com``, ``management.azure.com``, ...) is answered
``403`` and recorded in :attr:`ConnectProxy.refused`, so a test can prove that no request left
for a host the configuration did not name.
"""

from __future__ import annotations

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

    def __init__(self) -> None:
        self.tunnels: Counter[str] = Counter()
        self.refused: list[str] = []
        self.other_requests: list[str] = []
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
        while handler.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
            pass  # headers (Proxy-Authorization etc.) are not needed
        method, _, rest = request_line.partition(" ")
        target = rest.split(" ", 1)[0]
        if method.upper() != "CONNECT":
            with self._lock:
                self.other_requests.append(request_line)
            handler.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        host, _, port = target.rpartition(":")
        if host.strip("[]") not in _LOCAL_HOSTS or not port.isdigit():
            with self._lock:
                self.refused.append(target)
            handler.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
        except OSError:
            handler.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        with self._lock:
            self.tunnels[f"127.0.0.1:{port}" if host == "localhost" else target] += 1
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
def connect_proxy() -> Iterator[ConnectProxy]:
    """A started :class:`ConnectProxy`, stopped on exit."""
    proxy = ConnectProxy().start()
    try:
        yield proxy
    finally:
        proxy.stop()
