"""The conformance suites against ``memory://`` (a private in-process store per scenario)."""

from __future__ import annotations

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.core.clock import Clock
from mlops_sdk.testing.conformance import *  # noqa: F403 - the suites and their fixtures
from mlops_sdk.testing.conformance import ConformanceBackend

MEMORY_SUPPORTS = frozenset(
    {
        "models.registry",
        "models.aliases",
        "models.output_check",
        "approvals.policy",
        "approvals.delegation",
        "approvals.timeout",
        "approvals.audit",
        "training.script",
        "training.metrics",
        "training.idempotency",
        "training.failure",
        "training.exit_code",
        "training.pipelines",
        "validation.checks",
        "validation.report_store",
        "data_factory.define",
        "data_factory.refresh",
        "deployments.rollout",
        "deployments.failure",
        "deployments.progressive",
        "deployments.rollback",
        "deployments.shadow",
        "deployments.keys",
        "flows.loop",
        "flows.gates",
        "monitoring.signals",
        "monitoring.capture",
        "monitoring.capture_stats",
    }
)

MEMORY_UNSUPPORTED = {
    "pipelines.runs": "client.pipelines runs Azure DevOps pipelines: a memory target has no CI service",
    "deployments.guardrails": (
        "memory deployments keep no live request metrics (errors, latency, predictions): guardrails are refused"
    ),
    "data_factory.cancel": "refreshes run synchronously inside begin_refresh: there is never a running one to cancel",
}


@pytest.fixture
def conformance_backend() -> ConformanceBackend:
    def make_client(clock: Clock | None) -> MLOpsClient:
        return MLOpsClient("memory://", clock=clock, show_progress=False)

    return ConformanceBackend(
        name="memory",
        make_client=make_client,
        supports=MEMORY_SUPPORTS,
        unsupported=MEMORY_UNSUPPORTED,
    )
