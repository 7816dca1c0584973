"""The ``azureml://`` backend: Azure ML, Azure Data Factory and Azure DevOps through their own SDKs.

Azure packages are imported only inside the services that use them (``training``, ``models``,
``data_factory``, ``deployments``, ``approvals``, ``pipelines`` modules of this package).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar

from mlops_sdk.backends.azure.cloud import CloudEndpoints, cloud_endpoints
from mlops_sdk.backends.base import Backend, DoctorCheck, require_modules
from mlops_sdk.core.clock import Clock
from mlops_sdk.core.config import Config
from mlops_sdk.core.errors import ConfigurationError, MlopsError
from mlops_sdk.core.redaction import register_secret
from mlops_sdk.core.targets import AzureMLTarget, Target

__all__ = ["AZURE_EXTRA_MODULES", "AzureBackend"]

AZURE_EXTRA_MODULES = ("azure.identity", "azure.ai.ml", "azure.mgmt.datafactory", "azure.devops")


class AzureBackend(Backend):
    """Works against one Azure ML workspace (and the factory / DevOps project the config names)."""

    name: ClassVar[str] = "azure"
    target_type: ClassVar[type[Target]] = AzureMLTarget

    def __init__(self, target: Target, config: Config, *, credential: Any = None, clock: Clock | None = None):
        if not isinstance(target, AzureMLTarget):
            raise ConfigurationError(f"the azure backend needs an azureml:// target, got {target}")
        require_modules(("azure.identity", "azure.core"), extra="azure", purpose="the azure backend")
        super().__init__(target, config, credential=credential, clock=clock)
        self.workspace: AzureMLTarget = target
        if config.settings.devops_pat is not None:
            register_secret(config.settings.devops_pat.get_secret_value())

    @cached_property
    def cloud(self) -> CloudEndpoints:
        """The cloud's endpoints with the configured overrides."""
        return cloud_endpoints(self.config.settings)

    @property
    def connection_verify(self) -> str | bool:
        """What azure-core's ``connection_verify`` gets: the CA bundle path, or True."""
        bundle = self.config.settings.ca_bundle
        return str(bundle) if bundle is not None else True

    def get_credential(self) -> Any:
        """The credential passed in, else the one the settings select (created once)."""
        if self.credential is None:
            from mlops_sdk.backends.azure.credentials import create_credential

            self.credential = create_credential(self.config.settings, self.cloud)
        return self.credential

    def require(self, *modules: str, purpose: str) -> None:
        """Raise :class:`ConfigurationError` naming ``pip install 'mlops-sdk[azure]'`` if a module is missing."""
        require_modules(modules, extra="azure", purpose=purpose)

    def doctor(self) -> list[DoctorCheck]:
        """Extras installed, a token obtainable for Azure Resource Manager."""
        checks = []
        try:
            self.require(*AZURE_EXTRA_MODULES, purpose="the azure backend")
            checks.append(DoctorCheck("azure extra", True, ", ".join(AZURE_EXTRA_MODULES) + " installed"))
        except ConfigurationError as error:
            checks.append(DoctorCheck("azure extra", False, error.message, "pip install 'mlops-sdk[azure]'"))
        try:
            from mlops_sdk.backends.azure.credentials import choose_credential_kind

            kind = choose_credential_kind(self.config.settings)
            self.get_credential().get_token(self.cloud.arm_scope)
            checks.append(DoctorCheck("credential", True, f"{kind}: token obtained for {self.cloud.resource_manager}"))
        except (MlopsError, Exception) as error:  # any credential failure is a finding, not a crash
            checks.append(
                DoctorCheck(
                    "credential",
                    False,
                    f"no token for {self.cloud.resource_manager}: {type(error).__name__}: {error}",
                    "run `az login`, or set the 'credential' setting for your CI runner",
                )
            )
        return checks
