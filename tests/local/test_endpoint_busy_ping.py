"""A live endpoint server that answers ``/ping`` slowly (a loaded machine) is still running, not stopped.

Under load (CI with two workers, a busy laptop) the server's first answer can take longer than the short
probe timeout. ``running()`` used to call that server stopped, so status flipped to Failed and a restart
was attempted on a healthy endpoint. A refused connection still means "not running" at once.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mlops_sdk.backends.local.serving.process import EndpointServer


def _slow_ping_server(delay: float, name: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(delay)
            self.send_response(200)
            self.send_header("x-mlops-endpoint", name)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # the probe that timed out closed its socket: the late answer's broken pipe is expected

    return Server(("127.0.0.1", 0), Handler)


@pytest.fixture
def slow_server() -> Iterator[ThreadingHTTPServer]:
    server = _slow_ping_server(2.5, "busy")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _point_at(folder: Path, port: int) -> EndpointServer:
    folder.mkdir(parents=True)
    (folder / "server.json").write_text(json.dumps({"pid": os.getpid(), "host": "127.0.0.1", "port": port}))
    return EndpointServer(folder, "busy")


def test_a_live_server_answering_ping_after_the_short_timeout_is_running(
    tmp_path: Path, slow_server: ThreadingHTTPServer
) -> None:
    server = _point_at(tmp_path / "busy", slow_server.server_address[1])
    info = server.running()
    assert info is not None
    assert info.port == slow_server.server_address[1]


def test_a_refused_connection_is_not_running(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = _point_at(tmp_path / "gone", port)
    assert server.running() is None
