"""ModelClient on Azure ML: the REAL MLClient over loopback TLS; aliases kept in version tags."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.core.errors import ConfigurationError, ResourceNotFoundError
from mlops_sdk.models.training import TrainingRun
from mlops_sdk.testing import FakeClock
from tests.azure._azureml_fixtures import aml_fixture, hub_fixture  # noqa: F401 - fixtures
from tests.fakes.azureml import FakeAzureML, JobPlan

pytestmark = pytest.mark.azure

JOB = "mlops-nightly-1234567890"


def _finished_run(hub: MLOpsClient, aml: FakeAzureML, name: str = JOB) -> TrainingRun:
    aml.add_job(
        name,
        {
            "properties": {
                "jobType": "Command",
                "command": "python train.py",
                "experimentName": "diabetes",
                "environmentId": "azureml:sklearn-env:1",
                "tags": {
                    "mlops.training_run_id": name,
                    "mlops.git_commit": "abc123",
                    "mlops.ci_build_id": "4711",
                    "mlops.data_versions.data": "9f86d081884c",
                },
                "outputs": {"model": {"jobOutputType": "mlflow_model"}},
            }
        },
    )
    aml.plan(name, JobPlan(statuses=["Completed"]))
    return hub.training.get_run(name)


def _version_puts(aml: FakeAzureML, name: str = "diabetes") -> list[Any]:
    return aml.service.requests_to("PUT", rf"/models/{name}/versions/[^/]+$")


def test_register_puts_an_mlflow_model_version_from_the_job_output(hub: MLOpsClient, aml: FakeAzureML) -> None:
    run = _finished_run(hub, aml)
    version = hub.models.register(run, name="diabetes", description="ridge", tags={"team": "risk"})

    [put] = _version_puts(aml)
    assert put.path == f"{aml.ws}/models/diabetes/versions/1"
    assert put.api_version == "2023-08-01-preview"
    body = put.json["properties"]
    assert body["modelType"] == "mlflow_model"
    assert body["modelUri"] == f"azureml://jobs/{JOB}/outputs/model"
    assert body["description"] == "ridge"
    assert body["tags"]["team"] == "risk"
    assert body["tags"]["mlops.training_run_id"] == JOB
    assert body["tags"]["mlops.git_commit"] == "abc123"
    assert body["tags"]["mlops.ci_build_id"] == "4711"
    assert body["tags"]["mlops.data_versions.data"] == "9f86d081884c"
    assert body["tags"]["mlops.output"] == "model"
    assert body["tags"]["mlops.created_by"]
    assert (version.name, version.version, version.uri) == ("diabetes", "1", "azureml:diabetes:1")
    assert version.source == f"azureml://jobs/{JOB}/outputs/model"
    assert version.lineage.data_versions == {"data": "9f86d081884c"}
    assert version.run_id == JOB

    # Same job output again: the existing version, no second PUT.
    assert hub.models.register(run, name="diabetes").version == "1"
    assert len(_version_puts(aml)) == 1


def test_aliases_move_between_versions_with_history(hub: MLOpsClient, aml: FakeAzureML, clock: FakeClock) -> None:
    aml.add_model_version("diabetes", "1")
    aml.add_model_version("diabetes", "2", path="azureml://jobs/other/outputs/model")

    hub.models.set_alias("diabetes", "champion", 1)
    clock.advance(3600)
    moved = hub.models.set_alias("diabetes", "champion", "2")

    assert moved.aliases == ("champion",)
    assert hub.models.get_by_alias("diabetes", "champion").version == "2"
    assert hub.models.resolve("diabetes:champion").version == "2"
    assert hub.models.get("diabetes", 1).aliases == ()
    assert "mlops.alias.champion" not in hub.models.get("diabetes", 2).tags  # alias tags are not user tags
    puts = _version_puts(aml)
    assert [p.path.rsplit("/", 1)[1] for p in puts] == ["1", "2", "1"]
    assert "mlops.alias.champion" in puts[1].json["properties"]["tags"]
    assert "mlops.alias.champion" not in puts[2].json["properties"]["tags"]
    events = json.loads(puts[1].json["properties"]["tags"]["mlops.alias_history"])
    assert [(e["alias"], e["action"], e["previous"]) for e in events] == [("champion", "set", "1")]

    history = hub.models.alias_history("diabetes")
    assert [(e.alias, e.version, e.previous_version, e.action) for e in history] == [
        ("champion", "1", None, "set"),
        ("champion", "2", "1", "set"),
    ]
    assert all(e.actor for e in history)

    hub.models.remove_alias("diabetes", "champion")
    with pytest.raises(ResourceNotFoundError, match="has no alias 'champion'; versions: 1, 2"):
        hub.models.get_by_alias("diabetes", "champion")
    assert hub.models.alias_history("diabetes")[-1].action == "removed"


def test_set_tags_merges_and_keeps_the_path(hub: MLOpsClient, aml: FakeAzureML) -> None:
    aml.add_model_version("diabetes", "1", tags={"team": "risk"})
    updated = hub.models.set_tags("diabetes", "1", {"mlops.validation_digest": "sha256:abc"})
    assert updated.tags == {"team": "risk", "mlops.validation_digest": "sha256:abc"}
    [put] = _version_puts(aml)
    assert put.json["properties"]["modelUri"] == "azureml://jobs/earlier/outputs/model"


def test_list_get_and_errors(hub: MLOpsClient, aml: FakeAzureML) -> None:
    aml.add_model_version("diabetes", "1")
    aml.add_model_version("diabetes", "2")
    aml.add_model_version("churn", "1")
    assert [v.version for v in hub.models.list_versions("diabetes")] == ["2", "1"]
    assert [v.ref for v in hub.models.list_models()] == ["churn@1", "diabetes@2"]
    with pytest.raises(ResourceNotFoundError, match="has no version 9; versions: 1, 2"):
        hub.models.get("diabetes", 9)
    with pytest.raises(ResourceNotFoundError, match="no registered model 'nope'"):
        hub.models.get("nope", 1)
    with pytest.raises(ConfigurationError, match="NAME@VERSION"):
        hub.models.resolve("diabetes")
    with pytest.raises(ConfigurationError, match="alias 'v3' is invalid"):
        hub.models.set_alias("diabetes", "v3", 1)


def test_register_refuses_an_unfinished_job(hub: MLOpsClient, aml: FakeAzureML) -> None:
    run = _finished_run(hub, aml)
    running = run.model_copy(update={"status": run.status.RUNNING})
    with pytest.raises(ConfigurationError, match="only a succeeded \\(completed\\) run can be registered"):
        hub.models.register(running, name="diabetes")
    with pytest.raises(ConfigurationError, match="has no output 'weights'"):
        hub.models.register(run, name="diabetes", output="weights")
    assert _version_puts(aml) == []


def test_set_tags_survives_transient_failures_of_the_read_and_the_write(hub: MLOpsClient, aml: FakeAzureML) -> None:
    from tests.fakes.server import Fault

    aml.add_model_version("diabetes", "1", tags={"team": "risk"})
    aml.service.inject(Fault("GET", r"/models/diabetes/versions/1$", status=503))
    aml.service.inject(Fault("PUT", r"/models/diabetes/versions/1$", drop=True, after_handler=True))
    updated = hub.models.set_tags("diabetes", "1", {"reviewed": "yes"})
    assert updated.tags == {"team": "risk", "reviewed": "yes"}
    assert len(_version_puts(aml)) == 2  # the PUT whose answer was lost, then the same PUT again
    assert aml.models["diabetes"]["1"]["properties"]["tags"] == {"team": "risk", "reviewed": "yes"}


def test_tag_update_of_a_job_output_model_keeps_its_resolved_path(hub: MLOpsClient, aml: FakeAzureML) -> None:
    # The service stores the job output's datastore path ('resourceGroups'); azure-ai-ml sends it back
    # normalised ('resourcegroups'): the same asset, not a changed path.
    aml.datastores["workspaceblobstore"] = {"datastoreType": "AzureBlob"}
    run = _finished_run(hub, aml)
    model = hub.models.register(run, name="diabetes")
    assert "/resourceGroups/" in aml.models["diabetes"]["1"]["properties"]["modelUri"]
    updated = hub.models.set_tags("diabetes", model.version, {"reviewed": "yes"})
    assert updated.tags["reviewed"] == "yes"
