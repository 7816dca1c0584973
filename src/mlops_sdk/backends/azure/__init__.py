"""The ``azureml://`` backend: Azure ML, Azure Data Factory and Azure DevOps through their own SDKs.

Azure packages are imported only inside the services that use them (``training``, ``models``,
``data_factory``, ``deployments``, ``approvals``, ``pipelines`` modules of this package).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from functools import cached_property
from typing import Any, ClassVar

from pydantic import BaseModel

from mlops_sdk.backends.azure._http import HttpConfig
from mlops_sdk.backends.azure.cloud import CloudEndpoints, cloud_endpoints
from mlops_sdk.backends.base import Backend, DoctorCheck, pip_install_command, require_modules
from mlops_sdk.core.clock import Clock
from mlops_sdk.core.config import Config, section_model
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.logging import redact_library_logger
from mlops_sdk.core.redaction import register_secret
from mlops_sdk.core.targets import AzureMLTarget, Target

__all__ = ["AZURE_EXTRA_MODULES", "LIBRARY_LOGGERS", "AzureBackend"]

AZURE_EXTRA_MODULES = ("azure.identity", "azure.ai.ml", "azure.mgmt.datafactory", "azure.devops")
_WORKSPACE_API = "2025-12-01"
AZURE_KEYS = (
    "cloud",
    "resource_manager_url",
    "authority_url",
    "storage_suffix",
    "blob_endpoint",
    "ca_bundle",
    "proxy",
    "connect_timeout",
    "read_timeout",
    "credential",
    "data_factory",
    "data_factory_resource_group",
    "data_factory_visibility_wait",
    "endpoint_busy_wait",
    "devops",
    "devops_pat",
    "approval_pipeline",
)
"""The Azure backend's own keys: ``[backends.azure]`` (the same names also work as flat top-level keys)."""

LIBRARY_LOGGERS = (
    "urllib3.connectionpool",
    "azure.core.pipeline.policies.http_logging_policy",
    "azure.devops.client",
    "msrest.universal_http",
    "msrest.universal_http.requests",
    "msrest.service_client",
    "msrest.http_logger",
)
"""Loggers of the client libraries this backend drives that quote URLs, bodies or the proxy URL at DEBUG/INFO
(urllib3's request line holds a SAS signature, azure-devops' ``Request content`` a run's secret variables,
msrest's ``Configuring proxies`` the proxy password): each gets the SDK's redaction filter (no handler, no level)."""


class AzureBackend(Backend):
    """Works against one Azure ML workspace (and the factory / DevOps project the config names)."""

    name: ClassVar[str] = "azure"
    target_type: ClassVar[type[Target]] = AzureMLTarget
    settings_model: ClassVar[type[BaseModel] | None] = section_model("AzureSettings", AZURE_KEYS)

    def __init__(self, target: Target, config: Config, *, credential: Any = None, clock: Clock | None = None):
        if not isinstance(target, AzureMLTarget):
            raise ConfigurationError(f"the azure backend needs an azureml:// target, got {target}")
        require_modules(("azure.identity", "azure.core"), extra="azure", purpose="the azure backend")
        super().__init__(target, config, credential=credential, clock=clock)
        self.workspace: AzureMLTarget = target
        self._saved_env: dict[str, tuple[str | None, str | None]] = {}
        self._env_lock = threading.Lock()
        for name in LIBRARY_LOGGERS:
            redact_library_logger(name)
        if self.config.settings.devops_pat is not None:
            register_secret(self.config.settings.devops_pat.get_secret_value())
        if self.http.proxy_password:
            register_secret(self.http.proxy_password)

    @cached_property
    def cloud(self) -> CloudEndpoints:
        """The cloud's endpoints with the configured overrides."""
        return cloud_endpoints(self.config.settings)

    @contextlib.contextmanager
    def environment_restored_on_close(self, name: str) -> Iterator[None]:
        """Note what a library call in the block does to ``os.environ[name]``; :meth:`close` puts it back.

        azure-ai-ml's ``MLClient`` writes ``AZUREML_CURRENT_CLOUD`` (it reads the current cloud from there
        while the client lives); the SDK itself never writes the environment. The value is put back only
        if nobody changed it again in the meantime.
        """
        before = os.environ.get(name)
        yield
        after = os.environ.get(name)
        with self._env_lock:
            if after != before and name not in self._saved_env:
                self._saved_env[name] = (before, after)

    def close(self) -> None:
        """Close every service, then restore environment variables the client libraries changed."""
        try:
            super().close()
        finally:
            with self._env_lock:
                saved, self._saved_env = self._saved_env, {}
            for name, (before, after) in saved.items():
                if os.environ.get(name) != after:
                    continue  # changed again by someone else: theirs now
                if before is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = before

    @cached_property
    def http(self) -> HttpConfig:
        """CA bundle, proxy, timeouts and user agent applied to every client this backend creates."""
        return HttpConfig.from_settings(self.config.settings)

    @property
    def connection_verify(self) -> str | bool:
        """What azure-core's ``connection_verify`` gets: the CA bundle path, or True."""
        return self.http.verify

    def get_credential(self) -> Any:
        """The credential passed in, else the one the settings select (created once)."""
        if self.credential is None:
            from mlops_sdk.backends.azure.credentials import create_credential

            self.credential = create_credential(self.config.settings, self.cloud, http=self.http)
        return self.credential

    def require(self, *modules: str, purpose: str) -> None:
        """Raise :class:`ConfigurationError` naming ``pip install 'mlops-sdk[azure]'`` if a module is missing."""
        require_modules(modules, extra="azure", purpose=purpose)

    def doctor(self) -> list[DoctorCheck]:
        """Extras installed, a token obtainable for Azure Resource Manager, the workspace reachable."""
        checks = []
        try:
            self.require(*AZURE_EXTRA_MODULES, purpose="the azure backend")
            checks.append(DoctorCheck("azure extra", True, ", ".join(AZURE_EXTRA_MODULES) + " installed"))
        except ConfigurationError as error:
            checks.append(DoctorCheck("azure extra", False, error.message, pip_install_command("azure")))
        from mlops_sdk.backends.azure.credentials import choose_credential_kind, summarize_credential_error
        from mlops_sdk.backends.azure.errors import network_fix, transport_cause

        try:
            kind = choose_credential_kind(self.config.settings)
            self.get_credential().get_token(self.cloud.arm_scope)
            checks.append(DoctorCheck("credential", True, f"{kind}: token obtained for {self.cloud.resource_manager}"))
        except Exception as error:  # any credential failure is a finding for the report, not a crash
            inner = transport_cause(error)
            fix = (  # a sign-in host that never answered is a network problem: name the setting, not az login
                network_fix(inner)
                if inner is not None
                else "run `az login`, or set the 'credential' setting for your CI runner"
            )
            checks.append(
                DoctorCheck(
                    "credential",
                    False,
                    f"no token for {self.cloud.resource_manager}: {summarize_credential_error(error, with_fix=False)}",
                    fix,
                )
            )
            return checks
        checks.append(self._check_workspace())
        return checks

    def _check_workspace(self) -> DoctorCheck:
        from azure.core.pipeline.policies import BearerTokenCredentialPolicy
        from azure.core.rest import HttpRequest

        url = f"{self.cloud.resource_manager.rstrip('/')}{self.workspace.resource_id}?api-version={_WORKSPACE_API}"
        policy = BearerTokenCredentialPolicy(self.get_credential(), self.cloud.arm_scope)
        try:
            client: Any = self.http.pipeline_client(self.cloud.resource_manager, policies=[policy])
            with client:
                response = client.send_request(HttpRequest("GET", url))
        except Exception as error:  # unreachable endpoint: report it with the setting to change
            from mlops_sdk.backends.azure.errors import network_fix

            return DoctorCheck(
                "workspace",
                False,
                f"{url} unreachable: {error}",
                f"{network_fix(error)}; and check resource_manager_url",
            )
        if response.status_code == 200:
            return DoctorCheck("workspace", True, f"{self.workspace.workspace} reachable")
        fixes = {
            401: "the token was rejected: check the tenant (authority_url) and credential",
            403: "grant the identity a role on the workspace (AzureML Data Scientist or Contributor)",
            404: "check subscription, resource group and workspace name in the target URI",
        }
        return DoctorCheck(
            "workspace",
            False,
            f"{self.workspace.workspace}: HTTP {response.status_code}",
            fixes.get(response.status_code, "see the service answer above"),
        )
