"""Reading files from an Azure ML workspace's datastores with the backend's own blob client.

azure-ai-ml builds datastore URLs as ``https://<account>.blob.<current cloud's storage endpoint>``,
ignoring the datastore's own ``endpoint`` and ``protocol``, and passes no TLS or proxy settings to the
blob client. Reading through our own ``ContainerClient`` instead gives every read the backend's HTTP
configuration and this endpoint order:

1. the ``blob_endpoint`` setting, a URL with ``{account}`` (private endpoints, emulators);
2. the datastore's ``endpoint`` (its storage suffix, e.g. ``core.chinacloudapi.cn``) and ``protocol``;
3. the ``storage_suffix`` setting, else the cloud's suffix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from mlops_sdk.core.errors import ConfigurationError, ResourceNotFoundError

if TYPE_CHECKING:
    from mlops_sdk.backends.azure import AzureBackend

__all__ = ["DatastorePath", "blob_account_url", "download_file", "download_folder", "parse_datastore_uri"]

_DATASTORE_URI = re.compile(r"^azureml://(?:subscriptions/[^/]+/resource[gG]roups/[^/]+/workspaces/[^/]+/)?"
                            r"datastores/(?P<datastore>[^/]+)/paths/(?P<path>.*)$")  # fmt: skip


@dataclass(frozen=True)
class DatastorePath:
    """A path inside a named datastore (``azureml://[...]/datastores/<name>/paths/<path>``)."""

    datastore: str
    path: str


def parse_datastore_uri(uri: str) -> DatastorePath | None:
    """The datastore and path an ``azureml://`` URI names, or None for other URIs (registries, jobs, https)."""
    match = _DATASTORE_URI.match(uri.strip())
    if match is None:
        return None
    return DatastorePath(match["datastore"], match["path"].lstrip("/"))


def blob_account_url(
    backend: AzureBackend, account: str, *, endpoint: str | None = None, protocol: str | None = None
) -> str:
    """The blob service URL of ``account`` (see the module docstring for the order)."""
    template = backend.config.settings.blob_endpoint
    if template:
        return template.format(account=account)
    suffix = endpoint or backend.cloud.storage_suffix
    return f"{protocol or 'https'}://{account}.blob.{suffix}"


def _credential(backend: AzureBackend, datastore: Any) -> Any:
    from azure.ai.ml.entities import AccountKeyConfiguration, SasTokenConfiguration

    from mlops_sdk.core.redaction import register_secret

    credentials = getattr(datastore, "credentials", None)
    if isinstance(credentials, AccountKeyConfiguration) and credentials.account_key:
        register_secret(credentials.account_key)
        return {"account_name": datastore.account_name, "account_key": credentials.account_key}
    if isinstance(credentials, SasTokenConfiguration) and credentials.sas_token:
        register_secret(credentials.sas_token)
        return credentials.sas_token
    return backend.get_credential()  # identity-based datastore: the caller's own token


def _container(backend: AzureBackend, ml_client: Any, location: DatastorePath) -> Any:
    """A ``ContainerClient`` on the datastore's container (HTTP configuration and endpoint settings applied)."""
    from azure.storage.blob import ContainerClient

    datastore = ml_client.datastores.get(location.datastore, include_secrets=True)
    container_name = getattr(datastore, "container_name", None)
    if not container_name:
        raise ConfigurationError(
            f"datastore {location.datastore!r} is {getattr(datastore, 'type', 'not blob storage')}; "
            "files can be read from Azure Blob datastores only",
            backend="azure",
            details={"datastore": location.datastore},
        )
    account_url = blob_account_url(
        backend,
        datastore.account_name,
        endpoint=getattr(datastore, "endpoint", None),
        protocol=getattr(datastore, "protocol", None),
    )
    return ContainerClient(
        account_url, container_name, credential=_credential(backend, datastore), **backend.http.core_kwargs()
    )


def download_file(backend: AzureBackend, ml_client: Any, location: DatastorePath, destination: Path) -> Path:
    """Download the one blob ``location`` names to ``destination``.

    Raises:
        ConfigurationError: the datastore is not blob storage.
        ResourceNotFoundError: no such blob (azure-core's 404, translated by the caller).
    """
    with _container(backend, ml_client, location) as container, destination.open("wb") as handle:
        container.download_blob(location.path).readinto(handle)
    return destination


def download_folder(backend: AzureBackend, ml_client: Any, location: DatastorePath, destination: Path) -> list[Path]:
    """Download every blob under ``location`` into ``destination`` (relative layout kept); return the files.

    Raises:
        ConfigurationError: the datastore is not blob storage.
        ResourceNotFoundError: nothing is stored under the path.
    """
    prefix = location.path.rstrip("/")
    files: list[Path] = []
    with _container(backend, ml_client, location) as container:
        account_url = container.url
        for blob in container.list_blobs(name_starts_with=prefix + "/" if prefix else None):
            if blob.name.endswith("/"):
                continue  # folder marker
            relative = PurePosixPath(blob.name[len(prefix) :].lstrip("/") if prefix else blob.name)
            if ".." in relative.parts or not relative.parts:
                continue
            target = destination.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as handle:
                container.download_blob(blob.name).readinto(handle)
            files.append(target)
    if not files:
        raise ResourceNotFoundError(
            f"no files under {location.path!r} in datastore {location.datastore!r} ({account_url})",
            backend="azure",
            details={"datastore": location.datastore, "path": location.path},
        )
    return files
