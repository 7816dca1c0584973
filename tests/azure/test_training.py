"""TrainingClient on Azure ML: the REAL MLClient over loopback TLS against tests/fakes/azureml.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.backends.azure.training import job_name_for_key
from mlops_sdk.core.errors import ConfigurationError, OperationCanceledError, OperationFailedError
from mlops_sdk.core.operation import ProgressEvent
from mlops_sdk.core.status import Status
from tests.azure._azureml_fixtures import aml_fixture, hub_fixture  # noqa: F401 - fixtures
from tests.fakes.azureml import FakeAzureML, JobPlan
from tests.fakes.server import Fault

pytestmark = pytest.mark.azure

DATA = "azureml://datastores/workspaceblobstore/paths/diabetes/"


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "train.py").write_text("print('training')\n")
    (folder / "util.py").write_text("X = 1\n")
    (folder / ".amlignore").write_text("data/\n*.log\n")
    (folder / "data").mkdir()
    (folder / "data" / "big.csv").write_text("a,b\n")
    (folder / "debug.log").write_text("noise\n")
    (folder / ".venv").mkdir()
    (folder / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "util.cpython-311.pyc").write_bytes(b"\0")
    return folder


def _job(code: Path, **extra: Any) -> dict[str, Any]:
    return {
        "code": code,
        "command": "python train.py --data ${{inputs.data}} --alpha ${{inputs.alpha}} --model ${{outputs.model}}",
        "inputs": {"data": DATA, "alpha": 0.5},
        "outputs": {"model": "mlflow_model"},
        "environment": "azureml:sklearn-env:1",
        "compute": "cpu-cluster",
        "experiment": "diabetes",
        "tags": {"project": "diabetes"},
        "timeout": 600,
        **extra,
    }


def _job_puts(aml: FakeAzureML) -> list[Any]:
    return aml.service.requests_to("PUT", r"/jobs/[^/]+$")


def test_command_job_put_body_status_progression_and_mlflow_metrics(
    hub: MLOpsClient, aml: FakeAzureML, code: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUILD_BUILDID", "4711")
    monkeypatch.setenv("SYSTEM_COLLECTIONURI", "https://dev.azure.com/contoso/")
    monkeypatch.setenv("SYSTEM_TEAMPROJECT", "ml")
    monkeypatch.setenv("BUILD_SOURCEVERSION", "0123456789abcdef0123456789abcdef01234567")
    name = job_name_for_key("nightly-2026-01-01")
    aml.plan(
        name,
        JobPlan(
            statuses=["NotStarted", "Queued", "Running", "Finalizing", "Completed"],
            metrics={"rmse": 53.9, "r2": 0.45},
            params={"alpha": "0.5"},
        ),
    )
    events: list[ProgressEvent] = []

    operation = hub.training.begin_train(_job(code), idempotency_key="nightly-2026-01-01", progress=events.append)
    run = operation.result()

    assert operation.id == name == run.id
    [put] = _job_puts(aml)
    assert put.path.endswith(f"/jobs/{name}")
    assert put.api_version == "2025-01-01-preview"
    body = put.json["properties"]
    assert body["jobType"] == "Command"
    assert body["command"] == _job(code)["command"]
    assert body["inputs"]["data"] == {"jobInputType": "uri_folder", "uri": DATA}
    assert body["inputs"]["alpha"] == {"jobInputType": "literal", "value": "0.5"}
    assert body["outputs"]["model"]["jobOutputType"] == "mlflow_model"
    assert body["environmentId"].endswith("/environments/sklearn-env/versions/1")
    assert body["computeId"].endswith("/computes/cpu-cluster")
    assert body["experimentName"] == "diabetes"
    assert body["limits"] == {"jobLimitsType": "Command", "timeout": "PT10M"}
    assert body["codeId"].startswith(aml.ws + "/codes/")
    tags = body["tags"]
    assert tags["project"] == "diabetes"
    assert tags["mlops.idempotency_key"] == "nightly-2026-01-01"
    assert tags["mlops.training_run_id"] == name
    assert tags["mlops.ci_provider"] == "azure_devops"
    assert tags["mlops.ci_build_id"] == "4711"
    assert tags["mlops.ci_build_url"] == "https://dev.azure.com/contoso/ml/_build/results?buildId=4711"
    assert tags["mlops.git_commit"] == "0123456789abcdef0123456789abcdef01234567"

    assert [e.native_status for e in events] == ["NotStarted", "Queued", "Running", "Finalizing", "Completed"]
    assert [e.status for e in events][-1] is Status.SUCCEEDED
    assert run.metrics == {"rmse": 53.9, "r2": 0.45}
    assert run.params == {"alpha": "0.5"}
    assert run.outputs == {"model": f"azureml://jobs/{name}/outputs/model"}
    assert run.lineage.ci_build_id == "4711"
    assert run.log_location
    assert name in run.log_location
    [mlflow_get] = aml.service.requests_to("GET", r"/api/2.0/mlflow/runs/get$")
    assert mlflow_get.query["run_id"] == name
    assert mlflow_get.headers["authorization"].startswith("Bearer ")


def test_code_snapshot_skips_ignored_files_virtualenvs_and_caches(
    hub: MLOpsClient, aml: FakeAzureML, code: Path
) -> None:
    hub.training.begin_train(_job(code))
    uploaded = sorted(path.split("/", 1)[1] for path in aml.blobs)
    assert uploaded == ["code/.amlignore", "code/train.py", "code/util.py"]


def test_failed_job_raises_with_the_service_error(hub: MLOpsClient, aml: FakeAzureML, code: Path) -> None:
    name = job_name_for_key("bad-run")
    aml.plan(
        name,
        JobPlan(
            statuses=["Running", "Failed"],
            error={
                "code": "UserError",
                "message": "Execution failed. ValueError: Input X contains NaN.",
            },
        ),
    )
    operation = hub.training.begin_train(_job(code), idempotency_key="bad-run")
    with pytest.raises(OperationFailedError) as caught:
        operation.result()
    assert (
        caught.value.message
        == f"Azure ML job {name} failed: UserError: Execution failed. ValueError: Input X contains NaN."
    )
    assert caught.value.operation_id == name
    [details] = aml.service.requests_to("GET", rf"/history/v1.0{aml.ws}/runs/{name}/details$")
    assert details.headers["authorization"].startswith("Bearer ")
    assert hub.training.get_run(name).error == caught.value.message


def test_resubmitting_the_same_key_reattaches_without_a_second_put(
    hub: MLOpsClient, aml: FakeAzureML, code: Path
) -> None:
    first = hub.training.begin_train(_job(code), idempotency_key="flow-7:train")
    second = hub.training.begin_train(_job(code), idempotency_key="flow-7:train")
    assert first.id == second.id
    assert len(_job_puts(aml)) == 1
    assert second.result().status is Status.SUCCEEDED


def test_job_left_by_a_crashed_submitter_is_reattached(hub: MLOpsClient, aml: FakeAzureML, code: Path) -> None:
    name = job_name_for_key("crashed")
    aml.add_job(
        name,
        {
            "properties": {
                "jobType": "Command",
                "command": "python train.py",
                "experimentName": "diabetes",
                "environmentId": "azureml:sklearn-env:1",
                "tags": {"mlops.idempotency_key": "crashed"},
                "outputs": {"model": {"jobOutputType": "mlflow_model"}},
            }
        },
    )
    run = hub.training.begin_train(_job(code), idempotency_key="crashed").result()
    assert run.id == name
    assert run.idempotency_key == "crashed"
    assert _job_puts(aml) == []
    assert aml.service.requests_to("POST", "startPendingUpload") == []


def test_cancel_posts_cancel_and_the_operation_ends_canceled(hub: MLOpsClient, aml: FakeAzureML, code: Path) -> None:
    aml.default_plan = JobPlan(statuses=["Running"])
    operation = hub.training.begin_train(_job(code))
    assert operation.status() is Status.RUNNING
    operation.cancel()
    [cancel] = aml.service.requests_to("POST", r"/cancel$")
    assert cancel.path == f"{aml.ws}/jobs/{operation.id}/cancel"
    with pytest.raises(OperationCanceledError):
        operation.result()


def test_resume_from_token_and_list_runs(hub: MLOpsClient, aml: FakeAzureML, code: Path) -> None:
    token = hub.training.begin_train(_job(code), idempotency_key="resume-me").continuation_token()
    run = hub.resume_operation(token).result()
    assert run.id == job_name_for_key("resume-me")
    assert [r.id for r in hub.training.list_runs(experiment="diabetes")] == [run.id]
    assert hub.training.list_runs(experiment="other") == []


def test_environment_is_required_on_azure(hub: MLOpsClient, aml: FakeAzureML, code: Path) -> None:
    with pytest.raises(ConfigurationError, match="need an environment"):
        hub.training.begin_train(_job(code, environment=None))
    assert aml.service.requests == []


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", r"/codes/[^/]+/versions$"), ("POST", r"/startPendingUpload$")],
    ids=["code-asset-lookup", "start-pending-upload"],
)
def test_connection_reset_inside_the_code_upload_retries_the_create(
    hub: MLOpsClient, aml: FakeAzureML, code: Path, method: str, path: str
) -> None:
    # The answer is lost after the service acted: azure-core raises ServiceResponseError without a cause,
    # azure-ai-ml wraps it in AssetException; the whole (idempotent by name) create must be retried.
    aml.service.inject(Fault(method, path, drop=True, after_handler=True))

    run = hub.training.begin_train(_job(code), idempotency_key="reset-in-upload").result()

    assert run.status is Status.SUCCEEDED
    assert len(aml.service.requests_to(method, path)) == 2
    [put] = _job_puts(aml)
    assert put.json["properties"]["codeId"].startswith(aml.ws + "/codes/")


def test_failed_code_blob_put_redoes_the_upload_without_the_storage_sdks_own_backoff(
    hub: MLOpsClient, aml: FakeAzureML, code: Path
) -> None:
    # The storage SDK's default policy would wait 15 s+ per retry; here it retries a blob 3 times quickly, then
    # the failed upload fails the create (it used to hang) and the SDK's policy (fake clock) redoes it all.
    aml.service.inject(Fault("PUT", r"/blob/code-.*/train\.py$", status=503, times=4))

    run = hub.training.begin_train(_job(code), idempotency_key="blob-503").result()

    assert run.status is Status.SUCCEEDED
    assert len(aml.service.requests_to("POST", r"/startPendingUpload$")) == 2
    assert [r.path for r in aml.service.requests_to("PUT", r"/blob/code-") if r.path.endswith("/train.py")]
    [put] = _job_puts(aml)
    assert put.json["properties"]["codeId"].startswith(aml.ws + "/codes/")


def test_code_blob_put_whose_answer_was_lost_is_sent_again_over_its_own_blob(
    hub: MLOpsClient, aml: FakeAzureML, code: Path
) -> None:
    # The blob was written, the answer lost: the storage SDK's resend must not stop at 409 BlobAlreadyExists.
    aml.service.inject(Fault("PUT", r"/blob/code-.*/train\.py$", drop=True, after_handler=True))

    run = hub.training.begin_train(_job(code), idempotency_key="blob-reset-after").result()

    assert run.status is Status.SUCCEEDED
    puts = [r for r in aml.service.requests_to("PUT", r"/blob/code-") if r.path.endswith("/train.py")]
    assert len(puts) >= 2
    assert all(r.headers.get("if-none-match") != "*" for r in puts)
    assert [b for path, b in aml.blobs.items() if path.endswith("/train.py")] == [b"print('training')\n"]
