"""Each private azure-ai-ml name behind backends/azure/_aml_shim.py still has the shape the shim relies on.

An azure-ai-ml upgrade that moves or reshapes one of them fails here, by name, before anything else.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("azure.ai.ml")

from mlops_sdk.backends.azure import _aml_shim
from tests.azure._azureml_fixtures import aml_fixture, hub_fixture  # noqa: F401 - fixtures
from tests.fakes.azureml import FakeAzureML, JobPlan
from tests.fakes.azurite import Azurite

pytestmark = pytest.mark.azure


def test_run_details_reads_the_run_history_error(hub: Any, aml: FakeAzureML) -> None:
    from azure.ai.ml.operations._run_operations import RunOperations

    assert list(inspect.signature(RunOperations.get_run_details).parameters) == ["self", "run_id"]
    aml.plan("failed-job", JobPlan(statuses=["Failed"], error={"code": "UserError", "message": "boom"}))
    aml.add_job("failed-job", {"properties": {"jobType": "Command", "command": "x", "environmentId": "azureml:e:1"}})
    aml.jobs["failed-job"]["properties"]["status"] = "Failed"
    ml = hub.training._svc().ml  # the shared MLClient the training service built
    details = _aml_shim.run_details(ml, "failed-job")
    assert details.error.error.code == "UserError"
    assert aml.service.requests_to("GET", r"/history/v1\.0/.*/runs/failed-job/details$")


def test_storage_hook_names_exist_and_still_take_url_and_credential_only() -> None:
    import azure.ai.ml._artifacts._blob_storage_helper as helper
    from azure.storage.blob import BlobServiceClient, ContainerClient

    assert issubclass(helper.BlobServiceClient, BlobServiceClient)
    assert issubclass(helper.ContainerClient, ContainerClient)
    # The reason for the hook: azure-ai-ml builds its blob clients from a URL and a credential only.
    source = inspect.getsource(helper.BlobStorageClient.__init__)
    assert "BlobServiceClient(account_url=account_url, credential=credential)" in source
    assert "ContainerClient.from_container_url(account_url)" in source


def test_failed_upload_hook_names_exist_and_the_wait_still_counts_files() -> None:
    import azure.ai.ml._artifacts._blob_storage_helper as helper
    import azure.ai.ml._utils._asset_utils as asset_utils

    # The reason for the hook: the upload waits on a file count that a failed file never reaches, and
    # upload_directory (looking upload_file up in its module) reads its workers' results only with progress bars.
    assert "while self.uploaded_file_count < self.total_file_count" in inspect.getsource(helper.BlobStorageClient)
    assert "storage_client.uploaded_file_count += 1" in inspect.getsource(asset_utils)
    assert "ex.submit(\n                upload_file," in inspect.getsource(asset_utils.upload_directory)


def test_storage_hook_applies_only_inside_the_context(azurite: Azurite, tmp_path: Path) -> None:
    import azure.ai.ml._artifacts._blob_storage_helper as helper

    sas_url = azurite.container_sas_url("shim-hook")
    kwargs = {"connection_verify": str(azurite.ca_path), "retry_total": 0}
    with _aml_shim.storage_settings(kwargs):
        inside = helper.BlobStorageClient(credential=None, account_url=sas_url, container_name=None)
        inside.container_client.upload_blob("probe.txt", b"through the hook")
    outside = helper.BlobStorageClient(credential=None, account_url=sas_url, container_name=None)
    assert outside.container_client._config.retry_policy.total_retries == 3  # azure-storage-blob's default: untouched
    assert inside.container_client._config.retry_policy.total_retries == 0
    blob = azurite.service_client().get_container_client("shim-hook").download_blob("probe.txt")
    assert blob.readall() == b"through the hook"


def test_captured_notices_reroutes_azure_ai_ml_console_records() -> None:
    import azure.ai.ml  # noqa: F401 - installs its console handler on the "azure.ai.ml" logger

    aml_logger = logging.getLogger(_aml_shim.AML_LOGGER)
    assert any(isinstance(handler, logging.StreamHandler) for handler in aml_logger.handlers)
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    collector = Collect(logging.INFO)
    aml_logger.addHandler(collector)  # stands in for the console handler azure-ai-ml installs
    try:
        notice = logging.getLogger("azure.ai.ml.operations._job_operations")
        with _aml_shim.captured_notices():
            notice.info("Proceeding with no tenant id appended to studio URL")
        notice.warning("Class Foo: This is an experimental class, outside the SDK")
    finally:
        aml_logger.removeHandler(collector)
    assert seen == ["Class Foo: This is an experimental class, outside the SDK"]  # users' own calls still print


def test_sdk_calls_print_no_azure_ai_ml_notices(hub: Any, aml: FakeAzureML, tmp_path: Path) -> None:
    from azure.ai.ml._utils import _experimental

    from mlops_sdk.models.training import TrainingJob

    _experimental._warning_cache.clear()  # azure-ai-ml prints each notice once per process
    aml_logger = logging.getLogger(_aml_shim.AML_LOGGER)
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    collector = Collect(logging.INFO)
    aml_logger.addHandler(collector)  # sees what azure-ai-ml's own console handler would print
    try:
        code = tmp_path / "src"
        code.mkdir()
        (code / "train.py").write_text("print('hi')\n")
        job = TrainingJob(code=str(code), command="python train.py", environment="azureml:sklearn-env:1")
        hub.training.begin_train(job, idempotency_key="notices-1").result()
    finally:
        aml_logger.removeHandler(collector)
    assert [message for message in seen if "experimental" in message or "tenant" in message] == []


def test_regenerate_endpoint_key_reaches_the_generated_operation(hub: Any) -> None:
    ml = hub.training._svc().ml  # the shared MLClient
    operation = ml.online_endpoints._online_operation.begin_regenerate_keys
    parameters = set(inspect.signature(operation).parameters)
    assert {"resource_group_name", "workspace_name", "endpoint_name", "body"} <= parameters
    # The public method still sends the current key as keyValue: the reason the shim exists.
    from azure.ai.ml.operations._online_endpoint_operations import OnlineEndpointOperations

    assert "key_value" in inspect.getsource(OnlineEndpointOperations._regenerate_online_keys)


def test_initial_retry_after_reads_the_first_answer_of_azure_cores_poller() -> None:
    from azure.core.polling.base_polling import LROBasePolling

    # azure-core keeps the answer that started the operation here; the shim reads its headers.
    source = inspect.getsource(LROBasePolling.initialize)
    assert "self._initial_response" in source
    assert "self._initial_response.http_response" in source
