"""Validation on the local backend with real scikit-learn models in the store's MLflow registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.checks import (
    BeatsChampion,
    CheckContext,
    CheckResult,
    DataQuality,
    MetricThreshold,
    NoDrift,
    SignatureCheck,
)
from mlops_sdk.cli.main import run
from mlops_sdk.core.errors import ConfigurationError, ResourceNotFoundError, ValidationFailedError
from mlops_sdk.models.validation import ValidationReport

COLUMNS = ["a", "b", "c"]
TRUE_COEF = np.array([3.0, -2.0, 1.0])
# name -> [(coefficients, logged training rmse)]: version 1 is the champion.
MODELS = {
    "reg": [
        (TRUE_COEF * [1.0, 1.0, 0.5], 0.62),  # v1 champion: half of c's effect
        (TRUE_COEF, 0.11),  # v2 better
        (TRUE_COEF * [1.0, 1.0, 0.5], 0.62),  # v3 the same as the champion
        (TRUE_COEF * [0.6, 1.0, 0.5], 0.95),  # v4 worse (and the latest registered)
    ],
    "solo": [(TRUE_COEF, 0.11)],
}


def _frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, 3))
    frame = pd.DataFrame(features, columns=COLUMNS)
    frame["y"] = features @ TRUE_COEF + rng.normal(scale=0.1, size=rows)
    return frame


def _register(folder: Path) -> None:
    import warnings

    import mlflow.sklearn
    from mlflow import MlflowClient
    from mlflow.models import infer_signature
    from sklearn.linear_model import LinearRegression

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    location = (folder / "artifacts" / "validation").as_uri()
    experiment = client.create_experiment("validation", artifact_location=location)
    train = _frame(200, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, versions in MODELS.items():
            client.create_registered_model(name)
            for coef, rmse in versions:
                model = LinearRegression().fit(train[COLUMNS], train["y"])
                model.coef_, model.intercept_ = np.asarray(coef), 0.0
                run_id = client.create_run(experiment).info.run_id
                client.log_metric(run_id, "train_rmse", rmse)
                path = folder / "artifacts" / "validation" / run_id / "artifacts" / "model"
                signature = infer_signature(train[COLUMNS], model.predict(train[COLUMNS]))
                mlflow.sklearn.save_model(model, str(path), signature=signature, pip_requirements=["scikit-learn"])
                client.create_model_version(name, path.as_uri(), run_id=run_id)
                client.set_terminated(run_id)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("validation-store")
    _register(folder)
    with MLOpsClient(f"local://{folder}") as client:
        client.models.set_alias("reg", "champion", "1")
    return folder


@pytest.fixture
def client(store: Path) -> Any:
    with MLOpsClient(f"local://{store}") as hub:
        yield hub


@pytest.fixture(scope="module")
def evaluation() -> pd.DataFrame:
    return _frame(300, seed=2)


def test_promote_is_recorded_with_the_model(client: Any, evaluation: pd.DataFrame) -> None:
    reference = _frame(200, seed=1)
    report = client.validation.validate(
        "reg@2",
        data=evaluation,
        target="y",
        checks=[
            MetricThreshold("rmse", max=0.2),
            MetricThreshold("train_rmse", max=0.5),
            BeatsChampion("rmse", min_delta=0.05, bootstrap=200),
            DataQuality(schema={"a": "float"}, not_null=COLUMNS, min_rows=100),
            NoDrift(reference=reference, max_psi=0.2),
            SignatureCheck(sample=evaluation[COLUMNS].head(3)),
        ],
    )
    assert report.outcome == "promote", report.to_markdown()
    assert report.passed
    assert report.raise_for_gate() is report
    assert report.champion is not None
    assert report.champion.ref == "reg@1"  # by alias: not v4, the latest registered
    assert report.check("threshold:train_rmse").observed == 0.11
    assert report.metrics["rmse"] == pytest.approx(0.1, abs=0.02)
    assert report.champion_metrics["rmse"] > report.metrics["rmse"] + 0.3
    assert set(report.data_versions) == {"evaluation", "reference"}
    from mlops_sdk.core.datadigest import frame_version

    assert report.data_versions["evaluation"] == frame_version(evaluation)
    tagged = client.models.get("reg", "2")
    assert tagged.tags["mlops.validation.outcome"] == "promote"
    assert tagged.tags["mlops.validation.champion"] == "reg@1"
    assert tagged.lineage.validation_digest == report.digest
    assert client.validation.get_report(report.digest) == report


@pytest.mark.parametrize(
    ("model", "outcome", "observed"),
    [
        ("reg@2", "promote", pytest.approx(0.43, abs=0.05)),
        ("reg@3", "not_promoted", 0.0),
        ("reg@4", "not_promoted", pytest.approx(-0.8, abs=0.15)),
        ("solo@1", "promote", None),
    ],
    ids=["better", "equal", "worse", "no-champion"],
)
def test_champion_comparison(client: Any, evaluation: pd.DataFrame, model: str, outcome: str, observed: Any) -> None:
    report = client.validation.validate(model, data=evaluation, checks=[BeatsChampion("rmse")], record=False)
    assert report.outcome == outcome
    result = report.checks[0]
    assert result.observed == observed
    if model == "solo@1":
        assert report.champion is None
        assert result.message.startswith("first model: no version of solo holds alias 'champion'")
    else:
        assert report.champion is not None
        assert report.champion.version == "1"


def test_better_but_within_delta_is_not_promoted(client: Any, evaluation: pd.DataFrame) -> None:
    report = client.validation.validate(
        "reg@2", data=evaluation, checks=[BeatsChampion("rmse", min_delta=0.9)], record=False
    )
    assert report.outcome == "not_promoted"
    with pytest.raises(ValidationFailedError) as caught:
        report.raise_for_gate()
    assert caught.value.details["outcome"] == "not_promoted"
    assert "is not more than min_delta 0.9" in caught.value.message


def test_unknown_metric_and_missing_column_are_errors(client: Any, evaluation: pd.DataFrame) -> None:
    with pytest.raises(ConfigurationError) as unknown:
        client.validation.validate("reg@2", checks=[MetricThreshold("val_loss", max=1)])
    assert "unknown metric 'val_loss' for reg@2: its training run logged train_rmse" in unknown.value.message
    with pytest.raises(ConfigurationError) as missing:
        client.validation.validate(
            "reg@2", data=evaluation.drop(columns=["c"]), checks=[MetricThreshold("rmse", max=1)]
        )
    assert "lacks column(s) c that reg@2 takes" in missing.value.message
    assert "the evaluation data has: a, b, y" in missing.value.message
    with pytest.raises(ResourceNotFoundError):
        client.validation.validate("reg@99", checks=[MetricThreshold("rmse", max=1)])


class Broken:
    name = "broken"

    def run(self, context: CheckContext) -> CheckResult:
        return CheckResult(name=self.name, passed=bool(context.model(context.candidate).predict("not a frame")))


def test_a_raising_check_fails_the_validation_without_crashing_it(client: Any, evaluation: pd.DataFrame) -> None:
    report = client.validation.validate(
        "solo@1", data=evaluation, checks=[Broken(), MetricThreshold("rmse", max=0.2)], record=False
    )
    assert report.outcome == "failed"
    broken = report.check("broken")
    assert not broken.passed
    assert broken.error is not None
    assert broken.message.startswith("the check raised ")
    assert report.check("threshold:rmse").passed


def _write_checks(path: Path, reference: Path, *, min_delta: float, max_rmse: float) -> Path:
    path.write_text(
        f"""
target = "y"

[[checks]]
type = "MetricThreshold"
metric = "rmse"
max = {max_rmse}

[[checks]]
type = "BeatsChampion"
metric = "rmse"
min_delta = {min_delta}

[[checks]]
type = "NoDrift"
reference = "{reference.name}"
max_psi = 0.25

[[checks]]
type = "DataQuality"
min_rows = 10
ranges = {{ a = [-10, 10] }}
""",
        encoding="utf-8",
    )
    return path


def test_cli_exit_codes_and_report(
    store: Path, evaluation: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "eval.parquet"
    evaluation.to_parquet(data)
    _frame(200, seed=1).to_parquet(tmp_path / "train.parquet")
    checks = _write_checks(tmp_path / "checks.toml", tmp_path / "train.parquet", min_delta=0.05, max_rmse=2.0)
    target = ["--target", f"local://{store}"]
    html = tmp_path / "out" / "report.html"
    assert (
        run(
            [
                *target,
                "validate",
                "reg@2",
                "--data",
                str(data),
                "--checks",
                str(checks),
                "--report",
                str(html),
                "--no-record",
            ]
        )
        == 0
    )
    page = html.read_text(encoding="utf-8")
    assert "<svg" in page
    assert "candidate reg@2" in page
    assert "PSI per feature" in page
    assert "promote" in capsys.readouterr().out
    assert (
        run([*target, "validate", "reg:champion", "--data", str(data), "--checks", str(checks), "--no-record"]) == 0
    )  # the champion itself: nothing to beat
    assert run([*target, "validate", "reg@4", "--data", str(data), "--checks", str(checks), "--no-record"]) == 3
    strict = _write_checks(tmp_path / "strict.toml", tmp_path / "train.parquet", min_delta=0.05, max_rmse=0.01)
    capsys.readouterr()
    assert (
        run(
            [
                *target,
                "--output",
                "json",
                "validate",
                "reg@2",
                "--data",
                str(data),
                "--checks",
                str(strict),
                "--no-record",
            ]
        )
        == 1
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed["outcome"] == "failed"
    assert printed["passed"] is False
    assert ValidationReport.from_json(json.dumps(printed)).outcome == "failed"
    assert run([*target, "validate", "reg@2", "--data", str(data), "--checks", str(tmp_path / "none.toml")]) == 1


def test_validation_and_approval_decisions_land_on_the_model_version(
    client: Any, evaluation: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops_sdk.models.approvals import ApprovalPolicy

    monkeypatch.setenv("BUILD_REQUESTEDFOREMAIL", "carol@contoso.com")  # the requester, not an approver
    model = client.models.get("reg", "2")
    report = client.validation.validate(model, data=evaluation, checks=[BeatsChampion("rmse", greater_is_better=False)])
    assert report.outcome == "promote"
    policy = ApprovalPolicy(approvers=(client.approvals.whoami().name,), forbid_self_approval=False)
    request = client.approvals.request(model, report=report, policy=policy, reason="promote v2")
    client.approvals.approve(request.id, comment="metrics look right")
    decision = client.approvals.begin_wait(request.id).result()
    assert decision.approved

    tags = client.models.get("reg", "2").tags
    assert tags["mlops.validation_digest"] == report.digest
    assert tags["mlops.approval.status"] == "approved"
    assert tags["mlops.approval.request_id"] == request.id
    assert tags["mlops.approval.report"] == report.digest
    assert client.approvals.whoami().name in tags["mlops.approval.approvers"]
    assert client.models.get("reg", "2").lineage.validation_digest == report.digest


def test_loading_a_model_warns_about_requirements_this_environment_does_not_meet(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import warnings

    import mlflow
    import mlflow.sklearn
    import sklearn
    from sklearn.linear_model import LinearRegression

    from mlops_sdk.backends._mlflow_model import MlflowPredictor

    train = _frame(50, seed=3)
    path = tmp_path / "model"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.sklearn.save_model(
            LinearRegression().fit(train[COLUMNS], train["y"]),
            str(path),
            pip_requirements=[
                "scikit-learn==0.0.1",
                "mlops-no-such-package==1.0",
                f"mlflow=={mlflow.__version__}",
                "numpy",
            ],
        )
    with caplog.at_level(logging.WARNING, logger="mlops_sdk"):
        predictor = MlflowPredictor(path, ref="reg@9")
    expected = [
        f"scikit-learn (current: {sklearn.__version__}, required: scikit-learn==0.0.1)",
        "mlops-no-such-package (current: uninstalled, required: mlops-no-such-package==1.0)",
    ]
    assert predictor.requirement_mismatches == expected
    assert "reg@9: this environment does not meet the model's requirements" in caplog.text
    assert all(item in caplog.text for item in expected)
    assert len(predictor.predict(train[COLUMNS].head(4))) == 4


def test_refresh_snapshot_and_report_carry_one_data_version(client: Any, tmp_path: Path) -> None:
    from mlops_sdk.models.data_factory import Copy, RefreshPipeline

    _frame(120, seed=5).to_csv(tmp_path / "eval.csv", index=False)
    client.data_factory.define(
        RefreshPipeline(name="eval-data", activities=[Copy(name="eval", source=str(tmp_path / "eval.csv"))])
    )
    output = client.data_factory.begin_refresh("eval-data").result().outputs["eval"]
    checks = [MetricThreshold("rmse", max=10.0)]
    from_output = client.validation.validate("reg@2", data=output, checks=checks, record=False)
    from_path = client.validation.validate("reg@2", data=output.uri, checks=checks, record=False)
    from_frame = client.validation.validate("reg@2", data=pd.read_parquet(output.uri), checks=checks, record=False)
    versions = {r.data_versions["evaluation"] for r in (from_output, from_path, from_frame)}
    assert versions == {output.version}


def test_cli_errors_name_flags_and_accept_output_after_the_subcommand(
    store: Path, evaluation: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "eval.parquet"
    evaluation.to_parquet(data)
    checks = tmp_path / "checks.toml"
    checks.write_text('target = "y"\n\n[[checks]]\ntype = "BeatsChampion"\nmetric = "rmse"\n', encoding="utf-8")
    target = ["-t", f"local://{store}"]
    capsys.readouterr()
    assert run([*target, "validate", "reg@2", "--checks", str(checks), "--no-record"]) == 1
    err = capsys.readouterr().err
    assert "pass --data" in err
    assert "data=" not in err
    assert run([*target, "validate", "reg@2", "--checks", str(checks), "--data", "missing.csv"]) == 1
    assert "--data: no such file missing.csv" in capsys.readouterr().err
    # -o after the subcommand means the same as before it.
    assert (
        run([*target, "validate", "reg@2", "--data", str(data), "--checks", str(checks), "--no-record", "-o", "json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["outcome"] == "promote"
    assert run([*target, "models", "list", "reg", "--output=json"]) == 0
    assert [item["version"] for item in json.loads(capsys.readouterr().out)] == ["4", "3", "2", "1"]
