"""The ``training_pipeline`` capability of the memory backend: the shared DAG executor, state in dictionaries.

Steps are in-process training runs (``python SCRIPT.py ...`` commands), so they run one after the
other inside ``begin_pipeline`` and each look; caching, resume and outputs behave as on ``local://``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from mlops_sdk.backends._pipeline.engine import CacheEntry, PipelineEngine, PipelineRecord, StepRecord
from mlops_sdk.backends._pipeline.service import EnginePipelineService
from mlops_sdk.backends.spi.keys import TRAINING

if TYPE_CHECKING:
    from mlops_sdk.backends.memory import MemoryBackend

__all__ = ["MemoryPipelineState", "create_service"]


@dataclass
class _State:
    runs: dict[str, PipelineRecord] = field(default_factory=dict)
    steps: dict[str, dict[str, StepRecord]] = field(default_factory=dict)
    cache: dict[str, CacheEntry] = field(default_factory=dict)


class MemoryPipelineState:
    """Implements :class:`~mlops_sdk.backends._pipeline.engine.PipelineStateStore` in dictionaries."""

    def __init__(self, state: _State, lock: threading.RLock) -> None:
        self._state = state
        self._lock = lock

    def create(self, record: PipelineRecord, steps: list[StepRecord]) -> PipelineRecord:
        """Insert the run; a used key returns the existing run."""
        with self._lock:
            if record.idempotency_key is not None:
                existing = self.by_key(record.idempotency_key)
                if existing is not None:
                    return existing
            self._state.runs[record.id] = record
            self._state.steps[record.id] = {step.step: step for step in steps}
        return record

    def get(self, run_id: str) -> PipelineRecord | None:
        """The run, or ``None``."""
        with self._lock:
            return self._state.runs.get(run_id)

    def by_key(self, key: str) -> PipelineRecord | None:
        """The run submitted with ``key``."""
        with self._lock:
            return next((r for r in self._state.runs.values() if r.idempotency_key == key), None)

    def resumed_by(self, run_id: str) -> list[PipelineRecord]:
        """Runs resuming ``run_id``, newest first."""
        with self._lock:
            return [r for r in reversed(self._state.runs.values()) if r.resumed_from == run_id]

    def list(self, name: str | None, limit: int) -> list[PipelineRecord]:
        """Most recent first."""
        with self._lock:
            return [r for r in reversed(self._state.runs.values()) if name is None or r.name == name][:limit]

    def steps(self, run_id: str) -> dict[str, StepRecord]:
        """The run's steps in execution order."""
        with self._lock:
            return dict(self._state.steps.get(run_id, {}))

    def update_step(self, run_id: str, step: str, expect: tuple[str, ...], **changes: Any) -> bool:
        """Compare-and-set on the step's status."""
        with self._lock:
            current = self._state.steps[run_id][step]
            if current.status not in expect:
                return False
            self._state.steps[run_id][step] = replace(current, **changes)
            return True

    def update_run(self, run_id: str, expect: tuple[str, ...], **changes: Any) -> bool:
        """Compare-and-set on the run's status."""
        with self._lock:
            current = self._state.runs[run_id]
            if current.status not in expect:
                return False
            self._state.runs[run_id] = replace(current, **changes)
            return True

    def cache_get(self, key: str) -> CacheEntry | None:
        """The cached result under ``key``."""
        with self._lock:
            return self._state.cache.get(key)

    def cache_put(self, key: str, entry: CacheEntry) -> None:
        """Keep the first result recorded under ``key``."""
        with self._lock:
            self._state.cache.setdefault(key, entry)


def create_service(backend: MemoryBackend) -> EnginePipelineService:
    """The backend's pipeline service (one state per memory store)."""
    store = backend.store
    with store.lock:
        state = store.state.setdefault("training_pipeline", _State())
    engine = PipelineEngine(
        MemoryPipelineState(state, store.lock),
        lambda: backend.service(TRAINING),
        outputs_root=store.scratch / "pipeline-outputs",
        backend="memory",
        now=backend.clock.now,
    )
    return EnginePipelineService(engine, backend="memory", poll_seconds=0.0)
