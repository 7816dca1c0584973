"""``Flow``: compose the loop's steps in plain Python, resumable by run id, stopped cleanly by gates.

.. code-block:: python

    with Flow("diabetes", client=client) as flow:
        refresh = flow.step("refresh", lambda s: client.data_factory.begin_refresh("features", idempotency_key=s.key))
        run = flow.step("train", lambda s: client.training.begin_train(job, idempotency_key=s.key))
        model = flow.step("register", lambda s: client.models.register(run, name="diabetes"))
        report = flow.gate("validate", lambda s: client.validation.validate(model, checks=checks))
        ...
    print(flow.outcome)          # completed | not_promoted | rejected | failed

Each step gets an idempotency key derived from (flow, run id, step name). The journal (SQLite, in the
local store) records finished steps with their results, so re-running a crashed flow with the same run
id returns finished steps' results without running them again, and re-runs unfinished ones with the
SAME key, which makes the backend re-attach to the work in flight instead of starting it twice.

A gate step returns a value with ``passed`` (validation) or ``approved`` (approval); when it does not
pass, the flow stops at the end of the ``with`` block with ``outcome`` ``not_promoted`` / ``rejected``
rather than raising. In dry-run mode no action runs: every step records what it would do.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn, TypeVar

from mlops_sdk.core.clock import Clock, default_clock
from mlops_sdk.core.context import step_scope
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.operation import Operation
from mlops_sdk.core.store import LocalStore
from mlops_sdk.flows.journal import StepJournal, decode_result

__all__ = ["Flow", "FlowStopped", "PlannedEffect", "StepContext", "StepRecord", "default_run_id", "gate_outcome"]

T = TypeVar("T")
_log = get_logger(__name__)
_KEY_UNSAFE = re.compile(r"[^a-z0-9-]+")


def default_run_id(env: dict[str, str] | None = None) -> str:
    """The CI build id when running in CI (so a re-run of the build resumes), else a new random id."""
    import os

    env = dict(os.environ) if env is None else env
    for name in ("BUILD_BUILDID", "GITHUB_RUN_ID"):
        if env.get(name):
            return f"{'ado' if name.startswith('BUILD') else 'gh'}-{env[name]}"
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class StepContext:
    """What a step's action receives.

    Attributes:
        flow: The flow's name.
        run_id: The flow run id.
        step: The step's name.
        key: Idempotency key for the step's side effect (``<flow>-<run id>-<step>``, lowercase,
            ``[a-z0-9-]``, at most 63 characters: valid as an Azure ML job name and a pipeline parameter).
        attempt: 1 on the first execution, 2+ when the step is re-attached after a crash.
    """

    flow: str
    run_id: str
    step: str
    key: str
    attempt: int


@dataclass(frozen=True)
class PlannedEffect:
    """A side effect a dry run would have had."""

    step: str
    description: str
    key: str


@dataclass
class _Planned:
    """Stands in for a step's result during a dry run."""

    step: str

    def __repr__(self) -> str:
        return f"<result of {self.step!r}>"


class FlowStopped(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by :meth:`Flow.gate` to end the ``with`` block when a gate did not pass (caught by Flow)."""

    def __init__(self, outcome: str, step: str, value: Any) -> None:
        super().__init__(f"flow stopped at gate {step!r}: {outcome}")
        self.outcome = outcome
        self.step = step
        self.value = value


@dataclass
class StepRecord:
    """How one step went in this execution."""

    name: str
    status: str  # succeeded | skipped (restored from the journal) | failed | stopped | planned
    result: Any = None
    message: str | None = None
    seconds: float = 0.0


@dataclass
class _State:
    outcome: str = "running"
    steps: list[StepRecord] = field(default_factory=list)
    plan: list[PlannedEffect] = field(default_factory=list)
    stopped_at: str | None = None


class Flow:
    """A resumable sequence of steps with idempotency keys, gates and a dry-run mode.

    Args:
        name: The flow's name (part of every idempotency key).
        client: The client whose target holds the journal (a local target's folder); optional.
        run_id: Flow run id; default: the CI build id in CI, else a fresh id. Re-use it to resume.
        dry_run: Record what each step would do instead of doing it.
        journal_dir: Folder of the journal store; default: the local target's folder, else ``.mlops``.
        clock: Time source.
    """

    def __init__(
        self,
        name: str,
        *,
        client: Any = None,
        run_id: str | None = None,
        dry_run: bool = False,
        journal_dir: str | Path | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not name or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise ConfigurationError(
                f"flow name {name!r} must start with a letter or digit and use only letters, digits, '.', '_', '-'",
                details={"field": "name"},
            )
        if run_id is not None and (not run_id.strip() or not run_id.isprintable()):
            # An empty id (often an unset variable) would silently start a fresh run that never resumes.
            raise ConfigurationError(
                f"flow run_id {run_id!r} must be a non-blank printable id (re-use it to resume the run), "
                "or None for a fresh one",
                details={"field": "run_id"},
            )
        self.name = name
        self._client = client
        self.run_id = run_id or default_run_id()
        self._keys: dict[str, str] = {}
        self.dry_run = dry_run
        self._clock = clock or default_clock()
        self._state = _State()
        self._position = 0
        self._journal: StepJournal | None = None
        if not dry_run:
            folder = Path(journal_dir) if journal_dir is not None else _journal_folder(client)
            self._store = LocalStore(folder)
            self._journal = StepJournal(self._store, self._clock)

    def __repr__(self) -> str:
        return f"Flow({self.name!r}, run_id={self.run_id!r}, outcome={self.outcome!r})"

    # -- context management ------------------------------------------------------------------------

    def __enter__(self) -> Flow:
        if self._journal is not None:
            self._journal.start_run(self.name, self.run_id)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if isinstance(exc, FlowStopped):
            self._state.outcome = exc.outcome
            self._state.stopped_at = exc.step
            suppress = True
        else:
            self._state.outcome = "failed" if exc is not None else ("planned" if self.dry_run else "completed")
            suppress = False
        if self._journal is not None:
            self._journal.finish_run(self.name, self.run_id, self._state.outcome)
            self._store.close()
        return suppress

    # -- results -------------------------------------------------------------------------------------

    @property
    def outcome(self) -> str:
        """``running``, ``completed``, ``planned`` (dry run), ``not_promoted``, ``rejected`` or ``failed``."""
        return self._state.outcome

    @property
    def stopped_at(self) -> str | None:
        """The gate step that stopped the flow, if one did."""
        return self._state.stopped_at

    @property
    def steps(self) -> list[StepRecord]:
        """The steps of this execution, in order."""
        return list(self._state.steps)

    @property
    def plan(self) -> list[PlannedEffect]:
        """In dry-run mode: the side effects the run would have had, in order."""
        return list(self._state.plan)

    # -- steps ----------------------------------------------------------------------------------------

    def key(self, step: str) -> str:
        """The idempotency key of ``step`` in this run."""
        raw = _KEY_UNSAFE.sub("-", f"{self.name}-{self.run_id}-{step}".lower()).strip("-")
        if len(raw) <= 63:
            return raw
        import hashlib

        digest = hashlib.sha256(raw.encode()).hexdigest()[:10]
        return f"{raw[:52].rstrip('-')}-{digest}"

    def step(self, name: str, action: Callable[[StepContext], Any], *, describe: str | None = None) -> Any:
        """Run ``action`` once per flow run; an :class:`Operation` it returns is waited for.

        On a re-run with the same run id, a step that finished returns its recorded result without
        running; one that was in flight runs again with the same idempotency key (re-attaching).

        Raises:
            ConfigurationError: an earlier step of this execution that did not fail has the same name,
                or a name giving the same idempotency key (``Train`` / ``train``).
        """
        key = self.key(name)
        if key in self._keys:
            # The journal would hand back the first step's result, the backends its side effect.
            raise ConfigurationError(
                f"flow step {name!r} has the idempotency key {key!r} of the earlier step {self._keys[key]!r} "
                "of this run; give every step its own name",
                details={"field": "name", "key": key},
            )
        self._keys[key] = name
        self._position += 1
        if self.dry_run:
            self._state.plan.append(PlannedEffect(name, describe or f"run step {name!r}", key))
            self._state.steps.append(StepRecord(name, "planned"))
            return _Planned(name)
        assert self._journal is not None
        entry = self._journal.get(self.name, self.run_id, name)
        if entry is not None and entry.status == "succeeded" and entry.result_type and entry.result_json:
            restored, value = decode_result(entry.result_type, entry.result_json)
            if restored:
                _log.info("flow %s run %s: step %s already done, skipped", self.name, self.run_id, name)
                self._state.steps.append(StepRecord(name, "skipped", value))
                return value
        attempt = (entry.attempts + 1) if entry is not None else 1
        self._journal.started(self.name, self.run_id, name, self._position, key)
        context = StepContext(self.name, self.run_id, name, key, attempt)
        started = self._clock.monotonic()
        try:
            with step_scope(key, first_attempt=entry is None):
                value = action(context)
                if isinstance(value, Operation):
                    value = value.result()
        except BaseException as error:
            del self._keys[key]  # a failed step may be tried again in this execution
            self._journal.finished(self.name, self.run_id, name, "failed", None, str(error))
            seconds = self._clock.monotonic() - started
            self._state.steps.append(StepRecord(name, "failed", message=str(error), seconds=seconds))
            raise
        self._journal.finished(self.name, self.run_id, name, "succeeded", value, None)
        self._state.steps.append(StepRecord(name, "succeeded", value, seconds=self._clock.monotonic() - started))
        return value

    def pipeline(self, name: str, pipeline: Any, *, client: Any = None, max_parallel: int = 4) -> Any:
        """Run a whole training pipeline as one step; returns its :class:`PipelineRunResult`.

        The pipeline run is keyed by the step's idempotency key, so a re-run of a crashed flow with
        the same run id re-attaches to the pipeline run in flight (its finished steps are not run
        again), and a finished one is restored from the journal. ``client`` defaults to the flow's.
        """
        owner = client if client is not None else self._client
        if owner is None and not self.dry_run:
            raise ConfigurationError(
                f"flow step {name!r} runs a pipeline: pass client= to Flow(...) or to flow.pipeline(...)",
                details={"field": "client"},
            )
        pipeline_name = getattr(pipeline, "name", None) or str(pipeline)
        return self.step(
            name,
            lambda step: owner.training.begin_pipeline(pipeline, idempotency_key=step.key, max_parallel=max_parallel),
            describe=f"run training pipeline {pipeline_name!r}",
        )

    def finish(self, outcome: str = "up_to_date") -> NoReturn:
        """End the ``with`` block here, cleanly, with ``outcome`` (e.g. nothing to retrain)."""
        if not re.fullmatch(r"[a-z][a-z0-9_]*", outcome) or outcome in ("running", "failed", "completed"):
            raise ConfigurationError(
                f"finish outcome {outcome!r} must be a lowercase word other than running, failed and completed"
            )
        last = self._state.steps[-1].name if self._state.steps else ""
        raise FlowStopped(outcome, last, None)

    def gate(self, name: str, action: Callable[[StepContext], Any], *, describe: str | None = None) -> Any:
        """Run a gate step; when its result did not pass, stop the flow cleanly (see :class:`Flow`)."""
        value = self.step(name, action, describe=describe)
        if self.dry_run:
            return value
        outcome = gate_outcome(value)
        if outcome is not None:
            self._state.steps[-1].status = "stopped"
            raise FlowStopped(outcome, name, value)
        return value


def gate_outcome(value: Any) -> str | None:
    """``None`` when a gate result lets the flow continue, else the flow outcome it causes."""
    if hasattr(value, "approved"):
        return None if value.approved else "rejected"
    if hasattr(value, "passed"):
        if value.passed:
            return None
        outcome = getattr(value, "outcome", "failed")
        return "not_promoted" if outcome == "not_promoted" else "failed"
    raise ConfigurationError(
        f"gate result {type(value).__name__} has neither 'passed' nor 'approved'; use flow.step for ordinary steps"
    )


def _journal_folder(client: Any) -> Path:
    """The client's store folder on ``local://`` (the journal sits next to the runs it records), else ``.mlops``."""
    target = getattr(client, "target", None)
    if isinstance(target, str) and target.startswith("local://"):
        folder: Path | None = client.state_folder
        if folder is not None:
            return folder
    return Path(".mlops")
