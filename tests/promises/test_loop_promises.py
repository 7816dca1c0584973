"""The loop's promises, as a user reads them: README, getting-started, models, validation, approvals,
flows, data-factory, training, configuration, errors and lineage pages.

Written from those pages alone and exercised through the public API (``mlops_sdk`` and its documented
modules) and the ``mlops`` command line (``mlops_sdk.cli.main.run``, what the console script calls; one
test runs the real ``python -m mlops_sdk.cli`` process). Each test names the page whose promise it
holds. Models come from one small scikit-learn MLflow model saved once per module; ``memory://``
(documented in docs/testing.md) stands in where the page's promise is the same on every backend, and
``local://`` in a temporary folder where the promise is about the local store.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pwd
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_sdk import (
    ApprovalPolicy,
    ApprovalRejectedError,
    AutoApproveRule,
    ConfigurationError,
    ConflictError,
    Copy,
    Lineage,
    MLOpsClient,
    MlopsError,
    ModelRef,
    OperationFailedError,
    PermissionDeniedError,
    RefreshPipeline,
    ResourceNotFoundError,
    Schedule,
    Secret,
    Sql,
    TrainingJob,
    ValidationFailedError,
    ValidationReport,
)
from mlops_sdk.checks import BeatsChampion, DataQuality, MetricThreshold, NoDrift
from mlops_sdk.flows import Flow, add_summary, detect_ci, mask_secret, set_output
from mlops_sdk.testing import FakeClock, act_as

CANARY = "canary-Zq7xV3kP9sT1"
"""A unique fake secret: wherever the docs say a secret goes, it must never come back out."""

_COPY_SCRIPT = """\
import shutil, sys

shutil.copytree(sys.argv[1], sys.argv[2], dirs_exist_ok=True)
print("copied the model")
"""


# -- helpers --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A Ridge MLflow model on columns a, b, c (label ``y``), its evaluation CSV, and a training folder."""
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import Ridge

    root = tmp_path_factory.mktemp("assets")
    generator = np.random.default_rng(0)
    features = pd.DataFrame(generator.normal(size=(120, 3)), columns=["a", "b", "c"])
    label = features["a"] * 3 + features["b"] + generator.normal(size=120) * 0.1
    model = Ridge().fit(features, label)
    mlflow.sklearn.save_model(
        model,
        str(root / "model"),
        signature=infer_signature(features, model.predict(features)),
        pip_requirements=["scikit-learn"],
    )
    frame = features.assign(y=label)
    frame.to_csv(root / "eval.csv", index=False)
    code = root / "code"
    code.mkdir()
    (code / "train.py").write_text(_COPY_SCRIPT)
    return {"root": root, "model": root / "model", "eval": root / "eval.csv", "code": code}


def copy_job(assets: dict[str, Path], **fields: Any) -> TrainingJob:
    """A training job whose script copies the saved model into its ``model`` output."""
    return TrainingJob(
        code=str(assets["code"]),
        command=f"python train.py {assets['model']} ${{{{outputs.model}}}}",
        outputs={"model": "mlflow_model"},
        **fields,
    )


def memory_client(clock: FakeClock | None = None) -> MLOpsClient:
    """A fresh in-process client (its own store)."""
    return MLOpsClient("memory://", show_progress=False, clock=clock or FakeClock())


def registered(client: MLOpsClient, assets: dict[str, Path], name: str = "m") -> Any:
    """Train the copy job and register its model under ``name``."""
    run = client.training.begin_train(copy_job(assets)).result()
    return client.models.register(run, name=name)


def eval_frame(assets: dict[str, Path]) -> Any:
    """The evaluation rows as a DataFrame."""
    import pandas as pd

    return pd.read_csv(assets["eval"])


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``mlops ARGS`` in this process (what the console script runs); exit code, stdout, stderr."""
    from mlops_sdk.cli.main import run

    capsys.readouterr()
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def files_of(folder: Path) -> set[str]:
    """Every file below ``folder`` (relative paths)."""
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}


def rows_of(database: Path) -> dict[str, int]:
    """Row count of every table of an SQLite database."""
    with sqlite3.connect(database) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        count = 'SELECT COUNT(*) FROM "{}"'  # table names read from sqlite_master
        return {table: connection.execute(count.format(table)).fetchone()[0] for table in tables}


_SWEEP = """\
import pathlib, sys

needle = sys.argv[2].encode()
for path in sorted(pathlib.Path(sys.argv[1]).rglob("*")):
    if path.is_file() and needle in path.read_bytes():
        print(path)
"""


def contains_canary(folder: Path) -> list[str]:
    """Files below ``folder`` whose bytes hold :data:`CANARY`.

    Read in a separate process: opening and closing a SQLite database file in a process that holds
    connections to it drops that process's POSIX locks (SQLite's "how to corrupt" page, 2.2), which let
    another process delete the WAL under the open connections.
    """
    swept = subprocess.run(
        [sys.executable, "-c", _SWEEP, str(folder), CANARY], capture_output=True, text=True, check=True, timeout=60
    )
    return swept.stdout.split()


@pytest.fixture(scope="module")
def local_store(tmp_path_factory: pytest.TempPathFactory, assets: dict[str, Path]) -> Iterator[dict[str, Any]]:
    """One local store with one real training run (the script is a subprocess) and ``m@1`` registered."""
    folder = tmp_path_factory.mktemp("local") / ".mlops"
    client = MLOpsClient(f"local://{folder}", show_progress=False)
    job = copy_job(assets, environment_variables={"SERVICE_TOKEN": CANARY, "PLAIN": "visible"})
    run = client.training.begin_train(job, idempotency_key="promises-train-1").result()
    version = client.models.register(run, name="m")
    yield {"client": client, "folder": folder, "run": run, "version": version, "job": job}
    client.close()


# -- models.md ------------------------------------------------------------------------------------


def test_models_registering_the_same_run_output_again_returns_the_existing_version(assets: dict[str, Path]) -> None:
    """models.md: 'registering the same run output again returns the existing version'."""
    client = memory_client()
    run = client.training.begin_train(copy_job(assets)).result()
    first = client.models.register(run, name="m")
    again = client.models.register(run.id, name="m")
    assert (first.version, again.version) == ("1", "1")
    assert [v.version for v in client.models.list_versions("m")] == ["1"]
    assert first.uri == "models:/m/1"
    assert first.run_id == run.id


def test_models_not_found_lists_what_exists(assets: dict[str, Path]) -> None:
    """models.md: get / get_by_alias / resolve raise ResourceNotFoundError listing versions and aliases."""
    client = memory_client()
    registered(client, assets)
    client.models.set_alias("m", "champion", 1)
    for call in (
        lambda: client.models.get("m", 7),
        lambda: client.models.get_by_alias("m", "challenger"),
        lambda: client.models.resolve("m@9"),
    ):
        with pytest.raises(ResourceNotFoundError) as caught:
            call()
        assert "1" in str(caught.value)
        assert "champion" in str(caught.value)


def test_models_versions_newest_first_and_latest_per_model(assets: dict[str, Path]) -> None:
    """models.md: list_versions is newest first; list_models is the latest version of every model."""
    client = memory_client()
    for _ in range(3):
        registered(client, assets, "m")
    registered(client, assets, "other")
    assert [v.version for v in client.models.list_versions("m")] == ["3", "2", "1"]
    assert sorted((v.name, v.version) for v in client.models.list_models()) == [("m", "3"), ("other", "1")]


@pytest.mark.parametrize("alias", ["latest", "v3", "V7", "bad alias", "ünï", "a.b", "", "x" * 300, "a\nb"])
def test_models_alias_names_are_checked(assets: dict[str, Path], alias: str) -> None:
    """models.md: alias names are letters, digits, '-', '_'; 'latest' and 'v<number>' are reserved."""
    client = memory_client()
    registered(client, assets)
    with pytest.raises(ConfigurationError) as caught:
        client.models.set_alias("m", alias, 1)
    assert caught.value.details["field"] == "alias"
    assert client.models.get("m", 1).aliases == ()
    assert client.models.alias_history("m") == []


def test_models_alias_moves_are_recorded_with_previous_version_and_actor(assets: dict[str, Path]) -> None:
    """models.md: alias_history records alias, previous version, version, actor, time."""
    client = memory_client()
    registered(client, assets)
    registered(client, assets)
    client.models.set_alias("m", "champion", 1)
    client.models.set_alias("m", "champion", "2")
    client.models.remove_alias("m", "champion")
    events = client.models.alias_history("m")
    moves = [(e.alias, e.previous_version, e.version) for e in events[:2]]
    assert moves == [("champion", None, "1"), ("champion", "1", "2")]
    assert all(e.actor for e in events)
    assert all(e.at is not None for e in events)
    assert client.models.get("m", 2).aliases == ()
    with pytest.raises(ResourceNotFoundError):
        client.models.get_by_alias("m", "champion")


@pytest.mark.parametrize(
    ("text", "short"),
    [
        ("diabetes@3", "diabetes@3"),
        ("diabetes:champion", "diabetes:champion"),
        ("models:/diabetes/3", "diabetes@3"),
        ("models:/diabetes@champion", "diabetes:champion"),
        ("azureml:diabetes:3", "diabetes@3"),
    ],
)
def test_model_ref_spellings(text: str, short: str) -> None:
    """models.md: ModelRef.parse reads the five spellings; str(ref) gives the short form back."""
    ref = ModelRef.parse(text)
    assert str(ref) == short
    assert ref.name == "diabetes"
    assert (ref.version, ref.alias) == (("3", None) if "@3" in short else (None, "champion"))


@pytest.mark.parametrize(
    "text", ["", "diabetes", "diabetes@", "@3", "d@3@4", "d:a:b", "models:/", "models:/d", "d @3", "d@ 3", "d\x00@3"]
)
def test_model_ref_bad_spellings_name_the_field_and_list_the_forms(text: str) -> None:
    """models.md: a bad reference raises ConfigurationError, details['field'] names the argument, the
    message lists the spellings."""
    with pytest.raises(ConfigurationError) as caught:
        ModelRef.parse(text, field="candidate")
    assert caught.value.details["field"] == "candidate"
    assert "NAME@VERSION" in str(caught.value)
    assert "NAME:ALIAS" in str(caught.value)


def test_models_approval_requests_need_a_version(assets: dict[str, Path]) -> None:
    """models.md: approval requests need a version (name@3 or a ModelVersion), not an alias."""
    client = memory_client()
    registered(client, assets)
    client.models.set_alias("m", "champion", 1)
    policy = ApprovalPolicy(approvers=["alice"], require_validation_passed=False)
    with pytest.raises(ConfigurationError) as caught:
        client.approvals.request("m:champion", policy=policy)
    assert caught.value.details["field"] == "model"
    assert list(client.approvals.list_pending()) == []


def test_models_local_source_is_loadable_and_lineage_names_the_run(local_store: dict[str, Any]) -> None:
    """models.md: locally `source` is a file:// URI loadable with mlflow.pyfunc; uri is models:/name/N;
    lineage carries the training run id; created_by is set."""
    import mlflow.pyfunc

    version = local_store["version"]
    assert version.uri == "models:/m/1"
    assert version.source.startswith("file://")
    assert version.lineage.training_run_id == local_store["run"].id
    assert version.created_by
    model = mlflow.pyfunc.load_model(version.source)
    assert len(model.predict(eval_frame_from_store(local_store))) == 3


def eval_frame_from_store(local_store: dict[str, Any]) -> Any:
    """Three rows of features for the saved model."""
    import pandas as pd

    return pd.DataFrame({"a": [0.1, 0.2, 0.3], "b": [1.0, 0.0, -1.0], "c": [0.0, 0.0, 0.0]})


def test_cli_models_list_and_alias_of_an_unknown_name_are_errors(
    local_store: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """errors.md: `models list NAME` and `models alias NAME` of a name that names nothing raise
    ResourceNotFoundError listing what exists (exit 1); with -o json, stdout is one JSON document."""
    target = f"local://{local_store['folder']}"
    for args in (["models", "list", "nope"], ["models", "alias", "nope"], ["models", "alias", "nope", "x", "--remove"]):
        code, out, err = cli(capsys, "-t", target, *args, "-o", "json")
        assert code == 1, (args, out, err)
        error = json.loads(out)["error"]
        assert error["type"] == "ResourceNotFoundError"
        assert "m" in error["message"]


# -- validation.md --------------------------------------------------------------------------------


def test_validation_outcomes_and_strict_improvement(assets: dict[str, Path]) -> None:
    """validation.md: no champion -> BeatsChampion passes ('first model'); the candidate is the champion
    -> passes; an identical challenger is not *strictly* better -> not_promoted (a value, not an error)."""
    client = memory_client()
    first = registered(client, assets)
    data = eval_frame(assets)
    report = client.validation.validate(first, data=data, target="y", checks=[BeatsChampion("rmse")])
    assert (report.outcome, report.passed, report.champion) == ("promote", True, None)
    assert "first model" in report.checks[0].message
    client.models.set_alias("m", "champion", first.version)
    same = client.validation.validate(first, data=data, target="y", checks=[BeatsChampion("rmse")])
    assert same.outcome == "promote"
    twin = registered(client, assets)
    report = client.validation.validate(twin, data=data, target="y", checks=[BeatsChampion("rmse")])
    assert (report.outcome, report.passed) == ("not_promoted", False)
    assert report.champion is not None
    assert report.champion.version == "1"
    assert report.checks[0].observed == 0.0
    with pytest.raises(ValidationFailedError) as caught:
        report.raise_for_gate()
    assert caught.value.details["outcome"] == "not_promoted"
    assert caught.value.details["digest"] == report.digest


def test_validation_metric_threshold_bounds_are_inclusive(assets: dict[str, Path]) -> None:
    """validation.md: MetricThreshold passes when min <= value <= max (inclusive)."""
    client = memory_client()
    version = registered(client, assets)
    data = eval_frame(assets)
    probe = client.validation.validate(version, data=data, target="y", checks=[MetricThreshold("rmse", max=100)])
    value = probe.checks[0].observed
    exact = client.validation.validate(
        version, data=data, target="y", checks=[MetricThreshold("rmse", min=value, max=value)]
    )
    assert exact.passed
    below = client.validation.validate(
        version, data=data, target="y", checks=[MetricThreshold("rmse", max=math.nextafter(value, 0))]
    )
    assert below.outcome == "failed"


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: MetricThreshold("r2", mn=0.3), "MetricThreshold.mn"),
        (lambda: MetricThreshold("r2", min=float("nan")), "MetricThreshold.min"),
        (lambda: MetricThreshold("r2", min="high"), "MetricThreshold.min"),
        (lambda: BeatsChampion("rmse", greater_is_better="maybe"), "BeatsChampion.greater_is_better"),
        (lambda: BeatsChampion("rmse", min_delta=float("nan")), "BeatsChampion.min_delta"),
    ],
)
def test_validation_check_arguments_are_refused_naming_class_and_field(build: Any, field: str) -> None:
    """validation.md: a misspelled keyword, a wrong type or a NaN bound is a ConfigurationError naming the
    class and the field."""
    with pytest.raises(ConfigurationError) as caught:
        build()
    assert caught.value.details["field"] == field
    assert field.split(".")[0] in str(caught.value)


def test_validation_check_values_are_read_as_their_types() -> None:
    """validation.md: greater_is_better='no' is False, min='0.3' is 0.3, infinite bounds are allowed,
    not_null= / features= take one column name or several."""
    assert BeatsChampion("rmse", greater_is_better="no").greater_is_better is False
    assert MetricThreshold("r2", min="0.3").min == 0.3
    assert MetricThreshold("r2", min=float("-inf"), max=float("inf")).max == math.inf
    assert DataQuality(not_null="a").not_null == ("a",)
    assert tuple(DataQuality(not_null=["a", "b"]).not_null) == ("a", "b")


def test_validation_unknown_metric_and_missing_columns_are_refused_before_any_check(assets: dict[str, Path]) -> None:
    """validation.md: an unknown metric lists the metrics that exist; data missing a model column names
    the missing columns and the ones the data has; both before any check runs (nothing recorded)."""
    client = memory_client()
    version = registered(client, assets)
    data = eval_frame(assets)
    ran: list[str] = []

    class Spy:
        name = "spy"

        def run(self, context: Any) -> Any:
            ran.append("ran")
            raise AssertionError("must not run")

    with pytest.raises(ConfigurationError) as caught:
        client.validation.validate(version, data=data, target="y", checks=[Spy(), MetricThreshold("nosuch", max=1)])
    assert "rmse" in str(caught.value)
    assert "nosuch" in str(caught.value)
    with pytest.raises(ConfigurationError) as caught:
        client.validation.validate(version, data=data.drop(columns=["a"]), target="y", checks=[Spy()])
    assert caught.value.details["missing"] == ["a"]
    assert "b, c" in str(caught.value)
    assert ran == []
    assert not any(key.startswith("mlops.validation") for key in client.models.get("m", 1).tags)


def test_validation_a_check_that_raises_is_a_failed_check_and_the_others_still_run(assets: dict[str, Path]) -> None:
    """validation.md: a check that raises is a failed check carrying 'ExceptionType: message' (outcome
    failed); the other checks still run and the report is recorded."""
    client = memory_client()
    version = registered(client, assets)

    class Boom:
        name = "boom"

        def run(self, context: Any) -> Any:
            raise RuntimeError("kaput")

    report = client.validation.validate(
        version, data=eval_frame(assets), target="y", checks=[Boom(), MetricThreshold("rmse", max=100)]
    )
    assert report.outcome == "failed"
    assert report.checks[0].error == "RuntimeError: kaput"
    assert report.checks[1].passed
    assert client.models.get("m", 1).tags["mlops.validation.digest"] == report.digest
    with pytest.raises(ValidationFailedError) as caught:
        report.raise_for_gate()
    assert caught.value.details["failed_checks"] == ["boom"]


def test_validation_prepare_refuses_bad_input_before_any_check_runs(assets: dict[str, Path]) -> None:
    """validation.md: an optional prepare(context) runs for every check before any check runs: a
    ConfigurationError raised there stops the validation."""
    client = memory_client()
    version = registered(client, assets)
    ran: list[str] = []

    class Runs:
        name = "runs"

        def run(self, context: Any) -> Any:
            ran.append("ran")

    class Refuses:
        name = "refuses"

        def prepare(self, context: Any) -> None:
            raise ConfigurationError("refuses needs a column 'z'", details={"field": "z"})

        def run(self, context: Any) -> Any:
            ran.append("refuses ran")

    with pytest.raises(ConfigurationError, match="column 'z'"):
        client.validation.validate(version, data=eval_frame(assets), target="y", checks=[Runs(), Refuses()])
    assert ran == []


def test_validation_report_digest_and_json_round_trip(assets: dict[str, Path]) -> None:
    """validation.md: the same validation gives the same digest (not the time); to_json/from_json round
    trip; from_json refuses a report whose content no longer matches its digest."""
    client = memory_client()
    version = registered(client, assets)
    checks = [MetricThreshold("rmse", max=100), DataQuality(min_rows=10, not_null=["a"])]
    one = client.validation.validate(version, data=eval_frame(assets), target="y", checks=checks)
    client.clock.sleep(3600) if hasattr(client, "clock") else None
    two = client.validation.validate(version, data=str(assets["eval"]), target="y", checks=checks)
    assert one.digest == two.digest
    assert one.digest.startswith("sha256:")
    assert ValidationReport.from_json(one.to_json()) == one
    document = json.loads(one.to_json())
    document["outcome"] = "not_promoted"
    with pytest.raises(ConfigurationError, match="digest"):
        ValidationReport.from_json(json.dumps(document))
    for garbage in ("", "not json", "{}", "[]", "null"):
        with pytest.raises(ConfigurationError):
            ValidationReport.from_json(garbage)


def test_validation_data_version_is_the_same_for_frame_csv_and_parquet(assets: dict[str, Path], tmp_path: Path) -> None:
    """validation.md: report.data_versions['evaluation'] is the same 12-hex identity for a DataFrame, its
    Parquet file or a CSV of the same rows."""
    client = memory_client()
    version = registered(client, assets)
    frame = eval_frame(assets)
    frame.to_parquet(tmp_path / "eval.parquet")
    versions = {
        client.validation.validate(
            version, data=data, target="y", checks=[MetricThreshold("rmse", max=100)]
        ).data_versions["evaluation"]
        for data in (frame, str(assets["eval"]), str(tmp_path / "eval.parquet"))
    }
    assert len(versions) == 1
    (only,) = versions
    assert len(only) == 12
    assert all(ch in "0123456789abcdef" for ch in only)


def test_validation_html_report_loads_nothing_from_the_network(assets: dict[str, Path]) -> None:
    """validation.md: to_html is one self-contained page: no scripts, fonts or images from the network."""
    client = memory_client()
    version = registered(client, assets)
    client.models.set_alias("m", "champion", 1)
    twin = registered(client, assets)
    report = client.validation.validate(
        twin,
        data=eval_frame(assets),
        target="y",
        checks=[BeatsChampion("rmse", bootstrap=50), NoDrift(reference=eval_frame(assets))],
    )
    page = report.to_html()
    assert "<svg" in page
    lowered = page.lower()
    assert "<script" not in lowered
    assert "http://" not in lowered.replace("http://www.w3.org", "")
    assert "https://" not in lowered
    assert version.version == "1"


def test_validation_recorded_tags_describe_the_latest_report(assets: dict[str, Path]) -> None:
    """validation.md: with record=True the version gets mlops.validation.* tags (outcome, passed, digest,
    checks, failed, champion) and lineage.validation_digest is the report's digest. Validating again
    records the new report: the tags never mix the failed checks of an older report with a newer
    outcome."""
    client = memory_client()
    version = registered(client, assets)
    data = eval_frame(assets)
    failed = client.validation.validate(version, data=data, target="y", checks=[MetricThreshold("rmse", max=1e-9)])
    tags = client.models.get("m", 1).tags
    assert (tags["mlops.validation.outcome"], tags["mlops.validation.failed"]) == ("failed", "threshold:rmse")
    passed = client.validation.validate(version, data=data, target="y", checks=[MetricThreshold("rmse", max=100)])
    after = client.models.get("m", 1)
    assert after.tags["mlops.validation.outcome"] == "promote"
    assert after.tags["mlops.validation.passed"] == "true"
    assert after.tags["mlops.validation.digest"] == passed.digest != failed.digest
    assert after.lineage.validation_digest == passed.digest
    assert after.tags.get("mlops.validation.failed", "") == ""
    assert client.validation.get_report(passed.digest) == passed


def test_validation_no_record_leaves_the_model_untouched(assets: dict[str, Path]) -> None:
    """validation.md: --no-record / record=False leaves the model untouched."""
    client = memory_client()
    version = registered(client, assets)
    before = client.models.get("m", 1).tags
    client.validation.validate(
        version, data=eval_frame(assets), target="y", checks=[MetricThreshold("rmse", max=100)], record=False
    )
    assert client.models.get("m", 1).tags == before


def test_validation_recorded_tags_on_the_local_store_describe_the_latest_report(local_store: dict[str, Any]) -> None:
    """validation.md (local): the recorded tags are the latest report's; the whole report is kept in
    mlops.db (client.validation.get_report(digest))."""
    client = local_store["client"]
    data = eval_frame_from_store(local_store).assign(y=[0.4, 1.6, -0.1])
    client.validation.validate("m@1", data=data, target="y", checks=[MetricThreshold("rmse", max=1e-12)])
    passed = client.validation.validate("m@1", data=data, target="y", checks=[MetricThreshold("rmse", max=1e6)])
    tags = client.models.get("m", 1).tags
    assert (tags["mlops.validation.outcome"], tags["mlops.validation.digest"]) == ("promote", passed.digest)
    assert tags.get("mlops.validation.failed", "") == ""
    assert client.validation.get_report(passed.digest).digest == passed.digest


def test_validation_data_only_checks_still_refuse_data_the_model_cannot_take(assets: dict[str, Path]) -> None:
    """validation.md: 'Evaluation data missing a column the model takes is a ConfigurationError naming the
    missing columns and the ones the data has' — whichever checks run (a DataQuality-only gate must not
    promote a model on data it cannot score)."""
    client = memory_client()
    version = registered(client, assets)
    data = eval_frame(assets).drop(columns=["b"])
    with pytest.raises(ConfigurationError) as caught:
        client.validation.validate(version, data=data, target="y", checks=[DataQuality(min_rows=1)])
    assert caught.value.details["missing"] == ["b"]
    assert "a, c, y" in str(caught.value)
    assert not any(key.startswith("mlops.validation") for key in client.models.get("m", 1).tags)


# -- approvals.md ---------------------------------------------------------------------------------


def no_report_policy(**fields: Any) -> ApprovalPolicy:
    """A policy that does not ask for a validation report (the tests vote on a bare version)."""
    return ApprovalPolicy(require_validation_passed=False, **fields)


def test_approvals_distinct_people_count_once_and_names_match_case_insensitively(assets: dict[str, Path]) -> None:
    """approvals.md: min_approvals counts distinct people (approving twice counts once); the decision
    carries approvers, votes with comments, the policy and requested/decided times."""
    client = memory_client()
    version = registered(client, assets)
    request = client.approvals.request(version, policy=no_report_policy(approvers=["alice", "bob"], min_approvals=2))
    with act_as(client, "alice"):
        client.approvals.approve(request.id, comment="first look")
        client.approvals.approve(request.id, comment="second look")
    pending = client.approvals.get(request.id)
    assert pending.status == "pending"
    with act_as(client, "BOB"):
        client.approvals.approve(request.id[:8], comment="ok")
    decision = client.approvals.begin_wait(request.id).result()
    assert (decision.status, decision.approved) == ("approved", True)
    assert sorted(name.lower() for name in decision.approvers) == ["alice", "bob"]
    assert [vote.comment for vote in decision.votes] == ["first look", "second look", "ok"]
    assert decision.policy.min_approvals == 2
    assert decision.decided_at >= decision.requested_at
    with act_as(client, "bob"), pytest.raises(ConflictError):
        client.approvals.reject(request.id, comment="too late")


def test_approvals_a_rejection_wins_over_approvals(assets: dict[str, Path]) -> None:
    """approvals.md: a rejection by an allowed approver wins over any number of approvals."""
    client = memory_client()
    version = registered(client, assets)
    policy = no_report_policy(approvers=["alice", "bob", "carol"], min_approvals=3)
    request = client.approvals.request(version, policy=policy)
    with act_as(client, "alice"):
        client.approvals.approve(request.id, comment="fine")
    with act_as(client, "bob"):
        client.approvals.reject(request.id, comment="latency regression")
    decision = client.approvals.begin_wait(request.id).result()
    assert (decision.status, decision.rejected_by) == ("rejected", ("bob",))
    with pytest.raises(ApprovalRejectedError) as caught:
        decision.raise_for_gate()
    assert caught.value.details["status"] == "rejected"


def test_approvals_refused_votes_change_nothing(assets: dict[str, Path]) -> None:
    """approvals.md: the requester may not approve (forbid_self_approval), nor may someone the policy does
    not list; approve/reject ask for a comment; delegation is refused unless allow_delegation."""
    client = memory_client()
    version = registered(client, assets)
    request = client.approvals.request(version, policy=no_report_policy(approvers=["alice"]))
    requester = request.requester
    with act_as(client, requester), pytest.raises(PermissionDeniedError, match="forbid_self_approval"):
        client.approvals.approve(request.id, comment="mine")
    with act_as(client, "mallory"), pytest.raises(PermissionDeniedError, match="not an allowed approver"):
        client.approvals.approve(request.id, comment="let me")
    with act_as(client, "alice"):
        for comment in ("", "   "):
            with pytest.raises(ConfigurationError) as caught:
                client.approvals.approve(request.id, comment=comment)
            assert caught.value.details["field"] == "comment"
    with act_as(client, "mallory"), pytest.raises(MlopsError):
        client.approvals.approve(request.id, comment="for alice", on_behalf_of="alice")
    after = client.approvals.get(request.id)
    assert after.status == "pending"
    assert client.approvals.verify_audit().ok


def test_approvals_failed_validation_blocks_the_request_at_once(assets: dict[str, Path]) -> None:
    """approvals.md: require_validation_passed with a failed report: the decision is 'rejected' at once."""
    client = memory_client()
    version = registered(client, assets)
    report = client.validation.validate(
        version, data=eval_frame(assets), target="y", checks=[MetricThreshold("rmse", max=1e-9)]
    )
    request = client.approvals.request(version, report=report, policy=ApprovalPolicy(approvers=["alice"]))
    decision = client.approvals.begin_wait(request.id).result()
    assert (decision.status, decision.approved) == ("rejected", False)
    assert decision.report_digest == report.digest
    assert list(client.approvals.list_pending()) == []


def test_approvals_timeout_and_auto_approval_on_the_fake_clock(assets: dict[str, Path]) -> None:
    """approvals.md: past the policy's timeout the decision is timed_out (a FakeClock sees it without
    sleeping); an auto_approve_when rule that holds at request time auto-approves (no person asked)."""
    client = memory_client()
    version = registered(client, assets)
    request = client.approvals.request(version, policy=no_report_policy(approvers=["alice"], timeout=timedelta(days=2)))
    decision = client.approvals.begin_wait(request.id).result()
    assert (decision.status, decision.approved) == ("timed_out", False)
    report = client.validation.validate(
        version, data=eval_frame(assets), target="y", checks=[MetricThreshold("rmse", max=100)]
    )
    auto = ApprovalPolicy(approvers=["alice"], auto_approve_when=[AutoApproveRule()])
    request = client.approvals.request(version, report=report, policy=auto)
    decision = client.approvals.begin_wait(request.id).result()
    assert (decision.status, decision.approved) == ("auto_approved", True)


def test_approvals_approve_by_model_reference_needs_exactly_one_pending_request(assets: dict[str, Path]) -> None:
    """approvals.md: approve/reject by model reference: none pending is ResourceNotFoundError, several is a
    ConfigurationError whose details['candidates'] lists their ids; a unique id prefix works."""
    client = memory_client()
    version = registered(client, assets)
    policy = no_report_policy(approvers=["alice"])
    with act_as(client, "alice"), pytest.raises(ResourceNotFoundError):
        client.approvals.approve("m@1", comment="nothing pending")
    one = client.approvals.request(version, policy=policy)
    two = client.approvals.request(version, policy=policy)
    with act_as(client, "alice"), pytest.raises(ConfigurationError) as caught:
        client.approvals.approve("m@1", comment="which one?")
    assert sorted(caught.value.details["candidates"]) == sorted([one.id, two.id])
    assert [request.id for request in client.approvals.list_pending()] == [two.id, one.id]
    with act_as(client, "alice"):
        client.approvals.reject(two.id, comment="not this one")
        client.approvals.approve("m@1", comment="this one")
    assert client.approvals.get(one.id).status == "approved"


def test_approvals_idempotency_key_attaches_to_the_request_already_made(assets: dict[str, Path]) -> None:
    """approvals.md: request(..., idempotency_key=...) re-run attaches to the request it already made."""
    client = memory_client()
    version = registered(client, assets)
    policy = no_report_policy(approvers=["alice"])
    first = client.approvals.request(version, policy=policy, idempotency_key="flow-42/approve")
    again = client.approvals.request(version, policy=policy, idempotency_key="flow-42/approve")
    assert first.id == again.id
    assert len(list(client.approvals.list_pending())) == 1


def test_approvals_decision_tags_describe_the_latest_decision(assets: dict[str, Path]) -> None:
    """approvals.md: the decision is written onto the model version as mlops.approval.* tags (status,
    request_id, approvers, ...) and decisions_for lists every decision; a later decision replaces the
    tags of an earlier one: no tag keeps describing the older decision."""
    client = memory_client()
    version = registered(client, assets)
    policy = no_report_policy(approvers=["alice", "bob"])
    first = client.approvals.request(version, policy=policy)
    with act_as(client, "alice"):
        client.approvals.approve(first.id, comment="ok")
    assert client.models.get("m", 1).tags["mlops.approval.approvers"] == "alice"
    second = client.approvals.request(version, policy=policy)
    with act_as(client, "bob"):
        client.approvals.reject(second.id, comment="drift")
    tags = client.models.get("m", 1).tags
    assert (tags["mlops.approval.status"], tags["mlops.approval.request_id"]) == ("rejected", second.id)
    assert tags["mlops.approval.rejected_by"] == "bob"
    assert tags.get("mlops.approval.approvers", "") == ""
    assert [d.request_id for d in client.approvals.decisions_for("m@1")] == [first.id, second.id] or [
        d.request_id for d in client.approvals.decisions_for("m@1")
    ] == [second.id, first.id]


def test_approvals_load_policy_profiles_and_unknown_keys(tmp_path: Path) -> None:
    """approvals.md: load_policy reads TOML (timeout in seconds); [profiles.<name>] replaces keys for that
    profile; unknown keys are errors naming the file."""
    (tmp_path / "mlops.toml").write_text('target = "memory://"\n[profiles.azure]\n')
    (tmp_path / "approvals.toml").write_text(
        'approvers = ["alice"]\nforbid_self_approval = false\ntimeout = 86400\n'
        '[profiles.azure]\napprovers = ["rm@example.com"]\nforbid_self_approval = true\n'
    )
    client = MLOpsClient.from_config(show_progress=False)
    policy = client.approvals.load_policy("approvals.toml")
    assert (policy.approvers, policy.forbid_self_approval, policy.timeout) == (
        ("alice",),
        False,
        timedelta(days=1),
    )
    azure = MLOpsClient.from_config(profile="azure", show_progress=False).approvals.load_policy("approvals.toml")
    assert (azure.approvers, azure.forbid_self_approval) == (("rm@example.com",), True)
    (tmp_path / "typo.toml").write_text('approvers = ["alice"]\nmin_aprovals = 2\n')
    with pytest.raises(ConfigurationError) as caught:
        client.approvals.load_policy("typo.toml")
    assert "typo.toml" in str(caught.value)
    assert "min_aprovals" in str(caught.value)
    for bad in ("missing.toml", "."):
        with pytest.raises(ConfigurationError):
            client.approvals.load_policy(bad)


def test_approvals_local_audit_log_refuses_edits_and_verify_finds_them(
    assets: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """approvals.md (local): the audit log is append-only (SQLite triggers refuse UPDATE/DELETE);
    `mlops approvals verify` exits 0 when intact and 1 listing each problem when an entry was edited."""
    folder = tmp_path / ".mlops"
    client = MLOpsClient(f"local://{folder}", show_progress=False)
    run = client.training.begin_train(copy_job(assets)).result()
    version = client.models.register(run, name="m")
    me = pwd.getpwuid(os.getuid()).pw_name  # the local voter is the OS account
    policy = no_report_policy(approvers=[me], forbid_self_approval=False)
    request = client.approvals.request(version, policy=policy)
    client.approvals.approve(request.id, comment="ok")
    client.close()
    target = f"local://{folder}"
    code, out, _ = cli(capsys, "-t", target, "approvals", "verify")
    assert code == 0
    assert "intact" in out
    with sqlite3.connect(folder / "mlops.db") as db:
        with pytest.raises(sqlite3.DatabaseError):
            db.execute("DELETE FROM approval_audit")
        with pytest.raises(sqlite3.DatabaseError):
            db.execute("UPDATE approval_audit SET actor = 'mallory'")
    tampering = {
        "deleted": ["DELETE FROM approval_audit WHERE seq = (SELECT MAX(seq) FROM approval_audit)"],
        "edited": ["UPDATE approval_audit SET actor = 'mallory' WHERE seq = 1"],
        "reordered": [
            "UPDATE approval_audit SET seq = -1 WHERE seq = 1",
            "UPDATE approval_audit SET seq = 1 WHERE seq = 2",
            "UPDATE approval_audit SET seq = 2 WHERE seq = -1",
        ],
        "flipped decision": ["UPDATE approval_requests SET status = 'rejected'"],
    }
    for what, statements in tampering.items():
        copy = tmp_path / what.replace(" ", "-")
        shutil.copytree(folder, copy)
        with sqlite3.connect(copy / "mlops.db") as db:
            for (trigger,) in db.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
                db.execute(f'DROP TRIGGER "{trigger}"')
            for statement in statements:
                db.execute(statement)
        code, out, _err = cli(capsys, "-t", f"local://{copy}", "-o", "json", "approvals", "verify")
        assert code == 1, what
        verdict = json.loads(out)
        assert verdict["ok"] is False, what
        assert verdict["problems"], what


# -- flows.md -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flow", "run_id", "step"),
    [
        ("diabetes", "nightly-1", "train"),
        ("Diabetes_Flow-With.A_Very-Long_Name_Indeed", "Run_ID-42." + "X" * 70, "Train_Step.Two"),
        ("x", "1", "s" * 100),
    ],
)
def test_flows_step_keys_follow_the_key_rule(tmp_path: Path, flow: str, run_id: str, step: str) -> None:
    """flows.md: the key per step is <flow>-<run id>-<step>, lowercase [a-z0-9-], at most 63 characters,
    the same on a re-run (which returns the recorded result without running again)."""
    client = MLOpsClient(f"local://{tmp_path / '.mlops'}", show_progress=False)
    keys: list[str] = []

    def action(handle: Any) -> dict[str, int]:
        keys.append(handle.key)
        return {"n": len(keys)}

    with Flow(flow, client=client, run_id=run_id) as first:
        assert first.step(step, action) == {"n": 1}
    with Flow(flow, client=client, run_id=run_id) as again:
        assert again.step(step, action) == {"n": 1}
    (key,) = keys
    assert len(key) <= 63
    assert set(key) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
    assert key.startswith(flow.lower().replace("_", "-").replace(".", "-")[:20])
    assert (first.outcome, again.outcome) == ("completed", "completed")
    client.close()


def test_flows_recorded_pydantic_results_come_back_as_the_same_type(assets: dict[str, Path], tmp_path: Path) -> None:
    """flows.md: finished steps return their recorded result on a re-run (pydantic results come back as
    the same type); a step may return an Operation: the flow waits for its result."""
    client = MLOpsClient(f"local://{tmp_path / '.mlops'}", show_progress=False)
    job = copy_job(assets)
    submitted: list[str] = []

    def train(step: Any) -> Any:
        submitted.append(step.key)
        return client.training.begin_train(job, idempotency_key=step.key)

    with Flow("f", client=client, run_id="r") as flow:
        run = flow.step("train", train)
    with Flow("f", client=client, run_id="r") as flow:
        again = flow.step("train", train)
    assert type(again) is type(run)
    assert (again.id, again.status) == (run.id, run.status)
    assert len(submitted) == 1
    assert len(list(client.training.list_runs())) == 1
    client.close()


def test_flows_gate_stops_cleanly_and_skips_the_rest(assets: dict[str, Path]) -> None:
    """flows.md: a gate that does not pass skips the rest of the with block; flow.outcome is
    not_promoted / failed / rejected, a value, not a crash."""
    client = memory_client()
    version = registered(client, assets)
    client.models.set_alias("m", "champion", 1)
    twin = registered(client, assets)
    after: list[str] = []
    with Flow("gates", client=client, run_id="r") as flow:
        flow.gate(
            "validate",
            lambda step: client.validation.validate(
                twin, data=eval_frame(assets), target="y", checks=[BeatsChampion("rmse")]
            ),
        )
        after.append("ran")
    assert (flow.outcome, after) == ("not_promoted", [])
    request = client.approvals.request(version, policy=no_report_policy(approvers=["alice"]))
    with act_as(client, "alice"):
        client.approvals.reject(request.id, comment="no")
    with Flow("gates2", client=client, run_id="r") as flow:
        flow.gate("approve", lambda step: client.approvals.begin_wait(request.id))
        after.append("ran")
    assert (flow.outcome, after) == ("rejected", [])


def test_flows_dry_run_runs_nothing_and_lists_the_plan(tmp_path: Path) -> None:
    """flows.md: Flow(..., dry_run=True) runs nothing and lists in flow.plan the side effect of each step."""
    client = MLOpsClient("memory://", show_progress=False)
    ran: list[str] = []
    with Flow("d", client=client, run_id="r", dry_run=True) as flow:
        flow.step("a", lambda step: ran.append("a"), describe="refresh the sales data")
        flow.step("b", lambda step: ran.append("b"))
    assert ran == []
    assert [(effect.step, effect.key) for effect in flow.plan] == [("a", "d-r-a"), ("b", "d-r-b")]
    assert flow.plan[0].description == "refresh the sales data"


def test_flows_finish_skips_the_rest_with_its_outcome() -> None:
    """flows.md: flow.finish('up_to_date') makes that the outcome and skips the rest of the block."""
    client = MLOpsClient("memory://", show_progress=False)
    ran: list[str] = []
    with Flow("n", client=client, run_id="r") as flow:
        flow.finish("up_to_date")
        ran.append("after")
    assert (flow.outcome, ran) == ("up_to_date", [])


_KILLED_FLOW = """\
import os, signal, sys
from mlops_sdk import MLOpsClient
from mlops_sdk.flows import Flow

client = MLOpsClient(sys.argv[1], show_progress=False)
with Flow("crash", client=client, run_id="r1") as flow:
    flow.step("first", lambda step: "done")
    def second(step):
        print(step.key, step.attempt, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    flow.step("second", second)
"""


def test_flows_a_step_in_flight_when_killed_runs_again_with_the_same_key(tmp_path: Path) -> None:
    """flows.md: kill a flow at any moment and run it again with the same run id: finished steps return
    their result without running, the step in flight runs again with the same key and attempt 2."""
    script = tmp_path / "killed.py"
    script.write_text(_KILLED_FLOW)
    target = f"local://{tmp_path / '.mlops'}"
    killed = subprocess.run(
        [sys.executable, str(script), target], capture_output=True, text=True, timeout=120, check=False
    )
    assert killed.returncode == -signal.SIGKILL
    key, attempt = killed.stdout.split()
    assert attempt == "1"
    client = MLOpsClient(target, show_progress=False)
    seen: list[tuple[str, str, int]] = []
    with Flow("crash", client=client, run_id="r1") as flow:
        first = flow.step("first", lambda step: seen.append(("first", step.key, step.attempt)))
        flow.step("second", lambda step: seen.append(("second", step.key, step.attempt)))
    assert first == "done"
    assert seen == [("second", key, 2)]
    assert flow.outcome == "completed"
    client.close()


def test_flows_ci_helpers_outside_ci_and_on_github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """flows.md: outside CI set_output is a no-op returning False and detect_ci() is None; on GitHub
    Actions set_output appends to $GITHUB_OUTPUT (multi-line safe) and add_summary to
    $GITHUB_STEP_SUMMARY."""
    assert detect_ci() is None
    assert set_output("flow_outcome", "completed") is False
    output, summary = tmp_path / "out", tmp_path / "summary"
    output.write_text("")
    summary.write_text("")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert detect_ci() == "github_actions"
    assert set_output("flow_outcome", "not_promoted") is not False
    tricky = "line one\nEOF\nflow_outcome=hijacked\n"
    set_output("notes", tricky)
    add_summary("## Validation\n| a | b |")
    parsed = parse_github_output(output.read_text())
    assert parsed == {"flow_outcome": "not_promoted", "notes": tricky}
    assert "## Validation" in summary.read_text()


def parse_github_output(text: str) -> dict[str, str]:
    """Read a $GITHUB_OUTPUT file the way the runner does (name=value, or name<<DELIM ... DELIM)."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body: list[str] = []
            while lines[index] != delimiter:
                body.append(lines[index])
                index += 1
            index += 1
            values[name] = "\n".join(body)
        else:
            name, value = line.split("=", 1)
            values[name] = value
    return values


def test_flows_two_steps_of_one_run_never_share_a_key() -> None:
    """flows.md: 'an idempotency key per step': a second step with a name already used in this run
    (or one whose key would be the same, 'Train' / 'train') is refused instead of silently returning the
    first step's recorded result or re-attaching to its side effect."""
    client = MLOpsClient("memory://", show_progress=False)
    ran: list[str] = []
    with Flow("f", client=client, run_id="r", journal_dir=".journal") as flow:
        assert flow.step("train", lambda step: ran.append(step.key) or 1) == 1
        for clash in ("train", "Train", "TRAIN"):
            with pytest.raises(ConfigurationError) as caught:
                flow.step(clash, lambda step: ran.append(step.key) or 2)
            assert caught.value.details["field"] == "name"
            assert "train" in str(caught.value)
    assert ran == ["f-r-train"]


@pytest.mark.parametrize("run_id", ["", "   ", "a\nb", "nightly\x00"])
def test_flows_a_blank_or_control_character_run_id_is_refused(run_id: str) -> None:
    """flows.md: re-running with the same run id resumes that run; errors.md: a blank string or one
    holding a control character is refused. An empty run id (an unset variable) must not silently start
    a fresh run that can never be resumed."""
    with pytest.raises(ConfigurationError) as caught:
        Flow("f", client=MLOpsClient("memory://", show_progress=False), run_id=run_id, journal_dir=".journal")
    assert caught.value.details["field"] == "run_id"
    assert not Path(".journal").exists()


def test_flows_a_step_that_raised_may_be_tried_again_in_the_same_run() -> None:
    """flows.md: a step that failed is not recorded as done: calling it again (same name, same key) runs
    it again, as attempt 2."""
    client = MLOpsClient("memory://", show_progress=False)
    attempts: list[int] = []

    def flaky(step: Any) -> str:
        attempts.append(step.attempt)
        if len(attempts) == 1:
            raise RuntimeError("transient")
        return "ok"

    with Flow("f", client=client, run_id="r", journal_dir=".journal") as flow:
        with pytest.raises(RuntimeError):
            flow.step("fetch", flaky)
        assert flow.step("fetch", flaky) == "ok"
    assert attempts == [1, 2]


# -- data-factory.md ------------------------------------------------------------------------------

_SALES_TOML = """\
[pipelines.sales]
parameters = { min_amount = { type = "float", default = 0.0 }, label = { type = "string", default = "x" }, \
token = { type = "securestring" } }

[[pipelines.sales.activities]]
type = "copy"
name = "raw"
source = "data/sales/*.csv"

[[pipelines.sales.activities]]
type = "sql"
name = "clean"
query = "SELECT id, amount, $label AS label FROM raw WHERE amount >= $min_amount ORDER BY id"
"""


@pytest.fixture
def sales_project(tmp_path: Path) -> Path:
    """A project folder: mlops.toml on local://.mlops, pipelines.toml declaring 'sales', three CSV rows."""
    (tmp_path / "mlops.toml").write_text('target = "local://.mlops"\n')
    (tmp_path / "pipelines.toml").write_text(_SALES_TOML)
    (tmp_path / "data" / "sales").mkdir(parents=True)
    (tmp_path / "data" / "sales" / "a.csv").write_text("id,amount\n1,5.0\n2,15.0\n3,25.0\n")
    return tmp_path


def test_data_factory_local_refresh_snapshots_keys_and_secrets(
    sales_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """data-factory.md (local): outputs are content-addressed Parquet at datasets/<2 hex>/<sha256>.parquet,
    version = first 12 hex of the digest, identical refreshes give the same digest and one file; a key
    re-attaches to its run; a securestring shows *** in the run, is *** in mlops.db and absent from the
    worker log; SQL parameters are prepared, never pasted into the SQL."""
    store = sales_project / ".mlops"
    with MLOpsClient.from_config(show_progress=False) as client:
        injection = "x' AS label FROM raw; DROP TABLE raw; --"
        params = {"min_amount": 10.0, "token": CANARY, "label": injection}
        run = client.data_factory.begin_refresh("sales", parameters=params, idempotency_key="nightly-1").result()
        again = client.data_factory.begin_refresh("sales", parameters=params, idempotency_key="nightly-1").result()
        other = client.data_factory.begin_refresh("sales", parameters={**params, "token": "x" * 8}).result()
        assert again.run_id == run.run_id != other.run_id
        clean = run.output("clean")
        assert clean.row_count == 2
        assert clean.version == clean.digest.removeprefix("sha256:")[:12]
        path = Path(clean.uri)
        assert path.parent.name == path.name[:2]
        assert path.parent.parent == store / "datasets"
        assert other.output("clean").digest == clean.digest
        assert str(run.parameters["token"]) == "***"
        import pyarrow.parquet as pq

        assert pq.read_table(path).column("label").to_pylist() == [injection, injection]
        listed = [r.run_id for r in client.data_factory.list_runs("sales")]
        assert listed == [other.run_id, run.run_id]
    assert len(list((store / "datasets").rglob("*.parquet"))) == 2
    assert contains_canary(store) == []
    code, out, _ = cli(capsys, "data", "show", run.run_id, "-o", "json")
    assert code == 0
    assert CANARY not in out
    assert json.loads(out)["parameters"]["token"] == "***"


@pytest.mark.parametrize(
    ("parameters", "named"),
    [
        ({"min_amount": "abc", "token": "t" * 8}, "min_amount"),
        ({"min_amount": float("nan"), "token": "t" * 8}, "min_amount"),
        ({"min_amount": float("inf"), "token": "t" * 8}, "min_amount"),
        ({"min_amount": True, "token": "t" * 8}, "min_amount"),
        ({"nope": 1, "token": "t" * 8}, "nope"),
        ({"min_amount": 1.0}, "token"),
        ({"mlops_request_id": "x", "token": "t" * 8}, "mlops_request_id"),
    ],
)
def test_data_factory_parameters_are_checked_before_a_run_starts(
    sales_project: Path, parameters: dict[str, Any], named: str
) -> None:
    """data-factory.md: begin_refresh checks the parameters against the declared types (a required one
    missing, an unknown one, a wrong type) before it starts a run; errors.md: a NaN or infinite number
    is refused."""
    with MLOpsClient.from_config(show_progress=False) as client:
        with pytest.raises(ConfigurationError) as caught:
            client.data_factory.begin_refresh("sales", parameters=parameters)
        assert named in str(caught.value)
        assert list(client.data_factory.list_runs()) == []


def test_data_factory_failures_name_the_activity_and_unknowns_are_not_found(tmp_path: Path) -> None:
    """data-factory.md: a failed run raises OperationFailedError naming the failed activity and its
    error, details['failed_activities'] carries it as data; get_run of an unknown id is
    ResourceNotFoundError; triggers on the local backend are a ConfigurationError; a malformed
    declaration names each bad field."""
    (tmp_path / "data.csv").write_text("id\n1\n")
    with MLOpsClient(f"local://{tmp_path / '.mlops'}", show_progress=False) as client:
        client.data_factory.define(
            RefreshPipeline(
                name="bad",
                activities=[
                    Copy(name="raw", source=str(tmp_path / "data.csv")),
                    Sql(name="Boom", query="SELECT nosuch FROM raw"),
                ],
            )
        )
        with pytest.raises(OperationFailedError) as caught:
            client.data_factory.begin_refresh("bad").result()
        assert "'Boom'" in str(caught.value)
        (failed,) = caught.value.details["failed_activities"]
        assert failed["name"] == "Boom"
        assert "nosuch" in failed["error"]["message"]
        with pytest.raises(ResourceNotFoundError):
            client.data_factory.get_run("no-such-run")
        with pytest.raises(ConfigurationError):
            client.data_factory.create_trigger("nightly", "bad", schedule=Schedule(frequency="Day", hours=(2,)))
    for build, field in (
        (lambda: Sql(name="a b", query="SELECT 1"), "SqlActivity.name"),
        (
            lambda: RefreshPipeline(
                name="x", activities=[Sql(name="a", query="SELECT 1"), Sql(name="a", query="SELECT 2")]
            ),
            "RefreshPipeline",
        ),
        (lambda: RefreshPipeline(name="x", activities=[]), "RefreshPipeline"),
    ):
        with pytest.raises(ConfigurationError) as bad:
            build()
        assert bad.value.details["field"] == field


def test_cli_data_refresh_converts_params_and_refuses_non_finite_ones(
    sales_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """data-factory.md: `mlops data refresh --param k=v` converts values to the declared types; errors.md:
    NaN / infinite numbers are refused (exit 1, one JSON error document, no run started)."""
    for value in ("nan", "inf", "-inf", "ten"):
        code, out, _ = cli(
            capsys,
            "data",
            "refresh",
            "sales",
            "--param",
            f"min_amount={value}",
            "--param",
            "token=abcdefgh",
            "-o",
            "json",
        )
        assert code == 1, value
        error = json.loads(out)["error"]
        assert error["type"] == "ConfigurationError"
        assert "min_amount" in error["message"]
    code, out, _ = cli(capsys, "data", "runs", "-o", "json")
    assert (code, json.loads(out)) == (0, [])
    code, out, _ = cli(
        capsys,
        "data",
        "refresh",
        "sales",
        "--param",
        "min_amount=20",
        "--param",
        f"token={CANARY}",
        "--wait",
        "-o",
        "json",
    )
    assert code == 0
    assert CANARY not in out
    run = json.loads(out)
    assert run["parameters"]["min_amount"] == 20.0
    assert run["status"] == "Succeeded"


@pytest.mark.parametrize(
    ("kind", "default"),
    [
        ("float", float("nan")),
        ("float", float("inf")),
        ("float", "abc"),
        ("int", 1.5),
        ("int", True),
        ("bool", "yes"),
        ("array", "a,b"),
        ("string", 5),
    ],
)
def test_data_factory_a_default_of_the_wrong_type_is_a_malformed_declaration(kind: str, default: Any) -> None:
    """data-factory.md: 'A malformed declaration raises ConfigurationError naming each bad field': a
    default that is not a value of the declared type (or a NaN / infinite float) is one."""
    with pytest.raises(ConfigurationError) as caught:
        RefreshPipeline(
            name="p",
            parameters={"level": {"type": kind, "default": default}},
            activities=[Sql(name="a", query="SELECT $level AS v")],
        )
    assert "level" in str(caught.value)
    assert caught.value.details["field"].startswith("RefreshPipeline")


# -- training.md ----------------------------------------------------------------------------------


def test_training_local_run_layout_key_and_secrets(local_store: dict[str, Any]) -> None:
    """training.md (local): each run lives in <store>/runs/<run id>/ (code/, outputs/<name>/,
    logs/stdout.log, logs/stderr.log, launch.json, result.json); a key starts the run at most once;
    secret environment variables (by name: *_TOKEN) show as *** and are never stored (secrets.md:
    mlops.db, mlflow.db, run folders)."""
    client, folder, run = local_store["client"], local_store["folder"], local_store["run"]
    run_folder = folder / "runs" / run.id
    for part in ("code/train.py", "logs/stdout.log", "logs/stderr.log", "launch.json", "result.json"):
        assert (run_folder / part).is_file(), part
    assert (run_folder / "outputs" / "model" / "MLmodel").is_file()
    assert "copied the model" in (run_folder / "logs" / "stdout.log").read_text()
    job = local_store["job"]
    assert CANARY not in repr(job)
    assert "***" in repr(job.environment_variables["SERVICE_TOKEN"])
    again = client.training.begin_train(job, idempotency_key="promises-train-1").result()
    assert again.id == run.id
    assert [r.id for r in client.training.list_runs()] == [run.id]
    assert contains_canary(folder) == []
    assert CANARY not in again.model_dump_json()


def test_training_failure_carries_exit_code_and_log_tail(local_store: dict[str, Any], tmp_path: Path) -> None:
    """training.md (local): exit code 0 is SUCCEEDED, anything else FAILED; OperationFailedError carries
    the exit code and the last 20 log lines; sys.exit(3) -> exit code 3."""
    client = local_store["client"]
    code = tmp_path / "code"
    code.mkdir()
    (code / "fail.py").write_text("import sys\nfor i in range(30):\n    print(f'line {i:02d}')\nsys.exit(3)\n")
    operation = client.training.begin_train(TrainingJob(code=str(code), command="python fail.py"))
    with pytest.raises(OperationFailedError) as caught:
        operation.result()
    message = str(caught.value)
    assert "line 29" in message
    assert "line 05" not in message
    run = client.training.get_run(operation.id)
    assert (run.status, run.exit_code) == ("Failed", 3)


def test_training_specs_are_checked_before_submission(assets: dict[str, Path], tmp_path: Path) -> None:
    """training.md: a placeholder naming no declared input/output is a ConfigurationError naming it, before
    anything is submitted; on local an input path that does not exist says where it came from
    (details['origin']); a misspelled TrainingJob keyword names the field (errors.md)."""
    client = MLOpsClient(f"local://{tmp_path / '.mlops'}", show_progress=False)
    with pytest.raises(ConfigurationError) as caught:
        client.training.begin_train(
            TrainingJob(code=str(assets["code"]), command="python train.py ${{inputs.train_data}}")
        )
    assert "train_data" in str(caught.value)
    with pytest.raises(ConfigurationError) as caught:
        client.training.begin_train(
            TrainingJob(
                code=str(assets["code"]),
                command="python train.py ${{inputs.data}}",
                inputs={"data": "no/such/train.csv"},
            )
        )
    assert "no/such/train.csv" in str(caught.value)
    assert "working directory" in caught.value.details["origin"]
    with pytest.raises(ConfigurationError) as caught:
        TrainingJob(code=str(assets["code"]), command="python train.py", enviroment_variables={})
    assert "environment_variables" in str(caught.value)
    with pytest.raises(ResourceNotFoundError):
        client.training.get_run("train-doesnotexist")
    assert list(client.training.list_runs()) == []
    client.close()


# -- configuration.md -----------------------------------------------------------------------------

_BAD_PROFILES = """\
target = "local://.mlops"
profile = "dev"

[profiles.dev]
show_progress = true

[profiles.prod]
targt = "local://prod"
retry_deadline = "soon"
devops_pat = "{canary}"
notify_webhook = "http://hooks.example.com/{canary}"

[profiles.ci]
credentail = "auto"
"""


def test_configuration_every_profile_is_checked_and_secrets_never_quoted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """configuration.md: the whole file is checked, every profile whichever is selected; all problems in
    one ConfigurationError, details['problems'] with file/profile/key/problem/suggestion/message/fix;
    secret settings' values are never quoted; `mlops -o json` prints them; `mlops doctor` shows one
    failed check with a fix: line per problem and exits 1."""
    (tmp_path / "mlops.toml").write_text(_BAD_PROFILES.format(canary=CANARY))
    (tmp_path / "sub").mkdir()
    os.chdir(tmp_path / "sub")  # found in the nearest parent
    with pytest.raises(ConfigurationError) as caught:
        MLOpsClient.from_config()
    problems = caught.value.details["problems"]
    assert {(p["profile"], p["key"]) for p in problems} == {
        ("prod", "targt"),
        ("prod", "retry_deadline"),
        ("prod", "notify_webhook"),
        ("ci", "credentail"),
    }
    by_key = {p["key"]: p for p in problems}
    assert by_key["targt"]["suggestion"] == "target"
    assert by_key["credentail"]["suggestion"] == "credential"
    assert all(p["file"] == str(tmp_path / "mlops.toml") for p in problems)
    assert all(set(p) >= {"file", "profile", "key", "problem", "suggestion", "message", "fix"} for p in problems)
    assert "soon" in by_key["retry_deadline"]["message"]
    assert CANARY not in str(caught.value)
    assert CANARY not in repr(caught.value.to_dict())
    code, out, err = cli(capsys, "-o", "json", "config", "show")
    assert code == 1
    assert len(json.loads(out)["error"]["details"]["problems"]) == 4
    code, out, err = cli(capsys, "doctor")
    assert code == 1
    assert out.count("fix:") + err.count("fix:") >= 4
    assert "rename 'targt' to 'target'" in out + err
    assert CANARY not in out + err


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[profile.prod]\ntarget = "local://x"\n', "profile"),
        ('[profiles.prod]\nprofile = "dev"\n', "profile"),
        ("[profiles.prod.azure]\nx = 1\n", "azure"),
        ('profile = "nope"\n[profiles.prod]\n', "profile"),
        ("[weird]\nx = 1\n", "weird"),
        ("profiles = 3\n", "profiles"),
        ("retry_deadline = -5\n", "retry_deadline"),
        ("retry_deadline = nan\n", "retry_deadline"),
        ("retry_max_attempts = 0\n", "retry_max_attempts"),
        ("poll_interval = -1.0\n", "poll_interval"),
        ("poll_max_interval = inf\n", "poll_max_interval"),
        ("connect_timeout = nan\n", "connect_timeout"),
        ('show_progress = "maybe"\n', "show_progress"),
    ],
)
def test_configuration_bad_files_name_the_key(tmp_path: Path, toml: str, key: str) -> None:
    """configuration.md: misplaced tables, a profile inside a profile, a top-level profile naming nothing,
    and values the setting would refuse (its own checks: a deadline, attempt count or interval that is
    NaN, infinite, zero or negative can never work) are each a problem naming the key."""
    (tmp_path / "mlops.toml").write_text('target = "local://.mlops"\n' + toml)
    with pytest.raises(ConfigurationError) as caught:
        MLOpsClient.from_config()
    assert [p["key"] for p in caught.value.details["problems"]] == [key]


def test_configuration_precedence_profiles_and_relative_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """configuration.md: arguments > MLOPS_* > file > defaults; the profile by profile=, else MLOPS_PROFILE,
    else the file's profile key; a requested profile must exist; a relative local:// folder resolves
    against the config file's folder, so a notebook in a sub-folder uses the project's store."""
    (tmp_path / "mlops.toml").write_text(
        'target = "local://.mlops"\nprofile = "dev"\nretry_max_attempts = 3\n'
        "[profiles.dev]\nretry_max_attempts = 4\n[profiles.prod]\nretry_max_attempts = 5\n"
    )
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    from mlops_sdk.core.config import load_config

    assert load_config().settings.retry_max_attempts == 4
    monkeypatch.setenv("MLOPS_PROFILE", "prod")
    assert load_config().settings.retry_max_attempts == 5
    monkeypatch.setenv("MLOPS_RETRY_MAX_ATTEMPTS", "6")
    assert load_config().settings.retry_max_attempts == 6
    assert load_config({"retry_max_attempts": 7}).settings.retry_max_attempts == 7
    monkeypatch.setenv("MLOPS_RETRY_MAX_ATTEMPTS", "many")
    with pytest.raises(ConfigurationError) as caught:
        load_config()
    assert "MLOPS_RETRY_MAX_ATTEMPTS" in str(caught.value)
    monkeypatch.delenv("MLOPS_RETRY_MAX_ATTEMPTS")
    with pytest.raises(ConfigurationError, match="staging"):
        load_config(profile="staging")
    with MLOpsClient.from_config(show_progress=False) as client:
        assert client.models.list_models() is not None
    assert (tmp_path / ".mlops").is_dir()
    assert not (tmp_path / "notebooks" / ".mlops").exists()


@pytest.mark.parametrize(
    ("target", "hint"),
    [("local:/x", "local:///x"), ("locl://x", "local"), (".mlops", "scheme")],
)
def test_configuration_bad_targets_propose_the_intended_uri(tmp_path: Path, target: str, hint: str) -> None:
    """configuration.md: a target without a scheme is refused as such; 'local:/x' proposes 'local:///x';
    an unknown scheme proposes the closest one."""
    with pytest.raises(ConfigurationError) as caught:
        MLOpsClient(target).models.list_models()
    assert hint in str(caught.value)
    assert not (tmp_path / "x").exists()


def test_configuration_local_backend_takes_no_backend_table(tmp_path: Path) -> None:
    """configuration.md: the local and memory backends take no per-backend keys (a [backends.local] table
    is an error naming it)."""
    (tmp_path / "mlops.toml").write_text('target = "local://.mlops"\n[backends.local]\nfolder = "x"\n')
    with pytest.raises(ConfigurationError) as caught:
        MLOpsClient.from_config(show_progress=False).models.list_models()
    assert "backends.local" in str(caught.value)


# -- lineage.md -----------------------------------------------------------------------------------


def _git(folder: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True, timeout=60)


def test_lineage_git_facts_with_credentials_stripped_and_ci_variables_winning(
    assets: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """lineage.md: git commit, dirty flag, branch and remote (credentials stripped) come from git — for a
    training run, the job's code folder; CI variables win for commit and branch; user is the CI
    requester; Lineage.to_tags()/from_tags() round-trip; nothing of the remote's password is kept."""
    code = tmp_path / "repo"
    code.mkdir()
    (code / "train.py").write_text(_COPY_SCRIPT)
    _git(code, "init", "-q")
    _git(code, "-c", "user.email=a@example.com", "-c", "user.name=a", "add", "train.py")
    _git(code, "-c", "user.email=a@example.com", "-c", "user.name=a", "commit", "-qm", "first")
    _git(code, "remote", "add", "origin", f"https://user:{CANARY}@example.com/org/repo.git")
    (code / "train.py").write_text(_COPY_SCRIPT + "# edited\n")
    job = TrainingJob(
        code=str(code),
        command=f"python train.py {assets['model']} ${{{{outputs.model}}}}",
        outputs={"model": "mlflow_model"},
    )
    client = memory_client()
    lineage = client.training.begin_train(job).result().lineage
    assert lineage.git_dirty is True
    assert lineage.git_remote == "https://example.com/org/repo.git"
    assert lineage.git_commit is not None
    assert len(lineage.git_commit) == 40
    assert Lineage.from_tags(lineage.to_tags()) == lineage
    for name, value in {
        "GITHUB_ACTIONS": "true",
        "GITHUB_RUN_ID": "777",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "org/repo",
        "GITHUB_RUN_ATTEMPT": "2",
        "GITHUB_WORKFLOW": "train",
        "GITHUB_ACTOR": "octocat",
        "GITHUB_SHA": "abc123def",
        "GITHUB_REF_NAME": "feature-x",
    }.items():
        monkeypatch.setenv(name, value)
    run = client.training.begin_train(job).result()
    ci = client.models.register(run, name="m").lineage
    assert (ci.ci_provider, ci.ci_build_id, ci.ci_pipeline, ci.user) == ("github_actions", "777", "train", "octocat")
    assert (ci.git_commit, ci.git_branch) == ("abc123def", "feature-x")
    assert "777" in (ci.ci_build_url or "")
    assert ci.training_run_id == run.id
    assert CANARY not in repr(ci) + repr(lineage) + json.dumps(ci.to_tags())


# -- errors.md ------------------------------------------------------------------------------------


def test_errors_carry_their_fields_pickle_round_trip_and_redact_secrets() -> None:
    """errors.md: every error carries backend, operation_id, status_code, request_id, details and the
    chained cause; redaction happens when the error is built (message, ids, every string in details);
    errors pickle and serialise (to_dict / error_from_dict)."""
    import pickle

    from mlops_sdk.core.errors import error_from_dict

    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    cause = ValueError("underlying")
    try:
        try:
            raise cause
        except ValueError as inner:
            raise ResourceNotFoundError(
                f"no run; token {token}",
                backend="local",
                operation_id=f"op {token}",
                status_code=404,
                request_id="req-1",
                details={"nested": [f"Bearer {token}", {"k": token}]},
            ) from inner
    except ResourceNotFoundError as caught:
        error = caught
    assert error.__cause__ is cause
    assert (error.backend, error.status_code, error.request_id) == ("local", 404, "req-1")
    for shown in (str(error), repr(error), json.dumps(error.to_dict()), error.operation_id):
        assert token not in shown
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is ResourceNotFoundError
    assert str(again) == str(error)
    rebuilt = error_from_dict(error.to_dict())
    assert type(rebuilt) is ResourceNotFoundError
    assert rebuilt.details == error.details


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.models.get("churn", None), "version"),
        (lambda c: c.models.get("churn", 1, verison=2), "verison"),
        (lambda c: c.models.get("churn", -1), "version"),
        (lambda c: c.models.get("churn", True), "version"),
        (lambda c: c.models.get("", 1), "name"),
        (lambda c: c.models.get("ch\nurn", 1), "name"),
        (lambda c: c.models.list_versions(3), "name"),
        (lambda c: c.models.set_tags("churn", 1, {1: "x"}), "tags"),
        (lambda c: c.training.begin_train(None), "job"),
        (lambda c: c.training.list_runs(limit=float("nan")), "limit"),
        (lambda c: c.data_factory.begin_refresh("sales", idempotency_key="bad key!"), "idempotency_key"),
        (lambda c: c.approvals.list_pending(requester=""), "requester"),
        (lambda c: c.validation.validate("churn@1", checks=[], record="yes"), "record"),
    ],
)
def test_errors_bad_arguments_are_refused_before_anything_runs(call: Any, field: str) -> None:
    """errors.md: a wrong type, blank or control-character string, NaN / negative number, unknown keyword
    or bad idempotency key is a ConfigurationError naming the method and parameter; details['field'] is
    the parameter's name; memory:// state is unchanged."""
    client = memory_client()
    with pytest.raises(ConfigurationError) as caught:
        call(client)
    assert caught.value.details["field"] == field
    assert field in str(caught.value)
    assert list(client.models.list_models()) == []


def test_errors_operation_wait_timeout_is_checked_even_once_finished(assets: dict[str, Path]) -> None:
    """errors.md: Operation.wait/result(timeout=) take None or a finite number >= 0, also once the work has
    finished."""
    client = memory_client()
    operation = client.training.begin_train(copy_job(assets))
    operation.result()
    for bad in (float("nan"), float("inf"), -1, "10", True):
        with pytest.raises(ConfigurationError) as caught:
            operation.result(timeout=bad)
        assert caught.value.details["field"] == "timeout"
    assert operation.result(timeout=0).status == "Succeeded"


def test_errors_a_refused_call_leaves_the_local_store_as_it_was(
    local_store: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """errors.md: a call refused with an MlopsError leaves the local store as it was: the same files (no
    *.tmp) and the same rows in mlops.db and mlflow.db."""
    client, folder = local_store["client"], local_store["folder"]
    before = (files_of(folder), rows_of(folder / "mlops.db"), rows_of(folder / "mlflow.db"))
    refusals = [
        lambda: client.models.register(local_store["run"], name="m", output="nope"),
        lambda: client.models.register("train-nope", name="x"),
        lambda: client.models.set_alias("m", "latest", 1),
        lambda: client.models.set_alias("m", "champion", 99),
        lambda: client.models.set_tags("m", 1, {}),
        lambda: client.approvals.request("m@1", policy=ApprovalPolicy(approvers=["a"])),
        lambda: client.approvals.request("m:champion", policy=no_report_policy(approvers=["a"])),
        lambda: client.validation.validate("m@1", data=Path("no-such.csv"), checks=[MetricThreshold("rmse", max=1)]),
        lambda: client.training.begin_train(TrainingJob(code="no/such/folder", command="python x.py")),
    ]
    for refuse in refusals:
        with pytest.raises(MlopsError):
            refuse()
    for args in (
        ["models", "alias", "m", "v1", "1"],
        ["validate", "m@1", "--data", "nope.csv", "--checks", "nope.toml"],
        ["models", "register", "train-nope", "--name", "m"],
    ):
        code, _, _ = cli(capsys, "-t", f"local://{folder}", *args)
        assert code == 1, args
    assert files_of(folder) == before[0]
    for database, rows in zip(("mlops.db", "mlflow.db"), before[1:], strict=True):
        now = rows_of(folder / database)
        # A component's tables are created (empty) the first time it is used: no record is added.
        created = {table: count for table, count in now.items() if table not in rows and table != "schema_versions"}
        assert created == dict.fromkeys(created, 0), database
        assert {table: now[table] for table in rows if table != "schema_versions"} == {
            table: count for table, count in rows.items() if table != "schema_versions"
        }, database


# -- validation.md / getting-started.md: `mlops validate` -----------------------------------------

_CHECKS_TOML = """\
target = "y"
champion = "champion"

[[checks]]
type = "MetricThreshold"
metric = "rmse"
max = {max}

[[checks]]
type = "BeatsChampion"
metric = "rmse"
"""


def test_cli_validate_exit_codes_reports_and_no_record(
    local_store: dict[str, Any], assets: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """validation.md / getting-started.md: `mlops validate` exits 0 (promote), 3 (not better than the
    champion) or 1 (a check failed); --report writes HTML, Markdown or JSON by suffix; -o json prints the
    report; --no-record leaves the model untouched."""
    client, folder = local_store["client"], local_store["folder"]
    target = f"local://{folder}"
    twin_run = client.training.begin_train(copy_job(assets), idempotency_key="promises-train-2").result()
    twin = client.models.register(twin_run, name="m")
    assert twin.version == "2"
    assert cli(capsys, "-t", target, "models", "alias", "m", "champion", "1")[0] == 0
    data = tmp_path / "eval.csv"
    eval_frame(assets).to_csv(data, index=False)
    (tmp_path / "checks.toml").write_text(_CHECKS_TOML.format(max=100))
    (tmp_path / "strict.toml").write_text(_CHECKS_TOML.format(max=1e-9))
    base = ["-t", target, "validate"]
    code, out, _ = cli(capsys, *base, "m@1", "--data", str(data), "--checks", "checks.toml", "--report", "r.html")
    assert code == 0
    page = (tmp_path / "r.html").read_text()
    assert page.lstrip().lower().startswith(("<!doctype html", "<html"))
    code, out, _ = cli(capsys, *base, "m@2", "--data", str(data), "--checks", "checks.toml", "--report", "r.md")
    assert code == 3
    assert "not" in (tmp_path / "r.md").read_text().lower()
    tags_before = client.models.get("m", 2).tags
    code, out, _ = cli(
        capsys,
        *base,
        "m@2",
        "--data",
        str(data),
        "--checks",
        "strict.toml",
        "--report",
        "r.json",
        "--no-record",
        "-o",
        "json",
    )
    assert code == 1
    printed = json.loads(out)
    assert printed["outcome"] == "failed"
    assert ValidationReport.from_json((tmp_path / "r.json").read_text()).digest == printed["digest"]
    assert client.models.get("m", 2).tags == tags_before


@pytest.mark.parametrize(
    ("checks", "named"),
    [
        ('[[checks]]\ntype = "MetricThreshold"\nmetric = "rmse"\nmaxx = 1\n', "maxx"),
        ('[[checks]]\ntype = "NoSuchCheck"\n', "NoSuchCheck"),
        ('targett = "y"\n[[checks]]\ntype = "MetricThreshold"\nmetric = "rmse"\nmax = 1\n', "targett"),
        ("[[checks]]\nmetric = 1\n", "type"),
    ],
)
def test_cli_validate_bad_checks_files_name_the_file_and_entry(
    local_store: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], checks: str, named: str
) -> None:
    """validation.md: unknown keys and check types are errors naming the file, the entry and what is
    accepted (exit 1, one JSON error document, nothing recorded)."""
    (tmp_path / "checks.toml").write_text(checks)
    data = tmp_path / "eval.csv"
    data.write_text("a,b,c,y\n1,2,3,4\n")
    before = local_store["client"].models.get("m", 1).tags
    code, out, _ = cli(
        capsys,
        "-t",
        f"local://{local_store['folder']}",
        "validate",
        "m@1",
        "--data",
        str(data),
        "--checks",
        "checks.toml",
        "-o",
        "json",
    )
    assert code == 1
    error = json.loads(out)["error"]
    assert error["type"] == "ConfigurationError"
    assert "checks.toml" in error["message"]
    assert named in error["message"]
    assert local_store["client"].models.get("m", 1).tags == before


def test_cli_json_output_is_one_document_and_usage_errors_exit_2(tmp_path: Path) -> None:
    """README / errors.md: with -o json (before or after the subcommand) stdout is exactly one JSON
    document, errors included, no traceback; usage errors exit 2 as type UsageError with details.usage
    and details.param; the real `python -m mlops_sdk.cli` process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def mlops(*args: str) -> tuple[int, Any, str]:
        done = subprocess.run(
            [sys.executable, "-m", "mlops_sdk.cli", "-t", "memory://", *args],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            cwd=tmp_path,
            check=False,
        )
        return done.returncode, json.loads(done.stdout), done.stderr

    code, document, err = mlops("models", "show", "nope@1", "-o", "json")
    assert code == 1
    assert document["error"]["type"] == "ResourceNotFoundError"
    assert set(document["error"]) >= {"type", "message", "backend", "operation_id", "status_code", "request_id"}
    assert "Traceback" not in err
    code, document, _ = mlops("-o", "json", "train", "runs", "--limit", "0")
    assert code == 2
    assert document["error"]["type"] == "UsageError"
    assert document["error"]["details"]["param"] == "--limit"
    assert document["error"]["details"]["usage"].startswith("Usage: mlops")


# -- getting-started.md ---------------------------------------------------------------------------

_INIT_FILES = {
    ".gitignore",
    "README.md",
    "approvals.toml",
    "checks.toml",
    "data/diabetes.csv",
    "first_look.py",
    "flow.py",
    "job.yaml",
    "mlops.toml",
    "pipelines.toml",
    "sample-request.json",
    "train.py",
}


def test_init_writes_the_project_never_overwrites_and_refuses_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """getting-started.md: `mlops init` writes the listed files; never overwrites a file (--force does);
    --from-example diabetes names the only example; errors.md: it writes every file or none, and refuses a
    FOLDER that is a file before writing anything."""
    code, out, _ = cli(capsys, "init", "proj")
    assert code == 0
    assert files_of(tmp_path / "proj") == _INIT_FILES
    assert "wrote 12 files" in out
    (tmp_path / "proj" / "train.py").write_text("# mine\n")
    code, _, err = cli(capsys, "init", "proj")
    assert code == 1
    assert "--force" in err
    assert (tmp_path / "proj" / "train.py").read_text() == "# mine\n"
    assert cli(capsys, "init", "proj", "--force")[0] == 0
    assert (tmp_path / "proj" / "train.py").read_text() != "# mine\n"
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "mlops.toml").write_text("# mine\n")
    assert cli(capsys, "init", "partial")[0] == 1
    assert files_of(tmp_path / "partial") == {"mlops.toml"}
    (tmp_path / "afile").write_text("x")
    code, out, _ = cli(capsys, "-o", "json", "init", "afile")
    assert code == 1
    assert json.loads(out)["error"]["details"]["field"] == "FOLDER"
    assert (tmp_path / "afile").read_text() == "x"
    assert cli(capsys, "init", "other", "--from-example", "nope")[0] == 1
    assert not (tmp_path / "other").exists()
    assert cli(capsys, "init", "named", "--from-example", "diabetes")[0] == 0
    assert files_of(tmp_path / "named") == _INIT_FILES


def test_hub_subclients_share_one_backend_and_standalone_clients_work(tmp_path: Path) -> None:
    """getting-started.md: MLOpsClient is a hub whose sub-clients are created on first access (the same
    one after); it is a context manager; each sub-client is constructible on its own, e.g.
    TrainingClient('local://.mlops'); errors.md: a local:// folder holding a control character is refused."""
    from mlops_sdk import ModelClient, TrainingClient

    with MLOpsClient(f"local://{tmp_path / '.mlops'}", show_progress=False) as client:
        assert client.models is client.models
        assert list(client.models.list_models()) == []
    training = TrainingClient(f"local://{tmp_path / '.mlops'}")
    models = ModelClient(f"local://{tmp_path / '.mlops'}")
    assert list(training.list_runs()) == []
    assert list(models.list_models()) == []
    with pytest.raises(ConfigurationError) as caught:
        TrainingClient("local://" + str(tmp_path / "a\x00b"))
    assert caught.value.details["field"] == "target"


def test_approvals_wait_logs_once_who_may_approve_and_the_command(
    assets: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    """approvals.md: when begin_wait starts on a pending request it logs once, at WARNING on
    mlops_sdk.clients.approvals, who may approve and the exact command (with -t TARGET when the client
    got it as an argument)."""
    client = memory_client()
    version = registered(client, assets)
    request = client.approvals.request(
        version, policy=no_report_policy(approvers=["dana@contoso.com"], timeout=timedelta(hours=1))
    )
    with caplog.at_level("WARNING", logger="mlops_sdk.clients.approvals"):
        assert client.approvals.begin_wait(request.id).result().status == "timed_out"
    lines = [r.getMessage() for r in caplog.records if r.name == "mlops_sdk.clients.approvals"]
    assert len(lines) == 1
    assert all(r.levelname == "WARNING" for r in caplog.records if r.name == "mlops_sdk.clients.approvals")
    assert "dana@contoso.com" in lines[0]
    assert f'mlops -t memory:// approvals approve {request.id} -m "why you approve"' in lines[0]


def test_approvals_devops_provider_on_a_local_target_is_refused(tmp_path: Path) -> None:
    """approvals.md: approvals_provider = 'devops' on a local:// target is a ConfigurationError naming
    approvals_provider."""
    (tmp_path / "mlops.toml").write_text('target = "local://.mlops"\napprovals_provider = "devops"\n')
    with pytest.raises(ConfigurationError, match="approvals_provider"):
        MLOpsClient.from_config(show_progress=False).approvals.list_pending()


def test_cli_approvals_ids_and_prefixes_round_trip(
    local_store: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """approvals.md / README: every id the CLI prints is accepted back, as is a unique prefix of at least
    4 characters; tables print ids whole; a prefix matching nothing is ResourceNotFoundError (exit 1)."""
    client, target = local_store["client"], f"local://{local_store['folder']}"
    me = pwd.getpwuid(os.getuid()).pw_name
    request = client.approvals.request(
        "m@1", policy=no_report_policy(approvers=[me], forbid_self_approval=False), reason="weekly ünïcode retrain"
    )
    code, out, _ = cli(capsys, "-t", target, "approvals", "list")
    assert code == 0
    assert request.id in out
    code, out, _ = cli(capsys, "-t", target, "-o", "json", "approvals", "show", request.id[:4])
    assert code == 0
    assert json.loads(out)["id"] == request.id
    code, out, _ = cli(capsys, "-t", target, "approvals", "approve", request.id[:8], "-m", "reviewed ✓")
    assert code == 0
    assert client.approvals.get(request.id).status == "approved"
    code, out, _ = cli(capsys, "-t", target, "-o", "json", "approvals", "show", "ffff0000")
    assert code == 1
    assert json.loads(out)["error"]["type"] == "ResourceNotFoundError"


def test_data_versions_are_one_identity_across_refresh_validation_and_retrain(
    sales_project: Path, assets: dict[str, Path]
) -> None:
    """getting-started.md / validation.md: the data version is one identity everywhere: a validation of
    the refresh output, its Parquet path, its DataFrame or a CSV of the same rows records the version the
    refresh printed; flows.md: decide_retrain does not retrain on a snapshot the champion was trained
    on, and wait_all returns the runs in the order given, failed ones returned, not raised."""
    import pandas as pd

    from mlops_sdk.flows import decide_retrain

    with MLOpsClient.from_config(show_progress=False) as client:
        client.data_factory.define(
            RefreshPipeline(name="evaluation", activities=[Copy(name="clean", source=str(assets["eval"]))])
        )
        clean = client.data_factory.begin_refresh("evaluation").result().output("clean")
        frame = pd.read_parquet(clean.uri)
        frame.to_csv(sales_project / "clean.csv", index=False)
        from mlops_sdk.checks import CheckContext, CheckResult

        class Rows:
            name = "rows"

            def run(self, context: CheckContext) -> CheckResult:
                return CheckResult(name=self.name, passed=True, observed=len(context.data.frame))

        memory = memory_client()
        version = registered(memory, assets)
        seen = {
            memory.validation.validate(version, data=data, checks=[Rows()], record=False).data_versions["evaluation"]
            for data in (clean, clean.uri, frame, str(sales_project / "clean.csv"))
        }
        assert seen == {clean.version}
        decision = decide_retrain(clean, reference=clean.uri, reference_version=clean.version)
        assert decision.retrain is False
        client.data_factory.define(
            RefreshPipeline(name="broken", activities=[Sql(name="bad", query="SELECT nosuch FROM nowhere")])
        )
        operations = [
            client.data_factory.begin_refresh("broken"),
            client.data_factory.begin_refresh("sales", parameters={"token": "t" * 8}),
        ]
        finished = client.data_factory.wait_all(operations)
        assert [r.pipeline for r in finished] == ["broken", "sales"]
        assert [r.status for r in finished] == ["Failed", "Succeeded"]


_ACTIVITIES = """\
import os, time


def slow(inputs, parameters):
    time.sleep(60)
    return inputs["raw"]


def once_flag_exists(inputs, parameters):
    if not os.path.exists(parameters["flag"]):
        raise RuntimeError("the flag file is not there yet")
    return inputs["raw"]
"""


def test_data_factory_local_cancel_and_rerun_from_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """data-factory.md (local): cancel asks and returns, the run ends Cancelled (OperationCanceledError from
    result()); begin_rerun reuses the snapshots of the activities that succeeded (output['reusedFrom']);
    README: a rerun of a run with secret parameters needs a new refresh (the values are not kept)."""
    from mlops_sdk import OperationCanceledError, Python

    (tmp_path / "activities_for_promises.py").write_text(_ACTIVITIES)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "d.csv").write_text("id,v\n1,2\n")
    flag = tmp_path / "flag"
    with MLOpsClient(f"local://{tmp_path / '.mlops'}", show_progress=False) as client:
        raw = Copy(name="raw", source=str(tmp_path / "d.csv"))
        client.data_factory.define(
            RefreshPipeline(name="slow", activities=[raw, Python(name="slow", function="activities_for_promises:slow")])
        )
        flaky = Python(name="flaky", function="activities_for_promises:once_flag_exists")
        client.data_factory.define(
            RefreshPipeline(name="flaky", parameters={"flag": {"type": "string"}}, activities=[raw, flaky])
        )
        client.data_factory.define(
            RefreshPipeline(
                name="secret",
                parameters={"flag": {"type": "string"}, "token": {"type": "securestring"}},
                activities=[raw, flaky],
            )
        )
        slow = client.data_factory.begin_refresh("slow")
        client.data_factory.cancel(slow.id)
        with pytest.raises(OperationCanceledError):
            slow.result()
        assert client.data_factory.get_run(slow.id).native_status == "Cancelled"
        failed = client.data_factory.begin_refresh("flaky", parameters={"flag": str(flag)})
        with pytest.raises(OperationFailedError, match="'flaky'"):
            failed.result()
        secret = client.data_factory.begin_refresh("secret", parameters={"flag": str(flag), "token": CANARY})
        with pytest.raises(OperationFailedError):
            secret.result()
        flag.write_text("")
        rerun = client.data_factory.begin_rerun(failed.id).result()
        assert rerun.status == "Succeeded"
        outputs = {activity.name: activity.output for activity in rerun.activities}
        assert outputs["raw"]["reusedFrom"] == failed.id
        with pytest.raises(ConfigurationError, match="secret"):
            client.data_factory.begin_rerun(secret.id)
    assert contains_canary(tmp_path / ".mlops") == []


def test_training_timeout_fails_the_run_as_timed_out(local_store: dict[str, Any], tmp_path: Path) -> None:
    """training.md: timeout (seconds): the run is stopped and fails, native status TimedOut."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "sleepy.py").write_text("import time\nprint('sleeping', flush=True)\ntime.sleep(120)\n")
    operation = local_store["client"].training.begin_train(
        TrainingJob(code=str(code), command="python sleepy.py", timeout=1)
    )
    with pytest.raises(OperationFailedError, match="timeout"):
        operation.result()
    run = local_store["client"].training.get_run(operation.id)
    assert (run.status, run.native_status) == ("Failed", "TimedOut")


def test_flows_azure_devops_outputs_cannot_inject_logging_commands(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """flows.md: on Azure DevOps set_output writes ##vso[task.setvariable ...;isOutput=true] and
    mask_secret ##vso[task.setsecret]; a value holding a newline or ']' must not start a second
    logging command, and a secret output is marked issecret."""
    monkeypatch.setenv("TF_BUILD", "True")
    monkeypatch.setenv("BUILD_BUILDID", "42")
    assert detect_ci() == "azure_devops"
    capsys.readouterr()
    set_output("notes", "ok\n##vso[task.setvariable variable=EVIL]pwned;x]y\r\n")
    set_output("token", CANARY, secret=True)
    mask_secret("two\nlines")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert all(line.startswith("##vso[") for line in lines)
    assert lines[0].startswith("##vso[task.setvariable variable=notes;isOutput=true]")
    assert "EVIL]" not in lines[0]
    assert "issecret=true" in lines[1]
    assert lines[2].startswith("##vso[task.setsecret]")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(min_size=0, max_size=40))
def test_models_any_name_is_registered_and_found_or_refused_naming_the_field(
    assets: dict[str, Path], name: str
) -> None:
    """models.md / errors.md (property): any string as a model name is either refused with a
    ConfigurationError whose details['field'] is 'name' (nothing registered), or registered so that
    get, resolve('name@1') and ModelRef round-trip find that same version."""
    client = memory_client()
    run = client.training.begin_train(copy_job(assets)).result()
    try:
        version = client.models.register(run, name=name)
    except ConfigurationError as error:
        assert error.details["field"] == "name"
        assert list(client.models.list_models()) == []
        return
    assert client.models.get(name, 1) == version
    assert client.models.resolve(f"{name}@1") == version
    assert str(ModelRef.parse(f"{name}@1")) == f"{name}@1"


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(st.text(max_size=30), st.from_regex(r"(models:/|azureml:)?[\w.-]{0,12}[@:/][\w.-]{0,8}")))
def test_model_ref_parse_refuses_or_round_trips(text: str) -> None:
    """models.md (property): ModelRef.parse either raises ConfigurationError naming the field, or gives a
    reference that parses back from its MLflow URI, and from its short form str(ref) whenever the name
    and alias fit the short form (the registries' URI forms allow more characters)."""
    try:
        ref = ModelRef.parse(text, field="model")
    except ConfigurationError as error:
        assert error.details["field"] == "model"
        return
    assert ref.name
    assert (ref.version is None) != (ref.alias is None)
    assert ModelRef.parse(ref.mlflow_uri) == ref
    if not text.strip().startswith(("models:/", "azureml:")):
        assert ModelRef.parse(str(ref)) == ref


def test_cli_models_output_json_before_or_after_the_subcommand(
    local_store: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """models.md / README: -o json works before or after the subcommand (the same document), and
    `mlops models show` takes name@3 and name:alias."""
    target = f"local://{local_store['folder']}"
    before = cli(capsys, "-t", target, "-o", "json", "models", "list")
    after = cli(capsys, "-t", target, "models", "list", "-o", "json")
    assert before[0] == after[0] == 0
    assert json.loads(before[1]) == json.loads(after[1])
    assert {row["name"] for row in json.loads(before[1])} == {"m"}
    local_store["client"].models.set_alias("m", "challenger", 1)
    by_alias = json.loads(cli(capsys, "-t", target, "models", "show", "m:challenger", "-o", "json")[1])
    by_version = json.loads(cli(capsys, "-t", target, "models", "show", "m@1", "-o", "json")[1])
    assert by_alias["version"] == by_version["version"] == "1"


def test_cli_train_and_register_accept_unique_id_prefixes(
    local_store: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """training.md / models.md: `mlops train show` and `mlops models register` take a unique prefix of a
    run id; registering the same run output again gives back the existing version; an unknown id is
    ResourceNotFoundError (exit 1)."""
    target, run = f"local://{local_store['folder']}", local_store["run"]
    prefix = run.id[: len("train-") + 6]
    code, out, _ = cli(capsys, "-t", target, "-o", "json", "train", "show", prefix)
    assert code == 0
    assert json.loads(out)["id"] == run.id
    code, out, _ = cli(capsys, "-t", target, "-o", "json", "models", "register", prefix, "--name", "m")
    assert code == 0
    assert (json.loads(out)["name"], json.loads(out)["version"]) == ("m", "1")
    code, out, _ = cli(capsys, "-t", target, "-o", "json", "train", "show", "train-ffffffffffff")
    assert code == 1
    assert json.loads(out)["error"]["type"] == "ResourceNotFoundError"


def test_flows_journal_never_stores_a_secret_a_step_returned_or_raised(tmp_path: Path) -> None:
    """flows.md: the journal is `flow_steps` in the local store; secrets.md: secrets are never written to
    mlops.db. A step that returns a secret (by shape, or a registered Secret's value) or raises an
    error quoting one leaves no trace of it in the store; on a re-run such a step runs again under the
    same key instead of reading the secret back, and a plain result is still restored."""
    store = tmp_path / ".mlops"
    client = MLOpsClient(f"local://{store}", show_progress=False)
    connection = f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={CANARY}=="
    registered_value = Secret(CANARY + "-registered").get_secret_value()
    ran: list[str] = []

    def returns(value: Any) -> Any:
        def action(step: Any) -> Any:
            ran.append(step.step)
            return value

        return action

    def raises(step: Any) -> Any:
        raise RuntimeError(f"could not connect with {connection}")

    for _attempt in range(2):
        with Flow("secrets", client=client, run_id="r1") as flow:
            assert flow.step("conn", returns(connection)) == connection
            assert flow.step("nested", returns({"url": connection})) == {"url": connection}
            assert flow.step("registered", returns(registered_value)) == registered_value
            assert flow.step("plain", returns({"rows": 3})) == {"rows": 3}
            with pytest.raises(RuntimeError):
                flow.step("boom", raises)
    assert ran == ["conn", "nested", "registered", "plain", "conn", "nested", "registered"]
    client.close()
    assert contains_canary(store) == []


def test_secret_shaped_free_text_is_stored_and_shown_masked(
    local_store: dict[str, Any], assets: dict[str, Path]
) -> None:
    """README / secrets by type: values shaped like connection strings are stored as *** and shown as ***
    everywhere, and mlops.db / mlflow.db never hold them: in a training job's tags, description and
    display name, a model version's description and tags (register and set_tags), an approval's reason,
    votes and cancel comment (kept forever in the audit log)."""
    client, folder = local_store["client"], local_store["folder"]
    secret = f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={CANARY}=="
    job = copy_job(assets, tags={"source": secret}, description=f"reads {secret}", display_name=f"run {secret}")
    assert CANARY not in repr(job)
    run = client.training.begin_train(job).result()
    version = client.models.register(run, name="masked", description=f"model of {secret}", tags={"conn": secret})
    client.models.set_tags("masked", version.version, {"again": secret})
    me = pwd.getpwuid(os.getuid()).pw_name
    policy = no_report_policy(approvers=[me], forbid_self_approval=False)
    approved = client.approvals.request(version, policy=policy, reason=f"because {secret}", idempotency_key="sx-1")
    client.approvals.approve(approved.id, comment=f"checked {secret}")
    canceled = client.approvals.request(version, policy=policy, reason="second", idempotency_key="sx-2")
    client.approvals.cancel(canceled.id, comment=f"withdrawn {secret}")
    shown = [
        repr(run),
        repr(client.models.get("masked", version.version)),
        repr(client.approvals.get(approved.id)),
        repr(client.approvals.get(canceled.id)),
    ]
    assert all(CANARY not in text for text in shown)
    assert "AccountKey=***" in client.models.get("masked", version.version).tags["conn"]
    assert client.approvals.verify_audit().ok
    assert contains_canary(folder) == []


def test_configuration_pyproject_config_file_and_config_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """configuration.md: [tool.mlops] in pyproject.toml gets the same checks as mlops.toml; MLOPS_CONFIG /
    config_file= name the file, and one that is a folder or not UTF-8 text is refused naming it
    (errors.md); `mlops config show` prints every value with its source, secrets masked."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.mlops]\ntarget = "memory://"\ntargt = 1\n')
    with pytest.raises(ConfigurationError) as caught:
        MLOpsClient.from_config()
    assert [(p["key"], p["suggestion"]) for p in caught.value.details["problems"]] == [("targt", "target")]
    assert "pyproject.toml" in str(caught.value)
    (tmp_path / "pyproject.toml").write_text('[tool.mlops]\ntarget = "memory://"\nretry_max_attempts = 5\n')
    (tmp_path / "folder.toml").mkdir()
    (tmp_path / "latin1.toml").write_bytes('target = "local://caf\xe9"\n'.encode("latin-1"))
    for bad in ("folder.toml", "latin1.toml"):
        with pytest.raises(ConfigurationError) as caught:
            MLOpsClient.from_config(config_file=bad)
        assert bad in str(caught.value)
    monkeypatch.setenv("MLOPS_DEVOPS_PAT", CANARY)
    code, out, err = cli(capsys, "-o", "json", "config", "show")
    assert code == 0
    settings = json.loads(out)["settings"]
    assert settings["retry_max_attempts"] == {"source": settings["retry_max_attempts"]["source"], "value": "5"}
    assert "pyproject.toml" in settings["retry_max_attempts"]["source"]
    assert "MLOPS_DEVOPS_PAT" in settings["devops_pat"]["source"]
    code, text, _ = cli(capsys, "config", "show")
    assert code == 0
    assert CANARY not in out + err + text
    assert "***" in text


def test_data_factory_pipelines_toml_errors_and_define_wins(sales_project: Path) -> None:
    """data-factory.md: a malformed declaration in pipelines.toml raises ConfigurationError naming each bad
    field; a pipeline registered with define() wins over one of the same name in pipelines.toml; an
    unknown pipeline is ResourceNotFoundError listing the known ones."""
    with MLOpsClient.from_config(show_progress=False) as client:
        with pytest.raises(ResourceNotFoundError) as caught:
            client.data_factory.begin_refresh("nope")
        assert "sales" in str(caught.value)
        client.data_factory.define(
            RefreshPipeline(name="sales", activities=[Sql(name="clean", query="SELECT 42 AS answer")])
        )
        run = client.data_factory.begin_refresh("sales").result()
        assert run.output("clean").row_count == 1
        assert run.output("clean").columns[0].name == "answer"
    (sales_project / "pipelines.toml").write_text(
        '[pipelines.broken]\n[[pipelines.broken.activities]]\ntype = "sql"\nname = "clean"\n'
        '[[pipelines.broken.activities]]\ntype = "copy"\nname = "raw"\nsorce = "x.csv"\n'
    )
    with MLOpsClient.from_config(show_progress=False) as client, pytest.raises(ConfigurationError) as caught:
        client.data_factory.begin_refresh("broken")
    message = str(caught.value)
    assert "query" in message
    assert "sorce" in message


def test_cli_validate_report_must_be_writable_and_nothing_partial_is_left(
    local_store: dict[str, Any], assets: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """errors.md: --report must be writable (not a folder, no parent that is a file), checked before any
    work; a command that fails leaves no *.tmp / *.partial file in the working folder or the store."""
    folder = local_store["folder"]
    data = tmp_path / "eval.csv"
    eval_frame(assets).to_csv(data, index=False)
    (tmp_path / "checks.toml").write_text(_CHECKS_TOML.format(max=100))
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "a-file").write_text("x")
    tags = local_store["client"].models.get("m", 1).tags
    for report in ("a-folder", "a-file/report.html"):
        code, out, _ = cli(
            capsys,
            "-t",
            f"local://{folder}",
            "-o",
            "json",
            "validate",
            "m@1",
            "--data",
            str(data),
            "--checks",
            "checks.toml",
            "--report",
            report,
        )
        assert code in (1, 2), report
        error = json.loads(out)["error"]
        assert "--report" in error["message"] + json.dumps(error["details"])
    assert local_store["client"].models.get("m", 1).tags == tags
    leftovers = [p for p in [*tmp_path.rglob("*"), *folder.rglob("*")] if p.suffix in (".tmp", ".partial")]
    assert leftovers == []


def test_operation_timeout_carries_the_token_and_the_work_keeps_running(assets: dict[str, Path]) -> None:
    """errors.md / README: OperationTimeoutError carries the continuation token; a timeout never stops
    the work; client.resume_operation(token) picks it up (memory:// fault injection keeps the run going)."""
    from mlops_sdk import OperationTimeoutError
    from mlops_sdk.testing import faults

    client = memory_client()
    faults(client).hang("training.run")
    operation = client.training.begin_train(copy_job(assets))
    with pytest.raises(OperationTimeoutError) as caught:
        operation.result(timeout=30)
    token = caught.value.details["continuation_token"]
    assert json.loads(token)["id"] == operation.id
    assert operation.status() == "Running"
    faults(client).release("training.run")
    assert client.resume_operation(token).result(timeout=5).status == "Succeeded"


def test_approvals_github_cannot_hold_more_than_one_approval(
    monkeypatch: pytest.MonkeyPatch, assets: dict[str, Path]
) -> None:
    """approvals.md: GitHub lets a deployment proceed after one required reviewer approves, so request()
    refuses a policy with min_approvals > 1 (ConfigurationError on policy.min_approvals), before anything
    is sent."""
    monkeypatch.setenv("GITHUB_RUN_ID", "123")
    monkeypatch.setenv("GITHUB_REPOSITORY", "org/repo")
    monkeypatch.setenv("GITHUB_API_URL", "https://127.0.0.1:9")  # nothing listens: a request would fail
    monkeypatch.setenv("MLOPS_GITHUB_TOKEN", "ghp_" + "x" * 36)
    client = MLOpsClient("memory://", show_progress=False, approvals_provider="github", clock=FakeClock())
    version = registered(client, assets)
    with pytest.raises(ConfigurationError) as caught:
        client.approvals.request(version, policy=no_report_policy(approvers=["a", "b"], min_approvals=2))
    assert caught.value.details["field"] == "policy.min_approvals"


def test_training_yaml_paths_and_refresh_inputs_carry_their_origin(
    sales_project: Path, assets: dict[str, Path]
) -> None:
    """training.md: relative paths of a YAML spec resolve against the file; a missing input path says where
    it came from (declared in the file, resolved against its folder; details['origin']); with_inputs(
    data=refresh output) brings the data version and refresh run id into the run's lineage."""
    jobs = sales_project / "jobs"
    (jobs / "code").mkdir(parents=True)
    (jobs / "code" / "train.py").write_text(_COPY_SCRIPT)
    (jobs / "job.yaml").write_text(
        "code: code\n"
        f"command: python train.py {assets['model']} ${{{{outputs.model}}}} ${{{{inputs.data}}}}\n"
        "inputs:\n  data: data/train.csv\n"
        "outputs:\n  model: mlflow_model\n"
    )
    job = TrainingJob.from_yaml(str(jobs / "job.yaml"))
    with MLOpsClient.from_config(show_progress=False) as client:
        with pytest.raises(ConfigurationError) as caught:
            client.training.begin_train(job)
        origin = caught.value.details["origin"]
        assert "data/train.csv" in origin
        assert str(jobs / "job.yaml") in origin
        assert list(client.training.list_runs()) == []
        refresh = client.data_factory.begin_refresh("sales", parameters={"token": "t" * 8}).result()
        clean = refresh.output("clean")
        run = client.training.begin_train(job.with_inputs(data=clean)).result()
        assert run.lineage.refresh_run_id == refresh.run_id
        assert clean.version in run.lineage.data_versions.values()


@pytest.mark.parametrize(
    "data",
    [
        "",
        "   ",
        "azureml://datastores/lake/paths/eval.csv",
        "https://example.com/eval.csv",
        "s3://b/eval.csv",
        ".",
        "train.py",
        42,
        b"bytes",
    ],
)
def test_validation_bad_data_names_the_argument(assets: dict[str, Path], data: Any) -> None:
    """validation.md / errors.md: data= is checked by the method itself with the same error as any
    argument (ConfigurationError, details['field'] == 'data'); the local and memory backends read local
    files and DataFrames only and say so for any other URI; nothing is recorded."""
    client = memory_client()
    version = registered(client, assets)
    Path("train.py").write_text("print('not data')\n")
    with pytest.raises(ConfigurationError) as caught:
        client.validation.validate(version, data=data, target="y", checks=[MetricThreshold("rmse", max=9)])
    assert caught.value.details["field"] == "data"
    assert str(caught.value).startswith("data:")
    if isinstance(data, str) and not data.strip():
        assert "empty" in str(caught.value)  # not "cannot read .": the user named no file
    assert not any(key.startswith("mlops.validation") for key in client.models.get("m", 1).tags)


def test_approvals_a_report_of_another_version_never_opens_the_gate(assets: dict[str, Path]) -> None:
    """approvals.md: the gate judges the version under validation: require_validation_passed and
    auto-approve rules read the request's report, whose digest the decision carries. A passed report of
    another version (or another model) is refused (ConfigurationError on report), not auto-approved."""
    client = memory_client()
    first = registered(client, assets)
    second = registered(client, assets)
    other = registered(client, assets, "other")
    report = client.validation.validate(
        first, data=eval_frame(assets), target="y", checks=[MetricThreshold("rmse", max=9)]
    )
    policy = ApprovalPolicy(approvers=["alice"], auto_approve_when=[AutoApproveRule()])
    for target in (second, other, "m@2"):
        with pytest.raises(ConfigurationError) as caught:
            client.approvals.request(target, report=report, policy=policy)
        assert caught.value.details["field"] == "report"
        assert "m@1" in str(caught.value)
    assert client.approvals.decisions_for("m@2") == []
    assert list(client.approvals.list_pending()) == []
    own = client.approvals.request(first, report=report, policy=policy)
    assert own.decision is not None
    assert own.decision.status == "auto_approved"


def test_data_factory_outputs_and_their_lineage(sales_project: Path) -> None:
    """data-factory.md: every activity's result is an output named after it; run.output() without a name
    is the last activity's; str(output) is its uri; run.lineage.data_versions records every output's
    version; get_run gives the same outputs; an unknown output name is an error naming the known ones."""
    with MLOpsClient.from_config(show_progress=False) as client:
        run = client.data_factory.begin_refresh("sales", parameters={"token": "t" * 8}).result()
        assert set(run.outputs) == {"raw", "clean"}
        assert run.output().name == "clean"
        assert str(run.output("raw")) == run.output("raw").uri
        assert {run.outputs[name].version for name in run.outputs} <= set(run.lineage.data_versions.values())
        again = client.data_factory.get_run(run.run_id)
        assert {name: output.digest for name, output in again.outputs.items()} == {
            name: output.digest for name, output in run.outputs.items()
        }
        with pytest.raises(MlopsError) as caught:
            run.output("nope")
        assert "clean" in str(caught.value)


def test_cli_data_runs_status_is_a_usage_error_when_not_a_status(
    sales_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """errors.md: a value of the wrong type or out of range is a usage error (exit 2, type UsageError,
    details.param names the option), for `data runs --status` and `approvals list --status` alike;
    `mlops data runs --status Failed` filters by the SDK's status."""
    for command in (["data", "runs"], ["approvals", "list"]):
        code, out, _ = cli(capsys, "-o", "json", *command, "--status", "Bogus")
        assert code == 2, command
        error = json.loads(out)["error"]
        assert (error["type"], error["details"]["param"]) == ("UsageError", "--status")
    assert cli(capsys, "data", "refresh", "sales", "--param", "token=abcdefgh", "--wait")[0] == 0
    code, out, _ = cli(capsys, "-o", "json", "data", "runs", "--pipeline", "sales", "--status", "Failed")
    assert (code, json.loads(out)) == (0, [])
    code, out, _ = cli(capsys, "-o", "json", "data", "runs", "--status", "Succeeded")
    assert [run["status"] for run in json.loads(out)] == ["Succeeded"]


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["data", "refresh", "sales", "--key", "bad key!"], "--key"),
        (["data", "refresh", " "], "PIPELINE"),
        (["train", "runs", "--experiment", ""], "--experiment"),
        (["models", "list", ""], "NAME"),
        (["models", "alias", "m", "bad alias", "1"], "ALIAS"),
        (["validate", "m@1", "--data", "nope.csv", "--checks", "checks.toml"], "--data"),
        (["approvals", "approve", "abcd", "-m", " "], "--comment"),
    ],
)
def test_cli_errors_name_the_flags_not_the_python_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], flag: str
) -> None:
    """getting-started.md / validation.md: at the command line errors name the command's flags (`pass
    --data ...`, `--data: no such file ...`), not the Python arguments (exit 1, details.flag)."""
    (tmp_path / "checks.toml").write_text('[[checks]]\ntype = "MetricThreshold"\nmetric = "rmse"\nmax = 1\n')
    code, out, _ = cli(capsys, "-t", "memory://", "-o", "json", *args)
    assert code == 1
    error = json.loads(out)["error"]
    assert error["type"] == "ConfigurationError"
    assert flag in error["message"] or error["details"].get("flag") == flag
    for python_name in ("idempotency_key", "list_runs", "list_versions", ": experiment", "Client."):
        assert python_name not in error["message"]


def test_lineage_azure_devops_build_facts_and_a_valid_build_url(
    assets: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """lineage.md: on Azure DevOps ci_build_id, ci_build_url (from SYSTEM_COLLECTIONURI and
    SYSTEM_TEAMPROJECT), ci_pipeline (BUILD_DEFINITIONNAME) and user (BUILD_REQUESTEDFOREMAIL) are
    recorded; flows.md: the default run id is ado-<BUILD_BUILDID>. A project name with a space still gives
    one valid URL."""
    from urllib.parse import urlsplit

    for name, value in {
        "TF_BUILD": "True",
        "BUILD_BUILDID": "4242",
        "SYSTEM_COLLECTIONURI": "https://dev.azure.com/org/",
        "SYSTEM_TEAMPROJECT": "ML Platform",
        "BUILD_DEFINITIONNAME": "train-ci",
        "BUILD_REQUESTEDFOREMAIL": "dev@contoso.com",
        "BUILD_SOURCEVERSION": "deadbeef",
    }.items():
        monkeypatch.setenv(name, value)
    client = memory_client()
    lineage = client.training.begin_train(copy_job(assets)).result().lineage
    assert (lineage.ci_provider, lineage.ci_build_id, lineage.ci_pipeline) == ("azure_devops", "4242", "train-ci")
    assert (lineage.user, lineage.git_commit) == ("dev@contoso.com", "deadbeef")
    url = lineage.ci_build_url or ""
    assert " " not in url
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.query) == ("https", "dev.azure.com", "buildId=4242")
    assert parts.path == "/org/ML%20Platform/_build/results"
    assert Flow("nightly", client=client, dry_run=True).run_id == "ado-4242"


@pytest.mark.parametrize("provider", ["github_actions", "azure_devops"])
def test_flows_mask_secret_masks_every_line_of_a_multi_line_secret(
    provider: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """flows.md: mask_secret(value) asks the CI system to mask the value (::add-mask:: on GitHub,
    ##vso[task.setsecret] on Azure DevOps). CI logs are masked line by line and a command ends at its
    newline: every line of a multi-line secret (a PEM key) is registered, and no line of it is ever
    written outside a masking command."""
    if provider == "github_actions":
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
        command = "::add-mask::"
    else:
        monkeypatch.setenv("TF_BUILD", "True")
        command = "##vso[task.setsecret]"
    secret = f"-----BEGIN KEY-----\n{CANARY}AAAA\n{CANARY}BBBB\n-----END KEY-----"
    capsys.readouterr()
    assert mask_secret(secret) is True
    lines = capsys.readouterr().out.splitlines()
    assert all(line.startswith(command) for line in lines)
    registered = {line.removeprefix(command) for line in lines}
    assert {f"{CANARY}AAAA", f"{CANARY}BBBB"} <= registered


def test_validation_reports_never_hold_a_secret_a_check_reported(assets: dict[str, Path]) -> None:
    """secrets.md / validation.md: validation reports never show a secret: what a check reports (its name,
    observed, expected, message) is masked in the report, its JSON / HTML / Markdown exports and the
    recorded tags."""
    from mlops_sdk.checks import CheckResult

    secret = f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={CANARY}=="

    class Leaky:
        name = f"reads {secret}"

        def run(self, context: Any) -> CheckResult:
            return CheckResult(
                name=self.name,
                passed=True,
                observed={"source": secret, "rows": [secret]},
                expected=secret,
                message=f"read {secret}",
            )

    client = memory_client()
    version = registered(client, assets)
    report = client.validation.validate(version, data=eval_frame(assets), target="y", checks=[Leaky()])
    shown = [
        report.to_json(),
        report.to_html(),
        report.to_markdown(),
        repr(report),
        json.dumps(client.models.get("m", 1).tags),
    ]
    assert all(CANARY not in text for text in shown)
    assert "AccountKey=***" in json.dumps(report.checks[0].observed)
    assert ValidationReport.from_json(report.to_json()).digest == report.digest


@settings(max_examples=60, deadline=None)
@given(
    flow=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,40}", fullmatch=True),
    run_id=st.text(min_size=1, max_size=80).filter(lambda text: text.strip() and text.isprintable()),
    step=st.text(max_size=80),
)
def test_flows_every_key_follows_the_rule(flow: str, run_id: str, step: str) -> None:
    """flows.md (property): whatever the flow name, run id and step name, step.key is lowercase
    [a-z0-9-], at most 63 characters, and the same for the same inputs (dry runs compute it)."""
    first = Flow(flow, run_id=run_id, dry_run=True)
    key = first.key(step)
    assert key == Flow(flow, run_id=run_id, dry_run=True).key(step)
    assert 0 < len(key) <= 63
    assert set(key) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")


def test_training_cancel_ends_the_run_canceled(local_store: dict[str, Any], tmp_path: Path) -> None:
    """training.md: cancel(id) stops the run (SIGTERM to its process group); the run is CANCELED and
    result() raises OperationCanceledError; cancelling again is harmless or a ConflictError, never a
    second outcome."""
    from mlops_sdk import OperationCanceledError

    client = local_store["client"]
    code = tmp_path / "code"
    code.mkdir()
    (code / "sleepy.py").write_text("import time\nprint('started', flush=True)\ntime.sleep(120)\n")
    operation = client.training.begin_train(TrainingJob(code=str(code), command="python sleepy.py"))
    client.training.cancel(operation.id)
    with pytest.raises(OperationCanceledError):
        operation.result(timeout=60)
    assert client.training.get_run(operation.id).status == "Canceled"
    with contextlib.suppress(ConflictError):
        client.training.cancel(operation.id)
    assert client.training.get_run(operation.id).status == "Canceled"


@pytest.mark.parametrize("champion", ["champoin", "Champion", "champions", "champon", "latest", "v1"])
def test_validation_a_misspelt_or_reserved_champion_alias_is_refused(assets: dict[str, Path], champion: str) -> None:
    """validation.md: 'no champion yet -> passes with "first model"' must not be reached through a typo:
    a champion alias that no version holds but is a near-miss of one the model has ('did you mean'), or
    a reserved name ('latest', v<number>), is a ConfigurationError on champion, not a promotion."""
    client = memory_client()
    registered(client, assets)
    twin = registered(client, assets)
    client.models.set_alias("m", "champion", 1)
    with pytest.raises(ConfigurationError) as caught:
        client.validation.validate(
            twin, data=eval_frame(assets), target="y", checks=[BeatsChampion("rmse")], champion=champion
        )
    assert caught.value.details["field"] == "champion"
    first = client.validation.validate(
        twin, data=eval_frame(assets), target="y", checks=[BeatsChampion("rmse")], champion="production"
    )
    assert first.outcome == "promote"
    assert "first model" in first.checks[0].message
    client.models.set_alias("m", "prod-1", 1)
    other_region = client.validation.validate(  # one character substituted: a real name, not a slip
        twin, data=eval_frame(assets), target="y", checks=[BeatsChampion("rmse")], champion="prod-2"
    )
    assert "first model" in other_region.checks[0].message
