"""Monitoring on the ``memory://`` backend: captured rows and labels as Arrow tables in the store.

There is no endpoint server here, so captures come from ``client.monitoring.log_inferences``; the
signals are the shared engine's, exactly as on the other backends. Training baselines are the refresh
snapshots the memory data factory wrote to the store's scratch folder.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from mlops_sdk.backends.base import require_modules
from mlops_sdk.backends.memory import MemoryBackend
from mlops_sdk.core.errors import ResourceNotFoundError
from mlops_sdk.models.monitoring import CaptureStats

__all__ = ["MemoryMonitoringService", "create_service"]


def create_service(backend: MemoryBackend) -> MemoryMonitoringService:
    """Entry point used by ``Backend.service("monitoring", ...)``."""
    return MemoryMonitoringService(backend)


class MemoryMonitoringService:
    """See the module docstring."""

    def __init__(self, backend: MemoryBackend) -> None:
        require_modules(("pyarrow", "duckdb", "pandas", "scipy"), extra="local", purpose="monitoring")
        self._store = backend.store
        with self._store.lock:
            self._state: dict[str, dict[str, list[Any]]] = self._store.state.setdefault(
                "monitoring", {"captures": {}, "labels": {}}
            )

    def _tables(self, kind: str, endpoint: str) -> list[Any]:
        return self._state[kind].setdefault(endpoint, [])

    def read_captures(
        self, endpoint: str, *, start: datetime, end: datetime, deployment: str | None, ids: bool = True
    ) -> Any:
        """The stored rows of ``endpoint`` in ``[start, end)`` (and of ``deployment``)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        from mlops_sdk.monitoring.tables import empty_captures

        with self._store.lock:
            tables = list(self._tables("captures", endpoint))
        if not tables:
            return empty_captures()
        table = pa.concat_tables(tables, promote_options="permissive")
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
        import pyarrow as pa

        from mlops_sdk.monitoring.tables import empty_labels

        with self._store.lock:
            tables = list(self._tables("labels", endpoint))
        return pa.concat_tables(tables, promote_options="permissive") if tables else empty_labels()

    def capture_stats(self, endpoint: str) -> CaptureStats | None:
        """Rows held (nothing is ever dropped in memory)."""
        with self._store.lock:
            rows = sum(int(table.num_rows) for table in self._tables("captures", endpoint))
        return CaptureStats(endpoint=endpoint, captured=rows, written=rows)

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
