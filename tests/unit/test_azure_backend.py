"""Azure backend plumbing: clouds, credential choice per CI runner, and error translation."""

from __future__ import annotations

import pytest

from mlops_sdk.core.config import Settings
from mlops_sdk.core.errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    ResourceNotFoundError,
    ServiceRequestError,
    ThrottledError,
)

pytest.importorskip("azure.identity")

from azure.core import exceptions as core

from mlops_sdk.backends.azure.cloud import cloud_endpoints
from mlops_sdk.backends.azure.credentials import choose_credential_kind, create_credential
from mlops_sdk.backends.azure.errors import azure_errors, translate_error


def test_known_clouds_and_overrides() -> None:
    assert cloud_endpoints(Settings()).resource_manager == "https://management.azure.com/"
    china = cloud_endpoints(Settings(cloud="AzureChinaCloud"))
    assert china.authority == "https://login.chinacloudapi.cn/"
    assert china.arm_scope == "https://management.chinacloudapi.cn/.default"
    fake = cloud_endpoints(
        Settings(cloud="Loopback", resource_manager_url="https://127.0.0.1:1/", authority_url="https://127.0.0.1:2/")
    )
    assert (fake.resource_manager, fake.authority) == ("https://127.0.0.1:1/", "https://127.0.0.1:2/")
    with pytest.raises(ConfigurationError, match="unknown Azure cloud 'Mars'"):
        cloud_endpoints(Settings(cloud="Mars"))


@pytest.mark.parametrize(
    ("env", "kind"),
    [
        ({"SYSTEM_OIDCREQUESTURI": "https://x", "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": "sc"}, "azure_pipelines"),
        ({"AZURE_FEDERATED_TOKEN_FILE": "/var/run/token"}, "workload_identity"),
        ({"AZURE_CLIENT_SECRET": "s", "AZURE_CLIENT_ID": "c", "AZURE_TENANT_ID": "t"}, "client_secret"),
        ({"IDENTITY_ENDPOINT": "http://169.254.169.254"}, "managed_identity"),
        ({}, "default"),
    ],
)
def test_auto_credential_follows_the_runner(env: dict[str, str], kind: str) -> None:
    assert choose_credential_kind(Settings(), env) == kind
    assert choose_credential_kind(Settings(credential="azure_cli"), env) == "azure_cli"


def test_missing_pipeline_variables_are_named() -> None:
    env = {"SYSTEM_OIDCREQUESTURI": "https://x", "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": "sc"}
    with pytest.raises(
        ConfigurationError, match="AZURESUBSCRIPTION_TENANT_ID, AZURESUBSCRIPTION_CLIENT_ID, SYSTEM_ACCESSTOKEN"
    ):
        create_credential(Settings(), cloud_endpoints(Settings()), env)


def test_workload_identity_credential_is_built(tmp_path: object) -> None:
    import azure.identity

    env = {"AZURE_FEDERATED_TOKEN_FILE": "/tmp/t", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c"}
    credential = create_credential(Settings(), cloud_endpoints(Settings()), env)
    assert isinstance(credential, azure.identity.WorkloadIdentityCredential)


class _Response:
    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status_code = status
        self.headers = headers
        self.reason = "x"

    def text(self) -> str:
        return ""


@pytest.mark.parametrize(
    ("status", "cls"),
    [(404, ResourceNotFoundError), (409, ConflictError), (429, ThrottledError), (401, AuthenticationError)],
)
def test_http_errors_map_with_request_id_and_retry_after(status: int, cls: type[Exception]) -> None:
    error = core.HttpResponseError(
        message="boom", response=_Response(status, {"x-ms-request-id": "rid-1", "Retry-After": "4"})
    )
    translated = translate_error(error, what="getting run r1", operation_id="r1")
    assert type(translated) is cls
    assert translated.status_code == status
    assert translated.request_id == "rid-1"
    assert translated.retry_after == 4.0  # type: ignore[attr-defined]
    assert translated.backend == "azure"
    assert "getting run r1" in translated.message


def test_connection_errors_and_chaining() -> None:
    with pytest.raises(ServiceRequestError) as caught, azure_errors("creating run"):
        raise core.ServiceRequestError("connection refused")
    assert isinstance(caught.value.__cause__, core.ServiceRequestError)
    token_failure = translate_error(core.ClientAuthenticationError("no token"), what="x")
    assert isinstance(token_failure, AuthenticationError)
    assert "az login" in token_failure.message
