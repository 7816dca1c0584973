"""The conformance kit's core: what a backend under test declares, and the fixtures every suite uses.

A backend author overrides ONE fixture, ``conformance_backend``, returning a :class:`ConformanceBackend`;
the suites build their clients from it. Scenarios needing a capability the backend does not declare are
skipped with the backend's stated reason, so an unsupported scenario is always visible in the report.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mlops_sdk.testing.clock import FakeClock

if TYPE_CHECKING:
    from mlops_sdk.clients.hub import MLOpsClient
    from mlops_sdk.core.clock import Clock
    from mlops_sdk.models.data_factory import RefreshPipeline
    from mlops_sdk.models.registry import ModelVersion
    from mlops_sdk.models.training import TrainingRun

__all__ = [
    "CAPABILITIES",
    "ConformanceBackend",
    "conformance_backend",
    "conformance_client",
    "conformance_clock",
    "conformance_clocked_client",
    "deployable_model",
    "publish_pipeline",
    "registrable_run",
    "require",
    "train_model",
]

CAPABILITIES: Mapping[str, str] = {
    "models.registry": "register a training run's MLflow model; get, list, tags, resolve name@version",
    "models.output_check": "registering an output that holds no MLflow model is refused; nothing is created",
    "models.aliases": "set/move/remove aliases, resolve name:alias, alias history",
    "approvals.policy": "request approval; self-approval and unlisted approvers refused; reject wins",
    "approvals.delegation": "vote on behalf of another identity when the policy allows it",
    "approvals.timeout": "a pending request times out on the client's clock",
    "approvals.audit": "the audit trail verifies after every change",
    "training.script": "run the job's script with its outputs; TrainingRun.outputs names them",
    "training.metrics": "metrics and params the script logs with mlflow.log_metric / log_param",
    "training.idempotency": "a second submission with the same idempotency key attaches to the first run",
    "training.failure": "a script that exits non-zero ends FAILED with an OperationFailedError",
    "training.exit_code": "a failed run reports the script's exit code",
    "training.pipelines": "a pipeline's steps run wired output -> input; a re-run is cached by content; "
    "a failed step is named and resume re-runs from it",
    "validation.checks": "validate a registered MLflow model on data and training metrics; report recorded",
    "validation.report_store": "the whole report is kept and read back by its digest (get_report)",
    "deployments.rollout": "deploy an MLflow model folder with all traffic, score it, re-deploy unchanged, delete",
    "deployments.failure": "a model that cannot load fails its rollout with the reason; live traffic is untouched",
    "deployments.progressive": "BlueGreen steps rewrite the whole traffic map, each after a passing smoke test",
    "deployments.rollback": "a failed smoke test restores the previous map; begin_rollback puts the previous one back",
    "deployments.shadow": "Shadow mirrors a share to the new deployment; live answers stay the old deployment's",
    "deployments.keys": "scoring keys are secrets (never shown); regenerating one key replaces only that key",
    "pipelines.runs": "start a CI pipeline run with parameters and a key (once per key), read, list, cancel it",
    "flows.loop": "a Flow runs refresh -> train -> register -> validate -> approve -> deploy; after a crash it "
    "resumes by run id without running finished steps again",
    "flows.gates": "a gate that does not pass stops the Flow cleanly (outcome, stopped_at) before the next step",
    "deployments.guardrails": (
        "a guarded bake without enough traffic is extended, then fails closed: the previous map is restored "
        "and the result names the guardrail; guardrails without a bake are refused"
    ),
    "data_factory.define": "client.data_factory.define() declares a refresh pipeline (Copy, Sql, Python)",
    "data_factory.refresh": "refresh -> activities and outputs; idempotency key; failure names the activity",
    "data_factory.cancel": "cancel a running refresh: the run and its running activity end CANCELED",
    "monitoring.signals": "log inferences and late labels; drift, performance and windows from client.monitoring",
    "monitoring.capture": "a deployment with Capture keeps scored rows (inputs, predictions, ids) for read_captures",
    "monitoring.capture_stats": "capture_stats counts the rows a capturing deployment kept, none lost",
}
"""Every capability a scenario may require, with what it means."""


@dataclass(frozen=True)
class ConformanceBackend:
    """A backend under test, as the suites see it.

    Args:
        name: Shown in skip reasons and the per-backend scenario counts.
        make_client: Builds a fresh :class:`~mlops_sdk.MLOpsClient` on the backend; called with a
            :class:`FakeClock` for scenarios that move time, else with ``None`` (the backend's own clock).
        supports: The capabilities (keys of :data:`CAPABILITIES`) the backend implements.
        unsupported: Why each capability it does not implement is missing (shown in the skip).
        make_run: How registry scenarios get a finished training run whose output ``model`` holds an
            MLflow model (``with_model=False``: an output without one), called as
            ``make_run(client, folder, with_model)``. Default: :func:`train_model` through the public
            training client (the scenario then also needs ``training.script``). A backend whose test
            double cannot run scripts (e.g. a fake service) sets this to a run it prepared.
        publish_pipeline: How refresh scenarios make a pipeline exist, called as
            ``publish_pipeline(client, pipeline, behaviour)`` with ``behaviour`` one of ``"succeeds"``,
            ``"fails"`` (its last activity fails naming the column ``price``) or ``"holds"`` (its last
            activity runs until the run is canceled). Default: ``client.data_factory.define(pipeline)``,
            whose activities behave that way by themselves (the scenario then needs ``data_factory.define``).
            A backend whose pipelines are authored in the service publishes one there instead.
        pipeline_id: The CI pipeline (Azure DevOps definition id) the ``pipelines`` scenarios run.
        deployable: What deployment scenarios deploy for an MLflow model folder, called as
            ``deployable(client, folder)``. Default: the folder itself. A backend that deploys only
            registered versions returns the version it registered from the folder's files.
    """

    name: str
    make_client: Callable[[Clock | None], MLOpsClient]
    supports: frozenset[str]
    unsupported: Mapping[str, str] = field(default_factory=dict)
    make_run: Callable[[MLOpsClient, Path, bool], TrainingRun] | None = None
    deployable: Callable[[MLOpsClient, Path], ModelVersion | Path] | None = None
    publish_pipeline: Callable[[MLOpsClient, RefreshPipeline, str], None] | None = None
    pipeline_id: int | None = None

    def __post_init__(self) -> None:
        unknown = sorted((set(self.supports) | set(self.unsupported)) - set(CAPABILITIES))
        if unknown:
            raise ValueError(f"unknown capabilities {unknown}; known: {', '.join(sorted(CAPABILITIES))}")
        both = sorted(set(self.supports) & set(self.unsupported))
        if both:
            raise ValueError(f"capabilities {both} are declared both supported and unsupported")

    def skip_reason(self, capability: str) -> str | None:
        """Why a scenario needing ``capability`` must be skipped on this backend (``None``: it runs)."""
        if capability not in CAPABILITIES:
            raise ValueError(f"unknown capability {capability!r}")
        if capability in self.supports:
            return None
        reason = self.unsupported.get(capability, "not declared in ConformanceBackend.supports")
        return f"{self.name} does not support {capability}: {reason}"


def registrable_run(
    backend: ConformanceBackend, client: MLOpsClient, folder: Path, *, with_model: bool = True
) -> TrainingRun:
    """A finished run for registry scenarios: from ``backend.make_run``, else trained by script."""
    if backend.make_run is not None:
        return backend.make_run(client, folder, with_model)
    require(backend, "training.script")
    return train_model(client, folder, script=None if with_model else "print('no model saved')\n")


def deployable_model(backend: ConformanceBackend, client: MLOpsClient, folder: Path) -> ModelVersion | Path:
    """What to deploy for the MLflow model in ``folder`` on ``backend`` (see ``ConformanceBackend.deployable``)."""
    return backend.deployable(client, folder) if backend.deployable is not None else folder


def publish_pipeline(
    backend: ConformanceBackend, client: MLOpsClient, pipeline: RefreshPipeline, behaviour: str
) -> None:
    """Make ``pipeline`` exist on ``backend`` (see ``ConformanceBackend.publish_pipeline``)."""
    if backend.publish_pipeline is not None:
        backend.publish_pipeline(client, pipeline, behaviour)
        return
    require(backend, "data_factory.define")
    client.data_factory.define(pipeline)


def require(backend: ConformanceBackend, *capabilities: str) -> None:
    """Skip the running scenario (with the reason) unless ``backend`` supports every capability."""
    for capability in capabilities:
        reason = backend.skip_reason(capability)
        if reason is not None:
            pytest.skip(reason)


@pytest.fixture
def conformance_backend() -> ConformanceBackend:
    """The backend the suites run against: THE fixture a backend author overrides.

    Override it in your ``conftest.py`` or test module, returning a :class:`ConformanceBackend`.
    """
    raise pytest.UsageError(
        "override the 'conformance_backend' fixture to return a ConformanceBackend for your backend "
        "(see docs/testing.md, 'Conformance suite for backend authors')"
    )


@pytest.fixture
def conformance_client(conformance_backend: ConformanceBackend) -> Iterator[MLOpsClient]:
    """A fresh client on the backend under test, running on the backend's own clock."""
    client = conformance_backend.make_client(None)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def conformance_clock() -> FakeClock:
    """The fake clock scenarios that move time use."""
    return FakeClock()


@pytest.fixture
def conformance_clocked_client(
    conformance_backend: ConformanceBackend, conformance_clock: FakeClock
) -> Iterator[MLOpsClient]:
    """A fresh client on the backend under test whose clock is :func:`conformance_clock`."""
    client = conformance_backend.make_client(conformance_clock)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(autouse=True)
def _conformance_record(request: pytest.FixtureRequest) -> None:
    """Record backend and capability on the report, for the per-capability counts."""
    capability = getattr(request.node.cls, "capability", None)
    if capability is None or "conformance_backend" not in request.fixturenames:
        return
    backend: ConformanceBackend = request.getfixturevalue("conformance_backend")
    request.node.user_properties.append(("conformance", (backend.name, capability)))


MODEL_SCRIPT = """
import pathlib, sys
import mlflow

out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
(out / "MLmodel").write_text("flavors:\\n  python_function:\\n    loader_module: mlflow.sklearn\\n")
mlflow.log_param("alpha", "{alpha}")
mlflow.log_metric("rmse", {rmse})
print("trained alpha={alpha}")
"""


def train_model(
    client: MLOpsClient,
    folder: Path,
    *,
    experiment: str = "conformance",
    rmse: float = 0.25,
    alpha: str = "0.5",
    idempotency_key: str | None = None,
    script: str | None = None,
) -> TrainingRun:
    """Train through the public client: a script writes an MLflow model to ``outputs.model`` and logs
    ``rmse`` and ``alpha`` with MLflow's fluent API. Returns the finished run."""
    code = folder / "code"
    code.mkdir(parents=True, exist_ok=True)
    body = script if script is not None else MODEL_SCRIPT.format(rmse=rmse, alpha=alpha)
    (code / "job.py").write_text(textwrap.dedent(body), encoding="utf-8")
    job: dict[str, Any] = {
        "code": code,
        "command": "python job.py ${{outputs.model}}",
        "outputs": {"model": "mlflow_model"},
        "experiment": experiment,
        # Required on Azure ML; local and memory run the command in the current Python environment.
        "environment": "azureml:sklearn-env:1",
    }
    return client.training.begin_train(job, idempotency_key=idempotency_key, show_progress=False).result()
