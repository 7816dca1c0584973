"""Shared setup of the review-page tests: a real store with a validated model, requests, a live server.

Two scikit-learn versions are registered in the store's MLflow registry (v1 the champion), v2 is
validated for real (bootstrap interval, drift against a shifted reference, data quality), and
approval is requested with that report and a planned blue/green rollout. The page is served by
uvicorn on 127.0.0.1 in a thread, on the same client (and fake clock) as the test.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from mlops_sdk import MLOpsClient, PlannedRollout
from mlops_sdk.approvals_web.app import create_app
from mlops_sdk.approvals_web.server import check_binding, uvicorn_config
from mlops_sdk.approvals_web.site import ReviewSite
from mlops_sdk.checks import BeatsChampion, DataQuality, MetricThreshold, NoDrift
from mlops_sdk.core.datadigest import frame_version
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.models.approvals import ApprovalPolicy, ApprovalRequest
from mlops_sdk.models.deployments import BlueGreen, SmokeTest
from mlops_sdk.models.registry import ModelVersion
from mlops_sdk.testing import FakeClock

COLUMNS = ["age", "bmi", "bp"]
COEF = np.array([3.0, -2.0, 1.0])
DANA, ERIN, MALLORY = "dana@contoso.com", "erin@contoso.com", "mallory@contoso.com"
# The report fails on drift (bmi is shifted on purpose): this policy leaves that call to the people.
POLICY = ApprovalPolicy(
    approvers=(DANA, ERIN), min_approvals=2, timeout=timedelta(days=2), require_validation_passed=False
)


def frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Features (``bmi`` shifted by ``shift``) and a label ``y``."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, 3))
    data = pd.DataFrame(features, columns=COLUMNS)
    data["y"] = features @ COEF + rng.normal(scale=0.1, size=rows)
    data["bmi"] = data["bmi"] + shift
    return data


def register_versions(folder: Path) -> None:
    """``churn`` v1 (half of bp's effect: the champion) and v2 (the true coefficients)."""
    import mlflow.sklearn
    from mlflow import MlflowClient
    from mlflow.models import infer_signature
    from sklearn.linear_model import LinearRegression

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("review", artifact_location=(folder / "artifacts" / "review").as_uri())
    train = frame(200, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client.create_registered_model("churn")
        for coef in (COEF * [1.0, 1.0, 0.5], COEF):
            model = LinearRegression().fit(train[COLUMNS], train["y"])
            model.coef_, model.intercept_ = np.asarray(coef), 0.0
            run_id = client.create_run(experiment).info.run_id
            path = folder / "artifacts" / "review" / run_id / "artifacts" / "model"
            signature = infer_signature(train[COLUMNS], model.predict(train[COLUMNS]))
            mlflow.sklearn.save_model(model, str(path), signature=signature, pip_requirements=["scikit-learn"])
            client.create_model_version("churn", path.as_uri(), run_id=run_id)
            client.set_terminated(run_id)


def rollout() -> PlannedRollout:
    """The blue/green plan the requests carry."""
    smoke = SmokeTest(payload={"input_data": {"columns": COLUMNS, "data": [[0.1, 0.2, 0.3]]}}, shape=[1])
    return PlannedRollout.of(
        "churn-prod", BlueGreen(steps=[10, 50, 100], bake_time=300, smoke_test=smoke), rollback_to="churn@1"
    )


@dataclass
class Store:
    """A store with two pending requests: ``request`` (validated churn@2) and ``other``."""

    folder: Path
    request: ApprovalRequest
    other: ApprovalRequest
    report_digest: str


def build_store(folder: Path, *, reason: str = "weekly retrain: lower RMSE; bmi shifted with the new intake") -> Store:
    """Register, validate for real, and request approval twice (done once per test module)."""
    register_versions(folder)
    with _inside(folder), MLOpsClient(f"local://{folder}", show_progress=False) as client:
        client.models.set_alias("churn", "champion", "1")
        # What a training run in CI leaves on the version it registers (client.models.register does the same).
        trained = client.models.get("churn", "2")
        lineage = Lineage(
            git_commit="9f1c2ab7e4d05b8a61f3c9e2d7b4a0c5e8f1d2a3",
            git_dirty=False,
            git_branch="main",
            ci_provider="github_actions",
            ci_build_id="8812",
            ci_build_url="https://github.com/contoso/churn/actions/runs/8812",
            training_run_id=trained.run_id,
            data_versions={"train": frame_version(frame(200, seed=1))},
        )
        client.models.set_tags("churn", "2", lineage.to_tags())
        report = client.validation.validate(
            "churn@2",
            data=frame(300, seed=2),
            target="y",
            checks=[
                MetricThreshold("rmse", max=0.5),
                BeatsChampion("rmse", min_delta=0.05, bootstrap=200),
                NoDrift(reference=frame(300, seed=3, shift=1.5), max_psi=0.2),
                DataQuality(schema={"age": "float"}, not_null=COLUMNS, ranges={"age": (-6, 6)}, min_rows=100),
            ],
        )
        # Who registered it (the requester, barred from approving): a data scientist, not this test's OS user.
        version = client.models.get("churn", "2").model_copy(update={"created_by": "carol@contoso.com"})
        request = client.approvals.request(
            version, policy=POLICY, report=report, reason=reason, rollout=rollout(), idempotency_key=None
        )
        other = client.approvals.request(
            ModelVersion(name="fraud", version="7", uri="models:/fraud/7", created_by=ERIN),
            policy=ApprovalPolicy(approvers=(DANA, ERIN), require_validation_passed=False),
            reason="threshold tweak",
        )
    return Store(folder, request, other, report.digest)


@contextlib.contextmanager
def _inside(folder: Path) -> Iterator[None]:
    """Work from ``folder`` (outside any git checkout: lineage must not pick up the repository running the tests)."""
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


def copy_store(source: Path, target: Path) -> Path:
    """A private copy of a built store (each test votes on its own)."""
    import shutil

    shutil.copytree(source, target)  # with any WAL file: the builder's connections are closed
    return target


@dataclass
class Served:
    """A review page running on 127.0.0.1 on ``client`` (clock ``clock``)."""

    client: MLOpsClient
    site: ReviewSite
    clock: FakeClock
    url: str


@contextlib.contextmanager
def serve(folder: Path, *, clock: FakeClock | None = None, tls: tuple[Path, Path] | None = None) -> Iterator[Served]:
    """Run the review page of ``folder`` in a thread (over HTTPS with ``tls=(cert, key)``); stop it on exit."""
    import uvicorn

    clock = clock or FakeClock(start=datetime.now(timezone.utc))
    client = MLOpsClient(f"local://{folder}", clock=clock, show_progress=False)
    binding = check_binding("127.0.0.1", 0, *(tls or (None, None)))
    site = ReviewSite.open(client, tls=binding.tls)
    server = uvicorn.Server(uvicorn_config(create_app(site), binding))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(400):  # bounded: the server starts in well under a second when the machine is idle
        if server.started or not thread.is_alive():
            break
        time.sleep(0.05)
    assert server.started, "the review page did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Served(client, site, clock, f"{'https' if binding.tls else 'http'}://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        client.close()


def link_path(url: str) -> str:
    """The ``/invite/<token>`` path of a printed link."""
    match = re.search(r"/invite/[A-Za-z0-9_.\-]+", url)
    assert match, url
    return match.group(0)
