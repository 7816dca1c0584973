"""Conformance scenarios of data refreshes (``client.data_factory``) on pipelines the scenario defines."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from mlops_sdk.clients.hub import MLOpsClient
from mlops_sdk.core.errors import (
    ConfigurationError,
    OperationCanceledError,
    OperationFailedError,
    ResourceNotFoundError,
)
from mlops_sdk.core.status import Status
from mlops_sdk.models.data_factory import Copy, PipelineParameter, Python, RefreshPipeline, Sql
from mlops_sdk.testing.conformance._kit import ConformanceBackend, publish_pipeline, require

__all__ = ["TestDataFactoryConformance", "hold_until_released"]

CSV = "id,amount,region\n1,10.5,eu\n2,3.0,us\n3,7.25,eu\n4,1.0,eu\n"


def hold_until_released(inputs: dict[str, Any], parameters: dict[str, Any]) -> Any:
    """A Python activity that blocks until ``parameters["release_file"]`` exists (60 s at most)."""
    release = Path(parameters["release_file"])
    deadline = time.monotonic() + 60
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return inputs["raw"]


def _sales(tmp_path: Path, name: str) -> RefreshPipeline:
    folder = tmp_path / "sales"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "2026-01.csv").write_text(CSV, encoding="utf-8")
    return RefreshPipeline(
        name=name,
        parameters={"min_amount": PipelineParameter(type="float", default=2.0)},
        activities=(
            Copy(name="raw", source=str(folder / "*.csv")),
            Sql(name="clean", query="SELECT id, amount, region FROM raw WHERE amount >= $min_amount ORDER BY id"),
        ),
    )


class TestDataFactoryConformance:
    """Refresh -> outputs; the same key is the same run; cancel; a failure names its activity."""

    capability = "data_factory"

    def test_refresh_produces_each_activitys_output(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "data_factory.define", "data_factory.refresh")
        factory = conformance_client.data_factory
        factory.define(_sales(tmp_path, "conf_sales"))
        run = factory.begin_refresh("conf_sales", parameters={"min_amount": 5.0}, show_progress=False).result()
        assert run.status is Status.SUCCEEDED
        assert [(a.name, a.type, a.status) for a in run.activities] == [
            ("raw", "Copy", Status.SUCCEEDED),
            ("clean", "Sql", Status.SUCCEEDED),
        ]
        assert run.parameters["min_amount"] == 5.0
        assert (run.output("raw").row_count, run.output("clean").row_count) == (4, 2)
        assert [c.name for c in run.output("clean").columns] == ["id", "amount", "region"]
        assert run.output() == run.output("clean")
        assert run.lineage.refresh_run_id == run.run_id
        assert factory.get_run(run.run_id).status is Status.SUCCEEDED

    def test_the_same_idempotency_key_is_the_same_run(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "data_factory.refresh")
        factory = conformance_client.data_factory
        publish_pipeline(conformance_backend, conformance_client, _sales(tmp_path, "conf_key"), "succeeds")
        first = factory.begin_refresh("conf_key", idempotency_key="conf-flow-7:refresh", show_progress=False)
        second = factory.begin_refresh("conf_key", idempotency_key="conf-flow-7:refresh", show_progress=False)
        assert second.id == first.id
        assert first.result().idempotency_key == "conf-flow-7:refresh"
        assert [run.run_id for run in factory.list_runs("conf_key")] == [first.id]

    def test_a_failed_run_names_the_failed_activity_and_its_error(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "data_factory.refresh")
        factory = conformance_client.data_factory
        pipeline = _sales(tmp_path, "conf_broken")
        broken = RefreshPipeline(
            name="conf_broken", activities=(pipeline.activities[0], Sql(name="clean", query="SELECT price FROM raw"))
        )
        publish_pipeline(conformance_backend, conformance_client, broken, "fails")
        operation = factory.begin_refresh("conf_broken", show_progress=False)
        with pytest.raises(OperationFailedError, match=r"activity 'clean' \(\w+\) failed") as caught:
            operation.result(timeout=120)
        assert "price" in caught.value.message
        run = factory.get_run(operation.id)
        assert run.status is Status.FAILED
        assert [(a.name, a.status) for a in run.activities] == [("raw", Status.SUCCEEDED), ("clean", Status.FAILED)]

    def test_cancel_ends_the_run_canceled_with_no_output_of_the_canceled_activity(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "data_factory.refresh", "data_factory.cancel")
        factory = conformance_client.data_factory
        pipeline = _sales(tmp_path, "conf_slow")
        slow = RefreshPipeline(
            name="conf_slow",
            parameters={"release_file": PipelineParameter(type="string")},
            activities=(pipeline.activities[0], Python(name="hold", function=f"{__name__}:hold_until_released")),
        )
        publish_pipeline(conformance_backend, conformance_client, slow, "holds")
        operation = factory.begin_refresh(
            "conf_slow", parameters={"release_file": str(tmp_path / "never")}, show_progress=False
        )
        deadline = time.monotonic() + 60
        while not any(
            a.name == "hold" and a.status is Status.RUNNING for a in factory.get_run(operation.id).activities
        ):
            assert time.monotonic() < deadline, "the 'hold' activity never started"
            time.sleep(0.05)
        operation.cancel()
        with pytest.raises(OperationCanceledError):
            operation.result(timeout=60)
        run = factory.get_run(operation.id)
        assert run.status is Status.CANCELED
        assert [(a.name, a.status) for a in run.activities] == [("raw", Status.SUCCEEDED), ("hold", Status.CANCELED)]
        assert "hold" not in run.outputs

    def test_unknown_pipelines_and_bad_parameters_are_typed_errors(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "data_factory.refresh")
        factory = conformance_client.data_factory
        publish_pipeline(conformance_backend, conformance_client, _sales(tmp_path, "conf_params"), "succeeds")
        with pytest.raises(ResourceNotFoundError, match="conf_params"):
            factory.begin_refresh("conf_param")
        with pytest.raises(ConfigurationError, match="parameter 'min_amount' of pipeline 'conf_params' must be float"):
            factory.begin_refresh("conf_params", parameters={"min_amount": "five"})
        assert factory.list_runs("conf_params") == []
