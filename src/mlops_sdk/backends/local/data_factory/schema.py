"""SQLite tables of the local refresh engine (component ``data_factory`` in ``mlops.db``)."""

from __future__ import annotations

from mlops_sdk.backends.local.store import Migration

__all__ = ["COMPONENT", "MIGRATIONS", "NATIVE_ACTIVE", "NATIVE_TERMINAL"]

COMPONENT = "data_factory"

NATIVE_ACTIVE = ("Queued", "InProgress", "Canceling")
NATIVE_TERMINAL = ("Succeeded", "Failed", "Cancelled")

MIGRATIONS = [
    Migration(
        1,
        "pipelines, runs, activity runs, outputs, snapshots",
        """
        CREATE TABLE df_pipelines (
            name TEXT PRIMARY KEY,
            spec_json TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE df_runs (
            run_id TEXT PRIMARY KEY,
            pipeline TEXT NOT NULL,
            status TEXT NOT NULL,
            spec_json TEXT NOT NULL,
            parameters_json TEXT NOT NULL,
            idempotency_key TEXT UNIQUE,
            group_id TEXT NOT NULL,
            reference_run_id TEXT,
            reuse_json TEXT NOT NULL DEFAULT '[]',
            base_dir TEXT NOT NULL,
            lineage_json TEXT NOT NULL,
            created_at TEXT NOT NULL,
            started_at TEXT,
            ended_at TEXT,
            message TEXT,
            pid INTEGER,
            cancel_requested_at TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX df_runs_pipeline ON df_runs (pipeline, created_at);
        CREATE INDEX df_runs_status ON df_runs (status);
        CREATE TABLE df_activity_runs (
            run_id TEXT NOT NULL REFERENCES df_runs (run_id),
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            type TEXT NOT NULL,
            status TEXT NOT NULL,
            started_at TEXT,
            ended_at TEXT,
            error_json TEXT,
            output_json TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (run_id, name)
        );
        CREATE TABLE df_snapshots (
            digest TEXT PRIMARY KEY,
            path TEXT NOT NULL,
            schema_json TEXT NOT NULL,
            row_count INTEGER NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE df_outputs (
            run_id TEXT NOT NULL REFERENCES df_runs (run_id),
            name TEXT NOT NULL,
            digest TEXT NOT NULL REFERENCES df_snapshots (digest),
            PRIMARY KEY (run_id, name)
        );
        """,
    ),
    Migration(
        2,
        "the process that queued a run (a run queued by a process that died is started by the next one)",
        """
        ALTER TABLE df_runs ADD COLUMN starter_pid INTEGER;
        ALTER TABLE df_runs ADD COLUMN starter_start TEXT;
        """,
    ),
]
