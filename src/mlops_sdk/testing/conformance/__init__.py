"""One contract, executable: scenarios every backend passes, written once against the public clients.

Run the suites against your backend by overriding one fixture::

    # tests/test_conformance.py
    import pytest
    from mlops_sdk import MLOpsClient
    from mlops_sdk.testing.conformance import *  # noqa: F403  (the suites and their fixtures)

    @pytest.fixture
    def conformance_backend(tmp_path):
        return ConformanceBackend(
            name="mycloud",
            make_client=lambda clock: MLOpsClient("mycloud://test", clock=clock, show_progress=False),
            supports=frozenset({"models.registry", "training.script"}),
            unsupported={"approvals.timeout": "approvals are decided by the service's own clock"},
        )

Scenarios needing a capability the backend does not declare are skipped with the reason given.
"""

from mlops_sdk.testing.conformance._kit import (
    CAPABILITIES,
    ConformanceBackend,
    _conformance_record,
    conformance_backend,
    conformance_client,
    conformance_clock,
    conformance_clocked_client,
    deployable_model,
    publish_pipeline,
    require,
    train_model,
)
from mlops_sdk.testing.conformance.approvals import (
    TestApprovalAuditConformance,
    TestApprovalPendingConformance,
    TestApprovalPolicyConformance,
    TestApprovalTimeoutConformance,
)
from mlops_sdk.testing.conformance.data_factory import TestDataFactoryConformance
from mlops_sdk.testing.conformance.deployments import (
    TestDeploymentConformance,
    TestDeploymentGuardrailsConformance,
    TestDeploymentKeysConformance,
    TestDeploymentTrafficConformance,
)
from mlops_sdk.testing.conformance.flows import TestFlowConformance
from mlops_sdk.testing.conformance.models import (
    TestModelAliasesConformance,
    TestModelOutputCheckConformance,
    TestModelRegistryConformance,
)
from mlops_sdk.testing.conformance.monitoring import (
    TestMonitoringCaptureConformance,
    TestMonitoringSignalsConformance,
)
from mlops_sdk.testing.conformance.pipelines import TestPipelineConformance
from mlops_sdk.testing.conformance.training import TestTrainingConformance
from mlops_sdk.testing.conformance.training_pipelines import TestTrainingPipelineConformance
from mlops_sdk.testing.conformance.validation import TestValidationConformance

__all__ = [
    "CAPABILITIES",
    "ConformanceBackend",
    "TestApprovalAuditConformance",
    "TestApprovalPendingConformance",
    "TestApprovalPolicyConformance",
    "TestApprovalTimeoutConformance",
    "TestDataFactoryConformance",
    "TestDeploymentConformance",
    "TestDeploymentGuardrailsConformance",
    "TestDeploymentKeysConformance",
    "TestDeploymentTrafficConformance",
    "TestFlowConformance",
    "TestModelAliasesConformance",
    "TestModelOutputCheckConformance",
    "TestModelRegistryConformance",
    "TestMonitoringCaptureConformance",
    "TestMonitoringSignalsConformance",
    "TestPipelineConformance",
    "TestTrainingConformance",
    "TestTrainingPipelineConformance",
    "TestValidationConformance",
    "_conformance_record",
    "conformance_backend",
    "conformance_client",
    "conformance_clock",
    "conformance_clocked_client",
    "deployable_model",
    "publish_pipeline",
    "require",
    "train_model",
]
