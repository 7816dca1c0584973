"""The local backend's SQLite store: see :mod:`mlops_sdk.core.store` (shared with the flow journal)."""

from __future__ import annotations

from mlops_sdk.core.store import DB_NAME, LocalStore, Migration

__all__ = ["DB_NAME", "LocalStore", "Migration"]
