"""``MLOpsClient``: one entry point whose sub-clients share configuration and one backend."""

from __future__ import annotations

import importlib
import threading
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from mlops_sdk.clients._base import BaseClient, ClientContext
from mlops_sdk.core.arguments import ArgumentChecker
from mlops_sdk.core.clock import Clock
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.operation import Operation, decode_token

if TYPE_CHECKING:
    from mlops_sdk.clients.approvals import ApprovalClient
    from mlops_sdk.clients.data_factory import DataFactoryClient
    from mlops_sdk.clients.deployments import DeploymentClient
    from mlops_sdk.clients.models import ModelClient
    from mlops_sdk.clients.monitoring import MonitoringClient
    from mlops_sdk.clients.pipelines import PipelineClient
    from mlops_sdk.clients.training import TrainingClient
    from mlops_sdk.clients.validation import ValidationClient
    from mlops_sdk.core.config import Config

__all__ = ["MLOpsClient"]

# sub-client attribute -> (module, class). Modules are imported on first access only.
_SUB_CLIENTS: dict[str, tuple[str, str]] = {
    "data_factory": ("mlops_sdk.clients.data_factory", "DataFactoryClient"),
    "training": ("mlops_sdk.clients.training", "TrainingClient"),
    "models": ("mlops_sdk.clients.models", "ModelClient"),
    "validation": ("mlops_sdk.clients.validation", "ValidationClient"),
    "approvals": ("mlops_sdk.clients.approvals", "ApprovalClient"),
    "deployments": ("mlops_sdk.clients.deployments", "DeploymentClient"),
    "pipelines": ("mlops_sdk.clients.pipelines", "PipelineClient"),
    "monitoring": ("mlops_sdk.clients.monitoring", "MonitoringClient"),
}


class MLOpsClient:
    """The whole MLOps loop behind one object.

    ``MLOpsClient("local://.mlops")`` works on the embedded backend;
    ``MLOpsClient("azureml://subscriptions/S/resourceGroups/RG/workspaces/WS", credential=cred,
    data_factory="my-factory", devops="https://dev.azure.com/org/project")`` on Azure. Sub-clients
    (``training``, ``models``, ``validation``, ``approvals``, ``deployments``, ``data_factory``,
    ``pipelines``) are created on first access and share one backend; ``close()`` (or ``with``)
    releases it.

    Args:
        target: Target URI (default from configuration, else ``local://.mlops``).
        credential: azure-identity credential for Azure targets, or the name of a credential kind
            (``"client_secret"``, ...: the ``credential`` setting); default: chosen from the config.
        clock: Time source for every wait (tests pass a fake clock).
        profile: Config profile to apply (``dev``, ``prod``, ...).
        config_file: Config file to read instead of searching for one.
        **settings: Any other setting as an argument (``data_factory=``, ``devops=``, ``cloud=``, ...).
    """

    def __init__(
        self,
        target: str | None = None,
        *,
        credential: Any = None,
        clock: Clock | None = None,
        profile: str | None = None,
        config_file: str | Path | None = None,
        **settings: Any,
    ) -> None:
        _constructor.check(
            (self, target), {"credential": credential, "clock": clock, "profile": profile, "config_file": config_file}
        )
        self._context = ClientContext.create(
            target, credential=credential, clock=clock, profile=profile, config_file=config_file, settings=settings
        )
        self._clients: dict[str, BaseClient] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(
        cls,
        *,
        profile: str | None = None,
        config_file: str | Path | None = None,
        credential: Any = None,
        **settings: Any,
    ) -> MLOpsClient:
        """Build a client from ``mlops.toml`` / ``[tool.mlops]`` / ``MLOPS_*`` (arguments still win)."""
        return cls(credential=credential, profile=profile, config_file=config_file, **settings)

    def __repr__(self) -> str:
        return f"MLOpsClient({self.target!r})"

    def __enter__(self) -> MLOpsClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def target(self) -> str:
        """The target URI."""
        return self._context.target

    @property
    def config(self) -> Config:
        """The effective :class:`~mlops_sdk.core.config.Config` (settings and their sources)."""
        return self._context.config

    @property
    def state_folder(self) -> Path | None:
        """The folder on this machine where the backend keeps its state (the ``local://`` store folder),
        or ``None`` for a remote or in-memory backend."""
        return self._context.backend.state_folder

    def _sub_client(self, name: str) -> Any:
        with self._lock:
            if name not in self._clients:
                module_name, class_name = _SUB_CLIENTS[name]
                module = importlib.import_module(module_name)  # deferred: keeps `import mlops_sdk` cheap
                self._clients[name] = getattr(module, class_name)(context=self._context)
            return self._clients[name]

    @property
    def data_factory(self) -> DataFactoryClient:
        """Data refreshes on Azure Data Factory or the local engine (``DataFactoryClient``)."""
        client: DataFactoryClient = self._sub_client("data_factory")
        return client

    @property
    def training(self) -> TrainingClient:
        """Training jobs on Azure ML or local subprocesses (``TrainingClient``)."""
        client: TrainingClient = self._sub_client("training")
        return client

    @property
    def models(self) -> ModelClient:
        """The model registry: versions, aliases, lineage (``ModelClient``)."""
        client: ModelClient = self._sub_client("models")
        return client

    @property
    def validation(self) -> ValidationClient:
        """Validation gates and reports (``ValidationClient``)."""
        client: ValidationClient = self._sub_client("validation")
        return client

    @property
    def approvals(self) -> ApprovalClient:
        """Policy and human approval gates with audit (``ApprovalClient``)."""
        client: ApprovalClient = self._sub_client("approvals")
        return client

    @property
    def deployments(self) -> DeploymentClient:
        """Online endpoints with blue/green rollout and rollback (``DeploymentClient``)."""
        client: DeploymentClient = self._sub_client("deployments")
        return client

    @property
    def pipelines(self) -> PipelineClient:
        """Azure DevOps pipeline runs (``PipelineClient``)."""
        client: PipelineClient = self._sub_client("pipelines")
        return client

    @property
    def monitoring(self) -> MonitoringClient:
        """Inference capture, ground truth and monitors (``MonitoringClient``)."""
        client: MonitoringClient = self._sub_client("monitoring")
        return client

    def resume_operation(self, token: str) -> Operation[Any]:
        """Rebuild any operation from its continuation token (routed to the sub-client that made it)."""
        kind = decode_token(token).kind
        name = kind.split(".", 1)[0]
        if name not in _SUB_CLIENTS:
            raise ConfigurationError(
                f"continuation token of unknown kind {kind!r}; known clients: {', '.join(sorted(_SUB_CLIENTS))}"
            )
        resumed: Operation[Any] = self._sub_client(name).resume_operation(token)
        return resumed

    def close(self) -> None:
        """Close every sub-client and the shared backend (idempotent)."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()
        self._context.close()


_constructor = ArgumentChecker(MLOpsClient.__init__, "MLOpsClient")
"""Checks the constructor's arguments like every client method's (``settings`` are checked by the config)."""
