"""A small, bounded HTTP/1.1 load generator for endpoint servers (benchmarks and load tests; not shipped).

Each of ``concurrency`` workers keeps one keep-alive connection and sends requests until the shared
budget of ``total`` requests is spent. A request is prebuilt bytes, so the generator's own cost per
request stays a few microseconds and the numbers describe the server. Every answer is recorded
with its status, latency, the ``azureml-model-deployment`` header and the tag that was current when
it was sent (:attr:`LoadRun.tag`), which is how a test attributes answers to traffic phases.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LoadRun", "Sample", "build_request", "percentile"]


def build_request(
    host: str,
    port: int,
    path: str,
    body: bytes,
    *,
    key: str | None = None,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> bytes:
    """The bytes of one keep-alive ``POST`` request."""
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
    ]
    if key is not None:
        lines.append(f"Authorization: Bearer {key}")
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass(frozen=True)
class Sample:
    """One answer (``status`` 0 means the connection failed)."""

    status: int
    latency: float
    deployment: str | None
    tag: Any


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values`` (0.0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


@dataclass
class LoadRun:
    """A bounded load run, in the foreground (:meth:`run`) or in a background thread (:meth:`start`).

    Args:
        host: Server host.
        port: Server port.
        requests: Prebuilt requests, used round robin.
        total: Upper bound of requests sent.
        concurrency: Parallel keep-alive connections.
        timeout: Seconds one answer may take before it counts as failed.
    """

    host: str
    port: int
    requests: Sequence[bytes]
    total: int
    concurrency: int = 8
    timeout: float = 30.0
    tag: Any = None
    samples: list[Sample] = field(default_factory=list)
    elapsed: float = 0.0
    _sent: int = 0
    _stop: bool = False
    _thread: threading.Thread | None = None
    on_sample: Callable[[Sample], None] | None = None

    async def _worker(self) -> None:
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while not self._stop and self._sent < self.total:
            index = self._sent
            self._sent += 1
            request = self.requests[index % len(self.requests)]
            tag = self.tag
            start = time.perf_counter()
            try:
                if writer is None or reader is None:
                    reader, writer = await asyncio.open_connection(self.host, self.port)
                writer.write(request)
                status, deployment, close = await asyncio.wait_for(_read_answer(reader), self.timeout)
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError):
                status, deployment, close = 0, None, True
            sample = Sample(status, time.perf_counter() - start, deployment, tag)
            self.samples.append(sample)
            if self.on_sample is not None:
                self.on_sample(sample)
            if close and writer is not None:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    async def _run(self) -> None:
        start = time.perf_counter()
        await asyncio.gather(*(self._worker() for _ in range(self.concurrency)))
        self.elapsed = time.perf_counter() - start

    def run(self) -> LoadRun:
        """Send the whole budget and return self."""
        asyncio.run(self._run())
        return self

    def start(self) -> LoadRun:
        """Run in a background thread; :meth:`join` waits for it."""
        self._thread = threading.Thread(target=self.run, name="loadgen", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the workers to finish after their current request."""
        self._stop = True

    def join(self, timeout: float | None = None) -> None:
        """Wait for a background run."""
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def done(self) -> bool:
        """True once every request of the budget was answered (or the run was stopped)."""
        return self._thread is not None and not self._thread.is_alive()

    # -- results -----------------------------------------------------------------------------------

    def statuses(self) -> Counter[int]:
        """Answers per status code (0: connection failures)."""
        return Counter(sample.status for sample in self.samples)

    def split(self, tag: Any = None) -> Counter[str]:
        """Successful answers per deployment, for one tag (or all when ``tag`` is None)."""
        return Counter(
            sample.deployment or "?"
            for sample in self.samples
            if sample.status == 200 and (tag is None or sample.tag == tag)
        )

    def summary(self) -> dict[str, float]:
        """Requests/s, p50 and p99 latency (ms) of successful answers."""
        latencies = [sample.latency for sample in self.samples if sample.status == 200]
        return {
            "requests": float(len(self.samples)),
            "rps": len(self.samples) / self.elapsed if self.elapsed else 0.0,
            "p50_ms": percentile(latencies, 0.50) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000,
        }


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, str | None, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    deployment = None
    close = False
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        value = value.strip()
        if name == "content-length":
            length = int(value)
        elif name == "azureml-model-deployment":
            deployment = value
        elif name == "connection" and value.lower() == "close":
            close = True
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, deployment, close
