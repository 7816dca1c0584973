"""Continuation tokens and operation ids survive the move of deploy/rollback/resume into one shared service.

The tokens below were written by the SDK before the backends' deployment services shared their code
(memory://, fake clock); the model folder and its digest are the only parts filled in per run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.backends.local.deployments import _digest_folder
from mlops_sdk.core.lineage import current_identity
from mlops_sdk.models.deployments import BlueGreen, Replace
from mlops_sdk.testing import FakeClock
from mlops_sdk.testing.conformance.deployments import _linear_model

_LINEAGE = (
    '{"ci_build_id":null,"ci_build_url":null,"ci_pipeline":null,"ci_provider":null,"data_versions":{},'
    '"flow_run_id":null,"git_branch":null,"git_commit":null,"git_dirty":null,"git_remote":null,'
    '"pipeline_run_id":null,"pipeline_step":null,"refresh_run_id":null,"training_run_id":null,"user":"root",'
    '"validation_digest":null}'
)
OLD_ENDPOINT = (
    '{"id":"endpoint-churn-b98a7e0209c8","kind":"deployments.endpoint","state":{"endpoint":"churn"},'
    '"target":"memory://","v":1}'
)
OLD_DEPLOY = (
    '{"id":"deploy-churn-dda0eae800de","kind":"deployments.deploy","state":{"by":"root","changed":true,'
    '"deployment":"green","digest":"@DIGEST@","endpoint":"churn","lineage":' + _LINEAGE + ',"mode":"deploy",'
    '"model":{"name":null,"ref":"@MODEL@","uri":"@MODEL@","version":null},"phase":"endpoint",'
    '"smoke_predicate":false,"smoke_test":null,"started_at":"2026-01-01T00:00:00+00:00","step":0,"steps":[],'
    '"strategy":{"bake_time":0.0,"guardrails":null,"keep_failed":false,"kind":"blue_green",'
    '"rollback_on_failure":true,"steps":[50,100]}},"target":"memory://","v":1}'
)
OLD_ROLLBACK = (
    '{"id":"rollback-churn-9e94fc04b1b3","kind":"deployments.rollback","state":{"by":"root","changed":true,'
    '"deployment":null,"endpoint":"churn","lineage":' + _LINEAGE + ',"mode":"rollback","model":null,'
    '"phase":"target","smoke_predicate":false,"smoke_test":null,"started_at":"2026-01-01T00:00:00+00:00",'
    '"step":0,"steps":[],"strategy":null},"target":"memory://","v":1}'
)


@pytest.fixture
def client(clock: FakeClock) -> Iterator[MLOpsClient]:
    with MLOpsClient("memory://", clock=clock, show_progress=False) as hub:
        yield hub


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[float, Path]:
    folder = tmp_path_factory.mktemp("models")
    return {intercept: _linear_model(folder, intercept) for intercept in (0.0, 10.0)}


def _old_deploy(model: Path) -> str:
    # JSON-escaped path (a Windows path has backslashes)
    path = json.dumps(str(model))[1:-1]
    return OLD_DEPLOY.replace("@MODEL@", path).replace("@DIGEST@", _digest_folder(model))


def _without_identity(state: dict[str, Any]) -> dict[str, Any]:
    """The state without who/where it ran (user, git lineage), which differ between machines."""
    return {key: value for key, value in state.items() if key not in ("by", "lineage")}


def test_tokens_written_before_the_shared_service_resume_and_finish(
    client: MLOpsClient, models: dict[float, Path]
) -> None:
    client.deployments.begin_create_endpoint("churn").result()
    endpoint = client.deployments.resume_operation(OLD_ENDPOINT).result()
    assert (endpoint.name, endpoint.deployments) == ("churn", [])
    client.deployments.begin_deploy(models[0.0], endpoint="churn", deployment="blue", strategy=Replace()).result()

    deploy = client.deployments.resume_operation(_old_deploy(models[10.0]))
    assert deploy.id == "deploy-churn-dda0eae800de"
    result = deploy.result()
    assert (result.succeeded, result.traffic) == (True, {"blue": 0, "green": 100})
    assert [step.percent for step in result.steps] == [50, 100]

    rollback = client.deployments.resume_operation(OLD_ROLLBACK).result()
    assert (rollback.succeeded, rollback.traffic) == (True, {"blue": 100, "green": 0})
    operations = [entry.operation_id for entry in client.deployments.history("churn")]
    assert "deploy-churn-dda0eae800de" in operations
    assert operations[-1] == "rollback-churn-9e94fc04b1b3"


def test_new_tokens_have_the_old_ids_and_state(client: MLOpsClient, models: dict[float, Path]) -> None:
    created = client.deployments.begin_create_endpoint("churn")
    assert re.fullmatch(r"endpoint-churn-[0-9a-f]{12}", created.id)
    assert json.loads(created.continuation_token())["state"] == json.loads(OLD_ENDPOINT)["state"]
    created.result()
    client.deployments.begin_deploy(models[0.0], endpoint="churn", deployment="blue", strategy=Replace()).result()

    deploy = client.deployments.begin_deploy(
        models[10.0], endpoint="churn", deployment="green", strategy=BlueGreen(steps=[50, 100])
    )
    assert re.fullmatch(r"deploy-churn-[0-9a-f]{12}", deploy.id)
    token = json.loads(deploy.continuation_token())
    old = json.loads(_old_deploy(models[10.0]))
    assert (token["kind"], token["target"], token["v"]) == (old["kind"], old["target"], old["v"])
    assert _without_identity(token["state"]) == _without_identity(old["state"])
    assert token["state"]["by"] == current_identity()
    assert token["state"]["lineage"].keys() == old["state"]["lineage"].keys()
    deploy.result()

    rollback = client.deployments.begin_rollback("churn")
    assert re.fullmatch(r"rollback-churn-[0-9a-f]{12}", rollback.id)
    state = json.loads(rollback.continuation_token())["state"]
    assert _without_identity(state) == _without_identity(json.loads(OLD_ROLLBACK)["state"])
