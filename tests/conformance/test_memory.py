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
        "training.pipelines",
        "validation.checks",
        "data_factory.define",
        "data_factory.refresh",
    }
)

MEMORY_UNSUPPORTED = {
    "deployments.rollout": "the memory backend has no deployments capability yet (use local:// and served_model)",
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
