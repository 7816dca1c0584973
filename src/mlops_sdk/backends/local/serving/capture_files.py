"""Capture files: a batch of captured requests -> Parquet files, one per (deployment, hour).

The endpoint server's capture writer takes what the scoring path queued (:mod:`.capture`) every flush
interval and hands it over as one :class:`CaptureBatch`; :func:`write_batch` turns it into files and
says what became of every row (:class:`BatchResult`). It runs in the capture writer process
(:mod:`.capture_writer`), or in the server's writer thread when that process is not available, and
never touches the server's counters itself: the writer applies the result.

Each file is written to a temporary name, fsynced, renamed and its folder fsynced: a file is either
complete or absent, whatever kills the process::

    <capture folder>/<deployment>/<YYYY-MM-DD>/<HH>/part-<epoch ms>-<pid>-<seq>.parquet
"""

from __future__ import annotations

import itertools
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from mlops_sdk.backends.local.serving.capture_tables import (
    AT,
    DEPLOYMENT,
    DONE,
    SIZE,
    item_fields,
    items_table,
    lane_table,
)
from mlops_sdk.core.files import atomic_write
from mlops_sdk.core.logging import get_logger

__all__ = ["BatchResult", "CaptureBatch", "LaneRequests", "capture_partition", "write_batch"]

_DICTIONARY = ["_deployment", "_model"]
"""Columns Parquet-encoded as a dictionary: one value per file, mostly (on every column it costs the
writer twice the time for larger files, ids and numbers being mostly unique)."""
_STATISTICS = ["_ts", "_deployment", "_model", "_row"]
"""Columns with min/max statistics: those the monitoring reads filter on (the window, the deployment);
statistics of every column cost the writer a third more."""
_BATCH_ITEMS = 20_000
"""Requests written per file at most (a long queue after a stall becomes several files)."""
_log = get_logger("mlops_sdk.serving.capture")
_sequence = itertools.count(1)


def capture_partition(deployment: str, moment: float) -> str:
    """The relative folder of a deployment's captures for the hour of ``moment`` (epoch seconds, UTC)."""
    stamp = time.gmtime(moment)
    return f"{deployment}/{time.strftime('%Y-%m-%d', stamp)}/{time.strftime('%H', stamp)}"


class LaneRequests(NamedTuple):
    """1-row requests taken from one capture lane (one deployment, one set of column names)."""

    name: str
    model: str | None
    columns: tuple[str, ...]
    inputs: bool
    outputs: bool
    ids: list[bytes]
    moments: Any  # float64 epoch seconds, one per request (an array.array or numpy array)
    values: list[Any]  # the rows' values, row after row (``len(columns)`` per request)
    predictions: Any  # one answer per request (a list), or one numpy vector of them
    scalars: bool = False  # ``predictions`` is a list of Python values (numbers, text), one per request


class CaptureBatch(NamedTuple):
    """What the writer takes in one go: queued requests (``Item`` tuples whose ``done`` is ``None`` or
    a token the caller resolves from :attr:`BatchResult.acknowledged`) and the lanes' requests."""

    items: list[Any]
    lanes: list[LaneRequests]


@dataclass
class BatchResult:
    """What became of a batch: rows written and failed and files written per deployment, and per
    acknowledged token whether its rows are on disk."""

    written: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    files: Counter[str] = field(default_factory=Counter)
    acknowledged: dict[Any, bool] = field(default_factory=dict)

    def fail_all(self, batch: CaptureBatch) -> BatchResult:
        """Every row of ``batch`` counted as failed (the batch could not be written at all)."""
        for item in batch.items:
            self.failed[item[DEPLOYMENT]] += item[SIZE]
            if item[DONE] is not None:
                self.acknowledged[item[DONE]] = False
        for lane in batch.lanes:
            self.failed[lane.name] += len(lane.ids)
        return self


class _Piece:
    """Queued requests of one partition, on their way into a file."""

    def __init__(self, items: list[Any], fields: list[tuple[Any, ...]] | None) -> None:
        self.items, self.fields = items, fields
        self.name: str = items[0][DEPLOYMENT]

    def table(self) -> Any:
        return items_table(self.items, self.fields)

    def as_items(self) -> list[Any]:
        """The requests as queued items."""
        return self.items

    def done(self, result: BatchResult, *, ok: bool) -> None:
        for item in self.items:
            (result.written if ok else result.failed)[item[DEPLOYMENT]] += item[SIZE]
            if item[DONE] is not None:
                result.acknowledged[item[DONE]] = ok


class _LanePiece(_Piece):
    """1-row requests of one lane and one partition."""

    def __init__(self, lane: LaneRequests) -> None:
        self.lane, self.name = lane, lane.name

    def table(self) -> Any:
        lane = self.lane
        return lane_table(lane, lane.ids, lane.moments, lane.values, lane.predictions)

    def as_items(self) -> list[Any]:
        lane, width = self.lane, len(self.lane.columns)
        columns = lane.columns if lane.inputs else None
        return [
            (
                request_id,
                float(moment),
                lane.name,
                lane.model,
                columns,
                tuple(lane.values[index * width : (index + 1) * width]) if lane.inputs else None,
                lane.predictions[index] if lane.outputs else None,
                1,
                None,
            )
            for index, (request_id, moment) in enumerate(zip(lane.ids, lane.moments.tolist(), strict=True))
        ]

    def done(self, result: BatchResult, *, ok: bool) -> None:
        (result.written if ok else result.failed)[self.name] += len(self.lane.ids)


def write_batch(folder: Path, batch: CaptureBatch) -> BatchResult:
    """Write ``batch`` under ``folder``: one file per (deployment, hour). Never raises: what could not be
    written is counted as failed (and logged: the first failure, then one per 10,000 rows lost)."""
    result = BatchResult()
    pieces: dict[str, list[_Piece]] = {}
    try:
        for start in range(0, len(batch.items), _BATCH_ITEMS):
            for partition, group, fields in _partitions(batch.items[start : start + _BATCH_ITEMS]):
                pieces.setdefault(partition, []).append(_Piece(group, fields))
    except Exception:  # never let the writer die: later rows must still be written
        _log.exception("capture writer: unexpected error; %d requests not written", len(batch.items))
        result.fail_all(CaptureBatch(batch.items, []))
        pieces = {}
    return _write_pieces(folder, pieces, batch.lanes, result)


def _write_pieces(
    folder: Path, pieces: dict[str, list[_Piece]], lanes: list[LaneRequests], result: BatchResult
) -> BatchResult:
    for lane in lanes:
        try:
            for partition, piece in _lane_pieces(lane):
                pieces.setdefault(partition, []).append(piece)
        except Exception:  # never let the writer die
            _log.exception("capture writer: unexpected error; %d requests not written", len(lane.ids))
            result.failed[lane.name] += len(lane.ids)
    for partition, parts in pieces.items():
        try:
            if len(parts) == 1:
                table = parts[0].table()
            else:  # 1-row requests and others (or several lanes): one table, in the order they came
                merged = sorted((item for part in parts for item in part.as_items()), key=_moment)
                table = items_table(merged)
            _write_table(folder, partition, table)
        except Exception as error:
            before = sum(result.failed.values())
            for part in parts:
                part.done(result, ok=False)
            lost = sum(result.failed.values())
            if before == 0 or before // 10_000 != lost // 10_000:
                _log.error("capture: writing %s failed (%d rows lost in this batch): %s", partition, lost, error)
            continue
        result.files[parts[0].name] += 1
        for part in parts:
            part.done(result, ok=True)
    return result


def _write_table(folder: Path, partition: str, table: Any) -> None:
    """Write ``table`` as a new file of ``partition``: temporary name, fsync, rename, folder fsync."""
    import pyarrow.parquet as pq

    name = f"part-{int(time.time() * 1000)}-{os.getpid()}-{next(_sequence):06d}.parquet"
    with atomic_write(folder / partition / name, sync_folder=True) as temporary:
        pq.write_table(table, temporary, use_dictionary=_DICTIONARY, write_statistics=_STATISTICS)


def _lane_pieces(lane: LaneRequests) -> list[tuple[str, _Piece]]:
    """A lane's requests split by hour (one piece, usually)."""
    import numpy as np

    moments = lane.moments if isinstance(lane.moments, np.ndarray) else np.frombuffer(lane.moments, dtype=np.float64)
    lane = lane._replace(moments=moments)
    hours = moments // 3600
    if hours.min() == hours.max():
        return [(capture_partition(lane.name, float(moments[0])), _LanePiece(lane))]
    width = len(lane.columns) if lane.inputs else 0
    pieces: list[tuple[str, _Piece]] = []
    for hour in np.unique(hours):
        picks = np.flatnonzero(hours == hour).tolist()
        part = lane._replace(
            ids=[lane.ids[index] for index in picks],
            moments=moments[picks],
            values=[value for index in picks for value in lane.values[index * width : (index + 1) * width]],
            predictions=_pick(lane.predictions, picks) if lane.outputs else [],
        )
        pieces.append((capture_partition(lane.name, float(moments[picks[0]])), _LanePiece(part)))
    return pieces


def _pick(predictions: Any, picks: list[int]) -> Any:
    if isinstance(predictions, list):
        return [predictions[index] for index in picks]
    return predictions[picks]  # one numpy vector


def _moment(item: Any) -> float:
    return float(item[AT])


def _partitions(items: list[Any]) -> list[tuple[str, list[Any], list[tuple[Any, ...]] | None]]:
    """The items grouped by (deployment, hour), in queue order within a group, with the group's fields
    (:func:`item_fields`) when they were computed on the way."""
    if not items:
        return []
    first = items[0]
    fields = item_fields(items)
    names, moments = fields[DEPLOYMENT], fields[AT]
    # the usual case, checked in C: one deployment (count compares identity first), one hour
    if names.count(first[DEPLOYMENT]) == len(names) and min(moments) // 3600 == max(moments) // 3600:
        return [(capture_partition(first[DEPLOYMENT], first[AT]), items, fields)]
    groups: dict[tuple[str, float], list[Any]] = {}
    for item in items:
        key = (item[DEPLOYMENT], item[AT] // 3600)
        group = groups.get(key)
        if group is None:
            groups[key] = [item]
        else:
            group.append(item)
    return [(capture_partition(group[0][DEPLOYMENT], group[0][AT]), group, None) for group in groups.values()]
