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

import json
import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_sdk import (
    ApprovalPolicy,
    ConfigurationError,
    MLOpsClient,
    ModelRef,
    ResourceNotFoundError,
    TrainingJob,
    ValidationFailedError,
    ValidationReport,
)
from mlops_sdk.checks import BeatsChampion, DataQuality, MetricThreshold, NoDrift
from mlops_sdk.testing import FakeClock

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


def contains_canary(folder: Path) -> list[str]:
    """Files below ``folder`` whose bytes hold :data:`CANARY`."""
    return [str(path) for path in folder.rglob("*") if path.is_file() and CANARY.encode() in path.read_bytes()]


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
