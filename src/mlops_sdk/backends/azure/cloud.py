"""Azure clouds and endpoint overrides (public, China, US Government, or any URL the user names)."""

from __future__ import annotations

from dataclasses import dataclass

from mlops_sdk.core.config import Settings
from mlops_sdk.core.errors import ConfigurationError

__all__ = ["CloudEndpoints", "cloud_endpoints"]


@dataclass(frozen=True)
class CloudEndpoints:
    """The endpoints one Azure cloud uses."""

    name: str
    resource_manager: str
    authority: str
    storage_suffix: str

    @property
    def arm_scope(self) -> str:
        """The token scope for Azure Resource Manager in this cloud."""
        return self.resource_manager.rstrip("/") + "/.default"


_KNOWN = {
    "azurecloud": CloudEndpoints(
        "AzureCloud", "https://management.azure.com/", "https://login.microsoftonline.com/", "core.windows.net"
    ),
    "azurechinacloud": CloudEndpoints(
        "AzureChinaCloud",
        "https://management.chinacloudapi.cn/",
        "https://login.chinacloudapi.cn/",
        "core.chinacloudapi.cn",
    ),
    "azureusgovernment": CloudEndpoints(
        "AzureUSGovernment",
        "https://management.usgovcloudapi.net/",
        "https://login.microsoftonline.us/",
        "core.usgovcloudapi.net",
    ),
}


def cloud_endpoints(settings: Settings) -> CloudEndpoints:
    """Endpoints for ``settings.cloud`` with ``resource_manager_url`` / ``authority_url`` / ``storage_suffix``
    overrides applied.

    A custom cloud name is allowed when both URL overrides are given; its storage suffix is
    ``storage_suffix`` when set, else ``core.windows.net``.
    """
    known = _KNOWN.get(settings.cloud.lower())
    if known is None:
        if not (settings.resource_manager_url and settings.authority_url):
            raise ConfigurationError(
                f"unknown Azure cloud {settings.cloud!r}; use one of AzureCloud, AzureChinaCloud, "
                "AzureUSGovernment, or set resource_manager_url and authority_url for a custom cloud",
                details={"field": "cloud", "cloud": settings.cloud},
            )
        known = CloudEndpoints(
            settings.cloud, settings.resource_manager_url, settings.authority_url, "core.windows.net"
        )
    return CloudEndpoints(
        name=known.name,
        resource_manager=settings.resource_manager_url or known.resource_manager,
        authority=settings.authority_url or known.authority,
        storage_suffix=(settings.storage_suffix or known.storage_suffix).strip(".").strip(),
    )
