"""The conformance suites against Azure: the REAL client libraries over loopback TLS to the emulated services.

Azure ML runs the training scripts (code uploaded to Azurite), its online endpoints load and score the
registered MLflow models, Data Factory runs follow the plans of pipelines published in the factory, and
Azure DevOps holds the approval checks (see ``_azure_world``). What the services cannot do is declared
below with the reason.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("azure.devops")

from mlops_sdk import MLOpsClient
from mlops_sdk.core.clock import Clock
from mlops_sdk.models.registry import ModelVersion
from mlops_sdk.models.training import TrainingRun
from mlops_sdk.testing import FakeClock
from mlops_sdk.testing.conformance import *  # noqa: F403 - the suites and their fixtures
from mlops_sdk.testing.conformance import CAPABILITIES, ConformanceBackend, train_model
from mlops_sdk.testing.conformance.validation import COPY_MODEL
from tests.conformance._azure_world import AzureWorld, azure_world, publish_in_factory  # noqa: F401 - the fixture
from tests.fakes.azureml import JobPlan
from tests.fakes.credential import StaticTokenCredential
from tests.fakes.emulated_azure import RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE

pytestmark = pytest.mark.azure

TARGET = f"azureml://subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/workspaces/{WORKSPACE}"

CI_PIPELINE = 11
"""The YAML pipeline the pipelines scenarios run (published in the DevOps fake by ``azure_world``)."""

AZURE_UNSUPPORTED = {
    "models.output_check": (
        "known divergence: the job output's content is not inspected before the model PUT (TrainingRun does not "
        "carry output types), so an output without an MLflow model registers"
    ),
    "approvals.delegation": (
        "Azure DevOps records a vote for the caller's own identity: a vote on behalf of someone else cannot be "
        "cast there (that person approves with their own credentials)"
    ),
    "approvals.audit": "no local audit trail: Azure DevOps keeps the approval history (run checks, audit log)",
    "training.exit_code": "Azure ML reports a failed job's error (the script's last lines), not its exit code",
    "validation.report_store": (
        "Azure ML keeps a report's facts as model tags (mlops.validation.*), not the report: keep report.to_json() "
        "as a pipeline artifact"
    ),
    "deployments.guardrails": (
        "this emulated world serves no Azure Monitor metrics; guarded rollouts on Azure run against the endpoint "
        "and Azure Monitor metrics fakes in tests/azure/test_guardrails.py"
    ),
    "training.pipelines": (
        "the emulated workspace runs command jobs but not a pipeline job's child steps; "
        "tests/azure/test_training_pipeline.py covers the pipeline job PUT, per-step status and failures"
    ),
    "data_factory.define": "pipelines are authored in Data Factory itself; define() is local-only by design",
    "monitoring.capture_stats": (
        "Azure ML's data collector keeps no counters the SDK can read: capture_stats answers zeros there; "
        "the rows themselves are read back (monitoring.capture)"
    ),
}


@pytest.fixture(autouse=True)
def _azureml_cloud(monkeypatch: pytest.MonkeyPatch) -> None:
    # MLClient writes AZUREML_CURRENT_CLOUD into os.environ; monkeypatch restores the original.
    monkeypatch.delenv("AZUREML_CURRENT_CLOUD", raising=False)


@pytest.fixture
def conformance_clock() -> FakeClock:
    # Azure DevOps stamps approvals with real time: start the fake clock just before now.
    return FakeClock(start=datetime.now(timezone.utc) - timedelta(seconds=5))


@pytest.fixture
def conformance_backend(azure_world: AzureWorld) -> ConformanceBackend:  # noqa: F811 - uses the imported fixture
    def make_client(clock: Clock | None) -> MLOpsClient:
        return MLOpsClient(
            TARGET, credential=StaticTokenCredential(), clock=clock, show_progress=False, **azure_world.settings()
        )

    def make_run(client: MLOpsClient, folder: Path, with_model: bool) -> TrainingRun:
        """A job the workspace reports as completed (registry scenarios need no script run: seconds saved)."""
        name = f"conformance-job-{uuid.uuid4().hex[:12]}"
        output: dict[str, Any] = {"jobOutputType": "mlflow_model" if with_model else "uri_folder"}
        properties = {
            "jobType": "Command",
            "command": "python job.py",
            "experimentName": "conformance",
            "environmentId": "azureml:sklearn-env:1",
            "tags": {"mlops.training_run_id": name},
            "outputs": {"model": output},
        }
        azure_world.aml.add_job(name, {"properties": properties})
        azure_world.aml.plan(name, JobPlan(statuses=["Completed"]))
        return client.training.get_run(name)

    def deployable(client: MLOpsClient, folder: Path) -> ModelVersion:
        """Azure ML deploys registered versions: a job copies the folder to its output, which is registered.

        The deployment suite names its model folders by their content, so one version per name is reused.
        """
        known = azure_world.registered.get(folder.name)
        if known is None:
            script = COPY_MODEL.format(source=str(folder))
            run = train_model(client, folder.parent / f"job-{folder.name}", experiment="conf-deploy", script=script)
            known = client.models.register(run, name=f"conf-deploy-{folder.name}")
            azure_world.registered[folder.name] = known
        return known

    return ConformanceBackend(
        name="azure",
        make_client=make_client,
        supports=frozenset(CAPABILITIES) - set(AZURE_UNSUPPORTED),
        unsupported=AZURE_UNSUPPORTED,
        make_run=make_run,
        deployable=deployable,
        pipeline_id=CI_PIPELINE,
        publish_pipeline=lambda client, pipeline, behaviour: publish_in_factory(
            azure_world.factory, pipeline, behaviour
        ),
    )


def test_a_folder_is_deployed_as_a_registered_version_the_endpoint_loads_and_scores(
    azure_world: AzureWorld,  # noqa: F811 - the imported fixture
    conformance_backend: ConformanceBackend,
    tmp_path: Path,
) -> None:
    """What the deployment scenarios send on Azure: the job, the model PUT, the deployment naming it, the scoring."""
    from mlops_sdk.models.deployments import Replace
    from mlops_sdk.testing.conformance.deployments import ROWS, _answers, _linear_model

    client = conformance_backend.make_client(None)
    arm = azure_world.arm
    try:
        folder = _linear_model(tmp_path, 42.0)
        assert conformance_backend.deployable is not None
        version = conformance_backend.deployable(client, folder)
        assert isinstance(version, ModelVersion)
        assert (version.name, version.version) == ("conf-deploy-model-plus-42", "1")
        jobs = [r for r in arm.requests_to("PUT", r"/jobs/[^/]+$") if "conf-deploy" in r.body.decode()]
        assert jobs
        assert jobs[-1].json["properties"]["experimentName"] == "conf-deploy"
        model_put = arm.requests_to("PUT", r"/models/conf-deploy-model-plus-42/versions/1$")
        assert "/jobs/" in model_put[-1].json["properties"]["modelUri"]
        result = client.deployments.begin_deploy(
            version, endpoint="conf-requests", deployment="blue", strategy=Replace(), show_progress=False
        ).result()
        assert result.succeeded
        deployment_put = arm.requests_to("PUT", r"/onlineEndpoints/conf-requests/deployments/blue$")[-1]
        assert deployment_put.json["properties"]["model"].endswith("/models/conf-deploy-model-plus-42/versions/1")
        assert azure_world.endpoints.traffic_puts("conf-requests")[-1] == {"blue": 100}
        assert client.deployments.invoke("conf-requests", ROWS) == pytest.approx(_answers(42.0))
        scoring = arm.requests_to("POST", r"^/score/conf-requests$")[-1]
        assert scoring.json == ROWS
        assert scoring.headers.get("authorization", "").startswith("Bearer ")
    finally:
        client.deployments.delete_endpoint("conf-requests")
        client.close()
