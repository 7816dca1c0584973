"""A raw HTTP/1.1 exchange over a fresh socket: full control of the framing, and a dropped connection is visible.

httpx and http.client fix up what a hostile client would send wrong (Content-Length, header values), so the
fuzz test of the endpoint server writes its requests byte by byte with this instead.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass


class DroppedConnectionError(AssertionError):
    """The server closed the connection (or reset it) without a complete answer."""


@dataclass(frozen=True)
class RawAnswer:
    """Status, lower-cased headers and body of one complete answer."""

    status: int
    headers: dict[str, str]
    body: bytes


def request_bytes(
    method: str, path: str, port: int, headers: list[tuple[str, str]], body: bytes, *, framing: str, limit: int
) -> bytes:
    """One request; ``framing`` says how the body length is told (some ways on purpose wrong).

    ``exact``/``leading-zeros``: a right Content-Length; ``chunked``: Transfer-Encoding chunks;
    ``over-limit``: a Content-Length above ``limit`` and no body; ``zero``/``short``/``missing``: a
    Content-Length of 0, half the body, or none while the body is sent anyway; ``invalid``: a
    Content-Length that is not a number; ``conflicting``: two different Content-Length headers.
    """
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in headers]
    payload = body
    if framing == "exact":
        lines.append(f"Content-Length: {len(body)}")
    elif framing == "leading-zeros":
        lines.append(f"Content-Length: 000{len(body)}")
    elif framing == "chunked":
        lines.append("Transfer-Encoding: chunked")
        size = max(1, len(body) // 3)
        chunks = [body[start : start + size] for start in range(0, len(body), size)]
        payload = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"
    elif framing == "over-limit":
        lines.append(f"Content-Length: {limit + 1}")
        payload = b""
    elif framing == "zero":
        lines.append("Content-Length: 0")
    elif framing == "short":
        lines.append(f"Content-Length: {len(body) // 2}")
    elif framing == "invalid":
        lines.append("Content-Length: twelve")
    elif framing == "conflicting":
        lines += [f"Content-Length: {len(body)}", f"Content-Length: {len(body) + 7}"]
    elif framing != "missing":
        raise ValueError(f"unknown framing {framing!r}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


def exchange(port: int, request: bytes, *, timeout: float = 30.0) -> RawAnswer:
    """Send ``request`` on a new connection and read one complete answer.

    Raises:
        DroppedConnectionError: the connection closed or was reset before a complete answer arrived.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # The server may answer (401, 413) before it read everything: the answer is what counts.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    raise DroppedConnectionError(f"closed without an answer (received {data[:200]!r})")
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            while len(body) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    raise DroppedConnectionError(f"closed in the middle of the answer {lines[0]!r}")
                body += chunk
        except ConnectionResetError as error:
            raise DroppedConnectionError(f"reset before a complete answer (received {data[:200]!r})") from error
    return RawAnswer(int(lines[0].split(" ", 2)[1]), headers, body[:length])
