"""``client.pipelines`` on a local target: Azure DevOps pipelines are remote by nature."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from mlops_sdk.core.errors import ConfigurationError

if TYPE_CHECKING:
    from mlops_sdk.backends.local import LocalBackend

__all__ = ["create_service"]


def create_service(backend: LocalBackend) -> NoReturn:
    """Refuse with the way forward: pipeline runs need an Azure target and an Azure DevOps project."""
    raise ConfigurationError(
        "client.pipelines runs Azure DevOps pipelines and needs an azureml:// target with "
        "devops='https://dev.azure.com/<org>/<project>' (local targets have no CI service to run); "
        "to trigger the local loop from CI, call the other clients or `mlops` commands in your pipeline",
        backend="local",
        details={"capability": "pipelines"},
    )
