"""Conformance scenarios of CI pipeline runs (``client.pipelines``: Azure DevOps YAML pipelines).

The backend names the pipeline to run (``ConformanceBackend.pipeline_id``); the scenario starts it with
template parameters and an idempotency key, re-attaches with the same key, reads and lists the run,
and cancels it.
"""

from __future__ import annotations

import pytest

from mlops_sdk.clients.hub import MLOpsClient
from mlops_sdk.core.errors import ConfigurationError, OperationCanceledError
from mlops_sdk.core.status import Status
from mlops_sdk.testing.conformance._kit import ConformanceBackend, require

__all__ = ["TestPipelineConformance"]


class TestPipelineConformance:
    """Start with parameters, the same key is the same run, list newest first, cancel."""

    capability = "pipelines"

    def test_a_run_starts_once_per_key_and_cancels(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient
    ) -> None:
        require(conformance_backend, "pipelines.runs")
        pipeline_id = conformance_backend.pipeline_id
        assert pipeline_id is not None, "a backend declaring pipelines.runs names the pipeline to run"
        pipelines = conformance_client.pipelines
        operation = pipelines.begin_run(pipeline_id, parameters={"model": "conf-ci@1"}, idempotency_key="conf-ci-run-1")
        again = pipelines.begin_run(pipeline_id, parameters={"model": "conf-ci@1"}, idempotency_key="conf-ci-run-1")
        assert again.id == operation.id
        run = pipelines.get_run(pipeline_id, int(operation.id))
        assert (run.pipeline_id, run.status) == (pipeline_id, Status.RUNNING)
        assert run.template_parameters["model"] == "conf-ci@1"
        assert run.id in [item.id for item in pipelines.list_runs(pipeline_id)]
        operation.cancel()
        with pytest.raises(OperationCanceledError):
            operation.result(timeout=120)
        assert pipelines.get_run(pipeline_id, run.id).status is Status.CANCELED

    def test_bad_ids_are_configuration_errors(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient
    ) -> None:
        require(conformance_backend, "pipelines.runs")
        with pytest.raises(ConfigurationError) as caught:
            conformance_client.pipelines.begin_run(0)
        assert caught.value.details["field"] == "pipeline_id"
