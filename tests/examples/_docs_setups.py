"""What the prose around a docs example assumes, named for ``<!-- setup: NAME -->`` directives.

Each setup prepares the page's working folder, environment and namespace before the block that names
it runs. Setups build real things (a local store, registered versions, a refresh pipeline, a loopback
Azure fake); they never stand in for the SDK. Models come from one scikit-learn model trained per
session (:class:`Assets`): a page's "training" copies it into the run's output and logs its metrics,
so a page gets registered versions in a fraction of a second instead of a real training run each.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mlops_sdk.testing import FakeClock

ROOT = Path(__file__).resolve().parents[2]

_COPY_SCRIPT = """\
import pathlib, shutil, sys

source, target = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
shutil.copytree(source / "model", target, dirs_exist_ok=True)
print(f"saved model to {target}")
"""

# A separate script: the local backend pre-imports what a script imports (MLflow: ~2 s per run), so
# only the runs that must log metrics pay for it.
_COPY_AND_LOG_SCRIPT = """\
import json, pathlib, runpy, sys

import mlflow

runpy.run_path(str(pathlib.Path(__file__).with_name("copy_model.py")), run_name="__main__")
mlflow.log_metrics(json.loads((pathlib.Path(sys.argv[1]) / "metrics.json").read_text()))
"""


@dataclass
class Page:
    """One page's run: its folder, the environment its blocks see, their shared namespace."""

    name: str
    folder: Path
    namespace: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    clock: FakeClock | None = None
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    failed: str | None = None
    """Id of the first block of the page that failed (later blocks depend on its namespace)."""

    def client(self) -> Any:
        """A client on the page's target (what ``MLOpsClient.from_config()`` gives its blocks)."""
        from mlops_sdk import MLOpsClient

        client = MLOpsClient(self.env.get("MLOPS_TARGET", f"local://{self.folder / '.mlops'}"), clock=self.clock)
        self.cleanups.append(client.close)
        return client


@dataclass
class Assets:
    """Made once per session: an ``mlops init`` project and trained MLflow models."""

    folder: Path
    _made: dict[str, Path] = field(default_factory=dict)

    def project(self) -> Path:
        """The files ``mlops init`` writes (the diabetes project), without any store."""
        if "project" not in self._made:
            from mlops_sdk.cli.main import run

            project = self.folder / "project"
            assert run(["init", str(project)]) == 0
            self._made["project"] = project
        return self._made["project"]

    def diabetes(self) -> Path:
        """``model/`` (a Ridge MLflow model on the project's data) and ``metrics.json``."""
        if "diabetes" not in self._made:
            import pandas as pd

            frame = pd.read_csv(self.project() / "data" / "diabetes.csv").drop(columns=["row_id"])
            self._made["diabetes"] = _save_model(self.folder / "diabetes", frame, "target", classifier=False)
        return self._made["diabetes"]

    def churn(self) -> Path:
        """A logistic-regression MLflow model predicting ``churned`` (0/1) from three numeric features."""
        if "churn" not in self._made:
            self._made["churn"] = _save_model(
                self.folder / "churn", churn_frame(400, seed=1), "churned", classifier=True
            )
        return self._made["churn"]


def churn_frame(rows: int, *, seed: int) -> Any:
    """Synthetic churn data: ``tenure``, ``monthly``, ``tickets`` and the label ``churned``."""
    import numpy as np
    import pandas as pd

    generator = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "tenure": generator.uniform(0, 60, rows),
            "monthly": generator.uniform(10, 120, rows),
            "tickets": generator.integers(0, 8, rows).astype(float),
        }
    )
    frame["churned"] = ((frame["tickets"] * 10 + frame["monthly"] / 4 - frame["tenure"]) > 15).astype(int)
    return frame


def _save_model(folder: Path, frame: Any, label: str, *, classifier: bool) -> Path:
    import mlflow
    import sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import accuracy_score, mean_absolute_error, mean_squared_error, r2_score

    features, target = frame.drop(columns=[label]), frame[label]
    model = (LogisticRegression(max_iter=500) if classifier else Ridge(alpha=0.5)).fit(features, target)
    predictions = model.predict(features)
    if classifier:
        metrics = {"accuracy": float(accuracy_score(target, predictions))}
    else:
        r2 = float(r2_score(target, predictions))
        metrics = {
            "rmse": float(mean_squared_error(target, predictions) ** 0.5),
            "mae": float(mean_absolute_error(target, predictions)),
            "r2": r2,
            "train_r2": r2,
        }
    folder.mkdir(parents=True)
    mlflow.sklearn.save_model(
        model,
        path=str(folder / "model"),
        signature=infer_signature(features, predictions),
        input_example=features.head(3),
        pip_requirements=[f"scikit-learn=={sklearn.__version__}", f"mlflow=={mlflow.__version__}"],
    )
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return folder


def copy_job(page: Page, source: Path, *, experiment: str, metrics: bool = True) -> Any:
    """A TrainingJob whose script copies a trained model into ``outputs.model`` (and logs its metrics)."""
    from mlops_sdk import TrainingJob

    code = page.folder / ".docs-jobs"
    code.mkdir(exist_ok=True)
    (code / "copy_model.py").write_text(_COPY_SCRIPT, encoding="utf-8")
    (code / "copy_and_log.py").write_text(_COPY_AND_LOG_SCRIPT, encoding="utf-8")
    return TrainingJob(
        code=str(code),
        command=f"python {'copy_and_log' if metrics else 'copy_model'}.py {source} ${{{{outputs.model}}}}",
        outputs={"model": "mlflow_model"},
        experiment=experiment,
        environment="azureml:sklearn-mlflow:1",
    )


def _register(page: Page, source: Path, name: str, count: int, champion: str, *, trained_on: Any = None) -> None:
    client = page.client()
    # Metrics cost nothing on memory://; on local:// importing MLflow costs each run ~2 s, so there no run
    # logs them (diabetes-checks binds a job that does, for the page that needs it).
    on_memory = client.target.startswith("memory://")
    for number in range(1, count + 1):
        job = copy_job(page, source, experiment=name, metrics=on_memory and number == count)
        if trained_on is not None and number == count:  # the newest version's lineage names its training data
            job = job.with_inputs(data=trained_on)
        run = client.training.begin_train(job, show_progress=False).result()
        version = client.models.register(run, name=name)
    client.models.set_alias(name, "champion", champion)
    page.namespace.update(job=job, run=run, model=version, version=version, candidate=version)


# -- the setups ------------------------------------------------------------------------------------


def project(page: Page, assets: Assets, request: pytest.FixtureRequest) -> None:
    """The folder holds the project ``mlops init`` writes (mlops.toml on ``local://.mlops``, job.yaml,
    train.py, pipelines.toml with ``diabetes-features``, data/diabetes.csv, checks, approvals.toml)."""
    shutil.copytree(assets.project(), page.folder, dirs_exist_ok=True)
    page.env.pop("MLOPS_TARGET", None)


def memory(page: Page, assets: Assets, request: pytest.FixtureRequest) -> None:
    """``MLOpsClient.from_config()`` gives a ``memory://`` client (one store per page)."""
    from mlops_sdk.backends.memory import reset_memory_stores

    page.env["MLOPS_TARGET"] = f"memory://docs-{page.name.replace('.md', '')}"
    page.cleanups.append(reset_memory_stores)


def fake_clock(page: Page, assets: Assets, request: pytest.FixtureRequest) -> None:
    """Every client the blocks build runs on one FakeClock starting now (``mlops_sdk.testing.use_clock``):
    bakes, timeouts and polls are instant; a local endpoint server and training subprocesses keep real
    time."""
    from datetime import datetime, timezone

    page.clock = FakeClock(start=datetime.now(timezone.utc))


def client(page: Page, assets: Assets, request: pytest.FixtureRequest) -> None:
    """Binds ``client``: ``MLOpsClient.from_config()`` on the page's target."""
    page.namespace["client"] = page.client()


def diabetes_model(page: Page, assets: Assets, request: pytest.FixtureRequest) -> None:
    """Versions 1..3 of ``diabetes`` (Ridge regression on the diabetes data; on ``memory://`` the run of
    version 3 logged rmse, mae, r2 and train_r2), ``champion`` on version 1. Binds ``job`` (a TrainingJob
    producing that model), ``run`` (the last run) and ``model`` / ``version`` / ``candidate`` (diabetes@3)."""
    _register(page, assets.diabetes(), "diabetes", 3, "1")


def diabetes_job(page: Page, assets: Assets, request: pytest.FixtureRequest) -> None:
    """Binds ``job``: a TrainingJob whose run saves the diabetes model to ``outputs.model`` (no metrics)."""
    page.namespace["job"] = copy_job(page, assets.diabetes(), experiment="diabetes", metrics=False)


def churn_model(page: Page, assets: Assets, request: pytest.FixtureRequest) -> None:
    """Versions 1..12 of ``churn`` (a classifier of ``churned`` from tenure, monthly, tickets; on
    ``memory://`` the run of version 12 logged accuracy), ``champion`` on 11, ``challenger`` on 12;
    ``holdout.parquet`` (labelled churn data). Version 12 was trained on the ``train_set`` snapshot of
    the refresh pipeline ``churn-features`` (its training data, so a ``TrainingBaseline`` finds it).
    Binds ``job``, ``run``, and ``model`` / ``version`` / ``candidate`` (churn@12)."""
    from mlops_sdk import Copy, RefreshPipeline

    training = page.folder / "churn-training.csv"
    churn_frame(400, seed=1).to_csv(training, index=False)  # the rows assets.churn() was fitted on
    factory = page.client().data_factory
    factory.define(RefreshPipeline(name="churn-features", activities=[Copy(name="train_set", source=str(training))]))
    snapshot = factory.begin_refresh("churn-features", show_progress=False).result().outputs["train_set"]
    _register(page, assets.churn(), "churn", 12, "11", trained_on=snapshot)
    page.client().models.set_alias("churn", "challenger", "12")
    churn_frame(200, seed=2).to_parquet(page.folder / "holdout.parquet")


def eval_data(page: Page, assets: Assets, request: pytest.FixtureRequest) -> None:
    """``data/eval.parquet``: the diabetes evaluation rows with the label named ``progression``; binds
    ``training_snapshot`` (the training rows, a DataFrame)."""
    import pandas as pd

    frame = pd.read_csv(assets.project() / "data" / "diabetes.csv")
    (page.folder / "data").mkdir(exist_ok=True)
    evaluation = frame[frame["row_id"] % 5 == 0].drop(columns=["row_id"]).rename(columns={"target": "progression"})
    evaluation.to_parquet(page.folder / "data" / "eval.parquet")
    page.namespace["training_snapshot"] = frame[frame["row_id"] % 5 != 0].drop(columns=["row_id", "target"])


def sales_pipeline(page: Page, assets: Assets, request: pytest.FixtureRequest) -> None:
    """``data/sales/*.csv`` (id, amount) and a ``sales`` refresh pipeline defined in the store
    (copy ``raw``, then ``clean``: the rows with ``amount >= $min_amount``)."""
    from mlops_sdk import Copy, RefreshPipeline, Sql

    sales = page.folder / "data" / "sales"
    sales.mkdir(parents=True)
    (sales / "2026-01.csv").write_text("id,amount\n1,5.0\n2,12.5\n3,40.0\n", encoding="utf-8")
    (sales / "2026-02.csv").write_text("id,amount\n4,9.99\n5,10.0\n", encoding="utf-8")
    page.client().data_factory.define(
        RefreshPipeline(
            name="sales",
            parameters={"min_amount": {"type": "float", "default": 0.0}},
            activities=[
                Copy(name="raw", source="data/sales/*.csv"),
                Sql(name="clean", query="SELECT * FROM raw WHERE amount >= $min_amount ORDER BY id"),
            ],
        )
    )


def examples(page: Page, assets: Assets, request: pytest.FixtureRequest) -> None:
    """The repository's ``examples/diabetes`` (with its generated ``data/diabetes.csv`` and data card)
    under the page folder, as in a checkout."""
    target = page.folder / "examples" / "diabetes"
    shutil.copytree(ROOT / "examples" / "diabetes", target, ignore=shutil.ignore_patterns("data", "__pycache__"))
    (target / "data").mkdir()
    frame_csv = (assets.project() / "data" / "diabetes.csv").read_text(encoding="utf-8")
    lines = frame_csv.splitlines()
    (target / "data" / "diabetes.csv").write_text(
        "\n".join(",".join(line.split(",")[1:]) for line in lines) + "\n", encoding="utf-8"
    )
    (target / "data" / "diabetes-card.md").write_text("Diabetes (scikit-learn): 442 patients.\n", encoding="utf-8")
    shutil.copytree(target / "data", page.folder / "data", dirs_exist_ok=True)


def failed_pipeline(page: Page, assets: Assets, request: pytest.FixtureRequest) -> None:
    """Binds ``failed``: a finished FAILED run of a two-step pipeline (``prep`` succeeded, ``train``
    failed) whose cause is gone since, so a resume succeeds. Needs ``client``."""
    from mlops_sdk import OperationFailedError, Step, TrainingPipeline

    code = page.folder / ".docs-pipeline"
    code.mkdir()
    (code / "prep.py").write_text(
        "import pathlib, shutil, sys\n"
        "pathlib.Path(sys.argv[2]).mkdir(parents=True, exist_ok=True)\n"
        "shutil.copy(sys.argv[1], pathlib.Path(sys.argv[2]) / 'rows.csv')\n",
        encoding="utf-8",
    )
    flag = page.folder / "broken.flag"
    (code / "train.py").write_text(
        "import pathlib, sys\n"
        f"if pathlib.Path({str(flag)!r}).exists():\n"
        "    sys.exit('the feature store was down')\n"
        "pathlib.Path(sys.argv[2]).mkdir(parents=True, exist_ok=True)\n",
        encoding="utf-8",
    )
    (code / "rows.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    flag.write_text("", encoding="utf-8")
    prep = Step(
        "prep",
        code=str(code),
        command="python prep.py ${{inputs.rows}} ${{outputs.clean}}",
        inputs={"rows": str(code / "rows.csv")},
        outputs={"clean": None},
    )
    train = Step(
        "train",
        code=str(code),
        command="python train.py ${{inputs.clean}} ${{outputs.model}}",
        inputs={"clean": prep.output("clean")},
        outputs={"model": None},
    )
    client = page.namespace["client"]
    operation = client.training.begin_pipeline(
        TrainingPipeline("docs-resume", steps=[prep, train]), show_progress=False
    )
    with pytest.raises(OperationFailedError):
        operation.result()
    flag.unlink()
    page.namespace["failed"] = client.training.get_pipeline_run(operation.id)


def secret_env(page: Page, assets: Assets, request: pytest.FixtureRequest) -> None:
    """``SERVICE_TOKEN`` and ``DB_URL`` in the environment (values made up for the test)."""
    page.env["SERVICE_TOKEN"] = "docs-token-1f2e3d"
    page.env["DB_URL"] = "postgresql://app:hunter2@db.example:5432/app"


def pending_approval(page: Page, assets: Assets, request: pytest.FixtureRequest) -> None:
    """On the page's ``client`` (memory): ``diabetes`` version 1 and a pending approval request on it
    that ``alice`` may approve. Binds ``request``."""
    from mlops_sdk import ApprovalPolicy, ServerError, ServiceResponseError

    client = page.namespace["client"]
    job = copy_job(page, assets.diabetes(), experiment="diabetes", metrics=False)
    try:
        operation = client.training.begin_train(job, idempotency_key="docs-setup", show_progress=False)
    except ServiceResponseError:  # the page armed drop_answer("training.submit"): the same key re-attaches
        operation = client.training.begin_train(job, idempotency_key="docs-setup", show_progress=False)
    run = operation.result()
    for attempt in range(3):  # the page armed fail_next("models.register", times=2): a 503 is worth a retry
        try:
            version = client.models.register(run, name="diabetes")
            break
        except ServerError:
            if attempt == 2:
                raise
    policy = ApprovalPolicy(approvers=["alice"], require_validation_passed=False)
    page.namespace["request"] = client.approvals.request(version, policy=policy)


def diabetes_checks(page: Page, assets: Assets, request: pytest.FixtureRequest) -> None:
    """Binds ``checks``: checks on the metrics a training run logged (``r2 >= 0.3``), and ``job``: a
    TrainingJob saving the diabetes model that logs rmse, mae, r2 and train_r2."""
    from mlops_sdk.checks import MetricThreshold

    page.namespace["checks"] = [MetricThreshold("r2", min=0.3)]
    page.namespace["job"] = copy_job(page, assets.diabetes(), experiment="diabetes", metrics=True)


def diabetes_deployments(page: Page, assets: Assets, request: pytest.FixtureRequest) -> None:
    """Endpoint ``diabetes`` serving ``diabetes-v3`` after ``diabetes-v2`` (diabetes@2, then diabetes@3,
    each rolled out blue/green to 100 %); needs ``diabetes-model``."""
    from mlops_sdk import BlueGreen

    deployments = page.client().deployments
    for version in ("2", "3"):
        deployments.begin_deploy(f"diabetes@{version}", endpoint="diabetes", strategy=BlueGreen(steps=[100])).result()


def diabetes_endpoint(page: Page, assets: Assets, request: pytest.FixtureRequest) -> None:
    """Endpoint ``diabetes`` serving ``diabetes-v1`` (diabetes@1 rolled out to 100 %); needs ``diabetes-model``."""
    from mlops_sdk import BlueGreen

    page.client().deployments.begin_deploy("diabetes@1", endpoint="diabetes", strategy=BlueGreen(steps=[100])).result()


def approvers_vote(page: Page, assets: Assets, request: pytest.FixtureRequest) -> None:
    """One simulated minute into the next wait, ``alice@contoso.com`` and ``bob@contoso.com`` approve every
    pending request (needs ``memory`` and ``fake-clock``: votes are cast on the page's memory store)."""
    from mlops_sdk.testing import act_as

    assert page.clock is not None, "approvers-vote needs the fake-clock setup first"
    voter = page.client()

    def vote() -> None:
        for pending in voter.approvals.list_pending():
            for name in ("alice", "bob"):
                with act_as(voter, name, email=f"{name}@contoso.com"):
                    voter.approvals.approve(pending.id, comment="reviewed the report")

    page.clock.at(page.clock.monotonic() + 60, vote)


def pending_churn_requests(page: Page, assets: Assets, request: pytest.FixtureRequest) -> None:
    """``carol`` asked for approval of churn@11, then of churn@12, with a policy that lets the user
    running the tests approve (needs ``churn-model`` on ``memory``)."""
    from mlops_sdk import ApprovalPolicy
    from mlops_sdk.core.lineage import current_identity
    from mlops_sdk.testing import act_as

    requester = page.client()
    policy = ApprovalPolicy(approvers=[current_identity()], require_validation_passed=False, forbid_self_approval=False)
    with act_as(requester, "carol"):
        for ref in ("churn@11", "churn@12"):
            requester.approvals.request(ref, policy=policy, reason="weekly retrain")


def app_scoring(page: Page, assets: Assets, request: pytest.FixtureRequest) -> None:
    """``app`` (examples/app_scoring/app.py, the app under test) is importable."""
    import sys

    folder = str(ROOT / "examples" / "app_scoring")
    sys.path.insert(0, folder)
    page.cleanups.append(lambda: sys.path.remove(folder))
    page.cleanups.append(lambda: sys.modules.pop("app", None))


def azure_devops(page: Page, assets: Assets, request: pytest.FixtureRequest) -> None:
    """An Azure DevOps project (the loopback TLS fake of tests/fakes, real azure-devops client) with
    pipeline 42, and an ``mlops.toml`` whose ``prod`` profile points at it (``azureml://`` target,
    ``devops`` URL, a PAT and the fake's CA). Each run it starts succeeds a simulated minute later
    (needs ``fake-clock``)."""
    from tests.fakes.devops import FakeDevOps
    from tests.fakes.server import FakeService, write_ca

    assert page.clock is not None, "azure-devops needs the fake-clock setup first"
    tls_ca = request.getfixturevalue("tls_ca")
    service = FakeService(tls_ca).start()
    page.cleanups.append(service.stop)
    fake = FakeDevOps(service)
    pat = "docs-pat-0123456789abcdef"
    fake.add_user(pat, "release@contoso.com")
    fake.add_pipeline(42, "app-integration-tests")
    ca = write_ca(tls_ca, page.folder)
    (page.folder / "mlops.toml").write_text(
        f"""target = "local://.mlops"

[profiles.prod]
target = "azureml://subscriptions/sub-1/resourceGroups/rg-1/workspaces/ws-1"
devops = "{fake.project_url}"
devops_pat = "{pat}"
ca_bundle = "{ca}"
""",
        encoding="utf-8",
    )
    page.env.pop("MLOPS_TARGET", None)
    clock = page.clock

    def finish_runs() -> None:
        for run_id, run in list(fake.runs.items()):
            if run.state == "inProgress":
                fake.finish(run_id, "succeeded")
        clock.at(clock.monotonic() + 60, finish_runs)

    clock.at(clock.monotonic() + 60, finish_runs)
    page.namespace["azure_devops"] = fake


def churn_monitoring(page: Page, assets: Assets, request: pytest.FixtureRequest) -> None:
    """What the monitoring page assumes around endpoint ``churn`` (needs ``churn-model``): 200 inferences
    of churn@12 logged for it; binds ``frame`` / ``predicted`` (their inputs and predictions), ``ids`` /
    ``labels`` (their correlation ids and true labels); writes ``labels.parquet`` (``correlation_id``,
    ``label``) and the page's ``monitor.toml``."""
    import pandas as pd

    data = churn_frame(200, seed=3)
    frame = data.drop(columns=["churned"])
    predicted = (frame["tickets"] > 3).astype(int).tolist()
    ids = page.client().monitoring.log_inferences("churn", frame, predictions=predicted, model="churn@12")
    labels = data["churned"].tolist()
    pd.DataFrame({"correlation_id": ids[:50], "label": labels[:50]}).to_parquet(page.folder / "labels.parquet")
    (page.folder / "monitor.toml").write_text(
        """[monitor]
endpoint = "churn"
window = "24h"
baseline = { kind = "training", target = "churned" }

[[monitor.signals]]
kind = "data_drift"

[[monitor.signals]]
kind = "model_performance"
thresholds = { accuracy = 0.85 }
min_labels = 20
""",
        encoding="utf-8",
    )
    page.namespace.update(frame=frame, predicted=predicted, ids=ids, labels=labels)


def my_package(page: Page, assets: Assets, request: pytest.FixtureRequest) -> None:
    """An importable ``my_package.checks`` in the page folder holding the ``PredictsPositive`` check that
    docs/validation.md defines (the python block with ``class PredictsPositive``)."""
    import sys

    from tests.examples._docs_blocks import blocks

    (check,) = [b for b in blocks(ROOT / "docs" / "validation.md") if "class PredictsPositive" in b.code]
    package = page.folder / "my_package"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "checks.py").write_text(check.code, encoding="utf-8")
    sys.path.insert(0, str(page.folder))
    page.cleanups.append(lambda: sys.path.remove(str(page.folder)))
    page.cleanups.append(lambda: [sys.modules.pop(name, None) for name in ("my_package", "my_package.checks")])


def azure_data_factory(page: Page, assets: Assets, request: pytest.FixtureRequest) -> None:
    """A Data Factory (the loopback TLS fake of tests/fakes, real azure-mgmt-datafactory client) with
    the pipelines ``sales`` and ``diabetes-features``. Binds ``factory`` (a DataFactoryClient) and
    ``client`` (an MLOpsClient), both on an ``azureml://`` target pointed at the fake."""
    from mlops_sdk import MLOpsClient
    from mlops_sdk.clients.data_factory import DataFactoryClient
    from tests.fakes.credential import StaticTokenCredential
    from tests.fakes.data_factory import FakeDataFactory
    from tests.fakes.server import FakeService, write_ca

    tls_ca = request.getfixturevalue("tls_ca")
    service = FakeService(tls_ca).start()
    page.cleanups.append(service.stop)
    fake = FakeDataFactory(service, page.clock or FakeClock())
    for name in ("sales", "diabetes-features"):
        fake.add_pipeline(name, parameters={"min_amount": {"type": "Float", "defaultValue": 0.0}})
    settings = {
        "resource_manager_url": service.url,
        "ca_bundle": str(write_ca(tls_ca, page.folder)),
        "data_factory": "docs-factory",
        "show_progress": False,
    }
    target = "azureml://subscriptions/12345678-1234-1234-1234-12345678abc/resourceGroups/rg/workspaces/ws"
    factory = DataFactoryClient(target, credential=StaticTokenCredential(), settings=settings)
    client = MLOpsClient(target, credential=StaticTokenCredential(), **settings)
    page.cleanups += [factory.close, client.close]
    page.namespace.update(factory=factory, client=client, azure_data_factory=fake)


SETUPS: dict[str, Callable[[Page, Assets, pytest.FixtureRequest], None]] = {
    "project": project,
    "memory": memory,
    "fake-clock": fake_clock,
    "client": client,
    "diabetes-model": diabetes_model,
    "churn-model": churn_model,
    "diabetes-job": diabetes_job,
    "failed-pipeline": failed_pipeline,
    "eval-data": eval_data,
    "sales-pipeline": sales_pipeline,
    "examples": examples,
    "secret-env": secret_env,
    "pending-approval": pending_approval,
    "azure-data-factory": azure_data_factory,
    "azure-devops": azure_devops,
    "diabetes-checks": diabetes_checks,
    "diabetes-deployments": diabetes_deployments,
    "diabetes-endpoint": diabetes_endpoint,
    "approvers-vote": approvers_vote,
    "pending-churn-requests": pending_churn_requests,
    "app-scoring": app_scoring,
    "churn-monitoring": churn_monitoring,
    "my-package": my_package,
}
"""Every setup a ``<!-- setup: ... -->`` directive may name (docs/contributing.md lists them)."""


def stop_local_endpoints(page: Page) -> None:
    """Stop the endpoint servers the page's blocks left running in its local store."""
    endpoints = page.folder / ".mlops" / "endpoints"
    if not endpoints.is_dir():
        return
    from mlops_sdk import MLOpsClient

    with MLOpsClient(f"local://{page.folder / '.mlops'}") as client:
        for folder in sorted(endpoints.iterdir()):
            if folder.is_dir():
                # Best effort at teardown (a block may have deleted it): never hides a test's result.
                with contextlib.suppress(Exception):
                    client.deployments.stop_endpoint(folder.name)
