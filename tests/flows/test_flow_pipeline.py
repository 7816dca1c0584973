"""A Flow step can be a whole training pipeline: keyed by the flow, journaled, re-attached after a crash."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.status import Status
from mlops_sdk.flows import Flow
from mlops_sdk.models.training_pipeline import Step, TrainingPipeline

TRAIN = """
import pathlib, sys
import mlflow
out = pathlib.Path(sys.argv[2]); out.mkdir(parents=True, exist_ok=True)
(out / "MLmodel").write_text("flavors:\\n  python_function:\\n    loader_module: mlflow.sklearn\\n")
mlflow.log_metric("rows", len((pathlib.Path(sys.argv[1]) / "rows.txt").read_text().split()))
"""
PREP = """
import pathlib, sys
out = pathlib.Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
(out / "rows.txt").write_text("a b c")
"""


def _pipeline(folder: Path) -> TrainingPipeline:
    code = folder / "code"
    code.mkdir(exist_ok=True)
    (code / "prep.py").write_text(textwrap.dedent(PREP))
    (code / "train.py").write_text(textwrap.dedent(TRAIN))
    prep = Step("prep", code=code, command="python prep.py ${{outputs.rows}}", outputs={"rows": None})
    train = Step(
        "train",
        code=code,
        command="python train.py ${{inputs.rows}} ${{outputs.model}}",
        inputs={"rows": prep.output("rows")},
        outputs={"model": "mlflow_model"},
    )
    return TrainingPipeline("flow-pipeline", steps=[prep, train])


def test_a_pipeline_step_runs_once_per_flow_run_and_its_model_registers(tmp_path: Path) -> None:
    with MLOpsClient("memory://", show_progress=False) as client:
        pipeline = _pipeline(tmp_path)
        # a first execution that crashed after starting the pipeline with the flow's key
        crashed = client.training.begin_pipeline(
            pipeline, idempotency_key=Flow("nightly", run_id="r1", dry_run=True).key("train")
        )
        with Flow("nightly", client=client, run_id="r1", journal_dir=tmp_path / "journal") as flow:
            result = flow.pipeline("train", pipeline)
            version = flow.step("register", lambda s: client.models.register(result, step="train", name="flow-model"))
        assert flow.outcome == "completed"
        assert result.id == crashed.id  # re-attached, not started again
        assert result.status is Status.SUCCEEDED
        assert result.step("train").metrics == {"rows": 3.0}
        assert version.tags["mlops.pipeline_run_id"] == result.id
        assert version.tags["mlops.pipeline_step"] == "train"

        with Flow("nightly", client=client, run_id="r1", journal_dir=tmp_path / "journal") as again:
            restored = again.pipeline("train", pipeline)
        assert [step.status for step in again.steps] == ["skipped"]
        assert restored.id == result.id
        assert [run.id for run in client.training.list_pipeline_runs(name="flow-pipeline")] == [result.id]


def test_a_pipeline_step_needs_a_client(tmp_path: Path) -> None:
    with Flow("nightly", run_id="r2", journal_dir=tmp_path) as flow, pytest.raises(ConfigurationError, match="client="):
        flow.pipeline("train", _pipeline(tmp_path))
