"""One emulated Azure for the conformance suites, started once per test module (Azurite: once per session).

The REAL client libraries (azure-ai-ml, azure-storage-blob, azure-mgmt-datafactory, azure-devops) talk
over loopback TLS to: an Azure ML workspace whose command jobs really run (code uploaded to and outputs
written to Azurite), online endpoints whose deployments really load and score the registered MLflow
model, a Data Factory, and an Azure DevOps project. Scenarios use distinct names, so sharing it is safe
(as the local suite shares one store per module).
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mlops_sdk.models.data_factory import RefreshPipeline
from tests.fakes.azureml_serving import ServingOnlineEndpoints
from tests.fakes.azurite import Azurite
from tests.fakes.data_factory import COPY_ACTIVITY, FakeDataFactory, RunPlan
from tests.fakes.devops import FakeDevOps, identity
from tests.fakes.emulated_azure import (
    DATASTORE_CONTAINER,
    FACTORY,
    ArmService,
    Chaos,
    ChaosService,
    RunningAzureML,
    StorageFront,
    _WallClock,
)
from tests.fakes.server import write_ca

ME, PAT = "carol@contoso.com", "carol-pat-0123456789"
"""The DevOps user whose PAT the conformance client holds (approvals are cast as her)."""


class _QuickAzureML(RunningAzureML):
    """Jobs log to an MLflow file store: no SQLite schema to create for every job (seconds each).

    MLflow refuses file stores unless ``MLFLOW_ALLOW_FILE_STORE`` is set: :func:`azure_world` sets it
    while it runs (jobs inherit it; the fake reads their metrics back in this process).
    """

    def tracking_uri(self, folder: Path) -> str:
        return (folder / "mlruns").as_uri()


@dataclass
class AzureWorld:
    """The running fakes and the settings pointing an :class:`~mlops_sdk.MLOpsClient` at them."""

    aml: RunningAzureML
    endpoints: ServingOnlineEndpoints
    factory: FakeDataFactory
    devops: FakeDevOps
    arm: ArmService
    storage: StorageFront
    ca_path: Path
    registered: dict[str, Any] = field(default_factory=dict)
    """Model versions registered for the deployment scenarios, by model folder name."""

    def settings(self) -> dict[str, Any]:
        """Keyword arguments of ``MLOpsClient(target, **settings)``."""
        return {
            "cloud": "MlopsFakeCloud",
            "resource_manager_url": self.arm.url,
            "authority_url": self.arm.url,
            "ca_bundle": str(self.ca_path),
            "blob_endpoint": f"{self.storage.url}/{{account}}",
            "data_factory": FACTORY,
            "devops": self.devops.project_url,
            "approval_pipeline": 7,
            "devops_pat": PAT,
            "poll_interval": 0.05,
            "poll_max_interval": 0.5,
        }


@pytest.fixture(scope="module")
def azure_world(tls_ca: Any, azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzureWorld]:
    """The emulated Azure of the conformance suites (Azurite included; skips when Azurite cannot run)."""
    workdir = tmp_path_factory.mktemp("azure-world")
    allowed = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    chaos = Chaos()  # no faults: the conformance suites check behaviour, the soak runs check faults
    storage = StorageFront(tls_ca, chaos, azurite).start()
    storage.storage_suffix = f"core.localhost:{storage.url.rsplit(':', 1)[1]}"
    arm = ArmService(tls_ca, "arm", chaos).start()
    devops_service = ChaosService(tls_ca, "devops", chaos).start()
    blobs = azurite.service_client()
    with contextlib.suppress(Exception):  # created by another emulation sharing this Azurite
        blobs.create_container(DATASTORE_CONTAINER)
    aml = _QuickAzureML(arm, azurite, storage, workdir)
    endpoints = ServingOnlineEndpoints(arm, aml, azurite, DATASTORE_CONTAINER, workdir)
    factory = FakeDataFactory(arm, _WallClock())
    devops = FakeDevOps(devops_service)
    devops.add_user(PAT, ME, "Carol")
    devops.add_pipeline(11, "conformance-ci")
    devops.check_approvers = [identity(ME, "Carol"), identity("alice", "Alice"), identity("bob", "Bob")]
    try:
        yield AzureWorld(aml, endpoints, factory, devops, arm, storage, write_ca(tls_ca, workdir))
    finally:
        for service in (devops_service, arm, storage):
            service.stop()
        if allowed is None:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
        else:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = allowed


_ADF_TYPES = {"Copy": "Copy", "Sql": "Script", "Python": "Custom"}
_ADF_PARAMETER_TYPES = {"string": "String", "int": "Int", "float": "Float", "bool": "Bool"}


def publish_in_factory(factory: FakeDataFactory, pipeline: RefreshPipeline, behaviour: str) -> None:
    """Publish ``pipeline`` in the Data Factory fake, its runs behaving as ``behaviour`` says.

    Data Factory runs pipelines authored in the factory; the fake does not execute activities, so the
    run's course is its plan: every activity succeeds (``"succeeds"``), the last one fails naming the
    column ``price`` (``"fails"``), or the last one runs until the run is canceled (``"holds"``).
    """
    parameters = {
        name: {"type": _ADF_PARAMETER_TYPES.get(spec.type, "String"), "defaultValue": spec.default}
        for name, spec in pipeline.parameters.items()
    }
    activities = []
    for position, activity in enumerate(pipeline.activities):
        item = {**copy.deepcopy(COPY_ACTIVITY), "activityName": activity.name}
        item["activityType"] = _ADF_TYPES.get(type(activity).__name__, "Custom")
        item["error"] = {**item["error"], "target": activity.name}
        last = position == len(pipeline.activities) - 1
        if last and behaviour == "fails":
            message = f"Failure happened on 'Sink' side. Invalid column name 'price' (activity {activity.name})."
            item.update(
                status="Failed",
                output={},
                error={"errorCode": "2200", "message": message, "failureType": "UserError", "target": activity.name},
            )
        activities.append(item)
    states = {
        "succeeds": [("Queued", 0.05), ("InProgress", 0.2), ("Succeeded", 0.0)],
        "fails": [("Queued", 0.05), ("InProgress", 0.2), ("Failed", 0.0)],
        "holds": [("Queued", 0.05), ("InProgress", 0.0)],
    }[behaviour]
    message = "Operation on target failed: Invalid column name 'price'" if behaviour == "fails" else ""
    factory.add_pipeline(pipeline.name, parameters=parameters, plan=RunPlan(states, activities, message))
    factory.pipelines[pipeline.name]["properties"]["activities"] = [
        {"name": item["activityName"], "type": item["activityType"], "typeProperties": {}} for item in activities
    ]
