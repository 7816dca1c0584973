"""Inference capture of the local endpoint server: correlation ids, a bounded queue, a writer thread.

Every scored request gets a correlation id (``x-mlops-correlation-id``: the caller's own when it sent
a valid one, else a new one); row ``i`` of a batch of several rows is ``<id>:<i>``, a single row is
``<id>``. For a deployment loaded with ``metadata["capture"]`` (a :class:`~mlops_sdk.models.deployments.Capture`),
the scoring path only appends the rows to an in-memory queue (:meth:`CaptureHub.record`: no I/O,
no conversion); a writer thread turns queued requests into Parquet files, one per flush and
(deployment, hour)::

    <endpoint folder>/capture/<deployment>/<YYYY-MM-DD>/<HH>/part-<epoch ms>-<pid>-<seq>.parquet

Each file is written to a temporary name, fsynced, renamed and its folder fsynced: a file is either
complete or absent, whatever kills the process. What an answer promises is in its
``x-mlops-capture`` header:

* ``queued``: the rows are in the queue; the writer takes the queue every ``flush_interval`` seconds
  (the smallest of the capturing deployments'), so they are on disk one interval plus one write
  later, or when the server stops gracefully (SIGTERM, ``stop``), which writes the whole queue;
* ``stored``: (``durability="acknowledged"``) the rows' file was on disk before the answer was sent;
* ``dropped`` / ``failed``: not captured (queue full / writing failed), counted in the stats;
* ``sampled-out``: skipped by ``sample_rate``.

Capture never fails or blocks scoring: a full queue drops, a write error counts the rows as failed
and logs (the first, then every 100th).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import random
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_sdk.backends.local.serving.payloads import to_jsonable
from mlops_sdk.core.logging import get_logger

__all__ = ["CAPTURE_HEADER", "CORRELATION_HEADER", "CaptureHub", "capture_partition"]

CORRELATION_HEADER = "x-mlops-correlation-id"
CAPTURE_HEADER = "x-mlops-capture"
_CORRELATION_B = CORRELATION_HEADER.encode()
_CAPTURE_B = CAPTURE_HEADER.encode()
_VALID_ID = re.compile(rb"^[A-Za-z0-9._~-]{1,128}$")
_BATCH_ITEMS = 20_000
"""Requests written per file at most (a long queue after a stall becomes several files)."""
_log = get_logger("mlops_sdk.serving.capture")


def capture_partition(deployment: str, moment: float) -> str:
    """The relative folder of a deployment's captures for the hour of ``moment`` (epoch seconds, UTC)."""
    stamp = time.gmtime(moment)
    return f"{deployment}/{time.strftime('%Y-%m-%d', stamp)}/{time.strftime('%H', stamp)}"


@dataclass
class _Settings:
    sample_rate: float
    inputs: bool
    outputs: bool
    acknowledged: bool
    flush_interval: float
    max_queue: int
    ack_timeout: float


@dataclass(slots=True)
class _Item:
    request_id: str
    at: float
    deployment: str
    model: str | None
    columns: list[str] | None
    rows: list[Any] | None
    predictions: Any
    count: int
    done: Any = None  # (loop, future) of an acknowledged answer


@dataclass
class _Counters:
    captured: int = 0
    written: int = 0
    dropped: int = 0
    failed: int = 0
    sampled_out: int = 0
    files: int = 0
    pending: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "captured": self.captured,
            "written": self.written,
            "dropped": self.dropped,
            "failed": self.failed,
            "sampled_out": self.sampled_out,
            "files": self.files,
            "pending": self.pending,
        }


def _settings(metadata: Mapping[str, Any]) -> _Settings | None:
    raw = metadata.get("capture")
    if not isinstance(raw, dict):
        return None
    from mlops_sdk.models.deployments import Capture

    try:
        spec = Capture.model_validate(raw)
    except ValueError as error:
        _log.error("capture settings ignored (invalid): %s", error)
        return None
    return _Settings(
        spec.sample_rate,
        spec.inputs,
        spec.outputs,
        spec.durability == "acknowledged",
        spec.flush_interval,
        spec.max_queue,
        spec.ack_timeout,
    )


class CaptureHub:
    """The capture side of one endpoint server (see the module docstring).

    Args:
        folder: Where capture files go (``None``: capture is off for every deployment).
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.counters: dict[str, _Counters] = {}
        self._cache: dict[str, tuple[int, _Settings | None]] = {}
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._wake = threading.Event()
        self._prefix = os.urandom(10).hex().encode()
        self._counter = 0
        self._interval = 1.0
        self._sequence = 0

    # -- the scoring path ------------------------------------------------------------------------

    async def record(
        self, headers: Mapping[bytes, bytes], name: str, deployment: Any, batch: Any, predictions: Any
    ) -> list[tuple[bytes, bytes]]:
        """The answer's capture headers; queues the rows when ``deployment`` captures. Never raises."""
        supplied = headers.get(_CORRELATION_B)
        if supplied is not None and _VALID_ID.match(supplied):
            request_id = supplied
        else:  # a random per-process prefix and a counter: unique, and ~100x cheaper than uuid4
            self._counter += 1
            request_id = b"%s%012x" % (self._prefix, self._counter)
        extra = [(_CORRELATION_B, request_id)]
        try:
            settings = self._settings_of(name, deployment)
            if settings is None:
                return extra
            extra.append((_CAPTURE_B, await self._enqueue(request_id, name, deployment, settings, batch, predictions)))
        except Exception as error:  # capture must never fail scoring
            _log.error("capture of a request to %s failed: %s: %s", name, type(error).__name__, error)
            extra.append((_CAPTURE_B, b"failed"))
        return extra

    def _settings_of(self, name: str, deployment: Any) -> _Settings | None:
        if self.folder is None:
            return None
        cached = self._cache.get(name)
        if cached is None or cached[0] != id(deployment):
            cached = (id(deployment), _settings(deployment.metadata))
            self._cache[name] = cached
        return cached[1]

    async def _enqueue(
        self, request_id: bytes, name: str, deployment: Any, settings: _Settings, batch: Any, predictions: Any
    ) -> bytes:
        counters = self.counters.setdefault(name, _Counters())
        count = len(batch)
        if settings.sample_rate < 1.0 and random.random() >= settings.sample_rate:  # noqa: S311 - sampling
            counters.sampled_out += count
            return b"sampled-out"
        if counters.pending + count > settings.max_queue:
            counters.dropped += count
            if counters.dropped == count or counters.dropped // 1000 != (counters.dropped - count) // 1000:
                _log.warning("capture queue of %s is full: %d rows dropped so far", name, counters.dropped)
            return b"dropped"
        now = time.time()
        item = _Item(
            request_id=request_id.decode("ascii"),
            at=now,
            deployment=name,
            model=deployment.metadata.get("model"),
            columns=batch.columns if settings.inputs else None,
            # The fast scoring paths answer numpy arrays: the writer works on plain lists, one entry per row.
            rows=_plain(batch.rows) if settings.inputs else None,
            predictions=_plain(predictions) if settings.outputs else None,
            count=count,
        )
        future: asyncio.Future[bool] | None = None
        if settings.acknowledged:
            loop = asyncio.get_running_loop()
            future = loop.create_future()
            item.done = (loop, future)
        with self._count_lock:
            counters.pending += count
            counters.captured += count
        self._interval = min(self._interval, settings.flush_interval)
        self._ensure_writer()
        self._queue.put(item)
        if future is None:
            return b"queued"
        self._wake.set()
        try:
            stored = await asyncio.wait_for(asyncio.shield(future), settings.ack_timeout)
        except asyncio.TimeoutError:
            return b"queued"
        return b"stored" if stored else b"failed"

    # -- admin -----------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters per deployment and in total (since this server started)."""
        deployments = {name: counters.as_dict() for name, counters in sorted(self.counters.items())}
        total = {key: sum(item[key] for item in deployments.values()) for key in _Counters().as_dict()}
        return {"folder": str(self.folder) if self.folder else None, "deployments": deployments, **total}

    async def flush(self, timeout: float = 30.0) -> dict[str, Any]:
        """Write everything queued so far, then return :meth:`stats`."""
        if self._writer is not None and self._writer.is_alive():
            done = threading.Event()
            self._queue.put(done)
            self._wake.set()
            await asyncio.get_running_loop().run_in_executor(None, done.wait, timeout)
        return self.stats()

    async def close(self, timeout: float = 10.0) -> None:
        """Write what is queued and stop the writer (graceful server stop)."""
        writer = self._writer
        if writer is None or not writer.is_alive():
            return
        self._queue.put(None)
        self._wake.set()
        await asyncio.get_running_loop().run_in_executor(None, writer.join, timeout)

    # -- the writer thread -----------------------------------------------------------------------

    def _ensure_writer(self) -> None:
        if self._writer is not None:  # started once; it runs until close()
            return
        with self._lock:
            if self._writer is None:
                self._writer = threading.Thread(target=self._run, name="mlops-capture", daemon=True)
                self._writer.start()

    def _run(self) -> None:
        # The writer sleeps for the flush interval and then takes everything queued in one go; it is
        # woken early only by an acknowledged row, a flush request or the stop, so batched capture
        # costs the scoring path a queue append and nothing else (no thread switch per request).
        stop = False
        while not stop:
            self._wake.wait(timeout=self._interval)
            self._wake.clear()
            items: list[_Item] = []
            waiting: list[threading.Event] = []
            while True:
                try:
                    message = self._queue.get_nowait()
                except queue.Empty:
                    break
                if message is None:
                    stop = True
                elif isinstance(message, threading.Event):
                    waiting.append(message)
                else:
                    items.append(message)
            for start in range(0, len(items), _BATCH_ITEMS):
                try:
                    self._write(items[start : start + _BATCH_ITEMS])
                except Exception:  # never let the writer die: later rows must still be written
                    batch = items[start : start + _BATCH_ITEMS]
                    _log.exception("capture writer: unexpected error; %d requests not written", len(batch))
                    self._fail(batch)
            for event in waiting:
                event.set()

    def _write(self, items: list[_Item]) -> None:
        groups: dict[str, list[_Item]] = {}
        for item in items:
            groups.setdefault(capture_partition(item.deployment, item.at), []).append(item)
        for partition, group in groups.items():
            try:
                self._write_file(partition, group)
            except Exception as error:
                before = self.counters.setdefault(group[0].deployment, _Counters()).failed
                self._fail(group)
                failed = self.counters[group[0].deployment].failed
                if before == 0 or before // 10_000 != failed // 10_000:
                    _log.error("capture: writing %s failed (%d rows lost so far): %s", partition, failed, error)
                continue
            self._release(group, ok=True)
            self.counters.setdefault(group[0].deployment, _Counters()).files += 1

    def _fail(self, items: list[_Item]) -> None:
        """Count ``items`` as failed and release them (an acknowledged answer then says ``failed``)."""
        for item in items:
            self.counters.setdefault(item.deployment, _Counters()).failed += item.count
        self._release(items, ok=False)

    def _release(self, items: list[_Item], *, ok: bool) -> None:
        """Take ``items`` off the pending count and answer the requests waiting for them."""
        for item in items:
            counters = self.counters.setdefault(item.deployment, _Counters())
            with self._count_lock:
                counters.pending -= item.count
                if ok:
                    counters.written += item.count
            if item.done is not None:
                loop, future = item.done
                with contextlib.suppress(RuntimeError):  # the loop is gone (server stopping)
                    loop.call_soon_threadsafe(_resolve, future, ok)

    def _write_file(self, partition: str, items: list[_Item]) -> None:
        import pyarrow.parquet as pq

        assert self.folder is not None
        table = _table(items)
        folder = self.folder / partition
        folder.mkdir(parents=True, exist_ok=True)
        self._sequence += 1
        name = f"part-{int(time.time() * 1000)}-{os.getpid()}-{self._sequence:06d}.parquet"
        temporary = folder / f".{name}.tmp"
        try:
            pq.write_table(table, temporary)
            with temporary.open("rb") as handle:
                os.fsync(handle.fileno())
            temporary.replace(folder / name)
        finally:
            with contextlib.suppress(OSError):
                temporary.unlink()
        _fsync_dir(folder)


def _resolve(future: asyncio.Future[bool], ok: bool) -> None:
    if not future.done():
        future.set_result(ok)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def _column(values: list[Any]) -> Any:
    """An Arrow array of ``values``; mixed or nested values become text (JSON for lists/objects)."""
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        return pa.array([v if v is None or isinstance(v, str) else json.dumps(v) for v in values], type=pa.string())


def _plain(value: Any) -> Any:
    """Lists stay as they are (no copy on the request path); numpy arrays and pandas objects become lists."""
    return value if isinstance(value, list) else to_jsonable(value)


def _rectangular(rows: list[Any], width: int) -> bool:
    return all(isinstance(row, list) and len(row) == width for row in rows)


def _same_shape(items: list[_Item]) -> list[str] | None:
    """The column names every item's rows share (all named, all rectangular), else ``None``."""
    first = items[0].columns
    if first is None:
        return None
    for item in items:
        if item.rows is None or item.columns != first or not _rectangular(item.rows, len(first)):
            return None
    return first


def _features(items: list[_Item]) -> dict[str, list[Any]]:
    """Input columns of the items, ``None`` where a row lacks a column."""
    shared = _same_shape(items)
    if shared is not None:  # the usual case: one transposition of every row, in C
        rows = [row for item in items for row in item.rows or ()]
        return {key: list(values) for key, values in zip(shared, zip(*rows, strict=True), strict=True)}
    features: dict[str, list[Any]] = {}
    total = 0
    for item in items:
        for number, row in enumerate(item.rows or [None] * item.count):
            if row is None:
                continue
            values = row if isinstance(row, list) else [row]
            keys = item.columns if item.columns is not None else [f"input_{i}" for i in range(len(values))]
            for key, value in zip(keys, values, strict=False):
                column = features.get(key)
                if column is None:
                    column = features[key] = []
                missing = total + number - len(column)
                if missing:  # rows of earlier requests that lacked this column
                    column.extend([None] * missing)
                column.append(value)
        total += item.count
        for column in features.values():
            column.extend([None] * (total - len(column)))
    return features


def _table(items: list[_Item]) -> Any:
    """The Arrow table of a group of queued requests (metadata columns start with ``_``)."""
    import pyarrow as pa

    ids: list[str] = []
    request_ids: list[str] = []
    row_numbers: list[int] = []
    stamps: list[int] = []
    models: list[str | None] = []
    predictions: list[Any] = []
    with_outputs = any(item.predictions is not None for item in items)
    with_inputs = any(item.rows is not None for item in items)
    for item in items:
        count = item.count
        if count == 1:
            ids.append(item.request_id)
            request_ids.append(item.request_id)
            row_numbers.append(0)
            stamps.append(int(item.at * 1_000_000))
            models.append(item.model)
        else:
            ids += [f"{item.request_id}:{index}" for index in range(count)]
            request_ids += [item.request_id] * count
            row_numbers += range(count)
            stamps += [int(item.at * 1_000_000)] * count
            models += [item.model] * count
        if with_outputs:
            outputs = item.predictions if isinstance(item.predictions, list) else [item.predictions] * count
            predictions += outputs[:count] if len(outputs) >= count else [*outputs, *([None] * (count - len(outputs)))]
    total = len(ids)
    features = _features(items) if with_inputs else {}
    arrays: dict[str, Any] = {
        "_id": pa.array(ids, type=pa.string()),
        "_request_id": pa.array(request_ids, type=pa.string()),
        "_row": pa.array(row_numbers, type=pa.int32()),
        "_ts": pa.array(stamps, type=pa.timestamp("us", tz="UTC")),
        "_deployment": pa.array([items[0].deployment] * total, type=pa.string()),
        "_model": pa.array(models, type=pa.string()),
    }
    for key, column_values in features.items():
        arrays[key] = _column(column_values)
    if with_outputs:
        arrays["_prediction"] = _column(predictions)
    return pa.table(arrays)
