"""mlops_sdk: the whole MLOps loop in your own Python, on Azure or fully local.

Public names are imported lazily (PEP 562): ``import mlops_sdk`` costs a few milliseconds and pulls
in neither Azure, MLflow, DuckDB nor the web stack. Add a public name by adding it to ``_EXPORTS``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mlops_sdk._version import __version__

if TYPE_CHECKING:
    from mlops_sdk.clients._base import BaseClient
    from mlops_sdk.clients.data_factory import DataFactoryClient
    from mlops_sdk.clients.deployments import DeploymentClient
    from mlops_sdk.models.deployments import (
        BlueGreen,
        DeploymentInfo,
        DeploymentResult,
        Endpoint,
        HistoryEntry,
        Replace,
        Shadow,
        SmokeResult,
        SmokeTest,
        StepResult,
    )
    from mlops_sdk.clients.approvals import ApprovalClient
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
    from mlops_sdk.core.status import Status
    from mlops_sdk.core.targets import AzureMLTarget, LocalTarget, Target
    from mlops_sdk.models.registry import AliasEvent, ModelVersion
    from mlops_sdk.models.training import TrainingInput, TrainingJob, TrainingOutput, TrainingRun
    from mlops_sdk.models.validation import CheckResult, FeatureDrift, MetricComparison, ValidationReport
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
    from mlops_sdk.models.pipelines import PipelineRun
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

_EXPORTS: dict[str, str] = {
    "MLOpsClient": "mlops_sdk.clients.hub",
    "TrainingClient": "mlops_sdk.clients.training",
    "ModelClient": "mlops_sdk.clients.models",
    "TrainingJob": "mlops_sdk.models.training",
    "TrainingInput": "mlops_sdk.models.training",
    "TrainingOutput": "mlops_sdk.models.training",
    "TrainingRun": "mlops_sdk.models.training",
    "ModelVersion": "mlops_sdk.models.registry",
    "AliasEvent": "mlops_sdk.models.registry",
    "BaseClient": "mlops_sdk.clients._base",
    "DataFactoryClient": "mlops_sdk.clients.data_factory",
    "DeploymentClient": "mlops_sdk.clients.deployments",
    **{
        name: "mlops_sdk.models.deployments"
        for name in (
            "BlueGreen",
            "DeploymentInfo",
            "DeploymentResult",
            "Endpoint",
            "HistoryEntry",
            "Replace",
            "Shadow",
            "SmokeResult",
            "SmokeTest",
            "StepResult",
        )
    },
    **{
        name: "mlops_sdk.models.data_factory"
        for name in (
            "ActivityRun",
            "Copy",
            "DataOutput",
            "PipelineParameter",
            "Python",
            "RefreshPipeline",
            "RefreshRun",
            "Schedule",
            "Sql",
            "StorageEvent",
            "TriggerInfo",
        )
    },
    "Clock": "mlops_sdk.core.clock",
    "SystemClock": "mlops_sdk.core.clock",
    "Config": "mlops_sdk.core.config",
    "Settings": "mlops_sdk.core.config",
    "load_config": "mlops_sdk.core.config",
    "Lineage": "mlops_sdk.core.lineage",
    "collect_lineage": "mlops_sdk.core.lineage",
    "Operation": "mlops_sdk.core.operation",
    "PollingOptions": "mlops_sdk.core.operation",
    "ProgressEvent": "mlops_sdk.core.operation",
    "RetryPolicy": "mlops_sdk.core.retry",
    "Status": "mlops_sdk.core.status",
    "Target": "mlops_sdk.core.targets",
    "LocalTarget": "mlops_sdk.core.targets",
    "AzureMLTarget": "mlops_sdk.core.targets",
    "ApprovalClient": "mlops_sdk.clients.approvals",
    "PipelineClient": "mlops_sdk.clients.pipelines",
    "PipelineRun": "mlops_sdk.models.pipelines",
    "ValidationClient": "mlops_sdk.clients.validation",
    **{
        name: "mlops_sdk.models.validation"
        for name in ("CheckResult", "FeatureDrift", "MetricComparison", "ValidationReport")
    },
    **{
        name: "mlops_sdk.models.approvals"
        for name in (
            "ApprovalDecision",
            "ApprovalPolicy",
            "ApprovalRequest",
            "ApprovalStatus",
            "ApprovalVote",
            "ApproverIdentity",
            "AuditVerification",
            "AutoApproveRule",
            "GateReport",
        )
    },
    **{
        name: "mlops_sdk.core.errors"
        for name in (
            "ApprovalRejectedError",
            "AuthenticationError",
            "ConfigurationError",
            "ConflictError",
            "GateError",
            "MlopsError",
            "OperationCanceledError",
            "OperationError",
            "OperationFailedError",
            "OperationTimeoutError",
            "PermissionDeniedError",
            "ResourceExistsError",
            "ResourceNotFoundError",
            "ServerError",
            "ServiceRequestError",
            "ServiceResponseError",
            "ThrottledError",
            "ValidationFailedError",
        )
    },
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mlops_sdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
