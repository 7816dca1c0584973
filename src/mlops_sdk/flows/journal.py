"""The flow journal: one row per (flow run, step) in the local store, so a re-run skips finished steps."""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from mlops_sdk.core.clock import Clock
from mlops_sdk.core.redaction import redact
from mlops_sdk.core.store import LocalStore, Migration

__all__ = ["JournalEntry", "StepJournal", "decode_result", "encode_result"]

MIGRATIONS = [
    Migration(
        1,
        "flow step journal",
        """
        CREATE TABLE flow_steps (
            flow TEXT NOT NULL,
            run_id TEXT NOT NULL,
            step TEXT NOT NULL,
            position INTEGER NOT NULL,
            status TEXT NOT NULL,
            idempotency_key TEXT NOT NULL,
            result_type TEXT,
            result_json TEXT,
            message TEXT,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 1,
            PRIMARY KEY (flow, run_id, step)
        );
        CREATE TABLE flow_runs (
            flow TEXT NOT NULL,
            run_id TEXT NOT NULL,
            outcome TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            PRIMARY KEY (flow, run_id)
        );
        """,
    )
]

_JSON = "json"
_OPAQUE = "opaque"


def encode_result(value: Any) -> tuple[str, str]:
    """Return ``(type tag, JSON text)``; pydantic models keep their class so they come back typed.

    A result holding a secret (a registered value, or one with a secret's shape) is never written:
    it is recorded as opaque with the secret masked, so a re-run runs the step again (re-attaching
    by its key) instead of reading the secret back from the store.
    """
    if isinstance(value, BaseModel):
        cls = type(value)
        tag, text = f"{cls.__module__}:{cls.__qualname__}", value.model_dump_json()
    else:
        try:
            tag, text = _JSON, json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            return _OPAQUE, json.dumps(redact(repr(value)))
    if _holds_secret(json.loads(text)):
        return _OPAQUE, json.dumps(redact(repr(value)))
    return tag, text


def _holds_secret(data: Any) -> bool:
    """Whether a string anywhere in ``data`` (decoded JSON) holds a secret.

    Each string is checked on its own, so a field merely named like a secret (``cache_key``) is not one.
    """
    if isinstance(data, str):
        return redact(data) != data
    if isinstance(data, dict):
        return any(_holds_secret(key) or _holds_secret(item) for key, item in data.items())
    if isinstance(data, list):
        return any(_holds_secret(item) for item in data)
    return False


def decode_result(type_tag: str, text: str) -> tuple[bool, Any]:
    """Return ``(restored, value)``; an opaque or no longer importable result is not restored."""
    if type_tag == _JSON:
        return True, json.loads(text)
    if type_tag == _OPAQUE:
        return False, None
    module_name, _, qualname = type_tag.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError):
        return False, None
    if isinstance(target, type) and issubclass(target, BaseModel):
        return True, target.model_validate_json(text)
    return False, None


@dataclass(frozen=True)
class JournalEntry:
    """One step of one flow run as recorded."""

    step: str
    position: int
    status: str
    idempotency_key: str
    result_type: str | None
    result_json: str | None
    message: str | None
    attempts: int


class StepJournal:
    """Reads and writes the ``flow_steps`` / ``flow_runs`` tables."""

    def __init__(self, store: LocalStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        store.ensure_schema("flows", MIGRATIONS)

    def start_run(self, flow: str, run_id: str) -> None:
        """Record the run as running (again)."""
        with self._store.transaction() as connection:
            connection.execute(
                "INSERT INTO flow_runs (flow, run_id, outcome, started_at) VALUES (?, ?, 'running', ?) "
                "ON CONFLICT (flow, run_id) DO UPDATE SET outcome = 'running', finished_at = NULL",
                (flow, run_id, self._clock.now().isoformat()),
            )

    def finish_run(self, flow: str, run_id: str, outcome: str) -> None:
        """Record the run's outcome."""
        with self._store.transaction() as connection:
            connection.execute(
                "UPDATE flow_runs SET outcome = ?, finished_at = ? WHERE flow = ? AND run_id = ?",
                (outcome, self._clock.now().isoformat(), flow, run_id),
            )

    def get(self, flow: str, run_id: str, step: str) -> JournalEntry | None:
        """The recorded entry of ``step``, if any."""
        row = (
            self._store.connection()
            .execute(
                "SELECT step, position, status, idempotency_key, result_type, result_json, message, attempts "
                "FROM flow_steps WHERE flow = ? AND run_id = ? AND step = ?",
                (flow, run_id, step),
            )
            .fetchone()
        )
        return JournalEntry(*row) if row else None

    def entries(self, flow: str, run_id: str) -> list[JournalEntry]:
        """Every recorded step of the run, in execution order."""
        rows = (
            self._store.connection()
            .execute(
                "SELECT step, position, status, idempotency_key, result_type, result_json, message, attempts "
                "FROM flow_steps WHERE flow = ? AND run_id = ? ORDER BY position",
                (flow, run_id),
            )
            .fetchall()
        )
        return [JournalEntry(*row) for row in rows]

    def started(self, flow: str, run_id: str, step: str, position: int, key: str) -> None:
        """Record that the step's side effect is about to be started (or re-attached)."""
        with self._store.transaction() as connection:
            connection.execute(
                "INSERT INTO flow_steps (flow, run_id, step, position, status, idempotency_key, started_at) "
                "VALUES (?, ?, ?, ?, 'running', ?, ?) "
                "ON CONFLICT (flow, run_id, step) DO UPDATE SET status = 'running', attempts = attempts + 1",
                (flow, run_id, step, position, key, self._clock.now().isoformat()),
            )

    def finished(self, flow: str, run_id: str, step: str, status: str, value: Any, message: str | None) -> None:
        """Record the step's end and its result."""
        type_tag, text = encode_result(value)
        with self._store.transaction() as connection:
            connection.execute(
                "UPDATE flow_steps SET status = ?, result_type = ?, result_json = ?, message = ?, finished_at = ? "
                "WHERE flow = ? AND run_id = ? AND step = ?",
                (
                    status,
                    type_tag,
                    text,
                    redact(message) if message else message,
                    self._clock.now().isoformat(),
                    flow,
                    run_id,
                    step,
                ),
            )
