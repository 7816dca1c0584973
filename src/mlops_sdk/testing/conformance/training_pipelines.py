"""Conformance scenarios of training pipelines (``client.training.begin_pipeline``): wiring, cache, resume."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mlops_sdk.clients.hub import MLOpsClient
from mlops_sdk.core.errors import OperationFailedError, PipelineCycleError
from mlops_sdk.core.status import Status
from mlops_sdk.models.training_pipeline import PipelineInput, Step, TrainingPipeline
from mlops_sdk.testing.conformance._kit import ConformanceBackend, require

__all__ = ["TestTrainingPipelineConformance"]

PREP = """
import pathlib, sys
rows = pathlib.Path(sys.argv[1]).read_text().splitlines()
out = pathlib.Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
(out / "rows.txt").write_text("\\n".join(row.upper() for row in rows))
print(f"prep {len(rows)} rows")
"""

TRAIN = """
import pathlib, sys
import mlflow
rows = (pathlib.Path(sys.argv[1]) / "rows.txt").read_text().splitlines()
{fail}
out = pathlib.Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
(out / "model.txt").write_text(str(len(rows)))
mlflow.log_metric("rows", len(rows))
"""


def _pipeline(folder: Path, *, fail: bool = False, name: str = "conf-pipeline") -> TrainingPipeline:
    code = folder / "code"
    code.mkdir(parents=True, exist_ok=True)
    (code / "prep.py").write_text(textwrap.dedent(PREP), encoding="utf-8")
    failing = "raise SystemExit('train: no rows to learn from')" if fail else ""
    (code / "train.py").write_text(textwrap.dedent(TRAIN.format(fail=failing)), encoding="utf-8")
    data = folder / "data.txt"
    if not data.exists():
        data.write_text("a\nb\nc\n", encoding="utf-8")
    notes = folder / "notes.txt"
    if not notes.exists():
        notes.write_text("first notes\n", encoding="utf-8")
    prep = Step(
        "prep",
        code=code,
        command="python prep.py ${{inputs.raw}} ${{outputs.clean}} ${{inputs.notes}}",
        inputs={"raw": PipelineInput("raw"), "notes": str(notes)},
        outputs={"clean": None},
        cache_ignore=["notes"],
    )
    train = Step(
        "train",
        code=code,
        command="python train.py ${{inputs.clean}} ${{outputs.model}}",
        inputs={"clean": prep.output("clean")},
        outputs={"model": None},
    )
    return TrainingPipeline(
        name,
        steps=[train, prep],
        inputs={"raw": str(data)},
        outputs={"model": train.output("model")},
        experiment="conf",
    )


class TestTrainingPipelineConformance:
    """Steps wired output -> input, cached by content, resumed from the failed step."""

    capability = "training"

    def test_a_pipeline_runs_its_steps_in_order_and_a_rerun_is_cached(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "training.pipelines")
        pipeline = _pipeline(tmp_path)
        first = conformance_client.training.begin_pipeline(pipeline).result()
        assert first.status is Status.SUCCEEDED
        assert list(first.steps) == ["prep", "train"]
        assert first.cached_steps == []
        assert first.step("train").metrics == {"rows": 3.0}
        assert Path(first.outputs["model"], "model.txt").read_text() == "3"
        assert Path(first.step("prep").outputs["clean"], "rows.txt").read_text() == "A\nB\nC"

        (tmp_path / "notes.txt").write_text("other notes\n", encoding="utf-8")  # cache_ignore'd
        cached = conformance_client.training.begin_pipeline(pipeline).result()
        assert cached.cached_steps == ["prep", "train"]
        assert cached.outputs == first.outputs
        assert cached.step("train").run is not None
        assert cached.step("train").run.id == first.step("train").run.id  # type: ignore[union-attr]

        (tmp_path / "data.txt").write_text("a\nb\n", encoding="utf-8")  # same name, new content
        changed = conformance_client.training.begin_pipeline(pipeline).result()
        assert changed.cached_steps == []
        assert changed.step("train").metrics == {"rows": 2.0}
        shown = conformance_client.training.get_pipeline_run(changed.id)
        assert (shown.status, list(shown.steps)) == (Status.SUCCEEDED, ["prep", "train"])

    def test_a_failed_step_is_named_and_resume_reruns_only_from_it(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "training.pipelines")
        (tmp_path / "data.txt").write_text("resume\nme\n", encoding="utf-8")
        with pytest.raises(OperationFailedError, match="no rows to learn from") as caught:
            conformance_client.training.begin_pipeline(_pipeline(tmp_path, fail=True, name="conf-resume")).result()
        assert caught.value.details["step"] == "train"
        failed = conformance_client.training.get_pipeline_run(str(caught.value.operation_id))
        assert (failed.step("prep").status, failed.step("train").status) == (Status.SUCCEEDED, Status.FAILED)

        _pipeline(tmp_path, name="conf-resume")  # fixes train.py in place
        resumed = conformance_client.training.begin_resume_pipeline(failed.id).result()
        assert resumed.status is Status.SUCCEEDED
        assert resumed.resumed_from == failed.id
        assert resumed.step("prep").reused
        assert not resumed.step("train").reused
        assert not resumed.step("train").cached
        assert resumed.step("train").metrics == {"rows": 2.0}

    def test_the_same_idempotency_key_attaches_to_the_first_pipeline_run(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "training.pipelines")
        pipeline = _pipeline(tmp_path, name="conf-key")
        first = conformance_client.training.begin_pipeline(pipeline, idempotency_key="conf-pipeline-1")
        again = conformance_client.training.begin_pipeline(pipeline, idempotency_key="conf-pipeline-1")
        assert again.id == first.id
        assert first.result().idempotency_key == "conf-pipeline-1"

    def test_a_cycle_is_refused_before_anything_runs(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "training.pipelines")
        a = Step("a", command="python a.py", inputs={"x": "${{parent.jobs.b.outputs.o}}"}, outputs={"o": None})
        b = Step("b", command="python b.py", inputs={"x": "${{parent.jobs.a.outputs.o}}"}, outputs={"o": None})
        with pytest.raises(PipelineCycleError):
            conformance_client.training.begin_pipeline({"name": "conf-cycle", "steps": [a, b]})
        assert [run.name for run in conformance_client.training.list_pipeline_runs(name="conf-cycle")] == []
