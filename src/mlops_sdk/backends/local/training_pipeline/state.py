"""Pipeline runs, their steps and the step cache in ``mlops.db`` (one transaction per change)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import fields
from typing import Any

from mlops_sdk.backends._pipeline.engine import CacheEntry, PipelineRecord, StepRecord, dumps
from mlops_sdk.backends.local.store import LocalStore, Migration

__all__ = ["MIGRATIONS", "SqlitePipelineState"]

MIGRATIONS = [
    Migration(
        1,
        "training pipeline runs, steps and step cache",
        """
        CREATE TABLE pipeline_runs (
            id TEXT PRIMARY KEY,
            idempotency_key TEXT UNIQUE,
            name TEXT NOT NULL,
            spec TEXT NOT NULL,
            status TEXT NOT NULL,
            lineage TEXT NOT NULL,
            resumed_from TEXT,
            max_parallel INTEGER NOT NULL,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            ended_at TEXT,
            error TEXT
        );
        CREATE INDEX pipeline_runs_created ON pipeline_runs (created_at);
        CREATE INDEX pipeline_runs_resumed ON pipeline_runs (resumed_from);
        CREATE TABLE pipeline_steps (
            run_id TEXT NOT NULL REFERENCES pipeline_runs (id),
            step TEXT NOT NULL,
            position INTEGER NOT NULL,
            status TEXT NOT NULL,
            training_run_id TEXT,
            cache_key TEXT,
            cached INTEGER NOT NULL DEFAULT 0,
            reused INTEGER NOT NULL DEFAULT 0,
            outputs TEXT NOT NULL DEFAULT '{}',
            digests TEXT NOT NULL DEFAULT '{}',
            error TEXT,
            run TEXT,
            PRIMARY KEY (run_id, step)
        );
        CREATE TABLE pipeline_step_cache (
            cache_key TEXT PRIMARY KEY,
            training_run_id TEXT NOT NULL,
            outputs TEXT NOT NULL,
            digests TEXT NOT NULL,
            run TEXT,
            created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
        );
        """,
    )
]

_RUN_COLUMNS = [f.name for f in fields(PipelineRecord)]
_JSON = ("outputs", "digests")
_BOOL = ("cached", "reused", "cancel_requested")


_STEP_COLUMNS = frozenset(f.name for f in fields(StepRecord)) - {"step"}


def _record(row: sqlite3.Row) -> PipelineRecord:
    values: dict[str, Any] = {name: (bool(row[name]) if name in _BOOL else row[name]) for name in _RUN_COLUMNS}
    return PipelineRecord(**values)


def _assignments(changes: dict[str, Any], allowed: frozenset[str] | list[str]) -> str:
    """``a = ?, b = ?`` for known column names only (they are interpolated into the statement)."""
    unknown = set(changes) - set(allowed)
    if unknown:
        raise ValueError(f"unknown columns {sorted(unknown)}")
    return ", ".join(f"{name} = ?" for name in changes)


def _step(row: sqlite3.Row) -> StepRecord:
    return StepRecord(
        step=row["step"],
        status=row["status"],
        training_run_id=row["training_run_id"],
        cache_key=row["cache_key"],
        cached=bool(row["cached"]),
        reused=bool(row["reused"]),
        outputs=json.loads(row["outputs"]),
        digests=json.loads(row["digests"]),
        error=row["error"],
        run=row["run"],
    )


def _column_value(name: str, value: Any) -> Any:
    if name in _JSON:
        return dumps(value)
    if name in _BOOL:
        return int(bool(value))
    return value


class SqlitePipelineState:
    """Implements :class:`~mlops_sdk.backends._pipeline.engine.PipelineStateStore` on the local store."""

    def __init__(self, store: LocalStore) -> None:
        self._store = store

    def create(self, record: PipelineRecord, steps: list[StepRecord]) -> PipelineRecord:
        """Insert the run and its steps in one transaction; a used key returns the existing run."""
        try:
            with self._store.transaction() as connection:
                values = [_column_value(name, getattr(record, name)) for name in _RUN_COLUMNS]
                connection.execute(
                    f"INSERT INTO pipeline_runs ({', '.join(_RUN_COLUMNS)})"  # noqa: S608 - fixed column names
                    f" VALUES ({', '.join('?' * len(values))})",
                    values,
                )
                for position, step in enumerate(steps):
                    connection.execute(
                        "INSERT INTO pipeline_steps (run_id, step, position, status, training_run_id, cache_key,"
                        " cached, reused, outputs, digests, error, run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            record.id,
                            step.step,
                            position,
                            step.status,
                            step.training_run_id,
                            step.cache_key,
                            int(step.cached),
                            int(step.reused),
                            dumps(step.outputs),
                            dumps(step.digests),
                            step.error,
                            step.run,
                        ),
                    )
        except sqlite3.IntegrityError:
            existing = self.by_key(record.idempotency_key or "")
            if existing is None:
                raise
            return existing
        return record

    def _one(self, query: str, params: tuple[Any, ...]) -> PipelineRecord | None:
        row = self._store.connection().execute(query, params).fetchone()
        return _record(row) if row is not None else None

    def get(self, run_id: str) -> PipelineRecord | None:
        """The run, or ``None``."""
        return self._one("SELECT * FROM pipeline_runs WHERE id = ?", (run_id,))

    def by_key(self, key: str) -> PipelineRecord | None:
        """The run submitted with ``key``."""
        return self._one("SELECT * FROM pipeline_runs WHERE idempotency_key = ?", (key,))

    def resumed_by(self, run_id: str) -> list[PipelineRecord]:
        """Runs resuming ``run_id``, newest first."""
        rows = (
            self._store.connection()
            .execute("SELECT * FROM pipeline_runs WHERE resumed_from = ? ORDER BY created_at DESC", (run_id,))
            .fetchall()
        )
        return [_record(row) for row in rows]

    def list(self, name: str | None, limit: int) -> list[PipelineRecord]:
        """Most recent first."""
        query, params = "SELECT * FROM pipeline_runs", []
        if name is not None:
            query += " WHERE name = ?"
            params.append(name)
        query += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
        rows = self._store.connection().execute(query, [*params, limit]).fetchall()
        return [_record(row) for row in rows]

    def steps(self, run_id: str) -> dict[str, StepRecord]:
        """The run's steps in execution order."""
        rows = (
            self._store.connection()
            .execute("SELECT * FROM pipeline_steps WHERE run_id = ? ORDER BY position", (run_id,))
            .fetchall()
        )
        return {row["step"]: _step(row) for row in rows}

    def update_step(self, run_id: str, step: str, expect: tuple[str, ...], **changes: Any) -> bool:
        """Compare-and-set on the step's status."""
        assignments = _assignments(changes, _STEP_COLUMNS)
        marks = ", ".join("?" * len(expect))
        with self._store.transaction() as connection:
            cursor = connection.execute(
                f"UPDATE pipeline_steps SET {assignments}"  # noqa: S608 - checked column names
                f" WHERE run_id = ? AND step = ? AND status IN ({marks})",
                [*(_column_value(k, v) for k, v in changes.items()), run_id, step, *expect],
            )
        return cursor.rowcount == 1

    def update_run(self, run_id: str, expect: tuple[str, ...], **changes: Any) -> bool:
        """Compare-and-set on the run's status."""
        assignments = _assignments(changes, _RUN_COLUMNS)
        marks = ", ".join("?" * len(expect))
        with self._store.transaction() as connection:
            cursor = connection.execute(
                f"UPDATE pipeline_runs SET {assignments} WHERE id = ? AND status IN ({marks})",  # noqa: S608
                [*(_column_value(k, v) for k, v in changes.items()), run_id, *expect],
            )
        return cursor.rowcount == 1

    def cache_get(self, key: str) -> CacheEntry | None:
        """The cached result under ``key``."""
        row = (
            self._store.connection().execute("SELECT * FROM pipeline_step_cache WHERE cache_key = ?", (key,)).fetchone()
        )
        if row is None:
            return None
        return CacheEntry(row["training_run_id"], json.loads(row["outputs"]), json.loads(row["digests"]), row["run"])

    def cache_put(self, key: str, entry: CacheEntry) -> None:
        """Keep the first result recorded under ``key``."""
        with self._store.transaction() as connection:
            connection.execute(
                "INSERT OR IGNORE INTO pipeline_step_cache (cache_key, training_run_id, outputs, digests, run)"
                " VALUES (?, ?, ?, ?, ?)",
                (key, entry.training_run_id, dumps(entry.outputs), dumps(entry.digests), entry.run),
            )
