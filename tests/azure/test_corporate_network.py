"""Corporate network: every service the loop touches goes through the configured proxy and trusts the
configured CA, while the environment points elsewhere.

Each test runs with ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` set to a DIFFERENT CA and ``HTTPS_PROXY``/
``HTTP_PROXY`` set to a dead proxy: a call that fell back on the environment would fail TLS or never
connect. The SDK is configured with ``ca_bundle`` (the fakes' CA) and ``proxy`` (a CONNECT proxy on
127.0.0.1 that counts its tunnels per target and refuses any host but loopback). The real client libraries
run underneath: azure-mgmt-datafactory (ARM), azure-ai-ml (Azure ML REST, its code upload to Azurite),
our blob reads from Azurite, MLflow REST, azure-devops (msrest), azure-identity (token endpoint) and the
scoring POST. After the client closes, ``os.environ`` is exactly what it was.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from mlops_sdk import MLOpsClient
from mlops_sdk.clients.data_factory import DataFactoryClient
from mlops_sdk.core.errors import ServiceRequestError
from mlops_sdk.core.status import Status
from mlops_sdk.models.training import TrainingJob
from mlops_sdk.testing import FakeClock
from tests.fakes.azureml import FakeAzureML, JobPlan
from tests.fakes.azurite import Azurite
from tests.fakes.credential import StaticTokenCredential
from tests.fakes.data_factory import FakeDataFactory
from tests.fakes.proxy import ConnectProxy, connect_proxy
from tests.fakes.server import FakeService
from tests.fakes.token import ISSUED_TOKEN, FakeTokenEndpoint

pytestmark = pytest.mark.azure

SUB, RG, WS = "00000000-1111-2222-3333-444444444444", "corp-rg", "corp-ws"
TARGET = f"azureml://subscriptions/{SUB}/resourceGroups/{RG}/workspaces/{WS}"
DEAD_PROXY = "http://127.0.0.1:9"  # nothing listens on the discard port: any use of it fails at once


@pytest.fixture
def hostile_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment points at another CA and a dead proxy; returns the environment as it then is."""
    other = tmp_path_factory.mktemp("other-ca") / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(name, str(other))
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, DEAD_PROXY)
    for name in ("NO_PROXY", "no_proxy", "AZUREML_CURRENT_CLOUD"):
        monkeypatch.delenv(name, raising=False)
    return _environment()


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    with connect_proxy() as running:
        yield running


@pytest.fixture
def service(tls_ca: Any) -> Iterator[FakeService]:
    running = FakeService(tls_ca).start()
    yield running
    running.stop()


def _environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name != "PYTEST_CURRENT_TEST"}


def _network(ca_bundle: Path, proxy: ConnectProxy) -> dict[str, Any]:
    return {"ca_bundle": str(ca_bundle), "proxy": proxy.url, "show_progress": False}


# -- ARM / Data Factory, and the token endpoint of a custom authority ----------------------------------


def test_data_factory_and_token_endpoint_use_the_configured_proxy_and_ca(
    hostile_env: dict[str, str],
    proxy: ConnectProxy,
    service: FakeService,
    ca_bundle: Path,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    adf = FakeDataFactory(service, clock)
    adf.add_pipeline("refresh", parameters={})
    tokens = FakeTokenEndpoint(service)
    # A real ClientSecretCredential signs in at the authority the configuration names.
    monkeypatch.setenv("AZURE_TENANT_ID", "corp-tenant")
    monkeypatch.setenv("AZURE_CLIENT_ID", "corp-client")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "corp-secret-value-0123456789")
    hostile_env = _environment()
    settings = {
        **_network(ca_bundle, proxy),
        "cloud": "CorpCloud",
        "resource_manager_url": service.url,
        "authority_url": service.url,
        "credential": "client_secret",
        "data_factory": "corp-factory",
    }
    with DataFactoryClient(TARGET, clock=clock, settings=settings) as factory:
        run = factory.begin_refresh("refresh").result()
    assert run.status is Status.SUCCEEDED
    create = service.requests_to("POST", r"/pipelines/refresh/createRun$")
    assert len(create) == 1
    assert create[0].headers["authorization"] == f"Bearer {ISSUED_TOKEN}"
    assert create[0].headers["user-agent"].startswith("mlops-sdk/")
    assert [grant["client_id"] for grant in tokens.grants] == ["corp-client"]
    # Sign-in went only where authority_url points: MSAL's instance discovery would have asked
    # login.microsoftonline.com first (the proxy refuses and records any non-loopback target).
    assert proxy.refused == []
    assert proxy.tunnels_to(service.url) >= 1
    assert service.requests_to("GET", r"/corp-tenant/v2\.0/\.well-known/openid-configuration$")
    assert _environment() == hostile_env


def test_wrong_ca_is_a_service_request_error_naming_ca_bundle(
    hostile_env: dict[str, str], service: FakeService, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name)
    FakeDataFactory(service, clock).add_pipeline("refresh", parameters={})
    wrong = tmp_path / "wrong-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(wrong))
    settings = {"resource_manager_url": service.url, "ca_bundle": str(wrong), "data_factory": "f"}
    settings["retry_max_attempts"] = 1
    with (
        DataFactoryClient(TARGET, credential=StaticTokenCredential(), clock=clock, settings=settings) as factory,
        pytest.raises(ServiceRequestError) as caught,
    ):
        factory.get_run("run-that-does-not-matter")
    assert "'ca_bundle'" in caught.value.message


def test_dead_proxy_is_a_service_request_error_naming_the_proxy_setting(
    hostile_env: dict[str, str], service: FakeService, ca_bundle: Path, clock: FakeClock
) -> None:
    FakeDataFactory(service, clock).add_pipeline("refresh", parameters={})
    settings = {
        "resource_manager_url": service.url,
        "ca_bundle": str(ca_bundle),
        "data_factory": "f",
        "proxy": DEAD_PROXY,
        "retry_max_attempts": 1,
    }
    with (
        DataFactoryClient(TARGET, credential=StaticTokenCredential(), clock=clock, settings=settings) as factory,
        pytest.raises(ServiceRequestError) as caught,
    ):
        factory.get_run("run-that-does-not-matter")
    assert "'proxy' setting" in caught.value.message
    assert service.requests == []


# -- Azure ML REST, code upload to Azurite, MLflow metrics, model download from Azurite -------------


@pytest.fixture
def workspace(service: FakeService, azurite: Azurite) -> FakeAzureML:
    aml = FakeAzureML(service, SUB, RG, WS)
    aml.attach_storage(
        account=azurite.account,
        key=azurite.account_key,
        container="azureml-blobstore",
        code_container_url=azurite.container_sas_url,
    )
    azurite.container_sas_url("azureml-blobstore")
    return aml


def _hub(service: FakeService, ca_bundle: Path, proxy: ConnectProxy, azurite: Azurite, clock: FakeClock) -> MLOpsClient:
    return MLOpsClient(
        TARGET,
        credential=StaticTokenCredential(),
        clock=clock,
        cloud="CorpCloud",
        resource_manager_url=service.url,
        authority_url=service.url,
        blob_endpoint=f"{azurite.url}/{{account}}",
        **_network(ca_bundle, proxy),
    )


def test_training_code_upload_lands_in_azurite_through_the_proxy(
    hostile_env: dict[str, str],
    proxy: ConnectProxy,
    service: FakeService,
    workspace: FakeAzureML,
    azurite: Azurite,
    ca_bundle: Path,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    code = tmp_path / "src"
    code.mkdir()
    (code / "train.py").write_text("print('training')\n")
    workspace.default_plan = JobPlan(statuses=["Running", "Completed"], metrics={"rmse": 41.5})
    with _hub(service, ca_bundle, proxy, azurite, clock) as hub:
        job = TrainingJob(code=str(code), command="python train.py", environment="azureml:sklearn-env:1")
        run = hub.training.begin_train(job, idempotency_key="corp-train-1").result()
    assert run.metrics == {"rmse": 41.5}
    uploaded = {
        container.name: [
            blob.name for blob in azurite.service_client().get_container_client(container.name).list_blobs()
        ]
        for container in azurite.service_client().list_containers()
        if container.name.startswith("code-")
    }
    assert any(name.endswith("/train.py") for names in uploaded.values() for name in names), uploaded
    assert proxy.tunnels_to(azurite.url) >= 1  # the blob upload (built inside azure-ai-ml) used our proxy
    assert proxy.tunnels_to(service.url) >= 1  # Azure ML REST and MLflow REST
    assert service.requests_to("GET", r"/mlflow/v1\.0/.*/api/2\.0/mlflow/runs/get$")
    assert proxy.refused == []
    assert _environment() == hostile_env


def _saved_model(folder: Path) -> Path:
    import warnings

    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    frame = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) % 3})
    model = LinearRegression().fit(frame, 2 * frame.a + frame.b)
    path = folder / "model"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.sklearn.save_model(model, str(path), pip_requirements=["scikit-learn"])
    return path


def test_model_files_for_data_checks_are_read_from_azurite_through_the_proxy(
    hostile_env: dict[str, str],
    proxy: ConnectProxy,
    service: FakeService,
    workspace: FakeAzureML,
    azurite: Azurite,
    ca_bundle: Path,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    import pandas as pd

    from mlops_sdk.checks import MetricThreshold

    job = "mlops-corp-validate-1"
    workspace.add_job(
        job,
        {
            "properties": {
                "jobType": "Command",
                "command": "python train.py",
                "experimentName": "corp",
                "environmentId": "azureml:sklearn-env:1",
                "outputs": {"model": {"jobOutputType": "mlflow_model"}},
            }
        },
    )
    workspace.plan(job, JobPlan(statuses=["Completed"], metrics={"rmse": 1.0}))
    container = azurite.service_client().get_container_client("azureml-blobstore")
    local = _saved_model(tmp_path)
    for file in local.rglob("*"):
        if file.is_file():
            container.upload_blob(f"azureml/{job}/model/{file.relative_to(local).as_posix()}", file.read_bytes())
    data = pd.DataFrame({"a": [1.0, 2.0, 4.0], "b": [0.0, 1.0, 2.0], "y": [2.0, 5.0, 10.0]})
    hostile_env = _environment()  # importing mlflow/scikit-learn above sets KMP_* variables of their own
    with _hub(service, ca_bundle, proxy, azurite, clock) as hub:
        model = hub.models.register(hub.training.get_run(job), name="corp-model")
        report = hub.validation.validate(
            model, data=data, target="y", checks=[MetricThreshold("rmse", max=0.01, source="data")]
        )
    assert report.passed, report
    assert report.checks[0].observed == pytest.approx(0.0, abs=1e-6)
    assert service.requests_to("POST", r"/datastores/workspaceblobstore/listSecrets$")
    assert proxy.tunnels_to(azurite.url) >= 1
    assert proxy.refused == []
    assert _environment() == hostile_env


# -- Azure DevOps (msrest, including the LocationClients azure-devops builds internally) ----------------


def test_devops_uses_the_configured_proxy_and_ca_and_leaves_the_environment_alone(
    hostile_env: dict[str, str], proxy: ConnectProxy, service: FakeService, ca_bundle: Path, clock: FakeClock
) -> None:
    pytest.importorskip("azure.devops")
    from mlops_sdk.clients.pipelines import PipelineClient
    from mlops_sdk.core.errors import OperationFailedError
    from tests.fakes.devops import FakeDevOps

    devops = FakeDevOps(service)
    devops.add_user("corp-pat-0123456789", "builder@contoso.com")
    devops.add_pipeline(42, "app-integration-tests")
    settings = {**_network(ca_bundle, proxy), "devops": devops.project_url, "devops_pat": "corp-pat-0123456789"}
    with PipelineClient(TARGET, credential=StaticTokenCredential(), clock=clock, settings=settings) as client:
        operation = client.begin_run(42)
        devops.finish(101, "failed", [("Run integration tests", "3 tests failed")])
        with pytest.raises(OperationFailedError, match="task 'Run integration tests': 3 tests failed"):
            operation.result()
    # OPTIONS (location discovery), ResourceAreas (BuildClient's internal LocationClient), run, timeline.
    assert service.requests[0].method == "OPTIONS"
    assert service.requests_to("GET", r"/_apis/ResourceAreas$")
    assert service.requests_to("GET", r"/build/builds/101/Timeline")
    assert proxy.tunnels_to(service.url) >= 1
    assert proxy.refused == []
    assert _environment() == hostile_env


def test_devops_does_not_export_the_ca_bundle(
    service: FakeService, ca_bundle: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("azure.devops")
    from mlops_sdk.clients.pipelines import PipelineClient
    from tests.fakes.devops import FakeDevOps

    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    before = _environment()
    devops = FakeDevOps(service)
    devops.add_user("corp-pat-0123456789", "builder@contoso.com")
    devops.add_pipeline(42, "app-integration-tests")
    settings = {"ca_bundle": str(ca_bundle), "devops": devops.project_url, "devops_pat": "corp-pat-0123456789"}
    with PipelineClient(TARGET, credential=StaticTokenCredential(), clock=clock, settings=settings) as client:
        assert client.begin_run(42).id == "101"
        assert "REQUESTS_CA_BUNDLE" not in os.environ
    assert _environment() == before


# -- Scoring smoke test and invoke ------------------------------------------------------------------


@pytest.mark.parametrize("where", ["setting", "environment"])
def test_scoring_goes_through_the_configured_proxy(
    hostile_env: dict[str, str],
    proxy: ConnectProxy,
    service: FakeService,
    ca_bundle: Path,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    tls_ca: Any,
    where: str,
) -> None:
    network = _network(ca_bundle, proxy)
    if where == "environment":  # no proxy setting: HTTPS_PROXY applies (http.client used to ignore it)
        del network["proxy"]
        for name in ("HTTPS_PROXY", "https_proxy"):
            monkeypatch.setenv(name, proxy.url)
        hostile_env = _environment()
    from mlops_sdk.models.deployments import Replace, SmokeTest
    from mlops_sdk.models.registry import ModelVersion
    from tests.fakes.azureml_endpoints import FakeOnlineEndpoints

    aml = FakeAzureML(service, SUB, RG, WS)
    aml.add_model_version("diabetes", "1")
    endpoints = FakeOnlineEndpoints(service, aml.ws)
    payload = {"input_data": {"columns": ["a", "b"], "data": [[1, 2], [3, 4]]}}
    smoke = SmokeTest(payload=payload, expected=[1.0, 1.0], ready_deadline=60, retry_interval=1)
    with MLOpsClient(
        TARGET,
        credential=StaticTokenCredential(),
        clock=clock,
        cloud="CorpCloud",
        resource_manager_url=service.url,
        authority_url=service.url,
        **network,
    ) as hub:
        result = hub.deployments.begin_deploy(
            ModelVersion(name="diabetes", version="1", uri="azureml:diabetes:1"),
            endpoint="churn",
            deployment="blue",
            strategy=Replace(smoke_test=smoke),
        ).result()
        assert result.succeeded
        assert service.requests_to("POST", r"/score/churn$")  # the smoke test
        # The scoring host moves to a server of its own, so its tunnels are counted apart from ARM's.
        scoring = FakeService(tls_ca).start()
        try:
            scoring.route("POST", r"/score/(?P<e>[^/]+)", endpoints._score)
            endpoints.endpoints["churn"]["properties"]["scoringUri"] = f"{scoring.url}/score/churn"
            assert hub.deployments.invoke("churn", payload) == [1.0, 1.0]
        finally:
            scoring.stop()
    (score,) = scoring.requests_to("POST", r"/score/churn$")
    assert score.headers["user-agent"].startswith("mlops-sdk/")
    assert score.headers["authorization"].startswith("Bearer ")
    assert proxy.tunnels_to(scoring.url) == 1
    assert proxy.refused == []
    assert _environment() == hostile_env


def test_code_upload_to_storage_signed_by_another_ca_is_a_service_request_error(
    hostile_env: dict[str, str],
    proxy: ConnectProxy,
    service: FakeService,
    ca_bundle: Path,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    aml = FakeAzureML(service, SUB, RG, WS)
    foreign = FakeService(trustme.CA()).start()  # storage whose certificate the configured ca_bundle does not sign
    try:
        aml.code_container_url = lambda container: f"{foreign.url}/blob/{container}?sv=2021-08-06&sr=c&sig=fakesig"
        code = tmp_path / "src"
        code.mkdir()
        (code / "train.py").write_text("print('training')\n")
        job = TrainingJob(code=str(code), command="python train.py", environment="azureml:sklearn-env:1")
        with (
            MLOpsClient(
                TARGET,
                credential=StaticTokenCredential(),
                clock=clock,
                cloud="CorpCloud",
                resource_manager_url=service.url,
                authority_url=service.url,
                retry_max_attempts=1,
                **_network(ca_bundle, proxy),
            ) as hub,
            pytest.raises(ServiceRequestError) as caught,
        ):
            hub.training.begin_train(job, idempotency_key="corp-train-tls")
    finally:
        foreign.stop()
    assert "'ca_bundle'" in caught.value.message
    assert proxy.tunnels_to(foreign.url) >= 1
    assert service.requests_to("PUT", r"/jobs/") == []  # no job was created without its code


def test_devops_approvals_raw_rest_uses_the_configured_proxy_and_ca(
    hostile_env: dict[str, str], proxy: ConnectProxy, service: FakeService, ca_bundle: Path
) -> None:
    pytest.importorskip("azure.devops")
    from datetime import datetime, timedelta, timezone

    from mlops_sdk.models.approvals import ApprovalStatus
    from tests.azure.test_approvals import ALICE, BOB, CAROL, PASSED, PATS, POLICY, client_as, model
    from tests.fakes.devops import FakeDevOps, identity

    devops = FakeDevOps(service)
    for email, pat in PATS.items():
        devops.add_user(pat, email, email.split("@")[0].title())
    devops.check_approvers = [identity(ALICE, "Alice"), identity(BOB, "Bob")]
    clock = FakeClock(start=datetime.now(timezone.utc) - timedelta(seconds=5))
    network = {
        "proxy": proxy.url,
        "cloud": "CorpCloud",
        "resource_manager_url": service.url,
        "authority_url": service.url,
    }
    with client_as(devops, ca_bundle, clock, CAROL, **network) as carol:
        request = carol.request(model(), policy=POLICY, report=PASSED)
    with client_as(devops, ca_bundle, clock, ALICE, **network) as alice:
        decided = alice.approve(request.id, comment="ok")
    assert decided.status is ApprovalStatus.APPROVED
    assert service.requests_to("PATCH", r"/_apis/pipelines/approvals$")  # the raw REST call (not in azure-devops)
    assert proxy.tunnels_to(service.url) >= 2
    assert proxy.refused == []
    assert _environment() == hostile_env
