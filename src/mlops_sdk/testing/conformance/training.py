"""Conformance scenarios of training (``client.training``): run, metrics, outputs, keys, failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_sdk.clients.hub import MLOpsClient
from mlops_sdk.core.errors import ConfigurationError, OperationFailedError, ResourceNotFoundError
from mlops_sdk.core.status import Status
from mlops_sdk.testing.conformance._kit import ConformanceBackend, require, train_model

__all__ = ["TestTrainingConformance"]


class TestTrainingConformance:
    """A script runs with its outputs, logs metrics, and its run registers as a model."""

    capability = "training"

    def test_run_logs_metrics_and_params_and_registers(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "training.script", "training.metrics")
        run = train_model(conformance_client, tmp_path, experiment="conf-metrics", rmse=0.125, alpha="0.75")
        assert run.status is Status.SUCCEEDED
        assert run.metrics == {"rmse": 0.125}
        assert run.params == {"alpha": "0.75"}
        assert sorted(run.outputs) == ["model"]
        assert run.experiment == "conf-metrics"
        fetched = conformance_client.training.get_run(run.id)
        assert (fetched.status, fetched.metrics) == (Status.SUCCEEDED, {"rmse": 0.125})
        assert [r.id for r in conformance_client.training.list_runs(experiment="conf-metrics")] == [run.id]
        if conformance_backend.skip_reason("models.registry") is None:
            version = conformance_client.models.register(run, name="conf-trained")
            assert (version.version, version.run_id) == ("1", run.id)

    def test_the_same_idempotency_key_attaches_to_the_first_run(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "training.script", "training.idempotency")
        first = train_model(conformance_client, tmp_path, experiment="conf-key", idempotency_key="conf-train-1")
        again = train_model(conformance_client, tmp_path, experiment="conf-key", idempotency_key="conf-train-1")
        other = train_model(conformance_client, tmp_path, experiment="conf-key", idempotency_key="conf-train-2")
        assert again.id == first.id
        assert other.id != first.id
        assert first.idempotency_key == "conf-train-1"
        runs = conformance_client.training.list_runs(experiment="conf-key")
        assert sorted(r.id for r in runs) == sorted([first.id, other.id])

    def test_a_failing_script_ends_failed_with_its_output(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "training.script", "training.failure")
        script = "import sys\nprint('loading data')\nprint('column amount is missing', file=sys.stderr)\nsys.exit(3)\n"
        with pytest.raises(OperationFailedError, match="column amount is missing") as caught:
            train_model(conformance_client, tmp_path, experiment="conf-fail", script=script)
        run = conformance_client.training.get_run(str(caught.value.operation_id))
        assert run.status is Status.FAILED
        assert "column amount is missing" in (run.error or "")

    def test_a_failed_run_reports_the_scripts_exit_code(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "training.script", "training.failure", "training.exit_code")
        with pytest.raises(OperationFailedError) as caught:
            train_model(conformance_client, tmp_path, experiment="conf-exit", script="import sys\nsys.exit(3)\n")
        run = conformance_client.training.get_run(str(caught.value.operation_id))
        assert (run.status, run.exit_code) == (Status.FAILED, 3)

    def test_unknown_runs_and_bad_specs_are_typed_errors(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "training.script")
        with pytest.raises(ResourceNotFoundError):
            conformance_client.training.get_run("conf-no-such-run")
        with pytest.raises(ConfigurationError, match="code folder") as caught:
            conformance_client.training.begin_train({"code": tmp_path / "missing", "command": "python job.py"})
        assert caught.value.details["field"] == "code"
