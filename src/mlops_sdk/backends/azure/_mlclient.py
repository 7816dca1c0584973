"""Building azure-ai-ml's ``MLClient`` from an :class:`AzureBackend` (shared by training, models, deployments).

The client honours the backend's cloud (public, China, US Government, or any endpoints the
configuration names, registered under a name derived from the URLs), CA bundle and credential, with
telemetry and progress bars off. :func:`quiet_azure` silences azure-ai-ml's warnings (marshmallow
deprecations, "experimental class" notices) inside the SDK's own calls only.
"""

from __future__ import annotations

import contextlib
import hashlib
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mlops_sdk.backends.azure._aml_shim import captured_notices
from mlops_sdk.backends.azure.cloud import _KNOWN

if TYPE_CHECKING:
    from mlops_sdk.backends.azure import AzureBackend

__all__ = ["cloud_arguments", "create_ml_client", "quiet_azure"]


@contextlib.contextmanager
def quiet_azure() -> Iterator[None]:
    """Suppress azure-ai-ml warnings and console notices in the block (the caller's warning filters are restored)."""
    with warnings.catch_warnings(), captured_notices():
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*experimental.*")
        yield


def cloud_arguments(backend: AzureBackend) -> dict[str, Any]:
    """``cloud=`` (and ``cloud_metadata=`` for custom endpoints) for ``MLClient``.

    A known cloud with its default endpoints is passed by name. Any endpoint override (storage suffix
    included, so azure-ai-ml's own storage URLs follow sovereign and custom clouds) registers a
    cloud named after the endpoints (azure-ai-ml ignores a second registration of a name, so the name
    must change whenever the URLs do).
    """
    cloud = backend.cloud
    known = _KNOWN.get(cloud.name.lower())
    current = (cloud.resource_manager, cloud.authority, cloud.storage_suffix)
    if known is not None and (known.resource_manager, known.authority, known.storage_suffix) == current:
        return {"cloud": known.name}
    digest = hashlib.sha1("|".join(current).encode(), usedforsecurity=False)
    name = f"{cloud.name}-{digest.hexdigest()[:10]}"
    resource_manager = cloud.resource_manager if cloud.resource_manager.endswith("/") else cloud.resource_manager + "/"
    return {
        "cloud": name,
        "cloud_metadata": {
            "resource_manager": resource_manager,
            "active_directory": cloud.authority,
            "aml_resource_id": resource_manager,
            "azure_portal": resource_manager,
            "registry_discovery_endpoint": resource_manager,
            "storage_endpoint": cloud.storage_suffix,
        },
    }


def create_ml_client(backend: AzureBackend) -> Any:
    """A ready ``azure.ai.ml.MLClient`` for the backend's workspace (imports azure-ai-ml, ~1 s)."""
    backend.require("azure.ai.ml", purpose="Azure ML training, models and deployments")
    with quiet_azure():
        from azure.ai.ml import MLClient

        workspace = backend.workspace
        with backend.environment_restored_on_close("AZUREML_CURRENT_CLOUD"):  # MLClient sets it
            return MLClient(
                backend.get_credential(),
                subscription_id=workspace.subscription_id,
                resource_group_name=workspace.resource_group,
                workspace_name=workspace.workspace,
                enable_telemetry=False,
                show_progress=False,
                retry_total=0,  # the SDK's own retry policy decides; azure-core's would run under it
                **backend.http.core_kwargs(),
                **cloud_arguments(backend),
            )
