"""azure-identity and cloud settings: instance discovery only for Microsoft's hosts, one-line credential
failures with the fix first, storage URLs that follow the cloud, MLClient without transport retries."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("azure.identity")

from mlops_sdk import MLOpsClient
from mlops_sdk.backends.azure import AzureBackend
from mlops_sdk.backends.azure._mlclient import cloud_arguments
from mlops_sdk.backends.azure._storage import blob_account_url, parse_datastore_uri
from mlops_sdk.backends.azure.credentials import create_credential, is_custom_authority
from mlops_sdk.backends.azure.errors import translate_error
from mlops_sdk.core.config import load_config
from mlops_sdk.core.errors import AuthenticationError, ServerError
from mlops_sdk.core.targets import AzureMLTarget
from tests.azure._azureml_fixtures import TARGET, aml_fixture  # noqa: F401 - fixtures
from tests.fakes.azureml import FakeAzureML
from tests.fakes.credential import StaticTokenCredential
from tests.fakes.server import Fault

pytestmark = pytest.mark.azure


def _backend(**settings: Any) -> AzureBackend:
    config = load_config({"target": TARGET, **settings})
    return AzureBackend(AzureMLTarget.parse(TARGET), config, credential=StaticTokenCredential())


@pytest.mark.parametrize(
    ("authority", "custom"),
    [
        ("https://login.microsoftonline.com/", False),
        ("https://login.chinacloudapi.cn/", False),
        ("https://login.microsoftonline.us", False),
        ("https://login.contoso-sovereign.example/", True),
        ("https://127.0.0.1:8443/", True),
    ],
)
def test_custom_authority_hosts(authority: str, custom: bool) -> None:
    assert is_custom_authority(authority) is custom


def test_client_secret_credential_gets_the_http_configuration_and_no_instance_discovery(tmp_path: Path) -> None:
    import trustme

    bundle = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(bundle))
    backend = _backend(
        cloud="Private",
        resource_manager_url="https://arm.private.example/",
        authority_url="https://login.private.example/",
        ca_bundle=str(bundle),
        proxy="http://proxy.private.example:3128",
    )
    env = {"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s3cret-0123456789"}
    credential = create_credential(backend.config.settings.model_copy(update={"credential": "client_secret"}),
                                   backend.cloud, env, http=backend.http)  # fmt: skip
    assert credential._instance_discovery is False  # MSAL: no discovery request to Microsoft's hosts
    transport = credential._client._pipeline._transport
    assert transport.connection_config.verify == str(bundle)
    assert any(
        getattr(getattr(policy, "_policy", policy), "proxies", None)
        == {"http": "http://proxy.private.example:3128", "https": "http://proxy.private.example:3128"}
        for policy in credential._client._pipeline._impl_policies
    )


def test_default_credential_failure_is_one_line_with_the_fix_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))  # no az, azd, pwsh
    monkeypatch.setenv("IDENTITY_ENDPOINT", "")
    backend = _backend(credential="default")
    credential = create_credential(backend.config.settings, backend.cloud, {}, http=backend.http)
    from azure.core.exceptions import ClientAuthenticationError

    with pytest.raises(ClientAuthenticationError) as caught:
        credential.get_token(backend.cloud.arm_scope)
    assert len(str(caught.value).splitlines()) > 10  # what azure-identity says
    error = translate_error(caught.value, what="reading job x")
    assert isinstance(error, AuthenticationError)
    assert "\n" not in error.message
    assert error.message.startswith("reading job x: could not get an access token; sign in with `az login`")
    assert "tried: EnvironmentCredential (" in error.message
    assert "AzureCliCredential (" in error.message


def test_storage_suffix_follows_the_settings_into_azure_ai_ml_and_our_blob_urls() -> None:
    china = _backend(cloud="AzureChinaCloud")
    assert cloud_arguments(china) == {"cloud": "AzureChinaCloud"}
    assert blob_account_url(china, "acct") == "https://acct.blob.core.chinacloudapi.cn"
    custom = _backend(storage_suffix="core.sovereign.example")
    arguments = cloud_arguments(custom)
    assert arguments["cloud_metadata"]["storage_endpoint"] == "core.sovereign.example"
    assert arguments["cloud"] != "AzureCloud"
    assert blob_account_url(custom, "acct") == "https://acct.blob.core.sovereign.example"
    # The datastore's own endpoint wins over the cloud's; an explicit blob_endpoint wins over both.
    assert blob_account_url(custom, "acct", endpoint="core.other.example", protocol="https") == (
        "https://acct.blob.core.other.example"
    )
    private = _backend(blob_endpoint="https://{account}.privatelink.blob.core.windows.net")
    assert blob_account_url(private, "acct", endpoint="core.windows.net") == (
        "https://acct.privatelink.blob.core.windows.net"
    )


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("azureml://datastores/workspaceblobstore/paths/a/b/", ("workspaceblobstore", "a/b/")),
        (
            "azureml://subscriptions/s/resourcegroups/rg/workspaces/ws/datastores/ds1/paths/azureml/job/model",
            ("ds1", "azureml/job/model"),
        ),
        ("azureml://registries/r/models/m/versions/1", None),
        ("azureml://jobs/j/outputs/model", None),
    ],
)
def test_datastore_uris(uri: str, expected: tuple[str, str] | None) -> None:
    parsed = parse_datastore_uri(uri)
    assert (None if parsed is None else (parsed.datastore, parsed.path)) == expected


def test_ml_client_leaves_retries_to_the_sdk(aml: FakeAzureML, ca_bundle: Path) -> None:
    aml.add_model_version("diabetes", "1")
    aml.service.inject(
        Fault("GET", r"/models/diabetes/versions/1$", status=503, headers={"retry-after-ms": "1"}, times=3)
    )
    with (
        MLOpsClient(
            TARGET,
            credential=StaticTokenCredential(),
            cloud="RetryCloud",
            resource_manager_url=aml.service.url,
            authority_url=aml.service.url,
            ca_bundle=str(ca_bundle),
            retry_max_attempts=1,
        ) as hub,
        pytest.raises(ServerError),
    ):
        hub.models.get("diabetes", "1")
    # One GET: azure-core's RetryPolicy (10 attempts by default) no longer retries under ours.
    assert len(aml.service.requests_to("GET", r"/models/diabetes/versions/1$")) == 1
    assert os.environ.get("AZUREML_CURRENT_CLOUD") is None  # put back when the client closed


def test_proxy_password_is_a_secret() -> None:
    from mlops_sdk.core.redaction import redact

    backend = _backend(proxy="http://corp-user:proxy-pass-0123456789@proxy.corp.example:3128")
    assert backend.http.proxies == {
        "http": "http://corp-user:proxy-pass-0123456789@proxy.corp.example:3128",
        "https": "http://corp-user:proxy-pass-0123456789@proxy.corp.example:3128",
    }
    assert "proxy-pass-0123456789" not in redact("connecting via http://corp-user:proxy-pass-0123456789@proxy")


def test_managed_identity_never_goes_through_the_proxy() -> None:
    backend = _backend(proxy="http://proxy.corp.example:3128")
    for kind in ("managed_identity", "default"):
        settings = backend.config.settings.model_copy(update={"credential": kind})
        credential = create_credential(settings, backend.cloud, {}, http=backend.http)
        managed = credential if kind == "managed_identity" else credential.credentials[2]
        assert type(managed).__name__ == "ManagedIdentityCredential"
        pipeline = managed._credential._client._pipeline
        proxies = [getattr(getattr(p, "_policy", p), "proxies", None) for p in pipeline._impl_policies]
        assert not any(proxies), proxies  # IMDS (169.254.169.254) must not be sent to a corporate proxy
