"""Content-addressed Parquet snapshots under ``<store folder>/datasets/``.

The digest is :func:`mlops_sdk.core.datadigest.table_digest` (canonical Arrow IPC encoding), so the
same data always gets the same version, whatever produced it and however it was chunked, and a
validation report of the same rows records the same version. A snapshot is written to a temporary
file next to its final place and renamed atomically: a reader (or a killed writer) never sees half a file.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_sdk.core.datadigest import canonical_table, short_version, table_digest

__all__ = ["Snapshot", "canonical_table", "table_digest", "write_snapshot"]


@dataclass(frozen=True)
class Snapshot:
    """A stored snapshot."""

    digest: str
    path: Path
    columns: list[dict[str, str]]
    row_count: int

    @property
    def version(self) -> str:
        """Short data version (first 12 hex digits)."""
        return short_version(self.digest)


def snapshot_path(datasets: Path, digest: str) -> Path:
    """Where the snapshot with ``digest`` lives."""
    hexdigest = digest.split(":", 1)[1]
    return datasets / hexdigest[:2] / f"{hexdigest}.parquet"


def write_snapshot(table: Any, datasets: Path, tmp_dir: Path) -> Snapshot:
    """Store ``table`` (a ``pyarrow.Table``) and return its snapshot; identical data is stored once."""
    import pyarrow.parquet as pq

    table = canonical_table(table)
    digest = table_digest(table)
    final = snapshot_path(datasets, digest)
    columns = [{"name": field.name, "type": str(field.type)} for field in table.schema]
    if not final.exists():
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp_dir.mkdir(parents=True, exist_ok=True)
        partial = tmp_dir / f"{final.name}.partial"
        try:
            pq.write_table(table, partial)
            with partial.open("rb") as handle:
                os.fsync(handle.fileno())
            partial.replace(final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
    return Snapshot(digest=digest, path=final, columns=columns, row_count=table.num_rows)
