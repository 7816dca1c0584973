"""The whole loop on the local backend: deploy with capture, shifted traffic with a known accuracy drop,
late labels for part of it, the monitor, and a retrain that goes through the validation and approval gates.

PSI and Jensen-Shannon distances are recomputed here with plain numpy, accuracy directly from the
answers the endpoint gave: the report must agree with both.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.checks import MetricThreshold
from mlops_sdk.flows import decide_retrain
from mlops_sdk.models.approvals import ApprovalPolicy, ApprovalStatus
from mlops_sdk.models.data_factory import Copy, RefreshPipeline
from mlops_sdk.models.deployments import Capture, Replace
from mlops_sdk.models.monitoring import (
    DataDrift,
    DataQuality,
    ModelPerformance,
    Monitor,
    PredictionDrift,
    TrainingBaseline,
)

FEATURES = ["x0", "x1", "x2", "x3"]
SHIFT = 2.0

TRAIN = """
import sys, pathlib
import pandas as pd
import mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression

frame = pd.read_parquet(sys.argv[1])
X, y = frame[["x0", "x1", "x2", "x3"]], frame["y"]
model = LogisticRegression().fit(X, y)
mlflow.sklearn.save_model(model, sys.argv[2], signature=infer_signature(X, model.predict(X)),
                          pip_requirements=["scikit-learn"])
"""


def _frame(rng: np.random.Generator, rows: int, *, shift: float = 0.0, rule: str = "old") -> pd.DataFrame:
    frame = pd.DataFrame({name: rng.normal(size=rows) for name in FEATURES})
    frame["x2"] += shift
    signal = frame.x0 + 0.5 * frame.x1 if rule == "old" else frame.x0 - 1.5 * frame.x1
    frame["y"] = (signal > 0).astype("int64")
    return frame


def _psi(reference: np.ndarray, current: np.ndarray) -> float:
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, 11)[1:-1]))
    ref = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=edges.size + 1) / reference.size
    cur = np.bincount(np.searchsorted(edges, current, side="right"), minlength=edges.size + 1) / current.size
    ref, cur = np.clip(ref, 1e-4, None), np.clip(cur, 1e-4, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def _js(reference: np.ndarray, current: np.ndarray) -> float:
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, 11)[1:-1]))
    p = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=edges.size + 1) / reference.size
    q = np.bincount(np.searchsorted(edges, current, side="right"), minlength=edges.size + 1) / current.size
    m = (p + q) / 2
    kl = lambda a: np.sum(np.where(a > 0, a * np.log2(np.where(a > 0, a, 1) / m), 0.0))  # noqa: E731
    return float(np.sqrt((kl(p) + kl(q)) / 2))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[MLOpsClient]:
    with MLOpsClient(f"local://{tmp_path / '.mlops'}", show_progress=False) as hub:
        yield hub
        for endpoint in hub.deployments.list_endpoints():
            hub.deployments.stop_endpoint(endpoint.name)


def _refresh_and_train(client: MLOpsClient, tmp_path: Path, frame: pd.DataFrame, name: str) -> object:
    folder = tmp_path / "data" / name
    folder.mkdir(parents=True)
    frame.to_csv(folder / "rows.csv", index=False)
    client.data_factory.define(RefreshPipeline(name=name, activities=[Copy(name="rows", source=f"data/{name}/*.csv")]))
    refreshed = client.data_factory.begin_refresh(name).result()
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "train.py").write_text(textwrap.dedent(TRAIN))
    run = client.training.begin_train(
        {
            "code": code,
            "command": "python train.py ${{inputs.data}} ${{outputs.model}}",
            "inputs": {"data": refreshed.output()},
            "outputs": {"model": "mlflow_model"},
            "experiment": "churn",
        }
    ).result()
    return client.models.register(run, name="churn")


def test_capture_labels_monitor_and_gated_retrain(client: MLOpsClient, tmp_path: Path) -> None:
    rng = np.random.default_rng(16)
    training = _frame(rng, 3000)
    model = _refresh_and_train(client, tmp_path, training, "train")
    assert model.lineage.data_versions  # the baseline the monitor will find

    deployed = client.deployments.begin_deploy(
        model, endpoint="churn", strategy=Replace(), capture=Capture(durability="acknowledged")
    ).result()
    assert deployed.succeeded

    production = _frame(rng, 800, shift=SHIFT, rule="new")
    key = client.deployments.get_keys("churn").primary_key.get_secret_value()
    ids: list[str] = []
    predictions: list[int] = []
    with httpx.Client(base_url=deployed.scoring_uri.rsplit("/", 1)[0], timeout=60,
                      headers={"Authorization": f"Bearer {key}"}) as http:  # fmt: skip
        for start in range(0, 400, 10):  # 40 batches of 10 rows: ids <request id>:<row>
            rows = production.iloc[start : start + 10]
            answer = http.post(
                "/score", json={"input_data": {"columns": FEATURES, "data": rows[FEATURES].values.tolist()}}
            )
            assert answer.status_code == 200
            assert answer.headers["x-mlops-capture"] == "stored"
            request_id = answer.headers["x-mlops-correlation-id"]
            ids += [f"{request_id}:{row}" for row in range(len(rows))]
            predictions += answer.json()
        for index in range(400, 800):  # single rows with the caller's own ids
            own = f"order-{index}"
            answer = http.post(
                "/score",
                json={"input_data": {"columns": FEATURES, "data": [production.iloc[index][FEATURES].tolist()]}},
                headers={"x-mlops-correlation-id": own},
            )
            assert answer.headers["x-mlops-correlation-id"] == own
            ids.append(own)
            predictions += answer.json()

    # labels arrive for 60 % of the rows, in two parts; one label is corrected later (the latest wins)
    labelled = rng.choice(len(ids), size=480, replace=False)
    truth = production["y"].to_numpy()
    first, second = labelled[:300], labelled[300:]
    assert client.monitoring.log_ground_truth("churn", [ids[i] for i in first], truth[first].tolist()) == 300
    wrong = 1 - truth[second]
    client.monitoring.log_ground_truth(
        "churn", data=pd.DataFrame({"correlation_id": [ids[i] for i in second], "label": wrong})
    )
    client.monitoring.log_ground_truth("churn", [ids[i] for i in second], truth[second].tolist())

    monitor = Monitor(
        endpoint="churn",
        window="1h",
        baseline=TrainingBaseline(target="y"),
        signals=[
            DataDrift(thresholds={"psi": 0.2, "js": 0.15}),
            PredictionDrift(categorical=True, thresholds={"psi": 10.0}),
            DataQuality(),
            ModelPerformance(thresholds={"accuracy": 0.9}, min_labels=100),
        ],
    )
    report = client.monitoring.run(monitor)

    assert report.rows == 800
    assert report.labeled_rows == 480
    assert report.baseline["kind"] == "training"
    assert report.baseline["model"] == model.ref
    assert report.baseline["version"] == model.lineage.data_versions["data"]
    drift = report.signal("data_drift")
    assert drift.alerting == ("x2",)  # the shifted feature, and only it
    assert report.drifted_features() == ("x2",)
    for name in FEATURES:
        stats = drift.feature(name)
        reference, current = training[name].to_numpy(), production[name].to_numpy()
        assert stats.psi == pytest.approx(_psi(reference, current), rel=1e-9)
        assert stats.js == pytest.approx(_js(reference, current), rel=1e-9)
        assert stats.rows == 800
    assert drift.feature("x2").psi > 1.0
    assert report.signal("data_quality").passed
    assert report.signal("data_quality").feature("x2").out_of_range_rate >= 0
    accuracy = float(np.mean(np.asarray(predictions)[labelled] == truth[labelled]))
    performance = report.signal("model_performance")
    assert performance.metrics[0].value == pytest.approx(accuracy)
    assert performance.metrics[0].labeled_rows == 480
    assert accuracy < 0.9  # the known drop
    assert performance.metrics[0].alert
    assert report.outcome == "alert"
    assert report.capture is not None
    assert report.capture.written == 800
    assert report.capture.lost == 0
    assert "x2" in report.to_markdown()
    assert "<svg" in report.to_html()

    # the loop: the alert decides a retrain on fresh labelled data, which must pass the same gates
    decision = decide_retrain(monitor_report=report)
    assert decision.retrain
    assert decision.drifted == ("x2",)
    assert any("accuracy" in reason for reason in decision.reasons)
    fresh = _frame(rng, 3000, shift=SHIFT, rule="new")
    retrained = _refresh_and_train(client, tmp_path, fresh, "fresh")
    holdout = _frame(rng, 500, shift=SHIFT, rule="new")
    validation = client.validation.validate(
        retrained, data=holdout, target="y", checks=[MetricThreshold("accuracy", min=0.9)]
    )
    assert validation.passed
    stale = client.validation.validate(model, data=holdout, target="y", checks=[MetricThreshold("accuracy", min=0.9)])
    assert not stale.passed  # the deployed model would not pass the gate on today's data
    request = client.approvals.request(
        retrained, report=validation, policy=ApprovalPolicy(approvers=("release-manager",))
    )
    assert request.status is ApprovalStatus.PENDING  # gated: nobody deploys it before a person approves
