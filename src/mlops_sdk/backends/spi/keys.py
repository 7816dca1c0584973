"""Typed keys naming each backend capability, so a service lookup is typed without a cast.

``backend.service(MODELS)`` returns a :class:`~mlops_sdk.backends.spi.models.ModelService` as far as
the type checker is concerned: the key carries the protocol as its type parameter, so no protocol class
(which mypy refuses to pass as ``type[T]`` because it is abstract) travels at run time. The string form
``backend.service("models", ModelService)`` keeps working for third-party code.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:  # the protocols are only needed by the type checker: keep this module cheap to import
    from mlops_sdk.backends.spi.approvals import ApprovalService
    from mlops_sdk.backends.spi.data_factory import DataFactoryService
    from mlops_sdk.backends.spi.deployments import DeploymentService
    from mlops_sdk.backends.spi.models import ModelService
    from mlops_sdk.backends.spi.monitoring import MonitoringService
    from mlops_sdk.backends.spi.pipelines import PipelineService
    from mlops_sdk.backends.spi.training import TrainingService
    from mlops_sdk.backends.spi.training_pipeline import TrainingPipelineService
    from mlops_sdk.backends.spi.validation import ValidationService

__all__ = [
    "APPROVALS",
    "BUILTIN_KEYS",
    "DATA_FACTORY",
    "DEPLOYMENTS",
    "MODELS",
    "MONITORING",
    "PIPELINES",
    "TRAINING",
    "TRAINING_PIPELINE",
    "VALIDATION",
    "ServiceKey",
]

S_co = TypeVar("S_co", covariant=True)


@dataclass(frozen=True)
class ServiceKey(Generic[S_co]):
    """The name of one capability, typed with the service protocol a backend returns for it.

    Args:
        name: The capability (``"models"``): also the module name a backend implements it in.
        protocol: Name of the protocol class in ``mlops_sdk.backends.spi.<name>``.
    """

    name: str
    protocol: str

    def load_protocol(self) -> type[Any]:
        """The protocol class itself (imports its SPI module), for introspection and conformance checks."""
        module = importlib.import_module(f"mlops_sdk.backends.spi.{self.name}")
        protocol: type[Any] = getattr(module, self.protocol)
        return protocol

    def __str__(self) -> str:
        return self.name


APPROVALS: ServiceKey[ApprovalService] = ServiceKey("approvals", "ApprovalService")
"""Approval requests, decisions and the audit trail."""
DATA_FACTORY: ServiceKey[DataFactoryService] = ServiceKey("data_factory", "DataFactoryService")
"""Data Factory refresh runs and triggers."""
DEPLOYMENTS: ServiceKey[DeploymentService] = ServiceKey("deployments", "DeploymentService")
"""Online endpoints, deployments, rollouts and rollbacks."""
MODELS: ServiceKey[ModelService] = ServiceKey("models", "ModelService")
"""The model registry: versions, tags and aliases."""
MONITORING: ServiceKey[MonitoringService] = ServiceKey("monitoring", "MonitoringService")
"""Inference capture, ground truth and monitor runs."""
PIPELINES: ServiceKey[PipelineService] = ServiceKey("pipelines", "PipelineService")
"""Azure DevOps pipeline runs."""
TRAINING: ServiceKey[TrainingService] = ServiceKey("training", "TrainingService")
"""Training jobs and their runs."""
TRAINING_PIPELINE: ServiceKey[TrainingPipelineService] = ServiceKey("training_pipeline", "TrainingPipelineService")
"""Multi-step training pipelines (a DAG of training steps, cached and resumable)."""
VALIDATION: ServiceKey[ValidationService] = ServiceKey("validation", "ValidationService")
"""What validation reads (data, training metrics) and records (reports)."""

BUILTIN_KEYS: tuple[ServiceKey[Any], ...] = (
    APPROVALS,
    DATA_FACTORY,
    DEPLOYMENTS,
    MODELS,
    MONITORING,
    PIPELINES,
    TRAINING,
    TRAINING_PIPELINE,
    VALIDATION,
)
"""Every capability the SDK's own clients use."""
