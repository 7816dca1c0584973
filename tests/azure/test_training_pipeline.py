"""Training pipelines on Azure ML: the REAL azure-ai-ml against the fake workspace (tests/fakes/azureml.py).

The pipeline job PUT is checked against the official 2025-12-01 spec (``PipelineJob``), the step
states come from the run history's child runs, and a failure names the step and its error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_sdk import MLOpsClient
from mlops_sdk.backends.azure.training import job_name_for_key
from mlops_sdk.core.errors import ConfigurationError, OperationCanceledError, OperationFailedError
from mlops_sdk.core.operation import ProgressEvent
from mlops_sdk.core.status import Status
from mlops_sdk.models.training_pipeline import Step, TrainingPipeline
from mlops_sdk.testing import FakeClock
from tests.azure._azureml_fixtures import TARGET, aml_fixture  # noqa: F401 - fixture
from tests.fakes import specs
from tests.fakes.azureml import FakeAzureML, JobPlan, PipelinePlan
from tests.fakes.credential import JwtTokenCredential

pytestmark = pytest.mark.azure

RAW = "azureml://datastores/workspaceblobstore/paths/diabetes/raw.csv"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "diabetes" / "pipeline.yaml"


@pytest.fixture(name="hub")
def hub_fixture(aml: FakeAzureML, ca_bundle: Path, clock: FakeClock) -> Iterator[MLOpsClient]:
    """A client whose credential hands out JWTs (azure-ai-ml checks the audience of a pipeline job's token)."""
    with MLOpsClient(
        TARGET,
        credential=JwtTokenCredential(),
        clock=clock,
        cloud="MlopsFakeCloud",
        resource_manager_url=aml.service.url,
        authority_url=aml.service.url,
        ca_bundle=str(ca_bundle),
        show_progress=False,
    ) as client:
        yield client


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "prep.py").write_text("print('prep')\n")
    (folder / "train.py").write_text("print('train')\n")
    return folder


def _pipeline(code: Path, **extra: Any) -> TrainingPipeline:
    prep = Step(
        "prep",
        code=code,
        command="python prep.py --raw ${{inputs.raw}} --out ${{outputs.clean}}",
        inputs={"raw": "${{parent.inputs.raw}}"},
        outputs={"clean": None},
        compute="cpu-small",
        cache_ignore=["raw"],
    )
    train = Step(
        "train",
        code=code,
        command="python train.py ${{inputs.data}} ${{inputs.alpha}} ${{outputs.model}}",
        inputs={"data": prep.output("clean"), "alpha": "${{parent.inputs.alpha}}"},
        outputs={"model": "mlflow_model"},
        cache=False,
    )
    return TrainingPipeline(
        "diabetes-pipeline",
        steps=[prep, train],
        inputs={"raw": {"path": RAW, "type": "uri_file"}, "alpha": 0.5},
        outputs={"model": train.output("model")},
        environment="azureml:sklearn-env:1",
        compute="cpu-cluster",
        experiment="diabetes",
        tags={"project": "diabetes"},
        **extra,
    )


def _job_puts(aml: FakeAzureML) -> list[Any]:
    return aml.service.requests_to("PUT", r"/jobs/[^/]+$")


def test_the_pipeline_job_put_has_component_jobs_and_bindings_per_the_spec(
    hub: MLOpsClient, aml: FakeAzureML, code: Path
) -> None:
    name = job_name_for_key("nightly-pipeline")
    aml.plan(name, JobPlan(statuses=["Completed"]))
    operation = hub.training.begin_pipeline(_pipeline(code), idempotency_key="nightly-pipeline")
    assert operation.id == name

    [put] = _job_puts(aml)
    assert put.path.endswith(f"/jobs/{name}")
    body = put.json["properties"]
    spec = specs.load(specs.MACHINE_LEARNING)
    plain = {key: value for key, value in body.items() if key not in ("inputs", "outputs")}
    assert specs.problems(spec, "PipelineJob", plain) == []
    assert body["jobType"] == "Pipeline"
    assert body["displayName"] == "diabetes-pipeline"
    assert body["experimentName"] == "diabetes"
    assert body["inputs"]["raw"] == {"jobInputType": "uri_file", "uri": RAW}
    assert body["inputs"]["alpha"] == {"jobInputType": "literal", "value": "0.5"}
    assert body["outputs"]["model"]["jobOutputType"] == "mlflow_model"
    for item in body["inputs"].values():
        assert specs.problems(spec, "JobInputType", item["jobInputType"]) == []
    assert specs.problems(spec, "JobOutputType", body["outputs"]["model"]["jobOutputType"]) == []
    assert body["settings"]["default_compute"].endswith("/computes/cpu-cluster")
    assert body["tags"]["mlops.idempotency_key"] == "nightly-pipeline"
    assert body["tags"]["mlops.pipeline_run_id"] == name
    assert body["tags"]["project"] == "diabetes"

    jobs = body["jobs"]
    assert sorted(jobs) == ["prep", "train"]
    prep, train = jobs["prep"], jobs["train"]
    assert (prep["type"], train["type"]) == ("command", "command")
    assert prep["inputs"]["raw"] == {"job_input_type": "literal", "value": "${{parent.inputs.raw}}"}
    assert train["inputs"]["data"] == {"job_input_type": "literal", "value": "${{parent.jobs.prep.outputs.clean}}"}
    assert train["inputs"]["alpha"] == {"job_input_type": "literal", "value": "${{parent.inputs.alpha}}"}
    assert train["outputs"]["model"] == {"value": "${{parent.outputs.model}}", "type": "literal"}
    assert prep["computeId"].endswith("/computes/cpu-small")  # per-step compute
    assert prep["tags"] == {"mlops.pipeline_step": "prep"}
    # each step is an anonymous command component, registered before the job
    components = {put.path.rsplit("/", 1)[-1]: put.json for put in aml.service.requests_to("PUT", r"/components/")}
    by_step = {}
    for step in ("prep", "train"):
        component_id = jobs[step]["componentId"]
        assert component_id.startswith(aml.ws + "/components/azureml_anonymous/versions/")
        by_step[step] = components[component_id.rsplit("/", 1)[-1]]["properties"]["componentSpec"]
    assert by_step["prep"]["command"] == _pipeline(code).step("prep").command
    assert by_step["prep"]["is_deterministic"] is True  # Step.cache=True
    assert by_step["train"]["is_deterministic"] is False  # Step.cache=False
    assert by_step["train"]["outputs"]["model"]["type"] == "mlflow_model"
    assert by_step["prep"]["environment"].endswith("/environments/sklearn-env/versions/1")
    assert by_step["prep"]["code"].removeprefix("azureml:").startswith(aml.ws + "/codes/")


def test_force_rerun_is_sent_as_the_pipeline_setting(hub: MLOpsClient, aml: FakeAzureML, code: Path) -> None:
    hub.training.begin_pipeline(_pipeline(code, force_rerun=True))
    [put] = _job_puts(aml)
    assert put.json["properties"]["settings"]["force_rerun"] is True


def test_each_step_reports_its_state_and_the_run_succeeds(hub: MLOpsClient, aml: FakeAzureML, code: Path) -> None:
    name = job_name_for_key("per-step")
    aml.plan(name, JobPlan(statuses=["NotStarted", "Running", "Running", "Running", "Completed"]))
    aml.pipeline_plans[name] = PipelinePlan(
        steps={"prep": ["Running", "Completed"], "train": ["NotStarted", "NotStarted", "Running", "Completed"]}
    )
    events: list[ProgressEvent] = []
    result = hub.training.begin_pipeline(_pipeline(code), idempotency_key="per-step", progress=events.append).result()

    assert [e.native_status for e in events] == ["NotStarted", "Running", "Running", "Running", "Completed"]
    assert [e.message for e in events if e.native_status == "Running"] == ["running prep", None, "running train"]
    assert result.status is Status.SUCCEEDED
    assert list(result.steps) == ["prep", "train"]
    assert {n: s.status for n, s in result.steps.items()} == {"prep": Status.SUCCEEDED, "train": Status.SUCCEEDED}
    assert result.step("train").outputs == {"model": f"azureml://jobs/{name}-train-child/outputs/model"}
    assert result.outputs == {"model": f"azureml://jobs/{name}/outputs/model"}
    assert result.idempotency_key == "per-step"
    assert result.lineage.pipeline_run_id == name
    children = aml.service.requests_to("GET", rf"/history/v1\.0.*/runs/{name}/children$")
    assert children  # the step states came from the run history


def test_a_failed_pipeline_names_the_failed_step_and_its_log_tail(
    hub: MLOpsClient, aml: FakeAzureML, code: Path
) -> None:
    name = job_name_for_key("fails")
    aml.plan(name, JobPlan(statuses=["Running", "Failed"]))
    aml.pipeline_plans[name] = PipelinePlan(
        steps={"prep": ["Completed"], "train": ["Running", "Failed"]},
        errors={
            "train": {
                "code": "UserError",
                "message": "Execution failed. User process 'python' exited with status code 1. "
                "Traceback (most recent call last):\n  File \"train.py\", line 3\nKeyError: 'bpx'",
            }
        },
    )
    operation = hub.training.begin_pipeline(_pipeline(code), idempotency_key="fails")
    with pytest.raises(OperationFailedError, match="step 'train'") as caught:
        operation.result()
    assert caught.value.details["step"] == "train"
    assert "KeyError: 'bpx'" in caught.value.message
    result = hub.training.get_pipeline_run(name)
    assert (result.step("prep").status, result.step("train").status) == (Status.SUCCEEDED, Status.FAILED)
    assert result.failed_step == "train"
    assert "UserError" in (result.step("train").error or "")
    details = aml.service.requests_to("GET", rf"/runs/{name}-train-child/details$")
    assert details


def test_the_same_key_reattaches_without_a_second_put(hub: MLOpsClient, aml: FakeAzureML, code: Path) -> None:
    first = hub.training.begin_pipeline(_pipeline(code), idempotency_key="same")
    again = hub.training.begin_pipeline(_pipeline(code), idempotency_key="same")
    assert again.id == first.id
    assert len(_job_puts(aml)) == 1
    listed = hub.training.list_pipeline_runs(name="diabetes-pipeline")
    assert [run.id for run in listed] == [first.id]
    assert listed[0].idempotency_key == "same"


def test_cancel_posts_cancel_and_the_run_ends_canceled(hub: MLOpsClient, aml: FakeAzureML, code: Path) -> None:
    name = job_name_for_key("cancel-me")
    aml.plan(name, JobPlan(statuses=["Running"]))
    operation = hub.training.begin_pipeline(_pipeline(code), idempotency_key="cancel-me")
    operation.cancel()
    with pytest.raises(OperationCanceledError):
        operation.result()
    assert aml.service.requests_to("POST", rf"/jobs/{name}/cancel$")
    result = hub.training.get_pipeline_run(name)
    assert {step.status for step in result.steps.values()} == {Status.CANCELED}


def test_resume_is_refused_with_the_reason_and_nothing_is_sent(hub: MLOpsClient, aml: FakeAzureML) -> None:
    with pytest.raises(ConfigurationError, match="no rerun-from-failed operation") as caught:
        hub.training.begin_resume_pipeline("mlops-some-pipeline")
    assert caught.value.details["unsupported"] == "resume"
    assert _job_puts(aml) == []


def test_a_step_without_environment_is_refused_before_any_request(
    hub: MLOpsClient, aml: FakeAzureML, code: Path
) -> None:
    pipeline = _pipeline(code).model_copy(update={"environment": None})
    with pytest.raises(ConfigurationError, match="need an environment") as caught:
        hub.training.begin_pipeline(pipeline)
    assert caught.value.details == {"step": "prep", "field": "environment"}
    assert aml.service.requests == []


def test_the_example_yaml_submits_as_a_pipeline_job(hub: MLOpsClient, aml: FakeAzureML, tmp_path: Path) -> None:
    # the example's local data paths become Azure ML data; everything else is the file as shipped
    spec = yaml.safe_load(EXAMPLE.read_text())
    spec["inputs"]["raw"]["path"] = RAW
    spec["inputs"]["data_card"]["path"] = RAW.replace("raw.csv", "card.md")
    for job in spec["jobs"].values():
        job["code"] = str(EXAMPLE.parent)
    written = tmp_path / "pipeline.yaml"
    written.write_text(yaml.safe_dump(spec, sort_keys=False))
    hub.training.begin_pipeline(written)
    [put] = _job_puts(aml)
    body = put.json["properties"]
    assert sorted(body["jobs"]) == ["featurize", "prep", "train"]
    assert body["jobs"]["featurize"]["inputs"]["clean"]["value"] == "${{parent.jobs.prep.outputs.clean}}"
    assert body["jobs"]["train"]["outputs"]["model"]["value"] == "${{parent.outputs.model}}"
    assert body["settings"]["default_compute"].endswith("/computes/cpu-cluster")


def test_an_unknown_step_compute_is_a_configuration_error_naming_the_step(
    hub: MLOpsClient, aml: FakeAzureML, code: Path
) -> None:
    pipeline = _pipeline(code)
    broken = pipeline.model_copy(
        update={
            "steps": [pipeline.step("prep").model_copy(update={"compute": "no-such-cluster"}), pipeline.step("train")]
        }
    )
    with pytest.raises(ConfigurationError, match=r"jobs\.prep\.compute"):
        hub.training.begin_pipeline(broken)
    assert _job_puts(aml) == []
