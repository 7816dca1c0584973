"""Service protocol for monitoring: where captured inferences and ground truth live on a backend.

The signals themselves are computed once, in :mod:`mlops_sdk.monitoring.engine`, on the Arrow tables
these services return; a backend only stores and reads.

Captured tables have the metadata columns ``_id`` (correlation id), ``_request_id``, ``_row``, ``_ts``
(timestamp, UTC), ``_deployment``, ``_model``, ``_prediction`` and one column per model input.
Label tables have ``_id``, ``label`` and ``_logged_at`` (timestamp, UTC).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from mlops_sdk.models.monitoring import CaptureStats

__all__ = ["MonitoringService"]


class MonitoringService(Protocol):
    """Stores and reads captured inferences and ground truth of one backend's endpoints."""

    def read_captures(
        self, endpoint: str, *, start: datetime, end: datetime, deployment: str | None, ids: bool = True
    ) -> Any:
        """Captured rows of ``endpoint`` with ``start <= _ts < end`` as a ``pyarrow.Table`` (maybe empty);
        ``ids=False`` may leave out the id columns (``_id``, ``_request_id``, ``_row``: a third of the reading)."""
        ...

    def write_captures(self, endpoint: str, table: Any) -> int:
        """Append captured rows (a ``pyarrow.Table`` of the shape above) durably; returns the row count."""
        ...

    def write_labels(self, endpoint: str, table: Any) -> int:
        """Append ground truth (``_id``, ``label``, ``_logged_at``) durably; returns the row count."""
        ...

    def read_labels(self, endpoint: str) -> Any:
        """Every label logged for ``endpoint`` (a ``pyarrow.Table``, maybe empty)."""
        ...

    def capture_stats(self, endpoint: str) -> CaptureStats | None:
        """The endpoint's capture counters (drops, failures), or ``None`` when the backend keeps none."""
        ...

    def flush(self, endpoint: str) -> None:
        """Make rows the endpoint has acknowledged readable now (the local server writes its queue)."""
        ...

    def training_data(self, version: str) -> Any:
        """The data snapshot with data version ``version`` (from a model's lineage): a local path or a
        DataFrame. Raises :class:`~mlops_sdk.core.errors.ResourceNotFoundError` when it is not kept here."""
        ...
