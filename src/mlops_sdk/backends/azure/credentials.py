"""Choosing the azure-identity credential for where the code runs.

``credential = "auto"`` (the default) picks, in order: Azure Pipelines federated identity (a service
connection's OIDC token, refreshed on every request, so long jobs outlive the 10-minute token),
workload identity (``AZURE_FEDERATED_TOKEN_FILE``: GitHub Actions via azure/login, AKS), a service
principal secret (``AZURE_CLIENT_SECRET``), managed identity (``IDENTITY_ENDPOINT``), and finally
``DefaultAzureCredential`` (Azure CLI, VS Code, ...) on a workstation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from mlops_sdk.backends.azure.cloud import CloudEndpoints
from mlops_sdk.core.config import Settings
from mlops_sdk.core.errors import ConfigurationError

__all__ = ["choose_credential_kind", "create_credential"]


def choose_credential_kind(settings: Settings, env: Mapping[str, str] | None = None) -> str:
    """Return the concrete credential kind ``auto`` resolves to in this environment."""
    if settings.credential != "auto":
        return settings.credential
    env = os.environ if env is None else env
    if env.get("SYSTEM_OIDCREQUESTURI") and env.get("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID"):
        return "azure_pipelines"
    if env.get("AZURE_FEDERATED_TOKEN_FILE"):
        return "workload_identity"
    if env.get("AZURE_CLIENT_SECRET") and env.get("AZURE_CLIENT_ID") and env.get("AZURE_TENANT_ID"):
        return "client_secret"
    if env.get("IDENTITY_ENDPOINT") or env.get("MSI_ENDPOINT"):
        return "managed_identity"
    return "default"


def _need(env: Mapping[str, str], names: tuple[str, ...], kind: str) -> dict[str, str]:
    missing = [name for name in names if not env.get(name)]
    if missing:
        raise ConfigurationError(
            f"credential {kind!r} needs the environment variables {', '.join(missing)}; set them "
            "(in Azure Pipelines: map the service connection's variables into the step) or choose another "
            "credential in the 'credential' setting",
            details={"missing": missing},
        )
    return {name: env[name] for name in names}


def create_credential(settings: Settings, cloud: CloudEndpoints, env: Mapping[str, str] | None = None) -> Any:
    """Create the azure-identity credential the settings ask for (lazy import of azure.identity)."""
    import azure.identity as identity

    env = os.environ if env is None else env
    kind = choose_credential_kind(settings, env)
    common: dict[str, Any] = {"authority": cloud.authority}
    if settings.ca_bundle is not None:
        common["connection_verify"] = str(settings.ca_bundle)
    if kind == "azure_pipelines":
        values = _need(
            env,
            (
                "AZURESUBSCRIPTION_TENANT_ID",
                "AZURESUBSCRIPTION_CLIENT_ID",
                "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
                "SYSTEM_ACCESSTOKEN",
            ),
            kind,
        )
        return identity.AzurePipelinesCredential(
            tenant_id=values["AZURESUBSCRIPTION_TENANT_ID"],
            client_id=values["AZURESUBSCRIPTION_CLIENT_ID"],
            service_connection_id=values["AZURESUBSCRIPTION_SERVICE_CONNECTION_ID"],
            system_access_token=values["SYSTEM_ACCESSTOKEN"],
            **common,
        )
    if kind == "workload_identity":
        values = _need(env, ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE"), kind)
        return identity.WorkloadIdentityCredential(
            tenant_id=values["AZURE_TENANT_ID"],
            client_id=values["AZURE_CLIENT_ID"],
            token_file_path=values["AZURE_FEDERATED_TOKEN_FILE"],
            **common,
        )
    if kind == "client_secret":
        values = _need(env, ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"), kind)
        return identity.ClientSecretCredential(
            values["AZURE_TENANT_ID"], values["AZURE_CLIENT_ID"], values["AZURE_CLIENT_SECRET"], **common
        )
    if kind == "managed_identity":
        client_id = env.get("AZURE_CLIENT_ID")
        return (
            identity.ManagedIdentityCredential(client_id=client_id)
            if client_id
            else identity.ManagedIdentityCredential()
        )
    if kind == "azure_cli":
        return identity.AzureCliCredential()
    return identity.DefaultAzureCredential(authority=cloud.authority, exclude_interactive_browser_credential=True)
