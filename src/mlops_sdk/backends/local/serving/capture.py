"""Inference capture of the local endpoint server: correlation ids, a bounded queue, a writer thread.

Every scored request gets a correlation id (``x-mlops-correlation-id``: the caller's own when it sent
a valid one, else a new one); row ``i`` of a batch of several rows is ``<id>:<i>``, a single row is
``<id>``. For a deployment loaded with ``metadata["capture"]`` (a :class:`~mlops_sdk.models.deployments.Capture`),
the scoring path only appends the rows to memory (:meth:`CaptureHub.record`: no I/O, no conversion,
no lock): a 1-row request to its deployment's lane, column by column (:class:`_Lane`), any other
request to a queue as one tuple. Every ``flush_interval`` a writer thread takes them and hands them to
the capture writer process (:mod:`.capture_writer`; the thread writes them itself when that process
is off, starting or failed), which turns them into Arrow tables (:mod:`.capture_tables`) and Parquet
files (:mod:`.capture_files`), one per flush and (deployment, hour)::

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
and logs (the first failure, then one per 10,000 rows lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import random
import re
import threading
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_sdk.backends.local.serving.capture_files import (
    BatchResult,
    CaptureBatch,
    LaneRequests,
    capture_partition,
    write_batch,
)
from mlops_sdk.backends.local.serving.capture_tables import DONE, prediction_vector
from mlops_sdk.backends.local.serving.capture_writer import WriterProcess
from mlops_sdk.core.logging import get_logger

__all__ = ["CAPTURE_HEADER", "CORRELATION_HEADER", "CaptureHub", "capture_partition"]

CORRELATION_HEADER = "x-mlops-correlation-id"
CAPTURE_HEADER = "x-mlops-capture"
_CORRELATION_B = CORRELATION_HEADER.encode()
_CAPTURE_B = CAPTURE_HEADER.encode()
_VALID_ID = re.compile(rb"^[A-Za-z0-9._~-]{1,128}$")
_QUEUED = (_CAPTURE_B, b"queued")
_SAMPLED_OUT = (_CAPTURE_B, b"sampled-out")
_FAILED = (_CAPTURE_B, b"failed")
_log = get_logger("mlops_sdk.serving.capture")
_now = time.time


@dataclass
class _Counters:
    """Rows per deployment. Each count has one writing thread, so no lock: the event loop counts
    ``captured``, ``dropped`` and ``sampled_out``, the writer ``written``, ``failed`` and ``files``."""

    captured: int = 0
    written: int = 0
    dropped: int = 0
    failed: int = 0
    sampled_out: int = 0
    files: int = 0
    settled: int = 0  # written + failed (the writer adds to both)

    @property
    def pending(self) -> int:
        """Rows queued and not yet written (or failed)."""
        return self.captured - self.settled

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


@dataclass(slots=True)
class _State:
    """What the hook needs of one deployment, resolved once per metadata object (not per request)."""

    metadata: Any  # the deployment's metadata dict this was resolved from (identity checked per request)
    capturing: bool
    counters: _Counters
    name: str = ""
    model: str | None = None
    sample_rate: float = 1.0
    inputs: bool = True
    outputs: bool = True
    acknowledged: bool = False
    max_queue: int = 0
    ack_timeout: float = 0.0
    columns: Any = None  # the column names of the last request, and the same as a tuple (queued)
    columns_tuple: tuple[str, ...] | None = None
    lane: Any = None  # the _Lane of 1-row requests (batched durability)
    direct: bool = False  # every request is captured into the lane as it comes (no sampling, batched)
    array_type: Any = None  # numpy.ndarray (imported once a deployment captures)


def _state(name: str, metadata: Mapping[str, Any], counters: _Counters) -> tuple[_State, float | None]:
    """The deployment's capture state and flush interval (``None``: it does not capture)."""
    raw = metadata.get("capture")
    if not isinstance(raw, dict):
        return _State(metadata, False, counters), None
    from numpy import ndarray

    from mlops_sdk.core.input_spec import read_stored
    from mlops_sdk.models.deployments import Capture

    try:  # a stored copy: keys another SDK version wrote are ignored, bad values are not
        spec = read_stored(Capture, raw)
    except ValueError as error:
        _log.error("capture settings of %s ignored (invalid): %s", name, error)
        return _State(metadata, False, counters), None
    state = _State(
        metadata,
        True,
        counters,
        name=name,
        model=metadata.get("model"),
        sample_rate=spec.sample_rate,
        inputs=spec.inputs,
        outputs=spec.outputs,
        acknowledged=spec.durability == "acknowledged",
        max_queue=spec.max_queue,
        ack_timeout=spec.ack_timeout,
        direct=spec.sample_rate >= 1.0 and spec.durability != "acknowledged" and spec.inputs and spec.outputs,
        array_type=ndarray,
    )
    return state, spec.flush_interval


class _Lane:
    """The 1-row requests of one deployment (one capture setting, one set of column names), held column
    by column: the event loop appends, the writer takes.

    Appending a request allocates no object the garbage collector tracks (the parser's values are
    referenced; a one-value numpy answer is kept as its Python value, so that the array itself is freed
    at once), and the writer slices columns out of flat lists instead of visiting one object per
    request. The event loop appends the id last, so the writer, taking the first ``len(ids)`` entries
    of each list (each append, slice and ``del`` is atomic under the GIL), always takes whole requests.
    """

    __slots__ = (
        "ats",
        "columns",
        "ids",
        "inputs",
        "model",
        "name",
        "names",
        "outputs",
        "predictions",
        "retired",
        "scalars",
        "values",
        "width",
    )

    def __init__(self, name: str, model: str | None, names: list[str] | None, inputs: bool, outputs: bool) -> None:
        self.name = name
        self.model = model
        self.names = names  # the column names as the parser gave them (compared per request)
        self.columns = tuple(names) if names is not None else ()
        self.width = len(names) if names is not None else -1  # -1: no request matches a new lane's
        self.inputs = inputs
        self.outputs = outputs
        self.retired = False  # no more appends: removed once empty
        self.scalars = True  # every answer appended so far is a Python value (``item()`` of a 1-value array)
        self.ids: list[bytes] = []
        self.ats: list[float] = []
        self.values: list[Any] = []  # the rows' values, row after row
        self.predictions: list[Any] = []

    def take(self) -> tuple[list[bytes], list[float], list[Any], list[Any]] | None:
        """The requests appended so far (ids, times, values, answers), removed from the lane."""
        count = len(self.ids)
        if not count:
            return None
        width = len(self.columns) if self.inputs else 0
        ids, ats = self.ids[:count], self.ats[:count]
        values, predictions = self.values[: count * width], self.predictions[:count]
        del self.ats[:count], self.values[: count * width], self.predictions[:count]
        del self.ids[:count]
        return ids, ats, values, predictions


class CaptureHub:
    """The capture side of one endpoint server (see the module docstring).

    Args:
        folder: Where capture files go (``None``: capture is off for every deployment).
        writer_process: Write the files in a separate process (:mod:`.capture_writer`; the endpoint
            server does), so that building them takes no interpreter time from scoring; else (and
            whenever that process is not available) the writer thread writes them.
    """

    def __init__(self, folder: Path | None, *, writer_process: bool = False) -> None:
        self.folder = folder
        self._process = WriterProcess(folder) if folder is not None and writer_process else None
        self.counters: dict[str, _Counters] = {}
        self._states: dict[str, _State] = {}
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._lock = threading.Lock()
        self._lanes: list[_Lane] = []
        self._wake = threading.Event()
        self._prefix = os.urandom(10).hex().encode()
        self._counter = 0
        self._interval = 1.0
        self._sequence = 0

    # -- the scoring path ------------------------------------------------------------------------

    def record(
        self, headers: Mapping[bytes, bytes], name: str, deployment: Any, batch: Any, predictions: Any
    ) -> list[tuple[bytes, bytes]] | Awaitable[list[tuple[bytes, bytes]]]:
        """The answer's capture headers; queues the rows when ``deployment`` captures. Never raises.

        Synchronous (no coroutine per request) except for ``durability="acknowledged"``, where it
        returns an awaitable of the headers that resolves once the rows are on disk (or the wait
        times out): callers ``await`` a result that is not a list.
        """
        supplied = headers.get(_CORRELATION_B)
        if supplied is not None and _VALID_ID.match(supplied):
            request_id = supplied
        else:  # a random per-process prefix and a counter: unique, and ~100x cheaper than uuid4
            self._counter += 1
            request_id = b"%s%012x" % (self._prefix, self._counter)
        if self.folder is None:
            return [(_CORRELATION_B, request_id)]
        try:
            state = self._states.get(name)
            if state is None or state.metadata is not deployment.metadata:
                state = self._resolve(name, deployment.metadata)
            if not state.capturing:
                return [(_CORRELATION_B, request_id)]
            rows = batch.rows
            if state.direct and len(rows) == 1:  # the usual request, in as few steps as it takes
                lane, row, counters = state.lane, rows[0], state.counters
                if (
                    counters.captured - counters.settled < state.max_queue
                    and type(row) is list
                    and len(row) == lane.width
                    and (batch.columns is lane.names or batch.columns == lane.names)
                    and type(predictions) is state.array_type
                    and predictions.ndim == 1
                    and len(predictions) == 1
                ):
                    lane.values.extend(row)
                    lane.predictions.append(predictions.item())  # the value tolist() would give
                    lane.ats.append(_now())
                    counters.captured += 1
                    lane.ids.append(request_id)  # last: the writer takes whole requests
                    return [(_CORRELATION_B, request_id), _QUEUED]
            count = len(rows)
            counters = state.counters
            if state.sample_rate < 1.0 and random.random() >= state.sample_rate:  # noqa: S311 - sampling
                counters.sampled_out += count
                return [(_CORRELATION_B, request_id), _SAMPLED_OUT]
            if counters.captured - counters.settled + count > state.max_queue:
                return [(_CORRELATION_B, request_id), (_CAPTURE_B, self._drop(name, counters, count))]
            if count == 1 and not state.acknowledged:  # the usual request: into the lane
                lane = state.lane
                if state.inputs:
                    names, row = batch.columns, rows[0]
                    if names is not None and type(row) is list and len(row) == len(names):
                        if names is not lane.names and names != lane.names:  # other columns: another lane
                            lane = self._new_lane(state, names)
                        lane.values.extend(row)
                    else:
                        lane = None  # positional or ragged rows: the general queue below
                if lane is not None:
                    if state.outputs:
                        if type(predictions) is state.array_type and predictions.ndim == 1 and len(predictions) == 1:
                            lane.predictions.append(predictions.item())
                        else:
                            lane.scalars = False  # before the append: the writer reads it after taking
                            lane.predictions.append(predictions)
                    lane.ats.append(_now())
                    counters.captured += 1
                    lane.ids.append(request_id)  # last: the writer takes whole requests
                    return [(_CORRELATION_B, request_id), _QUEUED]
            if state.inputs:
                # Tuples, not the parser's lists: a tuple of numbers and text leaves the garbage
                # collector's books at its next young collection, so queued requests are never
                # promoted to the old generation (whose full collections they would otherwise trigger).
                columns = batch.columns
                if columns is not None and columns != state.columns:  # the usual: the same names again
                    state.columns, state.columns_tuple = columns, tuple(columns)
                columns = state.columns_tuple if columns is not None else None
                if count == 1:  # one request, one row: the row itself (see capture_tables.Item)
                    rows = tuple(rows[0]) if type(rows[0]) is list else rows[0]
                else:
                    rows = tuple([tuple(row) if type(row) is list else row for row in rows])
            else:
                columns = rows = None
            item = (
                request_id,
                time.time(),
                name,
                state.model,
                columns,
                rows,
                predictions if state.outputs else None,
                count,
                None,
            )
            counters.captured += count  # before the put: the writer never sees more written than captured
            if state.acknowledged:
                loop = asyncio.get_running_loop()
                future: asyncio.Future[bool] = loop.create_future()
                self._queue.put((*item[:-1], (loop, future)))
                self._wake.set()
                return self._acknowledged(request_id, future, state.ack_timeout)
            self._queue.put(item)
            return [(_CORRELATION_B, request_id), _QUEUED]
        except Exception as error:  # capture must never fail scoring
            _log.error("capture of a request to %s failed: %s: %s", name, type(error).__name__, error)
            return [(_CORRELATION_B, request_id), _FAILED]

    def _resolve(self, name: str, metadata: Mapping[str, Any]) -> _State:
        """The deployment's capture state (a new metadata object: a new or re-configured deployment)."""
        counters = self.counters.get(name)
        if counters is None:
            counters = self.counters[name] = _Counters()
        state, interval = _state(name, metadata, counters)
        if interval is not None:
            self._interval = min(self._interval, interval)
            self._ensure_writer()
            self._new_lane(state, None)
        previous = self._states.get(name)
        if previous is not None and previous.lane is not None:
            previous.lane.retired = True
        self._states[name] = state
        return state

    def _new_lane(self, state: _State, names: list[str] | None) -> _Lane:
        lane = _Lane(state.name, state.model, names, state.inputs, state.outputs)
        if state.lane is not None:
            state.lane.retired = True
        state.lane = lane
        with self._lock:
            self._lanes.append(lane)
        return lane

    @staticmethod
    def _drop(name: str, counters: _Counters, count: int) -> bytes:
        counters.dropped += count
        if counters.dropped == count or counters.dropped // 1000 != (counters.dropped - count) // 1000:
            _log.warning("capture queue of %s is full: %d rows dropped so far", name, counters.dropped)
        return b"dropped"

    @staticmethod
    async def _acknowledged(
        request_id: bytes, future: asyncio.Future[bool], timeout: float
    ) -> list[tuple[bytes, bytes]]:
        header = [(_CORRELATION_B, request_id)]
        try:
            stored = await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:
            return [*header, _QUEUED]
        return [*header, (_CAPTURE_B, b"stored" if stored else b"failed")]

    # -- admin -----------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters per deployment and in total (since this server started), and ``writer_pid``: the
        capture writer process's pid while one runs (``None``: the writer thread writes the files)."""
        deployments = {name: counters.as_dict() for name, counters in sorted(self.counters.items())}
        total = {key: sum(item[key] for item in deployments.values()) for key in _Counters().as_dict()}
        return {
            "folder": str(self.folder) if self.folder else None,
            "writer_pid": self._process.pid if self._process is not None else None,
            "deployments": deployments,
            **total,
        }

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
        if self._process is not None:  # it warms up while the first flush interval passes
            self._process.start()
        with self._lock:
            if self._writer is None:
                self._writer = threading.Thread(target=self._run, name="mlops-capture", daemon=True)
                self._writer.start()

    def _run(self) -> None:
        # The writer sleeps for the flush interval and then takes everything queued in one go; it is
        # woken early only by an acknowledged row, a flush request or the stop, so batched capture
        # costs the scoring path a queue append and nothing else (no thread switch per request).
        stop = False
        try:
            while not stop:
                self._wake.wait(timeout=self._interval)
                self._wake.clear()
                items: list[Any] = []
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
                try:
                    self._write(items)
                except Exception:  # never let the writer die: later rows must still be written
                    _log.exception("capture writer: unexpected error; %d queued requests not counted", len(items))
                for event in waiting:
                    event.set()
        finally:
            if self._process is not None:
                self._process.close()

    def _write(self, items: list[Any]) -> None:
        """Write the queued ``items`` and the lanes' requests (in the writer process when it is
        available, else here) and apply the outcome to the counters and the waiting answers."""
        waiting: dict[int, Any] = {}
        for index, item in enumerate(items):
            if item[DONE] is not None:  # an acknowledged request: its answer waits for this write
                waiting[index] = item[DONE]
                items[index] = (*item[:DONE], index)
        batch = CaptureBatch(items, self._take_lanes())
        if not batch.items and not batch.lanes:
            return
        try:
            result = self._process.write(batch) if self._process is not None else None
            if result is None:
                result = write_batch(self.folder, batch) if self.folder is not None else BatchResult().fail_all(batch)
        except Exception:  # never let the writer die: later rows must still be written
            _log.exception("capture writer: unexpected error; %d requests not written", len(items))
            result = BatchResult().fail_all(batch)
        self._apply(result, waiting)

    def _take_lanes(self) -> list[LaneRequests]:
        """The requests appended to the lanes so far, removed from them (retired, empty lanes dropped)."""
        import numpy as np

        with self._lock:
            lanes = list(self._lanes)
        taken: list[LaneRequests] = []
        for lane in lanes:
            requests = lane.take()
            if requests is None:
                continue
            ids, moments, values, predictions = requests
            scalars = lane.scalars  # read after taking: an answer appended as an object cleared it first
            if lane.outputs and not scalars:  # one vector instead of an array per request: cheaper to hand over
                vector = prediction_vector(tuple(predictions), [1] * len(ids))
                predictions = vector if vector is not None else predictions
            taken.append(
                LaneRequests(
                    lane.name,
                    lane.model,
                    lane.columns,
                    lane.inputs,
                    lane.outputs,
                    ids,
                    np.array(moments, dtype=np.float64),
                    values,
                    predictions,
                    scalars and lane.outputs,
                )
            )
        with self._lock:  # a retired lane gets no more rows: dropped once written
            self._lanes = [lane for lane in self._lanes if not lane.retired or lane.ids]
        return taken

    def _apply(self, result: BatchResult, waiting: Mapping[int, Any]) -> None:
        """Count what was written and failed and answer the requests waiting for it."""
        for name, rows in result.written.items():
            counters = self._counters(name)
            counters.written += rows
            counters.settled += rows
        for name, rows in result.failed.items():
            counters = self._counters(name)
            counters.failed += rows
            counters.settled += rows
        for name, files in result.files.items():
            self._counters(name).files += files
        for token, done in waiting.items():
            loop, future = done
            with contextlib.suppress(RuntimeError):  # the loop is gone (server stopping)
                loop.call_soon_threadsafe(_resolve, future, result.acknowledged.get(token, False))

    def _counters(self, name: str) -> _Counters:
        counters = self.counters.get(name)
        if counters is None:  # the hook creates them first; this is for items queued by hand
            counters = self.counters[name] = _Counters()
        return counters


def _resolve(future: asyncio.Future[bool], ok: bool) -> None:
    if not future.done():
        future.set_result(ok)
