"""The local refresh engine (``data_factory`` capability of the ``local://`` backend).

Pipelines are declared in Python (``client.data_factory.define(RefreshPipeline(...))``, stored in
``mlops.db``) or in ``pipelines.toml``; each run executes in its own worker process with DuckDB and
writes its outputs as content-addressed Parquet snapshots under ``<store folder>/datasets/``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlops_sdk.backends.local import LocalBackend
    from mlops_sdk.backends.local.data_factory.service import LocalDataFactoryService

__all__ = ["create_service"]


def create_service(backend: LocalBackend) -> LocalDataFactoryService:
    """Create the local data factory service (checks that duckdb and pyarrow are installed)."""
    backend.require_extra("the local refresh engine", ("duckdb", "pyarrow"))
    from mlops_sdk.backends.local.data_factory.service import LocalDataFactoryService

    return LocalDataFactoryService(backend)
