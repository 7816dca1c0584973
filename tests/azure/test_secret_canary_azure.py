"""The secret canary on Azure: the REAL Data Factory, Azure DevOps and Azure ML clients over loopback TLS.

* a Data Factory ``SecureString`` parameter and an ``AccountKey`` connection string in a ``String``
  parameter reach ``createRun`` (the service needs them) and nothing else: not the returned runs, not
  the error of a run whose service message quotes the connection string, not a log record at DEBUG;
  a run started by someone else is masked by the pipeline's declaration alone;
* the Azure DevOps PAT (and its Basic-auth form) appears in no error, model or log record; secret
  pipeline variables are queued as ``isSecret`` variables, and a connection string in a template
  parameter reaches the run request but no returned run;
* the endpoint key fetched with ``listKeys`` appears in no result, error or log record;
* a training job's secret environment values reach the Azure ML job body (the job needs them) and no
  model, error (even one whose service message quotes them) or log record.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_sdk import MLOpsClient, OperationFailedError, ResourceNotFoundError, Secret, Status
from mlops_sdk.backends.azure.training import job_name_for_key
from mlops_sdk.clients.data_factory import DataFactoryClient
from mlops_sdk.core.errors import MlopsError
from mlops_sdk.models.deployments import Replace
from mlops_sdk.models.registry import ModelVersion
from mlops_sdk.models.training import TrainingJob
from mlops_sdk.testing import FakeClock
from tests.azure._azureml_fixtures import aml_fixture, hub_fixture  # noqa: F401  (fixtures)
from tests.fakes.azureml import FakeAzureML, JobPlan
from tests.fakes.azureml_endpoints import PRIMARY_KEY, SECONDARY_KEY, FakeOnlineEndpoints
from tests.fakes.credential import StaticTokenCredential
from tests.fakes.data_factory import FakeDataFactory, failing_plan
from tests.fakes.server import FakeService

pytestmark = pytest.mark.azure

SUB, RG, FACTORY = "12345678-1234-1234-1234-12345678abc", "exampleResourceGroup", "exampleFactoryName"
TARGET = f"azureml://subscriptions/{SUB}/resourceGroups/{RG}/workspaces/ws"
BASE = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.DataFactory/factories/{FACTORY}"


def _canary(label: str) -> str:
    return f"Cnry{label}{uuid.uuid4().hex}"


def _error_texts(error: BaseException) -> list[str]:
    texts = [str(error), repr(error)]
    if isinstance(error, MlopsError):
        texts.append(json.dumps(error.to_dict(), default=str))
    return texts


def _leaks(texts: list[str], needles: list[str]) -> list[str]:
    return [text[:200] for text in texts for needle in needles if needle in text]


@pytest.fixture
def adf(tls_ca: Any, clock: FakeClock) -> Iterator[FakeDataFactory]:
    service = FakeService(tls_ca).start()
    fake = FakeDataFactory(service, clock)
    yield fake
    service.stop()


def _factory(adf: FakeDataFactory, ca_bundle: Path, clock: FakeClock) -> DataFactoryClient:
    settings = {
        "resource_manager_url": adf.service.url,
        "ca_bundle": str(ca_bundle),
        "data_factory": FACTORY,
        "show_progress": False,
    }
    return DataFactoryClient(TARGET, credential=StaticTokenCredential(), clock=clock, settings=settings)


def test_securestring_reaches_create_run_and_nothing_else(
    adf: FakeDataFactory, ca_bundle: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token, key = _canary("AdfToken"), _canary("AdfKey")
    conn = f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={key};EndpointSuffix=core.windows.net"
    declared = {"apiToken": {"type": "SecureString"}, "conn": {"type": "String"}, "region": {"type": "String"}}
    adf.add_pipeline("securePipeline", parameters=declared)
    adf.add_pipeline("brokenPipeline", parameters=declared, plan=failing_plan(message=f"cannot open {conn}"))
    texts: list[str] = []
    with _factory(adf, ca_bundle, clock) as factory:
        run = factory.begin_refresh(
            "securePipeline", parameters={"apiToken": token, "conn": conn, "region": "eu"}, idempotency_key="k-1"
        ).result()
        with pytest.raises(OperationFailedError) as failed:
            factory.begin_refresh(
                "brokenPipeline", parameters={"apiToken": token, "conn": conn, "region": "eu"}
            ).result()
        texts += [repr(run), run.model_dump_json(), *_error_texts(failed.value)]
        texts += [repr(item) for item in factory.list_runs()]

    # The service got the real values, in the createRun body only.
    created = adf.service.requests_to("POST", rf"^{BASE}/pipelines/securePipeline/createRun$")
    assert created[0].json == {"apiToken": token, "conn": conn, "region": "eu", "mlops_request_id": "k-1"}
    assert run.status is Status.SUCCEEDED
    assert run.parameters == {"apiToken": "***", "conn": "***", "region": "eu", "mlops_request_id": "k-1"}
    assert "cannot open" in str(failed.value)
    texts += [record.getMessage() for record in caplog.records]
    assert _leaks(texts, [token, key]) == []


def test_a_run_started_elsewhere_is_masked_by_the_declaration(
    adf: FakeDataFactory, ca_bundle: Path, clock: FakeClock
) -> None:
    # A value this process never saw (so never registered): only the SecureString declaration hides it.
    unseen = _canary("Elsewhere")
    adf.add_pipeline("securePipeline", parameters={"apiToken": {"type": "SecureString"}})
    with _factory(adf, ca_bundle, clock) as factory:
        factory.begin_refresh("securePipeline", parameters={"apiToken": "placeholder-value"}).result()
        run_id = next(iter(adf.runs))
        adf.runs[run_id].body["parameters"]["apiToken"] = unseen  # what the service echoes for that run
    with _factory(adf, ca_bundle, clock) as fresh:
        run = fresh.get_run(run_id)
        listed = fresh.list_runs()
    assert run.parameters["apiToken"] == "***"
    assert _leaks([repr(run), run.model_dump_json(), *(repr(item) for item in listed)], [unseen]) == []


def test_devops_pat_never_shows(tls_ca: Any, ca_bundle: Path, caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("azure.devops")
    from tests.fakes.devops import FakeDevOps

    caplog.set_level(logging.DEBUG)
    pat = _canary("Pat")
    basic = base64.b64encode(f":{pat}".encode()).decode()
    service = FakeService(tls_ca).start()
    try:
        devops = FakeDevOps(service)
        devops.add_user(pat, "builder@contoso.com")
        devops.add_pipeline(42, "app-integration-tests")
        settings = {"devops": devops.project_url, "devops_pat": pat, "ca_bundle": str(ca_bundle)}
        texts: list[str] = []
        variable, explicit, key = _canary("Var"), _canary("Explicit"), _canary("ParamKey")
        conn = f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={key}"
        with MLOpsClient(TARGET, credential=StaticTokenCredential(), show_progress=False, **settings) as client:
            operation = client.pipelines.begin_run(
                42,
                parameters={"model": "m@1", "storage": conn},
                variables={"DEPLOY_TOKEN": variable, "EXTRA": Secret(explicit), "ENV": "staging"},
            )
            texts.append(repr(client.pipelines.get_run(42, int(operation.id))))
            with pytest.raises(ResourceNotFoundError) as missing:
                client.pipelines.begin_run(4242)
            texts += _error_texts(missing.value)
    finally:
        service.stop()
    sent = [request.headers.get("authorization", "") for request in service.requests]
    assert f"Basic {basic}" in sent  # the PAT was used
    [queued] = [request for request in service.requests if request.method == "POST" and "/42/runs" in request.path]
    assert queued.json["templateParameters"] == {"model": "m@1", "storage": conn}
    assert queued.json["variables"] == {
        "DEPLOY_TOKEN": {"value": variable, "isSecret": True},
        "EXTRA": {"value": explicit, "isSecret": True},
        "ENV": {"value": "staging"},
    }
    pat_and_values = [variable, explicit, key]
    assert _leaks(texts, pat_and_values) == []
    texts += [logging.Formatter().format(record) for record in caplog.records]
    assert _leaks(texts, [pat, basic]) == []


def test_endpoint_key_never_shows(hub: MLOpsClient, aml: FakeAzureML, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    aml.add_model_version("diabetes", "1")
    endpoints = FakeOnlineEndpoints(aml.service, aml.ws)
    model = ModelVersion(name="diabetes", version="1", uri="azureml:diabetes:1")
    result = hub.deployments.begin_deploy(model, endpoint="canary", deployment="blue", strategy=Replace()).result()
    texts = [repr(result), result.model_dump_json(), repr(hub.deployments.get_endpoint("canary"))]
    assert hub.deployments.invoke("canary", {"input_data": [[1, 2]]}) == [1.0]
    with pytest.raises(MlopsError) as missing:
        hub.deployments.invoke("canary", {"input_data": [[1, 2]]}, deployment="no-such-deployment")
    texts += _error_texts(missing.value)
    scoring = endpoints.service.requests_to("POST", r"^/score/canary$")
    assert scoring[0].headers["authorization"] == f"Bearer {PRIMARY_KEY}"  # the key was used
    texts += [logging.Formatter().format(record) for record in caplog.records]
    assert _leaks(texts, [PRIMARY_KEY, SECONDARY_KEY]) == []


def test_training_environment_secrets_reach_the_job_body_only(
    hub: MLOpsClient, aml: FakeAzureML, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key, token = _canary("AmlKey"), _canary("AmlToken")
    conn = f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={key};EndpointSuffix=core.windows.net"
    code = tmp_path / "src"
    code.mkdir()
    (code / "train.py").write_text("print('training')\n")
    job = TrainingJob(
        code=code,
        command="python train.py",
        environment="azureml:sklearn-env:1",
        environment_variables={"STORAGE": conn, "SERVICE_TOKEN": token, "LOG_LEVEL": "debug"},
    )
    aml.plan(
        job_name_for_key("canary"),
        JobPlan(statuses=["Queued", "Failed"], error={"code": "UserError", "message": f"could not use {conn}"}),
    )
    with pytest.raises(OperationFailedError) as failed:
        hub.training.begin_train(job, idempotency_key="canary").result()
    [put] = aml.service.requests_to("PUT", r"/jobs/[^/]+$")
    sent = put.json["properties"]["environmentVariables"]
    assert sent == {"STORAGE": conn, "SERVICE_TOKEN": token, "LOG_LEVEL": "debug"}
    assert "could not use" in str(failed.value)
    texts = [repr(job), job.model_dump_json(), *_error_texts(failed.value)]
    texts += [repr(run) for run in hub.training.list_runs()]
    texts += [logging.Formatter().format(record) for record in caplog.records]
    assert _leaks(texts, [key, token]) == []
