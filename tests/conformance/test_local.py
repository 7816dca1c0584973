"""The conformance suites against ``local://``: one store per module (scenarios use distinct names)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.core.clock import Clock
from mlops_sdk.testing.conformance import *  # noqa: F403 - the suites and their fixtures
from mlops_sdk.testing.conformance import CAPABILITIES, ConformanceBackend

LOCAL_NO_CI = "client.pipelines runs Azure DevOps pipelines: a local target has no CI service"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Creating the MLflow database costs about a second: once per module."""
    return tmp_path_factory.mktemp("conformance-local")


@pytest.fixture
def conformance_backend(store: Path) -> ConformanceBackend:

    def make_client(clock: Clock | None) -> MLOpsClient:
        return MLOpsClient(f"local://{store}", clock=clock, show_progress=False)

    return ConformanceBackend(
        name="local",
        make_client=make_client,
        supports=frozenset(CAPABILITIES) - {"pipelines.runs"},
        unsupported={
            "pipelines.runs": "client.pipelines runs Azure DevOps pipelines: a local target has no CI service"
        },
    )
