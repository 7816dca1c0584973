"""The ``training`` capability of the memory backend: the job's Python script runs in this process.

A run executes at submission (synchronously), unless the ``"training.run"`` fault hangs it: then it
stays RUNNING until released (it then runs at the next look) or canceled.
"""

from __future__ import annotations

import itertools
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_sdk.backends.memory._inprocess import run_script, script_argv
from mlops_sdk.backends.spi.training import LogCallback, TrainingDriver
from mlops_sdk.core.errors import ConfigurationError, OperationFailedError, ResourceNotFoundError
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.core.operation import PollResult
from mlops_sdk.core.redaction import redact
from mlops_sdk.core.status import Status
from mlops_sdk.models.training import TrainingJob, TrainingRun

if TYPE_CHECKING:
    from mlops_sdk.backends.memory import MemoryBackend

__all__ = ["MemoryTrainingDriver", "MemoryTrainingService", "create_service"]

_TAIL = 20


@dataclass
class _Runs:
    runs: dict[str, TrainingRun] = field(default_factory=dict)
    jobs: dict[str, TrainingJob] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    logs: dict[str, list[str]] = field(default_factory=dict)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


def create_service(backend: MemoryBackend) -> MemoryTrainingService:
    """The backend's training service."""
    return MemoryTrainingService(backend)


class MemoryTrainingService:
    """Implements :class:`~mlops_sdk.backends.spi.training.TrainingService` in process."""

    def __init__(self, backend: MemoryBackend) -> None:
        self._backend = backend
        self._store = backend.store
        self._faults = backend.faults
        with self._store.lock:
            runs = self._store.state.setdefault("training", _Runs())
        self._runs: _Runs = runs

    def submit(
        self,
        job: TrainingJob,
        *,
        idempotency_key: str | None,
        lineage: Lineage,
        on_log: LogCallback | None = None,
    ) -> MemoryTrainingDriver:
        """Start the job (run it now, in process), or re-attach to the run made with ``idempotency_key``."""
        self._faults.before("training.submit")
        with self._store.lock:
            existing = self._runs.keys.get(idempotency_key) if idempotency_key else None
            if existing is not None:
                run_id = existing
            else:
                script_argv(job.command, job.code)  # refuse what cannot run in process before recording
                run_id = f"memory-run-{next(self._runs.counter)}"
                outputs = {name: str(self._store.scratch / run_id / "outputs" / name) for name in job.outputs}
                self._runs.jobs[run_id] = job
                self._runs.logs[run_id] = []
                self._runs.runs[run_id] = TrainingRun(
                    id=run_id,
                    backend="memory",
                    status=Status.RUNNING,
                    native_status="Running",
                    experiment=job.experiment,
                    display_name=job.display_name or run_id,
                    idempotency_key=idempotency_key,
                    outputs=outputs,
                    log_location=f"{self._backend.target}/runs/{run_id}",
                    lineage=lineage.with_inputs(training_run_id=run_id),
                    tags=dict(job.tags),
                    created_at=self._backend.clock.now(),
                )
                if idempotency_key:
                    self._runs.keys[idempotency_key] = run_id
        if existing is None:
            self._execute(run_id, on_log)
        self._faults.after("training.submit")
        return MemoryTrainingDriver(self, run_id, on_log)

    def attach(self, run_id: str, state: dict[str, Any], *, on_log: LogCallback | None = None) -> MemoryTrainingDriver:
        """The driver of an existing run."""
        self.get_run(run_id)
        return MemoryTrainingDriver(self, run_id, on_log)

    def get_run(self, run_id: str) -> TrainingRun:
        """The run; ``ResourceNotFoundError`` if unknown."""
        self._faults.before("training.get_run")
        with self._store.lock:
            run = self._runs.runs.get(run_id)
        if run is None:
            raise ResourceNotFoundError(
                f"no training run {run_id!r} in {self._backend.target}", backend="memory", operation_id=run_id
            )
        if run.status is Status.RUNNING and not self._faults.is_hung("training.run"):
            self._execute(run_id, None)  # released from a hang: it runs now
            with self._store.lock:
                run = self._runs.runs[run_id]
        return run

    def list_runs(self, *, experiment: str | None = None, limit: int = 50) -> list[TrainingRun]:
        """Most recent first."""
        self._faults.before("training.list_runs")
        with self._store.lock:
            runs = [
                run for run in reversed(self._runs.runs.values()) if experiment is None or run.experiment == experiment
            ]
        return runs[:limit]

    def cancel(self, run_id: str) -> None:
        """A run still RUNNING (hung) becomes CANCELED; a finished one stays as it is."""
        self._faults.before("training.cancel")
        run = self.get_run(run_id)
        with self._store.lock:
            if run.status is Status.RUNNING:
                self._runs.runs[run_id] = run.model_copy(
                    update={
                        "status": Status.CANCELED,
                        "native_status": "Canceled",
                        "ended_at": self._backend.clock.now(),
                    }
                )

    def logs(self, run_id: str) -> list[str]:
        """Every line the run's script printed."""
        with self._store.lock:
            return list(self._runs.logs.get(run_id, []))

    def _execute(self, run_id: str, on_log: LogCallback | None) -> None:
        try:
            self._faults.before("training.run")
        except Exception as fault:  # an injected failure of the run itself: the run fails
            self._finish(run_id, Status.FAILED, exit_code=None, error=f"training run {run_id} failed: {fault}")
            return
        if self._faults.is_hung("training.run"):
            return
        with self._store.lock:
            run = self._runs.runs[run_id]
            job = self._runs.jobs[run_id]
            if run.status is not Status.RUNNING:
                return
            self._runs.runs[run_id] = run.model_copy(update={"native_status": "Executing"})
        for folder in run.outputs.values():
            Path(folder).mkdir(parents=True, exist_ok=True)
        outputs = {name: shlex.quote(folder) for name, folder in run.outputs.items()}
        argv = script_argv(job.render_command(self._inputs(job), outputs), job.code)
        lines = self._runs.logs[run_id]

        def line(text: str) -> None:
            text = redact(text)  # a secret the script printed never reaches logs or callbacks
            lines.append(text)
            if on_log is not None:
                on_log(text)

        env = {name: _plain(value) for name, value in job.environment_variables.items()}
        result = run_script(argv, cwd=job.code, env=env, on_line=line)
        error = None
        if result.exit_code != 0:
            tail = "\n".join(result.lines[-_TAIL:])
            head = f"training run {run_id} failed with exit code {result.exit_code}"
            error = redact(f"{head}. Last log lines:\n{tail}" if tail else f"{head} (no output)")
        self._finish(
            run_id,
            Status.SUCCEEDED if result.exit_code == 0 else Status.FAILED,
            exit_code=result.exit_code,
            error=error,
            metrics=result.metrics,
            params=result.params,
            tags=result.tags,
        )

    def _finish(
        self,
        run_id: str,
        status: Status,
        *,
        exit_code: int | None,
        error: str | None,
        metrics: dict[str, float] | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        with self._store.lock:
            run = self._runs.runs[run_id]
            self._runs.runs[run_id] = run.model_copy(
                update={
                    "status": status,
                    "native_status": "Completed" if status is Status.SUCCEEDED else "Failed",
                    "exit_code": exit_code,
                    "error": error,
                    "metrics": metrics or {},
                    "params": params or {},
                    "tags": {**run.tags, **(tags or {})},
                    "ended_at": self._backend.clock.now(),
                }
            )

    @staticmethod
    def _inputs(job: TrainingJob) -> dict[str, str]:
        values = {}
        for name, item in job.inputs.items():
            if item.is_literal:
                values[name] = str(item.value)
            elif item.uri is None:
                raise ConfigurationError(f"input {name!r} has no path", details={"field": f"inputs.{name}"})
            else:
                values[name] = item.uri
        return {name: shlex.quote(value) for name, value in values.items()}


def _plain(value: object) -> str:
    """An environment value as the script sees it (a secret's real value; it is never stored or shown)."""
    reveal = getattr(value, "get_secret_value", None)
    return str(reveal()) if callable(reveal) else str(value)


class MemoryTrainingDriver(TrainingDriver):
    """Operation driver of one memory training run."""

    def __init__(self, service: MemoryTrainingService, run_id: str, on_log: LogCallback | None) -> None:
        self._service = service
        self._run_id = run_id
        self._on_log = on_log

    def poll(self) -> PollResult:
        """The run's state; a failed run carries the error with the script's last lines."""
        run = self._service.get_run(self._run_id)
        error = None
        if run.status is Status.FAILED:
            error = OperationFailedError(
                run.error or f"training run {run.id} failed", backend="memory", operation_id=run.id
            )
        return PollResult(status=run.status, native_status=run.native_status, error=error)
