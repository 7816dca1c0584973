"""Monitoring on the ``memory://`` backend: captured rows and labels as Arrow tables in the store.

Captures come from memory deployments loaded with ``Capture`` (:func:`keep_capture`, called for every
request they score: the rows are kept before the answer returns, so capture never drops or fails
here) and from ``client.monitoring.log_inferences``; the signals are the shared engine's, exactly as
on the other backends. Training baselines are the refresh snapshots the memory data factory wrote to
the store's scratch folder.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from mlops_sdk.backends.base import require_modules
from mlops_sdk.backends.memory import MemoryBackend
from mlops_sdk.core.errors import ResourceNotFoundError
from mlops_sdk.models.monitoring import CaptureStats

__all__ = ["MemoryMonitoringService", "create_service", "keep_capture"]


def _state(store: Any) -> dict[str, dict[str, Any]]:
    """The store's monitoring tables (call under the store lock)."""
    state: dict[str, dict[str, Any]] = store.state.setdefault("monitoring", {"captures": {}, "labels": {}})
    state.setdefault("sampled_out", {})
    return state


def keep_capture(store: Any, endpoint: str, deployment: str, table: Any = None, *, sampled_out: int = 0) -> None:
    """Keep the captured rows of one request scored by ``deployment`` (``table``), or count the rows
    its ``sample_rate`` skipped."""
    with store.lock:
        state = _state(store)
        if table is not None:
            state["captures"].setdefault(endpoint, []).append(table)
        if sampled_out:
            counts = state["sampled_out"].setdefault(endpoint, {})
            counts[deployment] = counts.get(deployment, 0) + sampled_out


def create_service(backend: MemoryBackend) -> MemoryMonitoringService:
    """Entry point used by ``Backend.service("monitoring", ...)``."""
    return MemoryMonitoringService(backend)


class MemoryMonitoringService:
    """See the module docstring."""

    def __init__(self, backend: MemoryBackend) -> None:
        require_modules(("pyarrow", "duckdb", "pandas", "scipy"), extra="local", purpose="monitoring")
        self._store = backend.store
        with self._store.lock:
            self._state = _state(self._store)

    def _tables(self, kind: str, endpoint: str) -> list[Any]:
        tables: list[Any] = self._state[kind].setdefault(endpoint, [])
        return tables

    def read_captures(
        self, endpoint: str, *, start: datetime, end: datetime, deployment: str | None, ids: bool = True
    ) -> Any:
        """The stored rows of ``endpoint`` in ``[start, end)`` (and of ``deployment``)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        from mlops_sdk.monitoring.tables import empty_captures, union_tables

        with self._store.lock:
            tables = list(self._tables("captures", endpoint))
        if not tables:
            return empty_captures()
        table = union_tables(tables)
        stamps = table.column("_ts")
        mask = pc.and_(
            pc.greater_equal(stamps, pa.scalar(start, stamps.type)), pc.less(stamps, pa.scalar(end, stamps.type))
        )
        if deployment is not None:
            mask = pc.and_(mask, pc.equal(table.column("_deployment"), deployment))
        return table.filter(mask)

    def write_captures(self, endpoint: str, table: Any) -> int:
        """Keep the rows."""
        with self._store.lock:
            self._tables("captures", endpoint).append(table)
        return int(table.num_rows)

    def write_labels(self, endpoint: str, table: Any) -> int:
        """Keep the labels."""
        with self._store.lock:
            self._tables("labels", endpoint).append(table)
        return int(table.num_rows)

    def read_labels(self, endpoint: str) -> Any:
        """Every label of ``endpoint``."""
        from mlops_sdk.monitoring.tables import empty_labels, union_tables

        with self._store.lock:
            tables = list(self._tables("labels", endpoint))
        return union_tables(tables) if tables else empty_labels()

    def capture_stats(self, endpoint: str) -> CaptureStats | None:
        """Rows held per deployment (kept before each answer returned: nothing is queued, dropped or
        lost in memory) and rows skipped by ``sample_rate``."""
        import pyarrow.compute as pc

        with self._store.lock:
            tables = list(self._tables("captures", endpoint))
            skipped = dict(self._state["sampled_out"].get(endpoint, {}))
        held: dict[str, int] = {}
        for table in tables:
            for entry in pc.value_counts(table.column("_deployment")).to_pylist():
                held[entry["values"]] = held.get(entry["values"], 0) + int(entry["counts"])
        deployments = {
            name: {"captured": held.get(name, 0), "written": held.get(name, 0), "sampled_out": skipped.get(name, 0)}
            for name in sorted({*held, *skipped})
        }
        rows = sum(held.values())
        return CaptureStats(
            endpoint=endpoint, captured=rows, written=rows, sampled_out=sum(skipped.values()), deployments=deployments
        )

    def flush(self, endpoint: str) -> None:
        """Nothing is queued in memory."""

    def training_data(self, version: str) -> Any:
        """The memory data factory's snapshot with data version ``version``."""
        if not re.fullmatch(r"[0-9a-f]{6,64}", version or ""):
            raise ResourceNotFoundError(f"data version {version!r} is not a snapshot version of this store")
        found = sorted((self._store.scratch / "datasets" / version[:2]).glob(f"{version}*.parquet"))
        if not found:
            raise ResourceNotFoundError(
                f"no snapshot with data version {version} in this memory store; pass baseline_data= or a DataBaseline",
                details={"version": version},
            )
        return found[0]
