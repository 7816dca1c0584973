"""Monitoring on the local backend: the endpoint server's capture files, labels as Parquet parts.

Captured rows: ``endpoints/<endpoint>/capture/<deployment>/<YYYY-MM-DD>/<HH>/part-*.parquet`` (written by
the server, see :mod:`mlops_sdk.backends.local.serving.capture`, or by ``log_inferences``). Labels:
``monitoring/<endpoint>/labels/part-*.parquet``. Every file is written atomically (temporary name,
fsync, rename): a killed process leaves whole files or none. Baselines from a model's lineage are the
refresh snapshots in ``datasets/``.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlops_sdk.backends.local import LocalBackend
from mlops_sdk.core.errors import MlopsError, ResourceNotFoundError
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.names import check_endpoint_name
from mlops_sdk.models.monitoring import CaptureStats

__all__ = ["LocalMonitoringService", "create_service"]

_ID_COLUMNS = ("_id", "_request_id", "_row")
_log = get_logger(__name__)


def create_service(backend: LocalBackend) -> LocalMonitoringService:
    """Entry point used by ``Backend.service("monitoring", ...)``."""
    return LocalMonitoringService(backend)


class LocalMonitoringService:
    """See the module docstring."""

    def __init__(self, backend: LocalBackend) -> None:
        backend.require_extra("monitoring on the local backend", ("duckdb", "pyarrow", "numpy", "scipy"))
        self._backend = backend

    def _endpoint(self, endpoint: str) -> Path:
        check_endpoint_name(endpoint)
        return self._backend.folder / "endpoints" / endpoint

    def _server(self, endpoint: str) -> Any:
        from mlops_sdk.backends.local.serving.process import EndpointServer

        folder = self._endpoint(endpoint)
        if not folder.is_dir():
            return None
        server = EndpointServer(folder, endpoint)
        return server if server.running() is not None else None

    def read_captures(
        self, endpoint: str, *, start: datetime, end: datetime, deployment: str | None, ids: bool = True
    ) -> Any:
        """Rows of the hour partitions overlapping the window, filtered on ``_ts`` and the deployment."""
        from mlops_sdk.monitoring.tables import CAPTURE_COLUMNS, empty_captures, read_parquet_folder

        root = self._endpoint(endpoint) / "capture"
        first = start.astimezone(timezone.utc).strftime("%Y-%m-%d/%H")
        last = end.astimezone(timezone.utc).strftime("%Y-%m-%d/%H")
        files = [
            path
            for folder in sorted(root.iterdir() if root.is_dir() else [])
            if folder.is_dir() and (deployment is None or folder.name == deployment)
            for hour in sorted(folder.glob("*/*"))
            if first <= f"{hour.parent.name}/{hour.name}" <= last  # the hour partitions overlapping the window
            for path in sorted(hour.glob("part-*.parquet"))
        ]
        if not files:
            return empty_captures()
        where = "_ts >= ? AND _ts < ?"
        parameters: list[Any] = [start, end]
        if deployment is not None:
            where += " AND _deployment = ?"
            parameters.append(deployment)
        return read_parquet_folder(
            files, where, parameters, exclude=() if ids else _ID_COLUMNS, required=CAPTURE_COLUMNS, what="capture"
        )

    def write_captures(self, endpoint: str, table: Any) -> int:
        """One part per (deployment, hour) present in ``table``."""
        import pyarrow.compute as pc

        from mlops_sdk.backends.local.serving.capture import capture_partition
        from mlops_sdk.monitoring.tables import write_parquet_atomic

        root = self._endpoint(endpoint) / "capture"
        hours = pc.floor_temporal(table.column("_ts"), unit="hour")
        keys = sorted({(d, h) for d, h in zip(table.column("_deployment").to_pylist(), hours.to_pylist(), strict=True)})
        for deployment, hour in keys:
            mask = pc.and_(pc.equal(table.column("_deployment"), deployment), pc.equal(hours, hour))
            write_parquet_atomic(table.filter(mask), root / capture_partition(deployment, hour.timestamp()))
        return int(table.num_rows)

    def _labels(self, endpoint: str) -> Path:
        self._endpoint(endpoint)
        return self._backend.folder / "monitoring" / endpoint / "labels"

    def write_labels(self, endpoint: str, table: Any) -> int:
        """One Parquet part per call."""
        from mlops_sdk.monitoring.tables import write_parquet_atomic

        write_parquet_atomic(table, self._labels(endpoint))
        return int(table.num_rows)

    def read_labels(self, endpoint: str) -> Any:
        """Every part of the endpoint's labels."""
        from mlops_sdk.monitoring.tables import LABEL_COLUMNS, empty_labels, read_parquet_folder

        files = sorted(self._labels(endpoint).glob("part-*.parquet"))
        if not files:
            return empty_labels()
        return read_parquet_folder(files, required=LABEL_COLUMNS, what="labels", check_all=True)

    def capture_stats(self, endpoint: str) -> CaptureStats | None:
        """The running server's counters (since it started); ``None`` when it is not running."""
        server = self._server(endpoint)
        if server is None:
            return None
        try:
            data = server.admin("GET", "capture")
        except MlopsError as error:
            _log.warning("capture stats of %s unavailable: %s", endpoint, error)
            return None
        return _stats(endpoint, data)

    def flush(self, endpoint: str) -> None:
        """Ask the running server to write its queue now (nothing to do when it is not running)."""
        server = self._server(endpoint)
        if server is not None:
            server.admin("POST", "capture/flush")

    def training_data(self, version: str) -> Any:
        """The refresh snapshot in ``datasets/`` whose digest starts with ``version``."""
        if not re.fullmatch(r"[0-9a-f]{6,64}", version or ""):
            raise ResourceNotFoundError(
                f"data version {version!r} is not a snapshot version of this store", details={"version": version}
            )
        found = sorted((self._backend.folder / "datasets" / version[:2]).glob(f"{version}*.parquet"))
        if not found:
            raise ResourceNotFoundError(
                f"no snapshot with data version {version} in {self._backend.folder / 'datasets'}; the model was "
                "trained on data that did not come from a refresh here: pass baseline_data= or a DataBaseline",
                details={"version": version},
            )
        return found[0]


def _stats(endpoint: str, data: dict[str, Any]) -> CaptureStats:
    keys = ("captured", "written", "dropped", "failed", "sampled_out")
    return CaptureStats(
        endpoint=endpoint,
        **{key: int(data.get(key, 0)) for key in keys},
        deployments={
            name: {key: int(value) for key, value in counters.items()}
            for name, counters in (data.get("deployments") or {}).items()
        },
    )
