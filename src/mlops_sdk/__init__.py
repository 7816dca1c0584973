"""mlops_sdk: the whole MLOps loop in your own Python, on Azure or fully local.

Public names are imported lazily (PEP 562): ``import mlops_sdk`` costs a few milliseconds and pulls
in neither Azure, MLflow, DuckDB nor the web stack. To add a public name, add it to ``_EXPORTS``,
``__all__`` and the ``TYPE_CHECKING`` block (a test checks the three agree).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mlops_sdk._version import __version__

if TYPE_CHECKING:
    from mlops_sdk.clients._base import BaseClient
    from mlops_sdk.clients.approvals import ApprovalClient
    from mlops_sdk.clients.data_factory import DataFactoryClient
    from mlops_sdk.clients.deployments import DeploymentClient
    from mlops_sdk.clients.hub import MLOpsClient
    from mlops_sdk.clients.models import ModelClient
    from mlops_sdk.clients.pipelines import PipelineClient
    from mlops_sdk.clients.training import TrainingClient
    from mlops_sdk.clients.validation import ValidationClient
    from mlops_sdk.core.clock import Clock, SystemClock
    from mlops_sdk.core.config import Config, Settings, load_config
    from mlops_sdk.core.errors import (
        ApprovalRejectedError,
        AuthenticationError,
        ConfigurationError,
        ConflictError,
        GateError,
        MlopsError,
        OperationCanceledError,
        OperationError,
        OperationFailedError,
        OperationTimeoutError,
        PermissionDeniedError,
        PipelineCycleError,
        PipelineReferenceError,
        PipelineSpecError,
        PipelineTypeError,
        ResourceExistsError,
        ResourceNotFoundError,
        ServerError,
        ServiceRequestError,
        ServiceResponseError,
        ThrottledError,
        ValidationFailedError,
    )
    from mlops_sdk.core.lineage import Lineage, collect_lineage
    from mlops_sdk.core.operation import Operation, PollingOptions, ProgressEvent
    from mlops_sdk.core.retry import RetryPolicy
    from mlops_sdk.core.secrets import Secret
    from mlops_sdk.core.status import Status
    from mlops_sdk.core.targets import AzureMLTarget, LocalTarget, Target
    from mlops_sdk.models.approvals import (
        ApprovalDecision,
        ApprovalPolicy,
        ApprovalRequest,
        ApprovalStatus,
        ApprovalVote,
        ApproverIdentity,
        AuditVerification,
        AutoApproveRule,
        GateReport,
    )
    from mlops_sdk.models.data_factory import (
        ActivityRun,
        Copy,
        DataOutput,
        PipelineParameter,
        Python,
        RefreshPipeline,
        RefreshRun,
        Schedule,
        Sql,
        StorageEvent,
        TriggerInfo,
    )
    from mlops_sdk.models.deployments import (
        BlueGreen,
        DeploymentInfo,
        DeploymentResult,
        Endpoint,
        EndpointKeys,
        HistoryEntry,
        Replace,
        Shadow,
        SmokeResult,
        SmokeTest,
        StepResult,
    )
    from mlops_sdk.models.pipelines import PipelineRun
    from mlops_sdk.models.registry import AliasEvent, ModelVersion
    from mlops_sdk.models.resources import Autoscale, Probe, RequestSettings, Resources
    from mlops_sdk.models.training import (
        TrainingInput,
        TrainingJob,
        TrainingOutput,
        TrainingRun,
    )
    from mlops_sdk.models.training_pipeline import (
        PipelineInput,
        PipelineRunResult,
        Step,
        StepRunResult,
        TrainingPipeline,
    )
    from mlops_sdk.models.validation import (
        CheckResult,
        FeatureDrift,
        MetricComparison,
        ValidationReport,
    )

_EXPORTS: dict[str, str] = {
    "BaseClient": "mlops_sdk.clients._base",
    "ApprovalClient": "mlops_sdk.clients.approvals",
    "DataFactoryClient": "mlops_sdk.clients.data_factory",
    "DeploymentClient": "mlops_sdk.clients.deployments",
    "MLOpsClient": "mlops_sdk.clients.hub",
    "ModelClient": "mlops_sdk.clients.models",
    "PipelineClient": "mlops_sdk.clients.pipelines",
    "TrainingClient": "mlops_sdk.clients.training",
    "ValidationClient": "mlops_sdk.clients.validation",
    "Clock": "mlops_sdk.core.clock",
    "SystemClock": "mlops_sdk.core.clock",
    "Config": "mlops_sdk.core.config",
    "Settings": "mlops_sdk.core.config",
    "load_config": "mlops_sdk.core.config",
    "ApprovalRejectedError": "mlops_sdk.core.errors",
    "AuthenticationError": "mlops_sdk.core.errors",
    "ConfigurationError": "mlops_sdk.core.errors",
    "ConflictError": "mlops_sdk.core.errors",
    "GateError": "mlops_sdk.core.errors",
    "MlopsError": "mlops_sdk.core.errors",
    "OperationCanceledError": "mlops_sdk.core.errors",
    "OperationError": "mlops_sdk.core.errors",
    "OperationFailedError": "mlops_sdk.core.errors",
    "OperationTimeoutError": "mlops_sdk.core.errors",
    "PermissionDeniedError": "mlops_sdk.core.errors",
    "ResourceExistsError": "mlops_sdk.core.errors",
    "ResourceNotFoundError": "mlops_sdk.core.errors",
    "ServerError": "mlops_sdk.core.errors",
    "ServiceRequestError": "mlops_sdk.core.errors",
    "ServiceResponseError": "mlops_sdk.core.errors",
    "ThrottledError": "mlops_sdk.core.errors",
    "ValidationFailedError": "mlops_sdk.core.errors",
    "PipelineCycleError": "mlops_sdk.core.errors",
    "PipelineReferenceError": "mlops_sdk.core.errors",
    "PipelineSpecError": "mlops_sdk.core.errors",
    "PipelineTypeError": "mlops_sdk.core.errors",
    "Lineage": "mlops_sdk.core.lineage",
    "collect_lineage": "mlops_sdk.core.lineage",
    "Operation": "mlops_sdk.core.operation",
    "PollingOptions": "mlops_sdk.core.operation",
    "ProgressEvent": "mlops_sdk.core.operation",
    "RetryPolicy": "mlops_sdk.core.retry",
    "Status": "mlops_sdk.core.status",
    "AzureMLTarget": "mlops_sdk.core.targets",
    "LocalTarget": "mlops_sdk.core.targets",
    "Target": "mlops_sdk.core.targets",
    "ApprovalDecision": "mlops_sdk.models.approvals",
    "ApprovalPolicy": "mlops_sdk.models.approvals",
    "ApprovalRequest": "mlops_sdk.models.approvals",
    "ApprovalStatus": "mlops_sdk.models.approvals",
    "ApprovalVote": "mlops_sdk.models.approvals",
    "ApproverIdentity": "mlops_sdk.models.approvals",
    "AuditVerification": "mlops_sdk.models.approvals",
    "AutoApproveRule": "mlops_sdk.models.approvals",
    "GateReport": "mlops_sdk.models.approvals",
    "ActivityRun": "mlops_sdk.models.data_factory",
    "Copy": "mlops_sdk.models.data_factory",
    "DataOutput": "mlops_sdk.models.data_factory",
    "PipelineParameter": "mlops_sdk.models.data_factory",
    "Python": "mlops_sdk.models.data_factory",
    "RefreshPipeline": "mlops_sdk.models.data_factory",
    "RefreshRun": "mlops_sdk.models.data_factory",
    "Schedule": "mlops_sdk.models.data_factory",
    "Secret": "mlops_sdk.core.secrets",
    "Sql": "mlops_sdk.models.data_factory",
    "StorageEvent": "mlops_sdk.models.data_factory",
    "TriggerInfo": "mlops_sdk.models.data_factory",
    "BlueGreen": "mlops_sdk.models.deployments",
    "DeploymentInfo": "mlops_sdk.models.deployments",
    "DeploymentResult": "mlops_sdk.models.deployments",
    "Endpoint": "mlops_sdk.models.deployments",
    "EndpointKeys": "mlops_sdk.models.deployments",
    "HistoryEntry": "mlops_sdk.models.deployments",
    "Replace": "mlops_sdk.models.deployments",
    "Shadow": "mlops_sdk.models.deployments",
    "Autoscale": "mlops_sdk.models.resources",
    "Probe": "mlops_sdk.models.resources",
    "RequestSettings": "mlops_sdk.models.resources",
    "Resources": "mlops_sdk.models.resources",
    "SmokeResult": "mlops_sdk.models.deployments",
    "SmokeTest": "mlops_sdk.models.deployments",
    "StepResult": "mlops_sdk.models.deployments",
    "PipelineRun": "mlops_sdk.models.pipelines",
    "AliasEvent": "mlops_sdk.models.registry",
    "ModelVersion": "mlops_sdk.models.registry",
    "TrainingInput": "mlops_sdk.models.training",
    "TrainingJob": "mlops_sdk.models.training",
    "TrainingOutput": "mlops_sdk.models.training",
    "TrainingRun": "mlops_sdk.models.training",
    "PipelineInput": "mlops_sdk.models.training_pipeline",
    "PipelineRunResult": "mlops_sdk.models.training_pipeline",
    "Step": "mlops_sdk.models.training_pipeline",
    "StepRunResult": "mlops_sdk.models.training_pipeline",
    "TrainingPipeline": "mlops_sdk.models.training_pipeline",
    "CheckResult": "mlops_sdk.models.validation",
    "FeatureDrift": "mlops_sdk.models.validation",
    "MetricComparison": "mlops_sdk.models.validation",
    "ValidationReport": "mlops_sdk.models.validation",
}

__all__ = [
    "ActivityRun",
    "AliasEvent",
    "ApprovalClient",
    "ApprovalDecision",
    "ApprovalPolicy",
    "ApprovalRejectedError",
    "ApprovalRequest",
    "ApprovalStatus",
    "ApprovalVote",
    "ApproverIdentity",
    "AuditVerification",
    "AuthenticationError",
    "AutoApproveRule",
    "Autoscale",
    "AzureMLTarget",
    "BaseClient",
    "BlueGreen",
    "CheckResult",
    "Clock",
    "Config",
    "ConfigurationError",
    "ConflictError",
    "Copy",
    "DataFactoryClient",
    "DataOutput",
    "DeploymentClient",
    "DeploymentInfo",
    "DeploymentResult",
    "Endpoint",
    "EndpointKeys",
    "FeatureDrift",
    "GateError",
    "GateReport",
    "HistoryEntry",
    "Lineage",
    "LocalTarget",
    "MLOpsClient",
    "MetricComparison",
    "MlopsError",
    "ModelClient",
    "ModelVersion",
    "Operation",
    "OperationCanceledError",
    "OperationError",
    "OperationFailedError",
    "OperationTimeoutError",
    "PermissionDeniedError",
    "PipelineClient",
    "PipelineCycleError",
    "PipelineInput",
    "PipelineParameter",
    "PipelineReferenceError",
    "PipelineRun",
    "PipelineRunResult",
    "PipelineSpecError",
    "PipelineTypeError",
    "PollingOptions",
    "Probe",
    "ProgressEvent",
    "Python",
    "RefreshPipeline",
    "RefreshRun",
    "Replace",
    "RequestSettings",
    "ResourceExistsError",
    "ResourceNotFoundError",
    "Resources",
    "RetryPolicy",
    "Schedule",
    "Secret",
    "ServerError",
    "ServiceRequestError",
    "ServiceResponseError",
    "Settings",
    "Shadow",
    "SmokeResult",
    "SmokeTest",
    "Sql",
    "Status",
    "Step",
    "StepResult",
    "StepRunResult",
    "StorageEvent",
    "SystemClock",
    "Target",
    "ThrottledError",
    "TrainingClient",
    "TrainingInput",
    "TrainingJob",
    "TrainingOutput",
    "TrainingPipeline",
    "TrainingRun",
    "TriggerInfo",
    "ValidationClient",
    "ValidationFailedError",
    "ValidationReport",
    "__version__",
    "collect_lineage",
    "load_config",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mlops_sdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
