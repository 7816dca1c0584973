"""The conformance suites against Azure ML: the REAL azure-ai-ml client over loopback TLS to the fake workspace.

The fake workspace does not run scripts, so registry scenarios get their finished runs from jobs the
fake reports as completed (``make_run``); capabilities the fakes here cannot exercise are declared with why.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.core.clock import Clock
from mlops_sdk.models.training import TrainingRun
from mlops_sdk.testing.conformance import *  # noqa: F403 - the suites and their fixtures
from mlops_sdk.testing.conformance import ConformanceBackend
from tests.azure._azureml_fixtures import TARGET, aml_fixture  # noqa: F401 - fixture
from tests.fakes.azureml import FakeAzureML, JobPlan
from tests.fakes.credential import StaticTokenCredential

pytestmark = pytest.mark.azure

_DEVOPS = "approvals run through Azure DevOps: covered by test_azure_approvals.py against the DevOps fake"

AZURE_UNSUPPORTED = {
    "models.output_check": (
        "known divergence: the job output's content is not inspected before the model PUT (TrainingRun does not "
        "carry output types), and the fake workspace accepts any output"
    ),
    "approvals.policy": _DEVOPS,
    "approvals.delegation": _DEVOPS,
    "approvals.timeout": _DEVOPS,
    "approvals.audit": _DEVOPS,
    "training.script": "the fake workspace reports planned job states; it does not run scripts",
    "training.metrics": "the fake workspace reports planned job states; it does not run scripts",
    "training.idempotency": "needs code upload to blob storage (Azurite), not wired into this suite yet",
    "training.failure": "the fake workspace reports planned job states; it does not run scripts",
    "training.pipelines": (
        "the fake workspace does not run scripts, so outputs, metrics and the cache cannot be observed; "
        "tests/azure/test_training_pipeline.py covers the pipeline job PUT, per-step status and failures"
    ),
    "validation.checks": "the registry scenarios' runs come from the fake workspace, whose outputs hold no model files",
    "deployments.rollout": "the managed online endpoint fake is not wired into the conformance suite yet",
    "data_factory.define": "pipelines are authored in Data Factory itself; define() is local-only by design",
    "data_factory.refresh": "scenarios define their pipeline first (data_factory.define)",
    "data_factory.cancel": "scenarios define their pipeline first (data_factory.define)",
}


@pytest.fixture
def conformance_backend(aml: FakeAzureML, ca_bundle: Path) -> ConformanceBackend:
    jobs = itertools.count(1)

    def make_client(clock: Clock | None) -> MLOpsClient:
        return MLOpsClient(
            TARGET,
            credential=StaticTokenCredential(),
            clock=clock,
            cloud="MlopsFakeCloud",
            resource_manager_url=aml.service.url,
            authority_url=aml.service.url,
            ca_bundle=str(ca_bundle),
            show_progress=False,
        )

    def make_run(client: MLOpsClient, folder: Path, with_model: bool) -> TrainingRun:
        name = f"conformance-job-{next(jobs)}"
        output: dict[str, Any] = {"jobOutputType": "mlflow_model" if with_model else "uri_folder"}
        aml.add_job(
            name,
            {
                "properties": {
                    "jobType": "Command",
                    "command": "python job.py",
                    "experimentName": "conformance",
                    "environmentId": "azureml:sklearn-env:1",
                    "tags": {"mlops.training_run_id": name},
                    "outputs": {"model": output},
                }
            },
        )
        aml.plan(name, JobPlan(statuses=["Completed"]))
        return client.training.get_run(name)

    return ConformanceBackend(
        name="azure",
        make_client=make_client,
        supports=frozenset({"models.registry", "models.aliases"}),
        unsupported=AZURE_UNSUPPORTED,
        make_run=make_run,
    )
